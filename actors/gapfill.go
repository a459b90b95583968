package actors

import "github.com/actorhub/actorhub/events"

// maxGapBuffer bounds the events held back behind a gap; past it they are
// dropped and read from the store instead once the gap is filled.
const maxGapBuffer = 4096

// gapFill hands a job's events on in seq order with none missing and none
// twice. Events that arrive past a gap (or while held) wait in buf while the
// missing range is read from the store; the owner drives the reads (needFetch,
// then fetched with the result).
type gapFill struct {
	have     int64          // every seq ≤ have was handed on
	want     int64          // seqs up to want are known to exist
	buf      []events.Event // arrived past a gap, in seq order
	fetching bool
	held     bool // hand nothing on yet (before the subscription is confirmed)
}

// accept takes events as they arrive and returns those that can be handed on now.
func (g *gapFill) accept(evs []events.Event) []events.Event {
	if len(evs) == 0 {
		return nil
	}
	if g.takeNext(evs) {
		return evs
	}
	var out []events.Event
	for _, ev := range evs {
		switch {
		case ev.Seq <= g.have:
		case ev.Seq == g.have+1 && !g.fetching && !g.held && len(g.buf) == 0:
			out = append(out, ev)
			g.have = ev.Seq
		default:
			if n := len(g.buf); n == 0 || g.buf[n-1].Seq < ev.Seq {
				g.buf = append(g.buf, ev)
			}
			g.want = max(g.want, ev.Seq-1)
		}
	}
	g.want = max(g.want, g.have)
	if len(g.buf) > maxGapBuffer {
		g.want = max(g.want, g.buf[len(g.buf)-1].Seq)
		g.buf = nil
	}
	return out
}

// takeNext hands evs on when they are the next ones with nothing waiting
// before them (the common case: in order, nothing missing, nothing held), and
// reports whether it did.
func (g *gapFill) takeNext(evs []events.Event) bool {
	if g.fetching || g.held || len(g.buf) > 0 || evs[0].Seq != g.have+1 || !contiguous(evs) {
		return false
	}
	g.have = evs[len(evs)-1].Seq
	g.want = max(g.want, g.have)
	return true
}

// known records that the journal reaches lastSeq.
func (g *gapFill) known(lastSeq int64) { g.want = max(g.want, lastSeq) }

// release ends a hold and returns what can be handed on.
func (g *gapFill) release() []events.Event {
	g.held = false
	return g.drain(nil)
}

// needFetch reports whether a store read should start now (and marks it started).
func (g *gapFill) needFetch() bool {
	if g.fetching || g.held || g.want <= g.have {
		return false
	}
	g.fetching = true
	return true
}

// fetched takes the result of a store read of seqs after g.have and returns
// what can be handed on. On error nothing changes: the owner retries later.
func (g *gapFill) fetched(evs []events.Event, err error) []events.Event {
	g.fetching = false
	if err != nil {
		return nil
	}
	var out []events.Event
	for _, ev := range evs {
		if ev.Seq == g.have+1 {
			out = append(out, ev)
			g.have = ev.Seq
		}
	}
	return g.drain(out)
}

// drain hands on buffered events that now follow g.have.
func (g *gapFill) drain(out []events.Event) []events.Event {
	if g.held || g.fetching {
		return out
	}
	k := 0
	for k < len(g.buf) && g.buf[k].Seq <= g.have+1 {
		if g.buf[k].Seq == g.have+1 {
			out = append(out, g.buf[k])
			g.have = g.buf[k].Seq
		}
		k++
	}
	g.buf = g.buf[k:]
	if len(g.buf) == 0 {
		g.buf = nil
	}
	return out
}

func contiguous(evs []events.Event) bool {
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq != evs[i-1].Seq+1 {
			return false
		}
	}
	return true
}
