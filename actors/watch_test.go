package actors_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/actorhub/actorhub/actors"
)

func (s *sink) told() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cancelled)
}

// TestCancelTellsTheLastWatchers: a job tells the last 64 worker connections
// that emitted to it of its cancellation, each once; the oldest beyond that is
// not told.
func TestCancelTellsTheLastWatchers(t *testing.T) {
	t.Parallel()
	h := startHub(t, actors.DefaultLocalConfig(), 0)
	sinks := make([]*sink, 65)
	for i := range sinks {
		sinks[i] = &sink{}
		conn := h.OpenWorker(sinks[i])
		defer conn.Close()
		// one at a time: the job hears the connections in this order
		for range 2 { // a second emit does not watch again
			if err := conn.Deliver(t.Context(), emitRequest("j", actors.NoOffset, []byte(`{"chunk":"x"}`))); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, func() error { // both appended: the job heard the watch in between
			st, err := h.State(t.Context(), "j")
			if err != nil || st.LastSequence != int64(1+2*(i+1)) {
				return fmt.Errorf("state %+v, %v", st, err)
			}
			return nil
		})
	}
	if _, err := h.Cancel(t.Context(), "j", "enough", actors.Access{CancelAny: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Cancel(t.Context(), "j", "twice", actors.Access{CancelAny: true}); err != nil { // idempotent, no second push
		t.Fatal(err)
	}
	for i, s := range sinks[1:] {
		waitFor(t, func() error {
			if got := s.told(); !slices.Equal(got, []string{"j: enough"}) {
				return fmt.Errorf("connection %d was told %q", i+1, got)
			}
			return nil
		})
	}
	if got := sinks[0].told(); len(got) > 0 {
		t.Fatalf("the oldest of 65 watchers was told %q", got)
	}
}
