package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/actorhub/actorhub/client"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/nodetest"
	"github.com/actorhub/actorhub/internal/redistest"
)

// TestClusterCancelPushedToWorker: workers connected to node A emit to jobs
// that live on node B (made there); cancelled through B's HTTP API, each job
// tells its worker's connection on A at once: a raw connection reads
// "cancelled" with the reason, the SDK Worker calls OnCancel and refuses
// further emits to the job with job_finished. A second cancel, through A, is a 200 and
// adds no second job:cancelled:v1.
func TestClusterCancelPushedToWorker(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	nodes := nodetest.StartCluster(t, 2, rs.URL())
	a, b := nodes[0], nodes[1]
	jobs := heldBy(t, rs, b, "xc", 2) // one for a raw worker, one for the SDK's

	raw := dial(t, a.WS("/ws/worker"))
	raw.send(chunkEmit(jobs[0], 0, "a"))
	if ack, _ := raw.expect("ack"); ack.str("jobId") != jobs[0] {
		t.Fatalf("ack: %v", ack)
	}
	told := make(chan string, 2)
	w := client.NewWorker(client.WorkerConfig{BaseURLs: []string{a.URL("")},
		OnCancel: func(jobID, reason string) { told <- jobID + ": " + reason }})
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := w.EmitSync(ctx, jobs[1], events.Chunk, map[string]any{"chunk": "a"}); err != nil {
		t.Fatal(err)
	}

	mustAPI(t, 200, "POST", b.URL("/api/jobs/"+jobs[0]+"/cancel"), `{"reason":"stop raw"}`)
	if got, _ := raw.expect("cancelled"); got.str("jobId") != jobs[0] || got.str("reason") != "stop raw" {
		t.Fatalf("raw worker: %v", got)
	}
	mustAPI(t, 200, "POST", b.URL("/api/jobs/"+jobs[1]+"/cancel"), `{"reason":"stop sdk"}`)
	select {
	case got := <-told:
		if got != jobs[1]+": stop sdk" {
			t.Fatalf("OnCancel(%s)", got)
		}
	case <-ctx.Done():
		t.Fatal("OnCancel was not called")
	}
	if _, err := w.Emit(ctx, jobs[1], events.Chunk, map[string]any{"chunk": "b"}); !errors.Is(err, client.ErrJobFinished) {
		t.Fatalf("Emit after the push: %v", err)
	}

	st := mustAPI(t, 200, "POST", a.URL("/api/jobs/"+jobs[0]+"/cancel"), `{"reason":"again"}`)
	if st.str("status") != "cancelled" {
		t.Fatalf("second cancel: %v", st)
	}
	page := mustAPI(t, 200, "GET", a.URL("/api/job/"+jobs[0]+"/events"), "")
	n := 0
	for _, e := range page["events"].([]any) {
		if e.(map[string]any)["event"] == events.Cancelled {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d job:cancelled:v1 in the journal, want 1: %v", n, page)
	}
}
