package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/actorhub/actorhub/events"
)

func chunkNames(n int) []string {
	var s []string
	for i := 0; i < n; i++ {
		s = append(s, events.Chunk)
	}
	return s
}

// ackLog records OnAck calls.
type ackLog struct {
	mu   sync.Mutex
	offs map[string][]int64
}

func (a *ackLog) onAck(job string, off int64, _ time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.offs == nil {
		a.offs = map[string][]int64{}
	}
	a.offs[job] = append(a.offs[job], off)
}

func (a *ackLog) get(job string) []int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.offs[job])
}

func emitN(t *testing.T, w *Worker, job string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		off, err := w.Emit(context.Background(), job, events.Chunk, map[string]any{"chunk": fmt.Sprint(i)})
		if err != nil || off != int64(i) {
			t.Fatalf("Emit %d: offset %d, %v", i, off, err)
		}
	}
}

func TestWorkerWSResendsAfterConnectionLoss(t *testing.T) {
	node, urls := newFakeNode(t, 2)
	node.create("j")
	node.dropAfter = 3 // the first connection dies after 3 emits, acking none
	var acks ackLog
	w := NewWorker(WorkerConfig{BaseURLs: urls, OnAck: acks.onAck, Backoff: Backoff{Min: time.Millisecond, Max: 10 * time.Millisecond}})
	defer w.Close()
	emitN(t, w, "j", 10)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Flush(ctx, "j"); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := node.names("j"); !slices.Equal(got, chunkNames(10)) {
		t.Fatalf("the node has %d events %v, want 10 chunks, each once", len(got), got)
	}
	waitFor(t, 5*time.Second, func() error { // OnAck may trail Flush
		if got := acks.get("j"); !slices.Equal(got, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
			return fmt.Errorf("OnAck offsets %v, want 0…9 once each, in order", got)
		}
		return nil
	})
	st := w.Stats()
	if st.Reconnects < 1 || st.Resent < 1 || st.Acked != 10 || st.Emitted != 10 || st.Pending != 0 {
		t.Errorf("stats %+v: want ≥1 reconnect, ≥1 resent, 10 emitted and acked, 0 pending", st)
	}
}

func TestWorkerWSResolvesGap(t *testing.T) {
	node, urls := newFakeNode(t, 1)
	node.create("g")
	node.skipOnce["g"] = 2 // offset 2 vanishes: 3… are refused with offset_gap
	w := NewWorker(WorkerConfig{BaseURLs: urls})
	defer w.Close()
	emitN(t, w, "g", 6)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Flush(ctx, "g"); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := node.names("g"); len(got) != 6 {
		t.Fatalf("the node has %d events, want 6", len(got))
	}
	if st := w.Stats(); st.Errors[events.CodeOffsetGap] < 1 || st.Resent < 1 {
		t.Errorf("stats %+v: want offset_gap refusals and resent events", st)
	}
}

func TestWorkerJobFinished(t *testing.T) {
	for _, transport := range []string{TransportWS, TransportHTTP} {
		t.Run(transport, func(t *testing.T) {
			node, urls := newFakeNode(t, 1)
			node.create("f")
			w := NewWorker(WorkerConfig{BaseURLs: urls, Transport: transport})
			defer w.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := w.EmitSync(ctx, "f", events.Completed, map[string]any{"result": "done"}); err != nil {
				t.Fatalf("EmitSync completed: %v", err)
			}
			// the node already finished the job (another writer): a new offset is refused
			node.mu.Lock()
			node.jobs["f"].next++
			node.mu.Unlock()
			if err := w.ResumeJob("f", 2); err != nil {
				t.Fatal(err)
			}
			_, err := w.EmitSync(ctx, "f", events.Chunk, map[string]any{"chunk": "late"})
			var ee *EmitError
			if !errors.Is(err, ErrJobFinished) || !errors.As(err, &ee) || ee.JobID != "f" {
				t.Fatalf("EmitSync after the end: %v, want an *EmitError matching ErrJobFinished", err)
			}
			if _, err := w.Emit(ctx, "f", events.Chunk, map[string]any{"chunk": "later"}); !errors.Is(err, ErrJobFinished) {
				t.Errorf("Emit after a terminal refusal: %v, want ErrJobFinished at once", err)
			}
		})
	}
}

// A worker that streams job after job keeps only the jobs still going: once a
// job's terminal event is acked it is forgotten, and an event to it after that
// is refused at once, not numbered anew from offset 0 (which the node would take
// for duplicates).
func TestWorkerForgetsFinishedJobs(t *testing.T) {
	for _, transport := range []string{TransportWS, TransportHTTP} {
		t.Run(transport, func(t *testing.T) {
			node, urls := newFakeNode(t, 1)
			w := NewWorker(WorkerConfig{BaseURLs: urls, Transport: transport, Conns: 2})
			defer w.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			const n = 40
			for i := range n {
				id := fmt.Sprintf("j%d", i)
				node.create(id)
				emitN(t, w, id, 3)
				if i%2 == 0 {
					if _, err := w.Emit(ctx, id, events.Completed, map[string]any{}); err != nil {
						t.Fatal(err)
					}
				}
			}
			for i := range n {
				if err := w.Flush(ctx, fmt.Sprintf("j%d", i)); err != nil {
					t.Fatalf("Flush j%d: %v", i, err)
				}
			}
			held := 0
			for _, l := range w.lanes {
				l.mu.Lock()
				for k, j := range l.jobs {
					if j.at != k || l.byID[j.id] != j {
						t.Errorf("lane %d: job %s at %d says %d", l.idx, j.id, k, j.at)
					}
				}
				held += len(l.jobs)
				if len(l.byID) != len(l.jobs) {
					t.Errorf("lane %d: %d jobs by id, %d in order", l.idx, len(l.byID), len(l.jobs))
				}
				l.mu.Unlock()
			}
			if held != n/2 {
				t.Fatalf("the worker holds %d jobs; want the %d still going", held, n/2)
			}
			if _, err := w.Emit(ctx, "j0", events.Chunk, map[string]any{"chunk": "late"}); !errors.Is(err, ErrJobFinished) {
				t.Fatalf("Emit to a forgotten job: %v, want ErrJobFinished", err)
			}
			if got := node.names("j0"); len(got) != 4 {
				t.Fatalf("j0 on the node: %v, want its 3 chunks and the terminal event only", got)
			}
			if _, err := w.EmitSync(ctx, "j1", events.Chunk, map[string]any{"chunk": "more"}); err != nil {
				t.Fatalf("a job still going: %v", err)
			}
		})
	}
}

func TestWorkerJobNotFound(t *testing.T) {
	for _, transport := range []string{TransportWS, TransportHTTP} {
		t.Run(transport, func(t *testing.T) {
			_, urls := newFakeNode(t, 1)
			w := NewWorker(WorkerConfig{BaseURLs: urls, Transport: transport})
			defer w.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := w.EmitSync(ctx, "nope", events.Chunk, map[string]any{"chunk": "x"}); !errors.Is(err, ErrJobNotFound) {
				t.Fatalf("EmitSync to an unknown job: %v, want ErrJobNotFound", err)
			}
		})
	}
}

func TestWorkerHTTPRetriesAndCreates(t *testing.T) {
	node, urls := newFakeNode(t, 2)
	node.fail503 = 2
	var acks ackLog
	w := NewWorker(WorkerConfig{BaseURLs: urls, Transport: TransportHTTP, OnAck: acks.onAck,
		Backoff: Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond}})
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	job, err := w.CreateJob(ctx, "h", "u", "t", map[string]any{"prompt": "p"})
	if err != nil || !job.Created || job.JobID != "h" {
		t.Fatalf("CreateJob: %+v, %v; want created", job, err)
	}
	if job, err = w.CreateJob(ctx, "h", "u", "t", nil); err != nil || job.Created {
		t.Fatalf("CreateJob again: %+v, %v; want found (200)", job, err)
	}
	emitN(t, w, "h", 10)
	if err := w.Flush(ctx, "h"); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := node.names("h"); !slices.Equal(got, chunkNames(10)) {
		t.Fatalf("the node has %v, want 10 chunks", got)
	}
	waitFor(t, 5*time.Second, func() error {
		if got := acks.get("h"); !slices.Equal(got, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
			return fmt.Errorf("OnAck offsets %v, want 0…9 once each, in order", got)
		}
		return nil
	})
	if st := w.Stats(); st.Errors["http_5xx"] != 2 {
		t.Errorf("errors %v, want 2 http_5xx", st.Errors)
	}
}

func TestWorkerUnresolvableGap(t *testing.T) {
	node, urls := newFakeNode(t, 1)
	node.create("r")
	w := NewWorker(WorkerConfig{BaseURLs: urls, Transport: TransportHTTP})
	defer w.Close()
	// this worker believes offsets 0…2 exist; the node has none of them
	if err := w.ResumeJob("r", 3); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := w.EmitSync(ctx, "r", events.Chunk, map[string]any{"chunk": "x"})
	var ee *EmitError
	if !errors.Is(err, ErrOffsetGap) || !errors.As(err, &ee) || ee.NextOffset != 0 {
		t.Fatalf("EmitSync: %v, want ErrOffsetGap with NextOffset 0", err)
	}
}

func TestWorkerEmitBlocksWhenFull(t *testing.T) {
	// no node listens: nothing is ever acked
	w := NewWorker(WorkerConfig{BaseURLs: []string{"http://127.0.0.1:1"}, MaxPending: 2,
		Backoff: Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond}})
	emitN(t, w, "b", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := w.Emit(ctx, "b", events.Chunk, map[string]any{"chunk": "3"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Emit on a full job: %v, want to block until ctx ends", err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Flush(context.Background(), "b") }()
	w.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Flush across Close: %v, want ErrClosed", err)
	}
	if _, err := w.Emit(context.Background(), "b", events.Chunk, map[string]any{"chunk": "4"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Emit after Close: %v, want ErrClosed", err)
	}
	if w.Stats().Errors["dial"] < 1 {
		t.Errorf("no dial failure counted: %v", w.Stats().Errors)
	}
}

func TestWorkerConfigErrors(t *testing.T) {
	t.Parallel()
	for _, cfg := range []WorkerConfig{
		{},
		{BaseURLs: []string{"ws://h:1"}},
		{BaseURLs: []string{"http://h:1"}, Transport: "grpc"},
	} {
		w := NewWorker(cfg)
		if _, err := w.Emit(context.Background(), "j", events.Chunk, map[string]any{"chunk": ""}); err == nil {
			t.Errorf("config %+v: Emit succeeded", cfg)
		}
		w.Close()
	}
}

// TestWorkerCreatesThroughTheLaneNode: a job lives on the node that creates
// it, so CreateJob goes first to the node the job's lane starts on (its events
// then reach it without crossing nodes) and a worker's jobs spread over the
// nodes; jobs without an id go to the nodes in turn.
func TestWorkerCreatesThroughTheLaneNode(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{} // job id (or body) → server index
	var urls []string
	for i := 0; i < 3; i++ {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				JobID string `json:"jobId"`
				Type  string `json:"type"`
			}
			_ = json.NewDecoder(r.Body).Decode(&req)
			mu.Lock()
			got[req.JobID+"/"+req.Type] = i
			mu.Unlock()
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]any{"jobId": req.JobID, "status": "created", "lastSequence": 1})
		}))
		t.Cleanup(s.Close)
		urls = append(urls, s.URL)
	}
	w := NewWorker(WorkerConfig{BaseURLs: urls, Conns: 3, Transport: TransportHTTP})
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	used := map[int]bool{}
	for k := 0; k < 30; k++ {
		id := fmt.Sprintf("job-%d", k)
		if _, err := w.CreateJob(ctx, id, "u", "t", nil); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		at := got[id+"/t"]
		mu.Unlock()
		if want := w.laneOf(id) % len(urls); at != want {
			t.Fatalf("job %s created through node %d; want %d, where its lane starts", id, at, want)
		}
		used[at] = true
	}
	if len(used) != 3 {
		t.Fatalf("30 jobs created through nodes %v; want all three", used)
	}
	for _, typ := range []string{"a", "b"} {
		if _, err := w.CreateJob(ctx, "", "u", typ, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got["/a"] == got["/b"] {
		t.Fatalf("two jobs without an id both went to node %d; want the nodes in turn", got["/a"])
	}
}

// TestWorkerStopsACancelledJob: a node's push that a job was cancelled ends
// the job's stream at once: its unacked events are dropped rather than sent
// again, Flush and Emit return job_finished, and OnCancel is called once;
// the other jobs go on.
func TestWorkerStopsACancelledJob(t *testing.T) {
	node, urls := newFakeNode(t, 1)
	node.create("j")
	node.create("k")
	node.mu.Lock()
	node.hold["j"] = true // j's events stay unacked
	node.mu.Unlock()
	var mu sync.Mutex
	var told []string
	onCancel := func(jobID, reason string) {
		mu.Lock()
		told = append(told, jobID+": "+reason)
		mu.Unlock()
	}
	w := NewWorker(WorkerConfig{BaseURLs: urls, AckTimeout: time.Minute, OnCancel: onCancel})
	defer w.Close()
	emitN(t, w, "j", 3)
	waitFor(t, 5*time.Second, func() error {
		node.mu.Lock()
		defer node.mu.Unlock()
		if len(node.emitters["j"]) == 0 {
			return errors.New("no emit of j reached the node")
		}
		return nil
	})
	node.cancel(t, "j", "user stopped it")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := w.Flush(ctx, "j")
	var ee *EmitError
	if !errors.As(err, &ee) || ee.Code != events.CodeJobFinished || !errors.Is(err, ErrJobFinished) ||
		ee.NextOffset != -1 || ee.Message != "the job was cancelled: user stopped it" {
		t.Fatalf("Flush of the cancelled job: %v", err)
	}
	if _, err := w.Emit(ctx, "j", events.Chunk, map[string]any{"chunk": "x"}); !errors.Is(err, ErrJobFinished) {
		t.Fatalf("Emit to the cancelled job: %v", err)
	}
	if st := w.Stats(); st.Pending != 0 {
		t.Fatalf("%d events still pending", st.Pending)
	}
	node.cancel(t, "j", "again") // a second push calls nothing
	emitN(t, w, "k", 2)
	if err := w.Flush(ctx, "k"); err != nil {
		t.Fatalf("Flush of another job: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(told, []string{"j: user stopped it"}) {
		t.Fatalf("OnCancel calls %q", told)
	}
}
