package actors

import (
	"bytes"
	"math/rand"
	"testing"

	"github.com/actorhub/actorhub/events"
)

// The ring holds exactly the last n events whatever the batch sizes, answers
// after(seq) with every held event above seq in order, and what it returned
// does not change when the ring moves on.
func TestEventRingKeepsTheLastN(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(1))
	for _, n := range []int{1, 2, 5, 32} {
		var r eventRing
		var all []events.Event
		seq := int64(0)
		for round := 0; round < 200; round++ {
			batch := make([]events.Event, rng.Intn(2*n+2))
			for i := range batch {
				seq++
				batch[i] = events.Event{Seq: seq, Raw: []byte{byte(seq)}}
			}
			r.push(n, batch)
			all = append(all, batch...)
			if len(r.evs) > n || cap(r.evs) > n {
				t.Fatalf("n=%d: ring holds %d (cap %d)", n, len(r.evs), cap(r.evs))
			}
			held := all[max(0, len(all)-n):]
			from := seq - int64(rng.Intn(n+3))
			got := r.after("j", from)
			var want []events.Event
			for _, ev := range held {
				if ev.Seq > from {
					want = append(want, ev)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("n=%d after(%d): %d events, want %d", n, from, len(got), len(want))
			}
			for i := range want {
				if got[i].Seq != want[i].Seq || got[i].JobID != "j" || !bytes.Equal(got[i].Raw, want[i].Raw) {
					t.Fatalf("n=%d after(%d): [%d] is seq %d of job %q, %q; want seq %d of job j, %q", n, from, i,
						got[i].Seq, got[i].JobID, got[i].Raw, want[i].Seq, want[i].Raw)
				}
			}
			if len(got) > 0 {
				first := got[0].Seq
				r.push(n, []events.Event{{Seq: seq + 1}, {Seq: seq + 2}})
				all = append(all, events.Event{Seq: seq + 1}, events.Event{Seq: seq + 2})
				seq += 2
				if got[0].Seq != first {
					t.Fatalf("n=%d: a returned slice changed when the ring moved on", n)
				}
			}
		}
	}
	var empty eventRing
	if got := empty.after("j", 0); got != nil {
		t.Fatalf("empty ring: %v", got)
	}
}
