package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/actorhub/actorhub/internal/nodetest"
	"github.com/actorhub/actorhub/internal/redistest"
	"github.com/coder/websocket"
)

// stores runs fn once with the embedded store and once with a real redis-server.
func stores(t *testing.T, fn func(t *testing.T, store string)) {
	t.Run("bolt", func(t *testing.T) { t.Parallel(); fn(t, "") })
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		fn(t, redistest.Start(t).URL())
	})
}

func TestStreamEndToEnd(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, store string) {
		n := nodetest.Start(t, nodetest.Options{Store: store})
		created := mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"e2e-1","userId":"u1","type":"llm","input":{"prompt":"hi"}}`)
		if created.str("status") != "created" || created.num("lastSequence") != 1 {
			t.Fatalf("create: %v", created)
		}
		again := mustAPI(t, 200, "POST", n.URL("/api/jobs"), `{"jobId":"e2e-1","userId":"u1","type":"llm"}`)
		if again.str("jobId") != "e2e-1" || again.str("status") != "created" {
			t.Fatalf("idempotent create: %v", again)
		}

		c := dial(t, n.WS("/ws?user=alice"))
		hello := c.next(5 * time.Second)
		if hello.str("type") != "connected" || hello.str("userId") != "alice" || hello.str("nodeId") != n.ID || hello.str("sessionId") == "" {
			t.Fatalf("connected: %v", hello)
		}
		c.send(`{"type":"subscribe","id":"s1","jobId":"e2e-1"}`)
		sub, _ := c.expect("subscribed")
		if sub.str("id") != "s1" || sub.str("status") != "created" || sub.num("lastSequence") != 1 || sub.num("epoch") < 1 {
			t.Fatalf("subscribed: %v", sub)
		}
		first := c.events("e2e-1", 0, 1)
		if first[0].str("event") != "job:created:v1" {
			t.Fatalf("seq 1: %v", first[0])
		}

		w := dial(t, n.WS("/ws/worker"))
		var frame []string
		words := []string{"Hello", ", ", "world", "!"}
		for i, wd := range words {
			frame = append(frame, chunkEmit("e2e-1", int64(i), wd))
		}
		w.send(strings.Join(frame, "\n")) // several emits in one frame
		for acked := int64(0); acked < 4; {
			a, _ := w.expect("ack")
			acked = a.num("nextOffset")
		}
		w.send(`{"type":"emit","jobId":"e2e-1","offset":4,"event":"job:progress:v1","data":{"progress":80,"step":"x"}}` + "\n" +
			`{"type":"emit","jobId":"e2e-1","offset":5,"event":"search:result:v1","data":{"hits":[1,2]}}` + "\n" +
			`{"type":"emit","jobId":"e2e-1","offset":6,"event":"job:completed:v1","data":{"result":{"ok":true},"tokens":4}}`)
		for acked := int64(0); acked < 7; {
			a, _ := w.expect("ack")
			acked = a.num("nextOffset")
		}
		evs := c.events("e2e-1", 1, 8)
		var text string
		for _, e := range evs {
			if e.str("event") == "model:chunk:v1" {
				text += e["data"].(map[string]any)["chunk"].(string)
			}
			if e.num("ts") <= 0 {
				t.Fatalf("event without ts: %v", e)
			}
		}
		if text != "Hello, world!" || evs[len(evs)-1].str("event") != "job:completed:v1" {
			t.Fatalf("stream: text %q, last %v", text, evs[len(evs)-1])
		}

		st := mustAPI(t, 200, "GET", n.URL("/api/job/e2e-1/state"), "")
		if st.str("status") != "completed" || st.str("output") != "Hello, world!" || st.num("lastSequence") != 8 ||
			st.num("nextOffset") != 7 || st.num("progress") != 100 || st["completedAt"] == nil || st.str("userId") != "u1" {
			t.Fatalf("state: %v", st)
		}
		status := mustAPI(t, 200, "GET", n.URL("/api/job/e2e-1/status"), "")
		if status.str("status") != "completed" || status.num("lastSequence") != 8 {
			t.Fatalf("status: %v", status)
		}
		page := mustAPI(t, 200, "GET", n.URL("/api/job/e2e-1/events?fromSeq=5"), "")
		list := page["events"].([]any)
		if len(list) != 3 || list[0].(map[string]any)["seq"].(float64) != 6 {
			t.Fatalf("events?fromSeq=5: %v", page)
		}

		// a late subscriber from seq 3 replays 4..8 from the journal
		late := dial(t, n.WS("/ws"))
		late.expect("connected")
		late.send(`{"type":"subscribe","jobId":"e2e-1","fromSeq":3}`)
		late.expect("subscribed")
		late.events("e2e-1", 3, 8)

		// retries after the end are acked, new offsets are refused
		w.send(chunkEmit("e2e-1", 2, "world"))
		if a, _ := w.expect("ack"); a.num("nextOffset") != 7 {
			t.Fatalf("duplicate after terminal: %v", a)
		}
		w.send(chunkEmit("e2e-1", 7, "late"))
		if e, _ := w.expect("error"); e.str("code") != "job_finished" {
			t.Fatalf("new offset after terminal: %v", e)
		}
		c.send(`{"type":"ping","id":7}`)
		if p, _ := c.expect("pong"); p.num("id") != 7 {
			t.Fatalf("pong: %v", p)
		}
		c.send(`{"type":"unsubscribe","id":"u","jobId":"e2e-1"}`)
		c.expect("unsubscribed")
	})
}

func TestHTTPWorkerAndErrors(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, store string) {
		n := nodetest.Start(t, nodetest.Options{Store: store})
		mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"h1","userId":"u","type":"t"}`)
		ev := func(off int, chunk string) string {
			return fmt.Sprintf(`{"offset":%d,"event":"model:chunk:v1","data":{"chunk":%q}}`, off, chunk)
		}
		r := mustAPI(t, 200, "POST", n.URL("/api/jobs/h1/events"), `{"events":[`+ev(0, "a")+`,`+ev(1, "b")+`]}`)
		if r.num("nextOffset") != 2 || r.num("lastSequence") != 3 || r.str("jobId") != "h1" {
			t.Fatalf("append: %v", r)
		}
		// a retry of the same batch is acked and appends nothing
		r = mustAPI(t, 200, "POST", n.URL("/api/jobs/h1/events"), `{"events":[`+ev(0, "a")+`,`+ev(1, "b")+`]}`)
		if r.num("nextOffset") != 2 || r.num("lastSequence") != 3 {
			t.Fatalf("retry: %v", r)
		}
		gap := mustAPI(t, 409, "POST", n.URL("/api/jobs/h1/events"), `{"events":[`+ev(5, "x")+`]}`)
		if gap.str("error") != "offset_gap" || gap.num("nextOffset") != 2 || gap.str("message") == "" {
			t.Fatalf("gap: %v", gap)
		}
		// no offset: appended as is
		mustAPI(t, 200, "POST", n.URL("/api/jobs/h1/events"), `{"events":[{"event":"search:result:v1","data":{"n":1}}]}`)
		for _, tc := range []struct {
			status      int
			method, url string
			body, code  string
		}{
			{400, "POST", "/api/jobs/h1/events", `{"events":[{"offset":2,"event":"bad name"}]}`, "bad_event_name"},
			{400, "POST", "/api/jobs/h1/events", `{"events":[{"offset":2,"event":"model:chunk:v1","data":{"chunk":7}}]}`, "invalid_event"},
			{400, "POST", "/api/jobs/h1/events", `{"events":`, "bad_request"},
			{400, "POST", "/api/jobs/h1/events", `{"events":[]}`, "bad_request"},
			{400, "POST", "/api/jobs", `{"jobId":"x"}`, "bad_request"},
			{400, "POST", "/api/jobs", `{"jobId":"a/b","userId":"u","type":"t"}`, "bad_request"},
			{400, "POST", "/api/jobs/h1/events", `{"events":[{"offset":2,"event":"job:created:v1"}]}`, "invalid_event"},
			{404, "POST", "/api/jobs/nope/events", `{"events":[` + ev(0, "a") + `]}`, "Job not found"},
			{404, "GET", "/api/job/nope/state", ``, "Job not found"},
			{404, "GET", "/api/job/nope/status", ``, "Job not found"},
			{404, "GET", "/api/job/nope/events", ``, "Job not found"},
			{404, "POST", "/api/jobs/nope/cancel", `{}`, "Job not found"},
			{413, "POST", "/api/jobs/h1/events", `{"events":[` + ev(2, strings.Repeat("x", 2<<20)) + `]}`, "too_large"},
		} {
			got, o := api(t, tc.method, n.URL(tc.url), tc.body)
			if got != tc.status || o.str("error") != tc.code || o.str("message") == "" {
				t.Errorf("%s %s: %d %v, want %d %s with a message", tc.method, tc.url, got, o, tc.status, tc.code)
			}
		}
		if _, o := api(t, "GET", n.URL("/api/job/nope/state"), ""); o.str("jobId") != "nope" {
			t.Errorf("404 of the state endpoint names the job: %v", o)
		}
		// nothing of the refused requests was appended
		st := mustAPI(t, 200, "GET", n.URL("/api/job/h1/state"), "")
		if st.str("output") != "ab" || st.num("lastSequence") != 4 || st.num("nextOffset") != 2 {
			t.Fatalf("state after refusals: %v", st)
		}
		c := mustAPI(t, 200, "POST", n.URL("/api/jobs/h1/cancel"), `{"reason":"user"}`)
		if c.str("status") != "cancelled" || c.num("lastSequence") != 5 {
			t.Fatalf("cancel: %v", c)
		}
		mustAPI(t, 200, "POST", n.URL("/api/jobs/h1/cancel"), ``) // again: still cancelled
		fin := mustAPI(t, 409, "POST", n.URL("/api/jobs/h1/events"), `{"events":[`+ev(2, "c")+`]}`)
		if fin.str("error") != "job_finished" {
			t.Fatalf("after cancel: %v", fin)
		}
	})
}

func TestClientBadInput(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t, nodetest.Options{Args: []string{"--max-subscriptions", "2"}})
	mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"b1","userId":"u","type":"t"}`)
	mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"b2","userId":"u","type":"t"}`)
	mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"b3","userId":"u","type":"t"}`)
	bystander := dial(t, n.WS("/ws"))
	bystander.expect("connected")
	bystander.send(`{"type":"subscribe","jobId":"b1"}`)
	bystander.expect("subscribed")

	c := dial(t, n.WS("/ws"))
	c.expect("connected")
	for _, tc := range []struct{ frame, code string }{
		{`not json`, "bad_frame"},
		{`{"type":"teleport","id":"x"}`, "unknown_type"},
		{`{"type":"subscribe"}`, "bad_request"},
		{`{"type":"subscribe","jobId":"b1","fromSeq":-4}`, "bad_request"},
		{`{"type":"subscribe","jobId":"nope"}`, "Job not found"},
		{`{"type":"unsubscribe","jobId":"b2"}`, "not_subscribed"},
		{`{"type":"emit","jobId":"b1","offset":0,"event":"a:b:v1"}`, "unknown_type"},
		{`{"type":"subscribe","jobId":"b1","fromSeq":"x"}`, "bad_frame"},
		{`{"type":"event"}`, "unknown_type"},
		{`{"id":1}`, "bad_request"},
		{`{"type":"subscribe","jobId":"b1"}` + strings.Repeat(" ", 70<<10), "frame_too_large"},
	} {
		c.send(tc.frame)
		e, _ := c.expect("error")
		if e.str("code") != tc.code || e.str("message") == "" {
			t.Errorf("frame %.60q: %v, want code %s", tc.frame, e, tc.code)
		}
	}
	// id is echoed on errors
	c.send(`{"type":"teleport","id":"abc"}`)
	if e, _ := c.expect("error"); e.str("id") != "abc" {
		t.Errorf("error without the request id: %v", e)
	}
	// binary frames are refused, the connection stays
	if err := c.c.Write(t.Context(), websocket.MessageBinary, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	if e, _ := c.expect("error"); e.str("code") != "bad_frame" {
		t.Errorf("binary: %v", e)
	}
	// subscription limit
	c.send(`{"type":"subscribe","jobId":"b1","fromSeq":1}`) // from 1: no replay of seq 1 to race the objects below
	c.expect("subscribed")
	c.send(`{"type":"subscribe","jobId":"b2"}`)
	c.expect("subscribed")
	c.send(`{"type":"subscribe","jobId":"b3"}`)
	if e, _ := c.expect("error"); e.str("code") != "too_many_subscriptions" {
		t.Errorf("limit: %v", e)
	}
	// still open, still served; the bystander saw nothing but its own stream
	c.send(`{"type":"ping","id":"p"}`)
	c.expect("pong")
	mustAPI(t, 200, "POST", n.URL("/api/jobs/b1/events"), `{"events":[{"offset":0,"event":"model:chunk:v1","data":{"chunk":"ok"}}]}`)
	bystander.events("b1", 0, 2)
	c.events("b1", 1, 2)
	// a frame above the hard limit closes with 1009
	// (the node may reset the socket while the client still writes, so the
	// client sees 1009 or a reset)
	_ = c.c.Write(t.Context(), websocket.MessageText, []byte(strings.Repeat("x", 2<<20)))
	if code := c.closed(5 * time.Second); code != websocket.StatusMessageTooBig && code != -1 {
		t.Errorf("hard limit: close %v, want 1009", code)
	}
	bystander.send(`{"type":"ping"}`)
	bystander.expect("pong")
}

func TestWorkerBadInput(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t, nodetest.Options{})
	mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"w1","userId":"u","type":"t"}`)
	w := dial(t, n.WS("/ws/worker"))
	for _, tc := range []struct {
		frame, code string
		next        int64 // -1: no nextOffset in the error
	}{
		{`garbage`, "bad_frame", -1},
		{`{"type":"emit","jobId":"w1","offset":0,"event":"BAD"}`, "bad_event_name", -1},
		{`{"type":"emit","jobId":"w1","offset":0,"event":"model:chunk:v1","data":{"chunk":false}}`, "invalid_event", -1},
		{`{"type":"emit","jobId":"w1","offset":3,"event":"model:chunk:v1","data":{"chunk":"x"}}`, "offset_gap", 0},
		{`{"type":"emit","jobId":"nope","offset":0,"event":"model:chunk:v1","data":{"chunk":"x"}}`, "Job not found", -1},
		{`{"type":"subscribe","jobId":"w1"}`, "unknown_type", -1},
		{`{"type":"emit","offset":0,"event":"a:b:v1"}`, "bad_request", -1},
	} {
		w.send(tc.frame)
		e, _ := w.expect("error")
		_, hasNext := e["nextOffset"]
		if e.str("code") != tc.code || e.str("message") == "" || (tc.next >= 0 && e.num("nextOffset") != tc.next) || (tc.next < 0 && hasNext) {
			t.Errorf("%.60s: %v, want %s next %d", tc.frame, e, tc.code, tc.next)
		}
	}
	// the connection still works
	w.send(chunkEmit("w1", 0, "a"))
	if a, _ := w.expect("ack"); a.num("nextOffset") != 1 {
		t.Fatalf("ack: %v", a)
	}
	st := mustAPI(t, 200, "GET", n.URL("/api/job/w1/state"), "")
	if st.str("output") != "a" || st.num("lastSequence") != 2 {
		t.Fatalf("state: %v", st)
	}
}
