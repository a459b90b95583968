package actors_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/persistence"
)

// snapshotCounter counts the snapshots read from the store.
type snapshotCounter struct {
	persistence.Store
	snapshots atomic.Int64
}

func (s *snapshotCounter) over(store persistence.Store) actors.Store {
	s.Store = store
	return s
}

func (s *snapshotCounter) Snapshot(ctx context.Context, jobID string) (events.JobState, error) {
	s.snapshots.Add(1)
	return s.Store.Snapshot(ctx, jobID)
}

// TestSilentJobFindsItWasTakenOver: another owner takes a job over behind its
// incarnation's back (as a node does while this one is paused past failure
// detection). The job is silent, so only its feed's heartbeat makes it check
// its epoch: it finds the epoch moved, stops, and its feed subscribes again,
// which takes the job back at a higher epoch; the client then gets what is
// emitted next. The check reads the epoch alone (Store.Holder), not the
// snapshot and output, which it used to read every few seconds for every
// silent job with a client.
func TestSilentJobFindsItWasTakenOver(t *testing.T) {
	t.Parallel()
	store := &snapshotCounter{}
	h := startHubOn(t, actors.DefaultLocalConfig(), store.over, "k")
	client, w := streaming(t, h, "k")
	st, err := store.Store.Acquire(t.Context(), "k", "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	snapshots := store.snapshots.Load()
	// heartbeats come every 3 s: the check runs within two of them
	waitFor(t, func() error {
		owner, epoch, err := store.Store.Holder(t.Context(), "k")
		if err != nil || owner != "n1" || epoch <= st.Epoch {
			return fmt.Errorf("the job is held by %q at epoch %d (%v); want n1 back above epoch %d", owner, epoch, err, st.Epoch)
		}
		return nil
	})
	if n := store.snapshots.Load() - snapshots; n != 0 {
		t.Errorf("checking the epoch read %d snapshots; want none", n)
	}
	emitChunk(t, w, "k", 1, "after")
	waitFor(t, func() error {
		if !client.has("after") {
			return fmt.Errorf("the chunk after the take-back did not reach the client: %s", client)
		}
		return nil
	})
}
