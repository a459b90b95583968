package actors

import (
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// countSink counts the frames the feed wrote to any of its kind.
type countSink struct{ n *atomic.Int64 }

func (s countSink) Send([]byte) bool        { s.n.Add(1); return true }
func (s countSink) SendAll(o [][]byte) bool { s.n.Add(int64(len(o))); return true }
func (s countSink) SendNow([]byte) bool     { s.n.Add(1); return true }
func (s countSink) Close(int, string)       {}
func (s countSink) Backlog() int            { return 0 }

// readyFeed is job "j"'s feed on h, subscribed to its job, with no conns yet.
func readyFeed(h *Hub) *JobFeed {
	f := newJobFeed(h, "j")
	f.self = actor.NewPID("nonhost", "feed")
	f.ready = true
	return f
}

// addConn gives f a conn named id whose line follows the job from seq, with
// nothing held back: the fan-out writes to its sink itself.
func addConn(f *JobFeed, id string, sink Sink, seq int64) {
	l := newSubLine(sink, seq)
	l.gap.release()
	f.conns[id] = feedConn{pid: actor.NewPID("nonhost", id), line: l}
}

// fanOuts returns how many fan-outs h's actorhub_fanout_seconds counted, and
// their total duration.
func fanOuts(t *testing.T, h *Hub) (uint64, time.Duration) {
	t.Helper()
	var m dto.Metric
	if err := h.metrics.FanOut.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), time.Duration(m.GetHistogram().GetSampleSum() * float64(time.Second))
}

// On one P a wide fan-out yields between its slices: a goroutine that became
// runnable before the fan-out began runs before its last write, not after it.
// Not parallel: it sets GOMAXPROCS to 1 for its length.
func TestWideFanOutYieldsOnOneP(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	h := &Hub{cfg: DefaultConfig(), metrics: NewMetrics(prometheus.NewRegistry())} // no helpers: one P
	f := readyFeed(h)
	var wrote atomic.Int64
	const conns = 8 * nowCheckEvery
	for i := range conns {
		addConn(f, fmt.Sprint(i), countSink{&wrote}, 0)
	}
	ev := events.Event{JobID: "j", Seq: 1, Name: "chunk", Data: []byte(`{}`)}
	ev.Encode()
	seen := make(chan int64, 1)
	go func() { seen <- wrote.Load() }() // runnable, not running: the P is this goroutine's
	f.receive(nil, &jobEvents{JobID: "j", Events: []events.Event{ev}})
	if got := wrote.Load(); got != conns {
		t.Fatalf("the fan-out wrote %d frames, want %d", got, conns)
	}
	if n := <-seen; n >= conns {
		t.Fatalf("a goroutine runnable since before the fan-out ran only after its %d writes", n)
	}
	narrow := readyFeed(h) // nowCheckEvery clients: written in one go, not a wide fan-out
	for i := range nowCheckEvery {
		addConn(narrow, fmt.Sprint(i), countSink{&wrote}, 0)
	}
	narrow.receive(nil, &jobEvents{JobID: "j", Events: []events.Event{ev}})
	if n, _ := fanOuts(t, h); n != 1 {
		t.Fatalf("actorhub_fanout_seconds counted %d fan-outs, want the wide one only", n)
	}
	if n := testutil.ToFloat64(h.metrics.FanOutHelpers); n != 0 {
		t.Fatalf("%v helpers lent on one P", n)
	}
}

// slowSink is a countSink whose writes each take d, as a socket's do.
type slowSink struct {
	countSink
	d time.Duration
}

func (s slowSink) SendNow(b []byte) bool {
	for t := time.Now(); time.Since(t) < s.d; {
	}
	return s.countSink.SendNow(b)
}

// On one P a fan-out longer than netYieldEvery lets in what came over the
// network meanwhile: a goroutine waiting on a socket whose data arrived
// before the fan-out began reads it before the fan-out's last write. A yield
// alone (runtime.Gosched) would leave it to sysmon's poll, 10ms on, after
// this fan-out's ~4ms. Not parallel: it sets GOMAXPROCS to 1 for its length.
func TestWideFanOutLetsTheNetworkInOnOneP(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	in, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()

	h := &Hub{cfg: DefaultConfig(), metrics: NewMetrics(prometheus.NewRegistry())} // no helpers: one P
	if h.gate, err = newNetGate(); err != nil {
		t.Fatal(err)
	}
	defer h.gate.close()
	f := readyFeed(h)
	var wrote atomic.Int64
	const conns = 8 * nowCheckEvery
	for i := range conns {
		addConn(f, fmt.Sprint(i), slowSink{countSink{&wrote}, 30 * time.Microsecond}, 0)
	}
	ev := events.Event{JobID: "j", Seq: 1, Name: "chunk", Data: []byte(`{}`)}
	ev.Encode()

	seen := make(chan int64, 1)
	parked := make(chan struct{})
	go func() {
		close(parked)
		var b [1]byte
		if _, err := in.Read(b[:]); err != nil { // parks in the poller: nothing sent yet
			t.Error(err)
		}
		seen <- wrote.Load()
	}()
	<-parked
	for range 3 { // let it reach the poller
		runtime.Gosched()
	}
	if _, err := out.Write([]byte{1}); err != nil { // on loopback, in the peer's buffer on return
		t.Fatal(err)
	}
	f.receive(nil, &jobEvents{JobID: "j", Events: []events.Event{ev}})
	if got := wrote.Load(); got != conns {
		t.Fatalf("the fan-out wrote %d frames, want %d", got, conns)
	}
	if n := <-seen; n >= conns {
		t.Fatalf("a read whose data arrived before the fan-out ran only after its %d writes", n)
	}
	// the fan-out is timed from its first write to its last: at least the writes' own time
	if n, d := fanOuts(t, h); n != 1 || d < conns*30*time.Microsecond {
		t.Fatalf("actorhub_fanout_seconds: %d fan-outs taking %v, want 1 of %v or more", n, d, conns*30*time.Microsecond)
	}
}

// What a yield to the network costs on one P when nothing else waits.
func BenchmarkNetGateYield(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	g, err := newNetGate()
	if err != nil {
		b.Fatal(err)
	}
	defer g.close()
	for b.Loop() {
		g.yield()
	}
}

// A gate's yield returns while the gate is open and after it is closed (a
// fan-out that outlives its hub's Stop must not hang), and close stops its
// reader (the package's leak check fails otherwise).
func TestNetGateYieldsAndCloses(t *testing.T) {
	g, err := newNetGate()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 { // at once, as a fan-out's helpers do
		wg.Go(func() {
			for range 100 {
				g.yield()
			}
		})
	}
	wg.Wait()
	g.close()
	g.yield() // closed: a yield only
	var none *netGate
	none.yield()
	none.close()
}

// blockSink is a countSink whose write number block (counting every write to
// any of its kind) waits until release is closed.
type blockSink struct {
	countSink
	block   int64
	release chan struct{}
}

func (s blockSink) SendNow(b []byte) bool {
	if s.n.Add(1) == s.block {
		<-s.release
	}
	return true
}

// Past helpAfter, on a node of several Ps, a wide fan-out shares the clients
// left with helpers: while one write is stuck, the others' shares go on (a
// fan-out from one goroutine would stop at it), every client gets the event
// once, the fan-out returns only after the last write, and the helpers are
// given back.
func TestWideFanOutSharesWithHelpers(t *testing.T) {
	h := &Hub{cfg: DefaultConfig(), metrics: NewMetrics(prometheus.NewRegistry()), helpProcs: 4}
	f := readyFeed(h)
	var wrote atomic.Int64
	const conns = 16 * nowCheckEvery
	// the write after the feed's own first nowCheckEvery: the first of the shares
	sink := blockSink{countSink{&wrote}, nowCheckEvery + 1, make(chan struct{})}
	for i := range conns {
		addConn(f, fmt.Sprint(i), sink, 0)
	}
	ev := events.Event{JobID: "j", Seq: 1, Name: "chunk", Data: []byte(`{}`)}
	ev.Encode()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.receive(nil, &jobEvents{JobID: "j", Events: []events.Event{ev}})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for wrote.Load() < 2*nowCheckEvery && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("the fan-out returned while a write was stuck")
	default:
	}
	n := wrote.Load()
	close(sink.release)
	<-done
	if n < 2*nowCheckEvery {
		t.Fatalf("with one write stuck, the fan-out made %d writes in 20s: no other share went on", n)
	}
	if got := wrote.Load(); got != conns {
		t.Fatalf("the fan-out wrote %d frames, want %d", got, conns)
	}
	if got := h.metrics.EventsDelivered; testutil.ToFloat64(got) != conns {
		t.Fatalf("delivered %v, want %d", testutil.ToFloat64(got), conns)
	}
	if b := h.helping.Load(); b != 0 {
		t.Fatalf("%d helpers not given back", b)
	}
	// four Ps lend two helpers; the fan-out is timed once, from its first write to its last
	if n := testutil.ToFloat64(h.metrics.FanOutHelpers); n != 2 {
		t.Fatalf("actorhub_fanout_helpers_total is %v, want 2", n)
	}
	if n, _ := fanOuts(t, h); n != 1 {
		t.Fatalf("actorhub_fanout_seconds counted %d fan-outs, want 1", n)
	}
}

// A node lends two helpers fewer than it has Ps, across all its fan-outs
// (each fan-out's own goroutine and one P for the rest), and none with fewer
// than helpMinProcs.
func TestLendHelpers(t *testing.T) {
	h := &Hub{helpProcs: 4}
	if n := h.lendHelpers(10); n != 2 {
		t.Fatalf("lent %d of 4 Ps' helpers, want 2", n)
	}
	if n := h.lendHelpers(1); n != 0 {
		t.Fatalf("lent %d with both out, want 0", n)
	}
	h.helping.Add(-1)
	if n := h.lendHelpers(5); n != 1 {
		t.Fatalf("lent %d with 1 given back, want 1", n)
	}
	h.helping.Add(-2)
	if n := h.lendHelpers(0); n != 0 {
		t.Fatalf("lent %d for no share, want 0", n)
	}
	for procs := 1; procs < helpMinProcs; procs++ {
		if n := (&Hub{helpProcs: procs}).lendHelpers(5); n != 0 {
			t.Fatalf("lent %d on %d Ps, want 0", n, procs)
		}
	}
}
