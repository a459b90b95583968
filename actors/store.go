package actors

import (
	"context"

	"github.com/actorhub/actorhub/events"
)

// Store is the durable home of jobs: a journal of events and a snapshot of the
// state per job, plus its ownership (owner and epoch). Implementations live in
// package persistence; every method blocks until the store answered or ctx ended,
// and is safe for concurrent use. Errors wrap events.ErrJobNotFound,
// events.ErrFenced or events.ErrStoreUnavailable where those apply.
type Store interface {
	// Create makes the job unless it exists: the snapshot st (LastSequence 1) and
	// first (job:created:v1, seq 1), owned by owner at epoch 1. When the job
	// exists it takes ownership as Acquire does. It returns the stored state with
	// its epoch and output, and whether this call created the job.
	Create(ctx context.Context, st events.JobState, first events.Event, owner string) (events.JobState, bool, error)

	// Acquire takes ownership of an existing job for owner: the epoch goes up by
	// one atomically, so writes of any earlier owner are refused from now on. It
	// returns the state (with the new Epoch and the whole Output).
	Acquire(ctx context.Context, jobID, owner string) (events.JobState, error)

	// Append adds evs (contiguous seqs following the stored LastSequence) to the
	// journal, appends outputDelta to the stored output and stores st as the new
	// snapshot (st.Output is ignored), all at once, only if the job's epoch is
	// still st.Epoch; otherwise nothing is written and the error wraps
	// events.ErrFenced. When st is terminal the job expires after the retention.
	Append(ctx context.Context, st events.JobState, outputDelta string, evs []events.Event) error

	// Events returns up to limit events with seq > after, in seq order, each with
	// Raw set.
	Events(ctx context.Context, jobID string, after int64, limit int) ([]events.Event, error)

	// Snapshot returns the stored state (with Output) without taking ownership.
	Snapshot(ctx context.Context, jobID string) (events.JobState, error)

	// Holder returns the owner that holds the job now ("" when its last owner
	// released it) and the job's current epoch, without taking it: where a
	// job lives, for a node that would otherwise activate it, and whether an
	// incarnation's epoch is still the job's, for one that has been silent. It
	// reads neither the snapshot nor the output.
	Holder(ctx context.Context, jobID string) (owner string, epoch uint64, err error)

	// Release gives up ownership if the job is still at epoch; it is a no-op
	// otherwise.
	Release(ctx context.Context, jobID string, epoch uint64) error

	// Ping tells whether the store answers.
	Ping(ctx context.Context) error
}

// AsyncAppender is a Store whose appends complete through a callback, so that
// no goroutine waits on a write: a job hands its batch to the store's writer
// and hears back from it. Both persistence stores implement it; a Store
// without it is written to from a goroutine of the hub per append.
type AsyncAppender interface {
	// AppendAsync writes what Append writes and returns at once; done runs
	// once, on the store's writer goroutine, with what Append would have
	// returned. done must not block.
	AppendAsync(st events.JobState, outputDelta string, evs []events.Event, done func(error))
}
