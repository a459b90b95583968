package actors

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

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

// On one P a wide fan-out yields between its slices: a goroutine that became
// runnable before the fan-out began runs before its last write, not after it.
// Not parallel: it sets GOMAXPROCS to 1 for its length.
func TestWideFanOutYieldsOnOneP(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	h := &Hub{cfg: DefaultConfig(), metrics: NewMetrics(prometheus.NewRegistry())} // nowBudget 0: one P
	f := newJobFeed(h, "j")
	f.self = actor.NewPID("nonhost", "feed")
	f.ready = true
	var wrote atomic.Int64
	const conns = 8 * nowCheckEvery
	for i := range conns {
		l := newSubLine(countSink{&wrote}, 0)
		l.gap.release()
		f.conns[fmt.Sprint(i)] = feedConn{pid: actor.NewPID("nonhost", fmt.Sprint(i)), line: l}
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
