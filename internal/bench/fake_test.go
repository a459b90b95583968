package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/actorhub/actorhub/events"
)

// fakeHub is a one-process stand-in for a node, enough of PROTOCOL.md for the
// bench: jobs, worker emits with offsets and acks, subscribers with replay.
type fakeHub struct {
	mu   sync.Mutex
	jobs map[string]*hubJob
	wg   sync.WaitGroup
	done chan struct{}
}

type hubJob struct {
	next    int64
	journal [][]byte // seq i+1 at i
	subs    map[*hubConn]bool
}

type hubConn struct {
	mu sync.Mutex
	c  *websocket.Conn
}

func (h *hubConn) write(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.c.Write(ctx, websocket.MessageText, b)
}

func newFakeHub(t *testing.T) string {
	h := &fakeHub{jobs: map[string]*hubJob{}, done: make(chan struct{})}
	s := httptest.NewServer(h)
	t.Cleanup(func() { close(h.done); s.Close(); h.wg.Wait() })
	return s.URL
}

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/readyz":
	case "/api/jobs":
		var req struct{ JobID string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		h.mu.Lock()
		if h.jobs[req.JobID] == nil {
			ev := events.Event{JobID: req.JobID, Seq: 1, Name: events.Created, Data: []byte(`{}`), TS: 1}
			ev.Encode()
			h.jobs[req.JobID] = &hubJob{journal: [][]byte{ev.Raw}, subs: map[*hubConn]bool{}}
		}
		h.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"jobId":%q,"status":"created","lastSequence":1}`, req.JobID)
	case "/ws", "/ws/worker":
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		h.wg.Add(1)
		defer h.wg.Done()
		hc := &hubConn{c: c}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-h.done:
			case <-ctx.Done():
			}
			c.CloseNow()
		}()
		if r.URL.Path == "/ws" {
			hc.write([]byte(`{"type":"connected","sessionId":"s","nodeId":"fake","userId":"bench"}`))
		}
		defer h.unsubscribe(hc)
		for {
			_, frame, err := c.Read(ctx)
			if err != nil {
				return
			}
			events.DecodeFrame(frame, func(m *events.Inbound, cerr *events.CodedError) {
				switch {
				case cerr != nil:
					hc.write(events.AppendError(nil, m.ID, m.JobID, cerr.Code, cerr.Error(), -1))
				case m.Type == events.TypeSubscribe:
					h.subscribe(hc, m)
				case m.Type == events.TypeEmit:
					h.emit(hc, m)
				}
			})
		}
	default:
		http.NotFound(w, r)
	}
}

func (h *fakeHub) subscribe(hc *hubConn, m *events.Inbound) {
	h.mu.Lock()
	defer h.mu.Unlock()
	j := h.jobs[m.JobID]
	if j == nil {
		hc.write(events.AppendError(nil, m.ID, m.JobID, events.CodeNotFound, "no such job", -1))
		return
	}
	from := int64(0)
	if m.FromSeq != nil {
		from = *m.FromSeq
	}
	out := events.AppendSubscribed(nil, m.ID, m.JobID, events.StatusRunning, int64(len(j.journal)), 1)
	for _, raw := range j.journal[min(from, int64(len(j.journal))):] {
		out = append(append(out, '\n'), raw...)
	}
	hc.write(out)
	j.subs[hc] = true
}

func (h *fakeHub) unsubscribe(hc *hubConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, j := range h.jobs {
		delete(j.subs, hc)
	}
}

func (h *fakeHub) emit(hc *hubConn, m *events.Inbound) {
	h.mu.Lock()
	defer h.mu.Unlock()
	j := h.jobs[m.JobID]
	switch {
	case j == nil:
		hc.write(events.AppendError(nil, nil, m.JobID, events.CodeNotFound, "no such job", -1))
		return
	case *m.Offset > j.next:
		hc.write(events.AppendError(nil, nil, m.JobID, events.CodeOffsetGap, "gap", j.next))
		return
	case *m.Offset == j.next:
		ev := events.Event{JobID: m.JobID, Seq: int64(len(j.journal)) + 1, Name: m.Event, Data: m.Data, TS: time.Now().UnixMilli()}
		ev.Encode()
		j.journal = append(j.journal, ev.Raw)
		j.next++
		for s := range j.subs {
			s.write(ev.Raw)
		}
	}
	hc.write(events.AppendAck(nil, m.JobID, j.next, int64(len(j.journal))))
}

func TestRunAgainstFakeHub(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3 s run")
	}
	target := newFakeHub(t)
	var progress strings.Builder
	var pmu sync.Mutex
	cfg := Config{Target: target, Conns: 40, Jobs: 4, Rate: 200, Duration: 3 * time.Second, Warmup: time.Second,
		Grace: 2 * time.Second, Settle: 100 * time.Millisecond, DialConcurrency: 8}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := Run(ctx, cfg, writerFunc(func(p []byte) (int, error) {
		pmu.Lock()
		defer pmu.Unlock()
		return progress.Write(p)
	}))
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, progress.String())
	}
	t.Logf("%s\n%s", rep.Markdown(), rep)
	// 200 emits/s for 3 s, each received by the 10 subscribers of its job
	if rep.Emitted < 590 || rep.Emitted > 600 {
		t.Errorf("emitted %d, want 600 (±10)", rep.Emitted)
	}
	if rep.Lost != 0 || rep.Received != rep.Expected || rep.Expected != rep.Emitted*10 {
		t.Errorf("lost %d, received %d of %d expected, emitted %d", rep.Lost, rep.Received, rep.Expected, rep.Emitted)
	}
	if rep.Duplicates+rep.OutOfOrder+rep.SeqGaps != 0 {
		t.Errorf("dup %d ooo %d gaps %d, want none", rep.Duplicates, rep.OutOfOrder, rep.SeqGaps)
	}
	if rep.DeliveredMsgsS < 1800 || rep.DeliveredMsgsS > 2200 || rep.OfferedMsgsS != 2000 {
		t.Errorf("delivered %.0f msg/s of %.0f offered, want about 2000", rep.DeliveredMsgsS, rep.OfferedMsgsS)
	}
	if rep.LatSamples == 0 || rep.LatP50Ms <= 0 || rep.LatMaxMs < rep.LatP99Ms || rep.WorkerAckP50Ms <= 0 {
		t.Errorf("latency p50 %.3f p99 %.3f max %.3f over %d samples, ack p50 %.3f",
			rep.LatP50Ms, rep.LatP99Ms, rep.LatMaxMs, rep.LatSamples, rep.WorkerAckP50Ms)
	}
	if rep.WorkerAcked != rep.Emitted || rep.WorkerUnacked != 0 {
		t.Errorf("worker acked %d unacked %d of %d", rep.WorkerAcked, rep.WorkerUnacked, rep.Emitted)
	}
	if rep.ServerCPUPct != nil || rep.RSSPerConnKB != nil || rep.Subscribed != 40 || rep.Config != "C40-N1-2k" {
		t.Errorf("report %+v", rep)
	}
	pmu.Lock()
	defer pmu.Unlock()
	if n := strings.Count(progress.String(), "delivered/s"); n < 3 {
		t.Errorf("%d progress lines, want one a second:\n%s", n, progress.String())
	}
}

func TestRunNodeThatExits(t *testing.T) {
	bin := t.TempDir() + "/actorhub"
	if err := writeScript(bin, "#!/bin/sh\necho \"bad flag: $*\" >&2\nexit 2\n"); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), Config{Bin: bin, Conns: 1, Duration: 2 * time.Second, Warmup: time.Second}, nil)
	if err == nil || !strings.Contains(err.Error(), "exited before") || !strings.Contains(err.Error(), "bad flag: serve --http 127.0.0.1:") {
		t.Fatalf("Run with a node that exits: %v", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
