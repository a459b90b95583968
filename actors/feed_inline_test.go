package actors

import (
	"fmt"
	"testing"

	"github.com/actorhub/actorhub/events"
	"github.com/prometheus/client_golang/prometheus"
)

// recordSink keeps what the feed wrote to it.
type recordSink struct{ got [][]byte }

func (s *recordSink) Send(obj []byte) bool { s.got = append(s.got, obj); return true }
func (s *recordSink) SendAll(objs [][]byte) bool {
	s.got = append(s.got, objs...)
	return true
}
func (s *recordSink) SendNow(obj []byte) bool { return s.Send(obj) }
func (s *recordSink) Close(int, string)       {}
func (s *recordSink) Backlog() int            { return 0 }

// A job's actor hands its local feed events itself (tryEvents) only when
// nothing the job sent the feed waits in the feed's mailbox, the feed is in
// no turn of its own, it has not stopped and it fans out narrow: in each
// other case it refuses, writes nothing, and the caller sends a message.
func TestFeedTakesEventsFromItsJobOnlyInOrder(t *testing.T) {
	t.Parallel()
	sys := quietSystem()
	h := &Hub{cfg: DefaultConfig(), metrics: NewMetrics(prometheus.NewRegistry())}
	f := readyFeed(h)
	sink := &recordSink{}
	addConn(f, "c", sink, 0)
	seq := int64(0)
	next := func() *jobEvents {
		seq++
		ev := events.Event{JobID: "j", Seq: seq, Name: "chunk", Data: []byte(`{}`)}
		ev.Encode()
		return &jobEvents{JobID: "j", Events: []events.Event{ev}}
	}
	try := func(want bool, why string) {
		t.Helper()
		before := len(sink.got)
		m := next()
		if got := f.tryEvents(sys.Root, m); got != want {
			t.Fatalf("%s: tryEvents = %v, want %v", why, got, want)
		}
		if want && (len(sink.got) != before+1 || f.gap.have != seq) {
			t.Fatalf("%s: taken, yet the client has %d events (want %d) and the feed is at seq %d (want %d)", why, len(sink.got), before+1, f.gap.have, seq)
		}
		if !want {
			if len(sink.got) != before {
				t.Fatalf("%s: refused, yet written to the client", why)
			}
			f.receive(nil, m) // what the caller's message does instead, in the feed's turn
			if f.gap.have != seq {
				t.Fatalf("%s: the feed's turn left it at seq %d, want %d", why, f.gap.have, seq)
			}
		}
	}
	try(true, "an idle feed")

	f.turn.backlog.Add(1) // a message from the job is queued: the events would overtake it
	try(false, "a message from the job queued")
	f.turn.backlog.Add(-1)

	f.turn.mu.Lock() // the feed's own turn
	try(false, "the feed in a turn")
	f.turn.mu.Unlock()

	for i := range inlineMaxConns {
		addConn(f, fmt.Sprint(i), &recordSink{}, seq)
	}
	try(false, "a wide fan-out")
	for i := range inlineMaxConns {
		delete(f.conns, fmt.Sprint(i))
	}
	try(true, "narrow again")

	f.turn.dead = true
	before := len(sink.got)
	if f.tryEvents(sys.Root, next()) || len(sink.got) != before {
		t.Fatal("a stopped feed took events")
	}
}
