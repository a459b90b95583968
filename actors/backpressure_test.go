package actors_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/persistence"
	"github.com/prometheus/client_golang/prometheus"
)

// slowStore is a real store slowed on purpose: every append waits first.
type slowStore struct {
	persistence.Store
	delay time.Duration
}

func (s slowStore) Append(ctx context.Context, st events.JobState, delta string, evs []events.Event) error {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.Append(ctx, st, delta, evs)
}

func (s slowStore) AppendAsync(st events.JobState, delta string, evs []events.Event, done func(error)) {
	time.AfterFunc(s.delay, func() { s.Store.AppendAsync(st, delta, evs, done) })
}

// sink is a worker connection's outbound side, as a test sees it.
type sink struct {
	mu        sync.Mutex
	acked     atomic.Int64 // the highest nextOffset acked
	errors    []string
	cancelled []string // "jobId: reason"
	closed    int
}

func (s *sink) Send(b []byte) bool    { return s.SendAll([][]byte{b}) }
func (s *sink) SendNow(b []byte) bool { return s.Send(b) }

func (s *sink) SendAll(objs [][]byte) bool {
	for _, b := range objs {
		var o struct {
			Type       string `json:"type"`
			Code       string `json:"code"`
			NextOffset int64  `json:"nextOffset"`
			JobID      string `json:"jobId"`
			Reason     string `json:"reason"`
		}
		_ = json.Unmarshal(b, &o)
		switch o.Type {
		case events.TypeCancelled:
			s.mu.Lock()
			s.cancelled = append(s.cancelled, o.JobID+": "+o.Reason)
			s.mu.Unlock()
		case events.TypeAck:
			if o.NextOffset > s.acked.Load() {
				s.acked.Store(o.NextOffset)
			}
		case "error":
			s.mu.Lock()
			s.errors = append(s.errors, o.Code)
			s.mu.Unlock()
		}
	}
	return true
}

func (s *sink) Close(code int, _ string) {
	s.mu.Lock()
	s.closed = code
	s.mu.Unlock()
}

func (s *sink) Backlog() int { return 0 }

func startHub(t *testing.T, cfg actors.Config, delay time.Duration) *actors.Hub {
	t.Helper()
	return startHubOn(t, cfg, func(s persistence.Store) actors.Store { return slowStore{s, delay} }, "j")
}

// startHubOn starts node n1 on a bolt store that wrap wraps, stopped when
// the test ends, and creates job jobID. Each of before is called with the
// hub before it starts.
func startHubOn(t *testing.T, cfg actors.Config, wrap func(persistence.Store) actors.Store, jobID string, before ...func(*actors.Hub)) *actors.Hub {
	t.Helper()
	store, err := persistence.OpenBolt(filepath.Join(t.TempDir(), "hub.db"), persistence.DefaultLocalConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg.NodeID = "n1"
	h, err := actors.New(cfg, wrap(store), actors.NewMetrics(prometheus.NewRegistry()), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range before {
		f(h)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Stop(ctx); err != nil {
			t.Error(err)
		}
		store.Close()
	})
	if _, _, err := h.CreateJob(t.Context(), jobID, "u", "t", nil); err != nil {
		t.Fatal(err)
	}
	return h
}

// subscribeRequest follows jobID from its first event.
func subscribeRequest(jobID string) *actors.Request {
	var from int64
	return &actors.Request{Msg: &events.Inbound{Type: events.TypeSubscribe, JobID: jobID, FromSeq: &from}}
}

func emitRequest(jobID string, offset int64, data []byte) *actors.Request {
	r := actors.Emits(jobID, nil)
	r.AddItem(actors.EmitItem{Offset: offset, Name: events.Chunk, Data: data})
	return r
}

// TestWorkerOutrunningTheStoreIsSlowed: a worker that emits as fast as it can
// into a store slowed on purpose is held back at its connection's reader —
// never more than MaxInflight emits (plus the acks of one commit) wait for
// the store — and every emit is acked in the end.
func TestWorkerOutrunningTheStoreIsSlowed(t *testing.T) {
	t.Parallel()
	cfg := actors.DefaultLocalConfig()
	cfg.MaxInflight = 8
	h := startHub(t, cfg, 3*time.Millisecond)
	s := &sink{}
	conn := h.OpenWorker(s)
	defer conn.Close()
	data := []byte(fmt.Sprintf(`{"chunk":%q}`, strings.Repeat("x", 4096)))
	const n = 2000
	worst := int64(0)
	for i := range int64(n) {
		if err := conn.Deliver(t.Context(), emitRequest("j", i, data)); err != nil {
			t.Fatalf("emit %d: %v", i, err)
		}
		worst = max(worst, i+1-s.acked.Load())
	}
	// a credit comes back just before its ack is queued, so the reader may
	// run ahead of the acks it saw by the acks of one commit
	if bound := int64(2 * cfg.MaxInflight); worst > bound {
		t.Fatalf("%d emits waited for the store at once; the bound is %d", worst, bound)
	}
	waitFor(t, func() error {
		if got := s.acked.Load(); got != n {
			return fmt.Errorf("acked up to offset %d of %d", got, n)
		}
		return nil
	})
	if len(s.errors) > 0 {
		t.Fatalf("errors: %v", s.errors)
	}
	st, err := h.State(t.Context(), "j")
	if err != nil || st.LastSequence != n+1 {
		t.Fatalf("state %+v, %v: want %d events", st, err, n+1)
	}
}

// TestJobBehindTheStoreRefuses: many connections emitting into one job whose
// store is slow fill the job's pending batch; past MaxPending it refuses with
// unavailable and closes those connections with 1013 (their workers resend),
// instead of holding without bound.
func TestJobBehindTheStoreRefuses(t *testing.T) {
	t.Parallel()
	cfg := actors.DefaultLocalConfig()
	cfg.MaxInflight, cfg.MaxPending = 16, 32
	h := startHub(t, cfg, 50*time.Millisecond)
	var wg sync.WaitGroup
	sinks := make([]*sink, 8)
	for w := range sinks {
		sinks[w] = &sink{}
		conn := h.OpenWorker(sinks[w])
		defer conn.Close()
		wg.Go(func() {
			for i := range 16 { // no offsets: every connection's events are appended as they come
				_ = conn.Deliver(t.Context(), &actors.Request{Msg: &events.Inbound{Type: events.TypeEmit, JobID: "j"},
					Items: []actors.EmitItem{{Offset: actors.NoOffset, Name: events.Chunk, Data: []byte(fmt.Sprintf(`{"chunk":"%d-%d"}`, w, i))}}})
			}
		})
	}
	wg.Wait()
	waitFor(t, func() error {
		for _, s := range sinks {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed == actors.CloseTryAgainLater {
				return nil
			}
		}
		return fmt.Errorf("no connection was refused")
	})
	for _, s := range sinks {
		s.mu.Lock()
		for _, code := range s.errors {
			if code != events.CodeUnavailable {
				t.Errorf("refused with %s, want unavailable", code)
			}
		}
		s.mu.Unlock()
	}
}

// waitFor polls cond until it returns nil, failing after 20 s.
func waitFor(t *testing.T, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWorkerWithoutAnAnswerIsClosed: a worker connection whose emit is not
// answered within twice RequestTimeout (here the store takes longer, as an
// answer lost with a node that died mid-request would) is closed with 1013,
// so that its worker resends.
func TestWorkerWithoutAnAnswerIsClosed(t *testing.T) {
	t.Parallel()
	cfg := actors.DefaultLocalConfig()
	cfg.RequestTimeout = 100 * time.Millisecond // the connection gives up after 200 ms
	h := startHub(t, cfg, time.Second)          // the store answers after a second (StoreTimeout: 2 s)
	s := &sink{}
	conn := h.OpenWorker(s)
	defer conn.Close()
	_ = conn.Deliver(t.Context(), &actors.Request{Msg: &events.Inbound{Type: events.TypeEmit, JobID: "j"},
		Items: []actors.EmitItem{{Offset: actors.NoOffset, Name: events.Chunk, Data: []byte(`{"chunk":"x"}`)}}})
	waitFor(t, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed != actors.CloseTryAgainLater {
			return fmt.Errorf("the connection is not closed with 1013 (closed %d, errors %v)", s.closed, s.errors)
		}
		return nil
	})
}
