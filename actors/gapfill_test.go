package actors

import (
	"fmt"
	"testing"

	"github.com/actorhub/actorhub/events"
)

func evs(seqs ...int64) []events.Event {
	out := make([]events.Event, len(seqs))
	for i, s := range seqs {
		out[i] = events.Event{JobID: "j", Seq: s}
	}
	return out
}

func seqsOf(e []events.Event) string {
	return fmt.Sprint(func() []int64 {
		var s []int64
		for _, x := range e {
			s = append(s, x.Seq)
		}
		return s
	}())
}

func TestGapFillInOrder(t *testing.T) {
	t.Parallel()
	g := gapFill{have: 3, want: 3}
	if got := seqsOf(g.accept(evs(4, 5))); got != "[4 5]" {
		t.Fatalf("got %s", got)
	}
	if got := seqsOf(g.accept(evs(4, 5, 6))); got != "[6]" {
		t.Fatalf("duplicates not dropped: %s", got)
	}
	if g.needFetch() {
		t.Fatal("no gap, no fetch")
	}
}

func TestGapFillFetchesTheGap(t *testing.T) {
	t.Parallel()
	g := gapFill{have: 1, want: 1}
	if got := g.accept(evs(5, 6)); len(got) != 0 {
		t.Fatalf("delivered past a gap: %s", seqsOf(got))
	}
	if !g.needFetch() || g.needFetch() {
		t.Fatal("want exactly one fetch started")
	}
	if got := g.accept(evs(7)); len(got) != 0 {
		t.Fatal("delivered while fetching")
	}
	// the store returns 2..5 (5 is also buffered): 2,3,4,5 then the buffer 6,7
	if got := seqsOf(g.fetched(evs(2, 3, 4, 5), nil)); got != "[2 3 4 5 6 7]" {
		t.Fatalf("got %s", got)
	}
	if g.have != 7 || g.needFetch() || len(g.buf) != 0 {
		t.Fatalf("state after fill: %+v", g)
	}
}

func TestGapFillPagesAndErrors(t *testing.T) {
	t.Parallel()
	g := gapFill{have: 0, want: 0}
	g.known(5)
	if !g.needFetch() {
		t.Fatal("known seq 5 should start a fetch")
	}
	if got := g.fetched(nil, fmt.Errorf("store down")); len(got) != 0 || g.have != 0 {
		t.Fatal("error must change nothing")
	}
	if !g.needFetch() {
		t.Fatal("retry should fetch again")
	}
	if got := seqsOf(g.fetched(evs(1, 2), nil)); got != "[1 2]" {
		t.Fatalf("page 1: %s", got)
	}
	if !g.needFetch() {
		t.Fatal("want 3..5 next")
	}
	if got := seqsOf(g.fetched(evs(3, 4, 5), nil)); got != "[3 4 5]" || g.needFetch() {
		t.Fatalf("page 2: %s", got)
	}
}

func TestGapFillHold(t *testing.T) {
	t.Parallel()
	g := gapFill{have: 2, want: 2, held: true}
	if got := g.accept(evs(3, 4)); len(got) != 0 || g.needFetch() {
		t.Fatal("a held fill hands on nothing and reads nothing")
	}
	if got := seqsOf(g.release()); got != "[3 4]" {
		t.Fatalf("release: %s", got)
	}
}

func TestGapFillBufferBound(t *testing.T) {
	t.Parallel()
	g := gapFill{have: 0, want: 0}
	var many []events.Event
	for s := int64(2); s < 2+maxGapBuffer+10; s++ {
		many = append(many, events.Event{Seq: s})
	}
	g.accept(many)
	if len(g.buf) != 0 || g.want != many[len(many)-1].Seq {
		t.Fatalf("overflow should drop the buffer and read it all from the store: buf %d want %d", len(g.buf), g.want)
	}
}
