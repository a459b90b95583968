package actors_test

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/persistence"
)

// nowSink counts the events it is given with SendNow and with Send.
type nowSink struct {
	seqSink
	now, queued atomic.Int64
}

var eventType = []byte(`"type":"` + events.TypeEvent + `"`)

func (s *nowSink) SendNow(b []byte) bool {
	if bytes.Contains(b, eventType) {
		s.now.Add(1)
	}
	return s.seqSink.Send(b)
}

func (s *nowSink) Send(b []byte) bool {
	if bytes.Contains(b, eventType) {
		s.queued.Add(1)
	}
	return s.seqSink.Send(b)
}

// TestFanOutWritesEveryClient: a feed writes each event to its clients'
// sockets itself (SendNow), in order, whether its goroutine writes to all of
// them (one P; or helpers asked for too late) or shares them with helpers
// (four Ps, helpers asked for at once: the feed's first 16 clients, then
// two shares of 24: 48 clients lend one helper).
func TestFanOutWritesEveryClient(t *testing.T) {
	t.Parallel()
	const clients = 64
	for _, tc := range []struct {
		name  string
		procs int
		after time.Duration
	}{{"one P", 1, 0}, {"four Ps, late", 4, time.Hour}, {"four Ps, helped", 4, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			h := startHubOn(t, actors.DefaultLocalConfig(), func(s persistence.Store) actors.Store { return s }, "j",
				func(h *actors.Hub) { h.SetFanOutHelp(tc.procs, tc.after) })
			worker := h.OpenWorker(&sink{})
			defer worker.Close()
			sinks := make([]*nowSink, clients)
			emit := func(off int64) {
				t.Helper()
				if err := worker.Deliver(t.Context(), emitRequest("j", off, []byte(`{"chunk":"c"}`))); err != nil {
					t.Fatal(err)
				}
			}
			emit(0)
			from := int64(2) // the emit's seq (offset + 2): each client follows from there, with nothing to replay
			for i := range sinks {
				sinks[i] = &nowSink{}
				c := h.OpenClient(sinks[i], fmt.Sprintf("c%d", i), actors.Access{User: "u"})
				defer c.Close()
				if err := c.Deliver(t.Context(), &actors.Request{Msg: &events.Inbound{Type: events.TypeSubscribe, JobID: "j", FromSeq: &from}}); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, func() error {
				for i, s := range sinks {
					if _, n := s.since(); n == 0 {
						return fmt.Errorf("client %d is not subscribed yet", i)
					}
				}
				return nil
			})
			emit(1) // every subscription is in line once this reached them all
			waitFor(t, func() error { return allAt(sinks, 3) })
			var now, queued int64
			for _, s := range sinks {
				now, queued = now-s.now.Load(), queued-s.queued.Load()
			}
			emit(2)
			waitFor(t, func() error { return allAt(sinks, 4) })
			for _, s := range sinks {
				now, queued = now+s.now.Load(), queued+s.queued.Load()
			}
			if now != clients || queued != 0 {
				t.Fatalf("the event went to %d clients with SendNow and %d with Send; want %d and 0", now, queued, clients)
			}
		})
	}
}

// allAt reports whether every sink got the event of seq.
func allAt(sinks []*nowSink, seq int64) error {
	for i, s := range sinks {
		if seqs, _ := s.since(); len(seqs) == 0 || seqs[len(seqs)-1] < seq {
			return fmt.Errorf("client %d has not got seq %d: %v", i, seq, seqs)
		}
	}
	return nil
}
