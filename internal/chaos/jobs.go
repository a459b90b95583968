package chaos

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actorhub/actorhub/client"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/backoff"
)

// slot is one of the run's Jobs streams. Without JobChunks its one job
// streams the whole run. With it, the job ends after JobChunks chunks (its
// terminal event), the next generation's job takes the slot at once, and the
// ended job is verified and dropped from the record on its own (rotator.retire):
// a run as long as a soak holds only the jobs still going, in the harness, in
// the nodes' memory and (after the nodes' --retention) in the store, as a
// deployment streaming answer after answer does.
type slot struct {
	idx       int
	followers []int // the clients that follow the slot
	// busy hands the fields below over: the emit loop owns them while it is
	// false, the slot's rotation while it is true
	busy   atomic.Bool
	job    string
	gen    int
	chunks int
	limit  int  // the chunks before the job ends (0: never)
	ended  bool // job's terminal event is emitted (a rotation that could not go on)
}

// RetentionAfterEnd is how long the nodes of a run with JobChunks keep an
// ended job in the store (their --retention): the harness reads its journal
// within seconds of its end, and a soak's store stays the size of a few
// minutes of jobs, so that a replica's full resync stays short.
const RetentionAfterEnd = 5 * time.Minute

// slotJob names generation gen of slot i (generation 0 keeps the name runs
// without rotation give their jobs).
func slotJob(seed int64, i, gen int) string {
	if gen == 0 {
		return fmt.Sprintf("chaos-%d-%d", seed, i)
	}
	return fmt.Sprintf("chaos-%d-%d-g%d", seed, i, gen)
}

// newSlots returns the run's slots, each with the clients that follow it.
// The first generation's lengths are spread over 1…JobChunks, so that the
// jobs do not all end in the same tick.
func newSlots(cfg Config) []*slot {
	slots := make([]*slot, cfg.Jobs)
	for i := range slots {
		slots[i] = &slot{idx: i, job: slotJob(cfg.Seed, i, 0)}
		if cfg.JobChunks > 0 {
			slots[i].limit = max(1, (i+1)*cfg.JobChunks/cfg.Jobs)
		}
	}
	for k := range cfg.Clients {
		for _, i := range followedSlots(k, cfg.Jobs, cfg.Follow) {
			slots[i].followers = append(slots[i].followers, k)
		}
	}
	return slots
}

// rotator ends the jobs of slots that reached their length, starts the next
// generation, and verifies each ended job once its stream is over.
type rotator struct {
	c    *cluster
	w    *client.Worker
	rec  *record
	subs []*client.Subscriber
	// handoff counts rotations still starting their next job; retiring
	// counts ended jobs still being verified
	handoff, retiring sync.WaitGroup
	retired           atomic.Int64 // jobs verified and dropped
	late              atomic.Int64 // jobs whose followers did not receive their end within a minute of its ack
}

// maxLateShown bounds the progress lines about late jobs (their end not
// received a minute after its ack).
const maxLateShown = 20

// endPatience is how long after a job's end was acked its followers may take
// to receive it: past it the job is verified as it stands, and what a
// follower lacks is a violation of invariant 2. It is minutes, not seconds:
// with a fault every few seconds the store may refuse confirmed reads (the
// replays) through one Redis failover after another (each ~25 s with one
// replica and WAIT), and a stream that waits on those is slow, not broken;
// endLagMs gives how long they took.
const endPatience = 3 * time.Minute

// next hands s to a rotation (the emit loop's call, once s.chunks reached
// s.limit).
func (r *rotator) next(ctx context.Context, s *slot) {
	s.busy.Store(true)
	r.handoff.Add(1)
	go r.rotate(ctx, s)
}

func (r *rotator) rotate(ctx context.Context, s *slot) {
	defer r.handoff.Done()
	old := s.job
	if _, err := r.w.Emit(ctx, old, events.Completed, map[string]any{}); err != nil {
		if ctx.Err() == nil {
			r.rec.violate(Inv2Acked, "worker: terminal event of %s refused: %v", old, err)
		}
		s.ended = true // the slot stays busy: it streams no more
		return
	}
	gen := s.gen + 1
	id := slotJob(r.c.cfg.Seed, s.idx, gen)
	if _, err := r.w.CreateJob(ctx, id, "chaos", "chaos", nil); err != nil {
		if ctx.Err() == nil {
			r.rec.violate(Inv2Acked, "worker: create job %s refused: %v", id, err)
		}
		s.ended = true
		return
	}
	names := make([]string, len(s.followers))
	for i, k := range s.followers {
		names[i] = clientName(k)
	}
	r.rec.addJob(id, names)
	for _, k := range s.followers {
		r.subs[k].Subscribe(id, 0)
	}
	r.retiring.Add(1)
	go r.retire(ctx, old, s.followers)
	s.job, s.gen, s.chunks, s.limit = id, gen, 0, r.c.cfg.JobChunks
	s.busy.Store(false)
}

// retire waits until jobID's events are all acked and its followers saw its
// terminal event (at most endPatience), verifies it as the end of a run verifies every job, and
// drops it.
func (r *rotator) retire(ctx context.Context, jobID string, followers []int) {
	defer r.retiring.Done()
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err := r.w.Flush(fctx, jobID)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return // the run is over: its end verifies what is left
		}
		r.rec.violate(Inv2Acked, "worker: events of %s not acked: %v", jobID, err)
	}
	acked, shown := time.Now(), false
	for deadline := acked.Add(endPatience); !r.rec.terminalSeen(jobID) && time.Now().Before(deadline); {
		if !backoff.Sleep(ctx, 50*time.Millisecond) {
			return
		}
		if !shown && time.Since(acked) >= time.Minute && !r.rec.terminalSeen(jobID) {
			shown = true
			if n := r.late.Add(1); n <= maxLateShown {
				fmt.Fprintf(r.c.cfg.Progress, "[chaos %6.1fs] job %s: its end was acked a minute ago and a follower has not received it: %s\n",
					time.Since(r.rec.start).Seconds(), jobID, r.rec.describeFollowers(jobID))
			}
		}
	}
	if r.rec.terminalSeen(jobID) {
		r.rec.endLag(time.Since(acked))
	}
	if !r.c.verifyJob(ctx, r.rec, jobID) {
		return
	}
	for _, k := range followers {
		r.subs[k].Unsubscribe(jobID)
	}
	r.rec.dropJob(jobID)
	r.retired.Add(1)
}

// wait returns once every rotation started its next job and every ended job
// is verified.
func (r *rotator) wait() {
	r.handoff.Wait()
	r.retiring.Wait()
}
