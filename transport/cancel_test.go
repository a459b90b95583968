package transport_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/nodetest"
)

// TestCancelPushedToWorker: the worker connections that emitted to a job get
// "cancelled" with the reason once a client cancels it (over /ws or HTTP);
// a second cancel acks (200) and adds nothing, and a worker is told once.
func TestCancelPushedToWorker(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	for _, id := range []string{"c-ws", "c-http"} {
		if _, _, err := n.hub.CreateJob(t.Context(), id, "u", "llm", nil); err != nil {
			t.Fatal(err)
		}
	}
	w1, w2 := n.dial(t, "/ws/worker"), n.dial(t, "/ws/worker")
	w1.send(chunkEmit("c-ws", 0, "a") + "\n" + chunkEmit("c-http", 0, "a"))
	w1.expect(events.TypeAck)
	w1.expect(events.TypeAck)
	w2.send(chunkEmit("c-ws", 1, "b"))
	w2.expect(events.TypeAck)

	c := n.dial(t, "/ws?user=u")
	c.expect(events.TypeConnected)
	c.send(`{"type":"cancel","id":"k1","jobId":"c-ws","reason":"user stopped it"}`)
	if a, _ := c.expect(events.TypeAck); a.str("id") != "k1" || a.str("jobId") != "c-ws" {
		t.Fatalf("cancel ack: %v", a)
	}
	for i, w := range []*wsClient{w1, w2} {
		got, _ := w.expect(events.TypeCancelled)
		if got.str("jobId") != "c-ws" || got.str("reason") != "user stopped it" {
			t.Fatalf("worker %d: %v", i+1, got)
		}
	}
	if status, st := n.post(t, "/api/jobs/c-http/cancel", `{"reason":"over http"}`); status != 200 || st.str("status") != "cancelled" {
		t.Fatalf("HTTP cancel: %d %v", status, st)
	}
	if got, _ := w1.expect(events.TypeCancelled); got.str("jobId") != "c-http" || got.str("reason") != "over http" {
		t.Fatalf("worker 1, HTTP cancel: %v", got)
	}

	// cancelling again, either way, is acked and appends nothing
	c.send(`{"type":"cancel","id":"k2","jobId":"c-ws","reason":"again"}`)
	if a, _ := c.expect(events.TypeAck); a.str("id") != "k2" {
		t.Fatalf("second cancel: %v", a)
	}
	if status, st := n.post(t, "/api/jobs/c-ws/cancel", `{"reason":"again"}`); status != 200 || st.str("status") != "cancelled" {
		t.Fatalf("second cancel over HTTP: %d %v", status, st)
	}
	c.send(`{"type":"cancel","id":"k3","jobId":"c-http"}`)
	if a, _ := c.expect(events.TypeAck); a.str("id") != "k3" {
		t.Fatalf("second cancel of c-http: %v", a)
	}
	for _, id := range []string{"c-ws", "c-http"} {
		if names := n.journal(t, id); count(names, events.Cancelled) != 1 || names[len(names)-1] != events.Cancelled {
			t.Fatalf("journal of %s: %v; want one job:cancelled:v1, last", id, names)
		}
	}

	// a worker that emits on gets job_finished, and no second "cancelled"
	w1.send(chunkEmit("c-ws", 2, "late"))
	if e, _ := w1.expect(events.TypeError); e.str("code") != events.CodeJobFinished || e.str("jobId") != "c-ws" {
		t.Fatalf("emit after cancel: %v", e)
	}
	w1.send(`{"type":"ping"}`)
	if _, before := w1.expect(events.TypePong); len(before) > 0 {
		t.Fatalf("worker 1 got more: %v", before)
	}
}

// TestCancelledJobTellsALateWorker: a worker that first emits to a job
// cancelled before, in an earlier incarnation, gets job_finished and
// "cancelled" with the reason (read back from the journal).
func TestCancelledJobTellsALateWorker(t *testing.T) {
	t.Parallel()
	n := startNode(t, func(c *actors.Config) { c.JobIdle = 50 * time.Millisecond })
	if _, _, err := n.hub.CreateJob(t.Context(), "late", "u", "llm", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := n.hub.Cancel(t.Context(), "late", "gone", actors.Access{CancelAny: true}); err != nil {
		t.Fatal(err)
	}
	nodetest.WaitFor(t, 10*time.Second, func() error { // the job passivates
		if k := n.hub.ActiveJobs(); k != 0 {
			return fmt.Errorf("%d job actors still active", k)
		}
		return nil
	})
	w := n.dial(t, "/ws/worker")
	w.send(chunkEmit("late", 0, "a"))
	var refused, told obj // in either order
	for refused == nil || told == nil {
		switch o := w.next(); o.str("type") {
		case events.TypeError:
			refused = o
		case events.TypeCancelled:
			told = o
		default:
			t.Fatalf("unexpected %v", o)
		}
	}
	if refused.str("code") != events.CodeJobFinished || refused.str("jobId") != "late" {
		t.Fatalf("emit to a cancelled job: %v", refused)
	}
	if told.str("jobId") != "late" || told.str("reason") != "gone" {
		t.Fatalf("cancelled: %v", told)
	}
}
