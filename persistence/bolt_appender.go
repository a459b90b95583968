package persistence

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/actorhub/actorhub/events"
)

// boltAppend is one append waiting for the appender.
type boltAppend struct {
	st      events.JobState
	snap    []byte
	delta   string
	evs     []events.Event
	expires int64
	res     error // the append's own outcome (fenced, not found), set in the transaction
	done    func(error)
}

// AppendAsync implements actors.AsyncAppender: the append joins the
// appender's next transaction (one fsync for every append queued meanwhile)
// and done runs on the appender goroutine with its outcome. A full queue
// refuses at once (events.ErrStoreUnavailable).
func (s *Bolt) AppendAsync(st events.JobState, outputDelta string, evs []events.Event, done func(error)) {
	a, err := s.newAppend(st, outputDelta, evs, done)
	if err == nil {
		err = s.enqueue(context.Background(), a, false)
	}
	if err != nil {
		done(err)
	}
}

func (s *Bolt) newAppend(st events.JobState, outputDelta string, evs []events.Event, done func(error)) (*boltAppend, error) {
	if err := checkAppend(&st, outputDelta, evs); err != nil {
		return nil, fmt.Errorf("append job %s: %w", st.JobID, err)
	}
	snap := encodeSnapshot(st)
	var expires int64
	if st.Status.Terminal() {
		expires = nowMs() + max(1, s.cfg.Retention.Milliseconds())
	}
	return &boltAppend{st: st, snap: snap, delta: outputDelta, evs: evs, expires: expires, done: done}, nil
}

// enqueue hands a to the appender (sendQueued).
func (s *Bolt) enqueue(ctx context.Context, a *boltAppend, wait bool) error {
	err := sendQueued(ctx, &s.mu, s.closed.Load, s.stop, s.appends, a, wait)
	if err != nil {
		return fmt.Errorf("append job %s: %w", a.st.JobID, err)
	}
	return nil
}

// appender writes what is queued, up to MaxBatch appends per transaction,
// until Close closes the queue and it is empty.
func (s *Bolt) appender() {
	defer s.wg.Done()
	batch := make([]*boltAppend, 0, s.cfg.MaxBatch)
	for {
		a, ok := <-s.appends
		if !ok {
			return
		}
		batch = drain(s.appends, append(batch[:0], a), s.cfg.MaxBatch)
		s.commit(batch)
		clear(batch)
	}
}

// commit writes a batch in one transaction. A failure of bolt itself fails the
// whole transaction; then each append is tried alone, so that one that cannot
// be written does not fail the others.
func (s *Bolt) commit(batch []*boltAppend) {
	err := s.db.Update(func(tx *bolt.Tx) error { return appendAll(tx, batch) })
	if err != nil && len(batch) > 1 {
		for _, a := range batch {
			s.commit([]*boltAppend{a})
		}
		return
	}
	for _, a := range batch {
		action := "append job " + a.st.JobID
		if err != nil {
			a.done(s.fail(action, err))
		} else {
			a.done(wrapAction(action, a.res))
		}
	}
}

func appendAll(tx *bolt.Tx, batch []*boltAppend) error {
	t := newBoltTx(tx, nowMs())
	for _, a := range batch {
		var err error
		if a.res, err = t.append(&a.st, a.snap, a.delta, a.evs, a.expires); err != nil {
			return err
		}
	}
	return nil
}

// Append implements actors.Store: AppendAsync, waited for.
func (s *Bolt) Append(ctx context.Context, st events.JobState, outputDelta string, evs []events.Event) error {
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("append job %s: %w", st.JobID, err)
	}
	res := make(chan error, 1)
	a, err := s.newAppend(st, outputDelta, evs, func(err error) { res <- err })
	if err != nil {
		return err
	}
	if err := s.enqueue(ctx, a, true); err != nil {
		return err
	}
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return fmt.Errorf("append job %s: waiting for the write (it may still happen): %w", st.JobID, ctx.Err())
	}
}
