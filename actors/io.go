package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/actorhub/actorhub/internal/backoff"
	"github.com/asynkron/protoactor-go/actor"
)

// The hub's own goroutines and timers, all owned by h.run: Stop cancels the
// timers and waits for the goroutines.

// io runs a store operation (bounded by StoreTimeout) on a goroutine of the
// hub and sends what it returns to pid. After Stop began it runs nothing and
// logs that (only a stopping actor can ask then).
func (h *Hub) io(pid *actor.PID, op func(ctx context.Context) any) {
	ok := h.run.Go(func() {
		c, cancel := context.WithTimeout(context.Background(), h.cfg.StoreTimeout)
		defer cancel()
		res := op(c)
		if pid != nil && res != nil {
			h.system.Root.Send(pid, res)
		}
	})
	if !ok {
		h.log.Warn("store operation dropped: the hub is stopping")
	}
}

// after sends msg to pid after d, unless the hub stops first.
func (h *Hub) after(d time.Duration, pid *actor.PID, msg any) {
	h.run.After(d, func() { h.system.Root.Send(pid, msg) })
}

// backoff returns a full-jitter delay for the n-th consecutive failure (at
// least a millisecond).
func (h *Hub) backoff(n int) time.Duration {
	return backoff.Backoff{Min: h.cfg.RetryMin, Max: h.cfg.RetryMax}.Delay(n) + time.Millisecond
}

// readEvents reads the journal after seq `after` and sends *fetched to pid.
func (h *Hub) readEvents(pid *actor.PID, jobID string, after int64) {
	h.io(pid, func(c context.Context) any {
		evs, err := h.store.Events(c, jobID, after, 1000)
		if err == nil && len(evs) == 0 {
			err = fmt.Errorf("read job %s after seq %d: the journal has no such events yet", jobID, after)
		}
		return &fetched{jobID: jobID, events: evs, err: err}
	})
}

// release gives up a job's ownership in the background.
func (h *Hub) release(jobID string, epoch uint64) {
	h.io(nil, func(c context.Context) any {
		if err := h.store.Release(c, jobID, epoch); err != nil {
			h.log.Debug("release job failed (the next owner takes it over anyway)", "job", jobID, "err", err)
		}
		return nil
	})
}
