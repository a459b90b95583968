package transport_test

import (
	"regexp"
	"testing"

	"github.com/actorhub/actorhub/events"
)

// TestCreateOverWS: a client creates a job on /ws; it is the connection's
// user's, its first event is job:created:v1, its input is stored compact, and
// the same jobId again answers existing, with no second job:created:v1.
func TestCreateOverWS(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	c := n.dial(t, "/ws?user=alice")
	c.expect(events.TypeConnected)

	c.send(`{"type":"create","id":"c1","jobId":"ws-1","jobType":"llm","input":{ "prompt" : "hi" }}`)
	created, _ := c.expect(events.TypeCreated)
	if created.str("id") != "c1" || created.str("jobId") != "ws-1" || created.str("status") != "created" ||
		created.num("lastSequence") != 1 || created["existing"] != nil {
		t.Fatalf("created: %v", created)
	}
	c.send(`{"type":"subscribe","id":"s1","jobId":"ws-1"}`)
	c.expect(events.TypeSubscribed)
	ev, _ := c.expect(events.TypeEvent)
	data, _ := ev["data"].(map[string]any)
	if ev.num("seq") != 1 || ev.str("event") != events.Created || data["userId"] != "alice" || data["type"] != "llm" {
		t.Fatalf("first event: %v", ev)
	}
	st, err := n.hub.State(t.Context(), "ws-1")
	if err != nil || st.UserID != "alice" || st.Type != "llm" || string(st.Input) != `{"prompt":"hi"}` {
		t.Fatalf("state %+v, %v", st, err)
	}

	c.send(`{"type":"create","id":2,"jobId":"ws-1","jobType":"llm"}`)
	again, _ := c.expect(events.TypeCreated)
	if again.num("id") != 2 || again.str("jobId") != "ws-1" || again["existing"] != true || again.num("lastSequence") != 1 {
		t.Fatalf("second create: %v", again)
	}
	if names := n.journal(t, "ws-1"); count(names, events.Created) != 1 || len(names) != 1 {
		t.Fatalf("journal after two creates: %v", names)
	}

	// another user, or another type, under the same jobId is refused
	other := n.dial(t, "/ws?user=bob")
	other.expect(events.TypeConnected)
	other.send(`{"type":"create","id":"c3","jobId":"ws-1","jobType":"llm"}`)
	if e, _ := other.expect(events.TypeError); e.str("code") != events.CodeJobExists || e.str("id") != "c3" || e.str("jobId") != "ws-1" {
		t.Fatalf("create of another user's job: %v", e)
	}
	c.send(`{"type":"create","id":"c4","jobId":"ws-1","jobType":"search"}`)
	if e, _ := c.expect(events.TypeError); e.str("code") != events.CodeJobExists || e.str("id") != "c4" {
		t.Fatalf("create under another type: %v", e)
	}

	// without a jobId, one is made
	c.send(`{"type":"create","id":"c5","jobType":"llm"}`)
	made, _ := c.expect(events.TypeCreated)
	if !regexp.MustCompile(`^job-[0-9a-f]{24}$`).MatchString(made.str("jobId")) || made.str("id") != "c5" || made["existing"] != nil {
		t.Fatalf("create without a jobId: %v", made)
	}
	if st, err := n.hub.State(t.Context(), made.str("jobId")); err != nil || st.UserID != "alice" || st.Input != nil {
		t.Fatalf("state of the made job: %+v, %v", st, err)
	}
}

// TestCreateOverWSRefusals: a create that is malformed gets bad_request with
// its id, and the connection stays.
func TestCreateOverWSRefusals(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	c := n.dial(t, "/ws?user=alice")
	c.expect(events.TypeConnected)
	for _, tc := range []struct{ frame, id string }{
		{`{"type":"create","id":"b1","jobId":"x"}`, "b1"},                          // no jobType
		{`{"type":"create","id":"b2","jobId":"a b","jobType":"llm"}`, "b2"},        // a bad jobId
		{`{"type":"create","id":"b3","jobType":"` + long(129) + `"}`, "b3"},        // jobType too long
		{`{"type":"create","id":"b4","jobId":"y","jobType":"llm","input":}`, "b4"}, // not JSON: bad_frame
	} {
		c.send(tc.frame)
		e, _ := c.expect(events.TypeError)
		want := events.CodeBadRequest
		if tc.id == "b4" {
			want, tc.id = events.CodeBadFrame, "" // nothing of it could be read
		}
		if e.str("code") != want || e.str("id") != tc.id {
			t.Errorf("%s: %v; want %s with id %q", tc.frame, e, want, tc.id)
		}
	}
	c.send(`{"type":"ping","id":"p"}`)
	if p, _ := c.expect(events.TypePong); p.str("id") != "p" {
		t.Fatalf("pong: %v", p)
	}
	if _, err := n.hub.State(t.Context(), "x"); err == nil {
		t.Fatal("a refused create made a job")
	}
}

func long(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}
