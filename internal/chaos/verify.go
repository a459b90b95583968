package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/actorhub/actorhub/client"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/backoff"
	"github.com/actorhub/actorhub/persistence"
)

// verify checks the end state: every journal against what the worker emitted,
// every client's stream against its journal, the nodes' exits and metrics.
func (c *cluster) verify(rec *record, rep *Report, jobs []string, subs []*client.Subscriber) {
	for _, j := range jobs {
		c.verifyJob(context.Background(), rec, j)
	}
	c.verifyProbes(rec)
	for i, s := range subs {
		if st := s.Stats(); st.Gaps != 0 || st.OutOfOrder != 0 {
			rec.violate(Inv1Seq, "%s: the SDK counted %d gaps, %d out of order", clientName(i), st.Gaps, st.OutOfOrder)
		}
	}
	for _, n := range c.nodes {
		for _, e := range n.unexpected() {
			rec.violate(Inv6NoCrash, "%s (log: %s)", e, n.log.Name())
		}
		rep.StaleWritesRefused += staleWrites(n)
	}
	for _, r := range c.stores() {
		for _, e := range r.unexpected() {
			rec.violate(Inv6NoCrash, "%s", e)
		}
	}
}

// verifyJob checks one ended job: its journal against what the worker emitted,
// and every client's stream of it against the journal. A journal the store
// does not give is tried again for journalPatience (a Redis fault may be under
// way); it returns false if ctx ended first (nothing was checked).
func (c *cluster) verifyJob(ctx context.Context, rec *record, j string) bool {
	journal, err := c.journal(j)
	for deadline := time.Now().Add(journalPatience); err != nil && time.Now().Before(deadline); journal, err = c.journal(j) {
		if !backoff.Sleep(ctx, 500*time.Millisecond) {
			return false
		}
	}
	if err != nil {
		rec.violate(Inv2Acked, "job %s: journal unreadable: %v", j, err)
		return true
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := rec.emitted[j].String()
	switch {
	case journal.dupSeq != "":
		rec.violateLocked(Inv4OneOwner, fmt.Sprintf("job %s: %s", j, journal.dupSeq))
	case journal.text != want:
		inv := Inv5Journal
		if len(journal.text) < len(want) && strings.HasPrefix(want, journal.text) {
			inv = Inv2Acked
		}
		rec.violateLocked(inv, fmt.Sprintf("job %s: journal has %d bytes of chunks, the worker emitted %d; first difference at byte %d",
			j, len(journal.text), len(want), firstDiff(journal.text, want)))
	case journal.lastEvent != events.Completed:
		rec.violateLocked(Inv5Journal, fmt.Sprintf("job %s: last journal event is %s, not the terminal one", j, journal.lastEvent))
	}
	for name, jobs := range rec.clients {
		s := jobs[j]
		if s == nil {
			continue // a job this client does not follow
		}
		got := s.text.String()
		switch {
		case got == journal.text:
		case strings.HasPrefix(journal.text, got):
			rec.violateLocked(Inv2Acked, fmt.Sprintf("%s, job %s: received %d of the journal's %d bytes (at %.1f s: %s)", name, j, len(got),
				len(journal.text), time.Since(rec.start).Seconds(), rec.describeLocked(name, j)))
		default:
			rec.violateLocked(Inv3Durable, fmt.Sprintf("%s, job %s: received chunks that are not the journal's (first difference at byte %d)", name, j, firstDiff(got, journal.text)))
		}
	}
	return true
}

// journalPatience is how long verifyJob tries to read a journal.
const journalPatience = time.Minute

type journal struct {
	text      string
	lastEvent string
	dupSeq    string
}

// journal reads a job's whole journal from the store itself: what is
// written, entry by entry, whatever the nodes make of it.
func (c *cluster) journal(jobID string) (journal, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c.audit == nil {
		cfg := persistence.DefaultConfig()
		cfg.ReadTimeout = 5 * time.Second
		s, err := persistence.OpenRedis(ctx, c.store, cfg)
		if err != nil {
			return journal{}, err
		}
		c.audit = s
	}
	evs, err := c.audit.Journal(ctx, jobID)
	if err != nil {
		return journal{}, err
	}
	var j journal
	var b strings.Builder
	after := int64(0)
	for _, ev := range evs {
		if ev.Seq != after+1 && j.dupSeq == "" {
			j.dupSeq = fmt.Sprintf("journal seq %d follows %d", ev.Seq, after)
		}
		after = ev.Seq
		j.lastEvent = ev.Name
		if ev.Name == events.Chunk {
			var d events.ChunkData
			_ = json.Unmarshal(ev.Data, &d)
			b.WriteString(d.Chunk)
		}
	}
	j.text = b.String()
	return j, nil
}

func firstDiff(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
