package actors

import (
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
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

// On one P a wide fan-out yields between its slices: a goroutine that became
// runnable before the fan-out began runs before its last write, not after it.
// Not parallel: it sets GOMAXPROCS to 1 for its length.
func TestWideFanOutYieldsOnOneP(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	h := &Hub{cfg: DefaultConfig(), metrics: NewMetrics(prometheus.NewRegistry())} // nowBudget 0: one P
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

	h := &Hub{cfg: DefaultConfig(), metrics: NewMetrics(prometheus.NewRegistry())} // nowBudget 0: one P
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
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			g.yield()
		}
	}()
	<-done
	g.close()
	g.yield() // closed: a yield only
	var none *netGate
	none.yield()
	none.close()
}
