package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/actorhub/actorhub/events"
)

// TestWorkerFollowsTheNodeNamed: a job whose acks name another node than its
// lane's moves, once nothing of it is unacked, to the lane connected to that
// node, and its next events go there; a cancellation pushed on the connection
// it left is reported; an Emit after its terminal event, on the lane it
// moved to, is refused at once.
func TestWorkerFollowsTheNodeNamed(t *testing.T) {
	t.Parallel()
	n, urls := newFakeNode(t, 3)
	jobs := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"}
	for k, j := range jobs {
		n.createHeld(j, k%3)
	}
	var mu sync.Mutex
	var cancels []string
	w := NewWorker(WorkerConfig{BaseURLs: urls, OnCancel: func(jobID, reason string) { // a lane on each server
		mu.Lock()
		cancels = append(cancels, jobID+": "+reason)
		mu.Unlock()
	}})
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	round := func(jobs []string) {
		t.Helper()
		for _, j := range jobs {
			if _, err := w.Emit(ctx, j, events.Chunk, map[string]any{"chunk": "x"}); err != nil {
				t.Fatal(err)
			}
		}
		for _, j := range jobs {
			if err := w.Flush(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
	}
	// each job moves once an ack named its node and nothing of it was
	// unacked (between two rounds, unless the next Emit came first)
	for r := 0; r < 20 && !n.atHolders(jobs); r++ {
		round(jobs)
	}
	if !n.atHolders(jobs) {
		n.mu.Lock()
		t.Fatalf("after 20 rounds, events still go to other nodes than their job's: %v", n.servedBy)
	}
	mark := n.served(jobs)
	round(jobs)
	round(jobs)
	moved := n.checkHeldSince(t, jobs, mark)
	if st := w.Stats(); st.Moved != int64(len(moved)) || len(moved) == 0 {
		t.Fatalf("stats %+v; want %d moved (%v)", st, len(moved), moved)
	}

	// the job was cancelled, and the word comes on the connection it left
	// (its node pushes it to every connection that emitted to it, and the
	// one it moved to may not have emitted since the job's last incarnation
	// began)
	j := moved[0]
	n.cancelOn(t, j, "stop", 0)
	waitFor(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(cancels) == 0 {
			return errors.New("no OnCancel")
		}
		return nil
	})
	var rest []string
	for _, o := range jobs {
		if o != j {
			rest = append(rest, o)
		}
	}
	round(rest) // every lane has read past its push by now
	mu.Lock()
	if len(cancels) != 1 || cancels[0] != j+": stop" {
		t.Fatalf("OnCancel calls: %v, want one for %s", cancels, j)
	}
	mu.Unlock()
	if _, err := w.Emit(ctx, j, events.Chunk, map[string]any{"chunk": "y"}); !errors.Is(err, ErrJobFinished) {
		t.Fatalf("Emit to the cancelled job: %v", err)
	}

	// a moved job's terminal event: the lane it moved to forgets it, and
	// refuses an Emit to it at once
	end := moved[1]
	if _, err := w.Emit(ctx, end, events.Completed, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx, end); err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	taken := len(n.servedBy[end])
	n.mu.Unlock()
	if _, err := w.Emit(ctx, end, events.Chunk, map[string]any{"chunk": "z"}); !errors.Is(err, ErrJobFinished) {
		t.Fatalf("Emit after the terminal event of a moved job: %v", err)
	}
	round(rest[:1])
	n.mu.Lock()
	defer n.mu.Unlock()
	if got := len(n.servedBy[end]); got != taken {
		t.Fatalf("the refused Emit reached a node: %d events taken, %d before", got, taken)
	}
	if got := fmt.Sprint(n.jobs[end].names[len(n.jobs[end].names)-1]); got != events.Completed {
		t.Fatalf("last event of %s: %s", end, got)
	}
}

// TestHTTPWorkerFollowsTheNodeNamed: on HTTP, a job whose answers name
// another node than the one its lane posts to sends its next batches to that
// node.
func TestHTTPWorkerFollowsTheNodeNamed(t *testing.T) {
	t.Parallel()
	n, urls := newFakeNode(t, 3)
	jobs := []string{"a", "b", "c", "d", "e", "f"}
	for k, j := range jobs {
		n.createHeld(j, k%3)
	}
	w := NewWorker(WorkerConfig{BaseURLs: urls, Transport: TransportHTTP, Conns: 2})
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	round := func() {
		t.Helper()
		for _, j := range jobs {
			if _, err := w.EmitSync(ctx, j, events.Chunk, map[string]any{"chunk": "x"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// a job's batches go to the node an answer named, once the Worker knows
	// which base that is: it tries the bases it has not heard from
	for r := 0; r < 10 && !n.atHolders(jobs); r++ {
		round()
	}
	if !n.atHolders(jobs) {
		n.mu.Lock()
		t.Fatalf("after 10 rounds, batches still go to other nodes than their job's: %v", n.servedBy)
	}
	mark := n.served(jobs)
	round()
	round()
	moved := n.checkHeldSince(t, jobs, mark)
	if st := w.Stats(); st.Moved < int64(len(moved)) || len(moved) == 0 {
		t.Fatalf("stats %+v; want %d moved or more", st, len(moved))
	}
}

// TestHTTPWorkerFollowsPastADeadBase: a base that does not answer is not
// tried again for a node that no base has said it is: a job whose answers
// name a node still reaches it, through the bases after the dead one.
func TestHTTPWorkerFollowsPastADeadBase(t *testing.T) {
	t.Parallel()
	n, live := newFakeNode(t, 3)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	urls := []string{live[0], live[1], dead.URL, live[2]} // server 2 is the fourth base
	jobs := []string{"a", "b", "c", "d"}
	for _, j := range jobs {
		n.createHeld(j, 2)
	}
	w := NewWorker(WorkerConfig{BaseURLs: urls, Transport: TransportHTTP, Conns: 2,
		Backoff: Backoff{Min: time.Millisecond, Max: 10 * time.Millisecond}})
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for r := 0; r < 10 && !n.atHolders(jobs); r++ {
		for _, j := range jobs {
			if _, err := w.EmitSync(ctx, j, events.Chunk, map[string]any{"chunk": "x"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !n.atHolders(jobs) {
		n.mu.Lock()
		defer n.mu.Unlock()
		t.Fatalf("after 10 rounds, batches do not reach the node that holds their job: %v (stats %+v)", n.servedBy, w.Stats())
	}
}
