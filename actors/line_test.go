package actors_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/events"
)

// seqSink records what a client connection is sent: the seq of each event,
// and a -1 for each "subscribed".
type seqSink struct {
	mu   sync.Mutex
	seqs []int64
}

func (s *seqSink) Send(b []byte) bool    { return s.SendAll([][]byte{b}) }
func (s *seqSink) SendNow(b []byte) bool { return s.Send(b) }

func (s *seqSink) SendAll(objs [][]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range objs {
		var o struct {
			Type string `json:"type"`
			Seq  int64  `json:"seq"`
		}
		_ = json.Unmarshal(b, &o)
		switch o.Type {
		case events.TypeEvent:
			s.seqs = append(s.seqs, o.Seq)
		case events.TypeSubscribed:
			s.seqs = append(s.seqs, -1)
		}
	}
	return true
}

func (*seqSink) Close(int, string) {}
func (*seqSink) Backlog() int      { return 0 }

// since returns the seqs after the last "subscribed", and how many
// "subscribed" there were.
func (s *seqSink) since() ([]int64, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, at := 0, 0
	for i, q := range s.seqs {
		if q == -1 {
			n, at = n+1, i+1
		}
	}
	return append([]int64(nil), s.seqs[at:]...), n
}

// TestFeedWritesDirectlyWithoutGapOrRepeat: the job's feed writes the events
// that are next in line to a client's sink itself (subLine), and hands
// everything else to the client's connection actor. Clients that subscribe
// while the job streams (from its start, so that their replay from the store
// runs beside the live events; from the middle; from its last event) and one
// that subscribes again mid-stream each get every event after their fromSeq
// once, in order, whichever of the two wrote it.
func TestFeedWritesDirectlyWithoutGapOrRepeat(t *testing.T) {
	t.Parallel()
	h := startHub(t, actors.DefaultLocalConfig(), 0)
	worker := h.OpenWorker(&sink{})
	defer worker.Close()
	emit := func(from, to int64) {
		for off := from; off < to; off++ {
			if err := worker.Deliver(t.Context(), emitRequest("j", off, []byte(fmt.Sprintf(`{"chunk":"c%d"}`, off)))); err != nil {
				t.Errorf("emit %d: %v", off, err)
				return
			}
		}
	}
	const first, total = 150, 500 // emits before the clients come, and in all; seq = offset + 2
	emit(0, first)

	froms := []int64{0, 100, first + 1}
	sinks := make([]*seqSink, len(froms)+1)
	for i, from := range froms {
		sinks[i] = &seqSink{}
		c := h.OpenClient(sinks[i], fmt.Sprintf("s%d", i), actors.Access{User: "u"})
		defer c.Close()
		if err := c.Deliver(t.Context(), &actors.Request{Msg: &events.Inbound{Type: events.TypeSubscribe, JobID: "j", FromSeq: &from}}); err != nil {
			t.Fatal(err)
		}
	}
	again := &seqSink{}
	sinks[len(froms)] = again
	ac := h.OpenClient(again, "again", actors.Access{User: "u"})
	defer ac.Close()
	var zero, twenty int64 = 0, 20
	if err := ac.Deliver(t.Context(), &actors.Request{Msg: &events.Inbound{Type: events.TypeSubscribe, JobID: "j", FromSeq: &zero}}); err != nil {
		t.Fatal(err)
	}

	done := make(chan struct{})
	go func() { defer close(done); emit(first, total) }()
	waitFor(t, func() error { // the first subscription is under way: subscribe again, from seq 20
		if seqs, _ := again.since(); len(seqs) < 30 {
			return fmt.Errorf("the client to subscribe again got %d events", len(seqs))
		}
		return nil
	})
	if err := ac.Deliver(t.Context(), &actors.Request{Msg: &events.Inbound{Type: events.TypeSubscribe, JobID: "j", FromSeq: &twenty}}); err != nil {
		t.Fatal(err)
	}
	<-done

	const last = total + 1
	froms = append(froms, twenty)
	for i, s := range sinks {
		want := 1 // subscribed
		if i == len(sinks)-1 {
			want = 2
		}
		waitFor(t, func() error {
			if seqs, n := s.since(); n < want || len(seqs) == 0 || seqs[len(seqs)-1] < last {
				return fmt.Errorf("client %d (from %d) is not at seq %d yet: %d subscribed, %d events since the last", i, froms[i], last, n, len(seqs))
			}
			return nil
		})
		seqs, subscribed := s.since()
		if subscribed != want {
			t.Errorf("client %d: %d subscribed, want %d", i, subscribed, want)
		}
		for k, q := range seqs {
			if q != froms[i]+1+int64(k) {
				t.Fatalf("client %d (from %d): event %d has seq %d, want %d (a gap or a repeat)", i, froms[i], k, q, froms[i]+1+int64(k))
			}
		}
		if n := int64(len(seqs)); n != last-froms[i] {
			t.Errorf("client %d (from %d): %d events, want %d", i, froms[i], n, last-froms[i])
		}
	}
}
