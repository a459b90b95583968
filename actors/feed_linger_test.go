package actors_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorhub/actorhub/actors"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestFeedLeftAloneStops: a feed whose last client left stops after
// FeedLinger although its job goes on streaming (each event used to reset the
// feed's receive timeout, so a node whose clients moved away kept the feed,
// and through it the job's actor, for as long as the job streamed).
func TestFeedLeftAloneStops(t *testing.T) {
	cfg := actors.DefaultLocalConfig()
	h := startHub(t, cfg, 0)
	var got atomic.Int64
	c := h.OpenClient(countSink{&got}, "s", actors.Access{User: "u"})
	if err := c.Deliver(t.Context(), subscribeRequest("j")); err != nil {
		t.Fatal(err)
	}
	w := h.OpenWorker(countSink{new(atomic.Int64)})
	defer w.Close()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // the job streams the whole time
		defer close(done)
		for i := int64(0); ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			_ = w.Deliver(t.Context(), emitRequest("j", i, []byte(`{"chunk":"x"}`)))
		}
	}()
	defer func() { close(stop); <-done }()
	waitFor(t, func() error {
		if got.Load() == 0 || testutil.ToFloat64(h.Metrics().Feeds) != 1 {
			return fmt.Errorf("the client got %d events, %v feeds", got.Load(), testutil.ToFloat64(h.Metrics().Feeds))
		}
		return nil
	})
	c.Close()
	waitFor(t, func() error {
		if f := testutil.ToFloat64(h.Metrics().Feeds); f != 0 {
			return fmt.Errorf("%v feeds while the job streams to nobody here", f)
		}
		return nil
	})
}

// TestFeedForgetsAnEndedLine: a feed does not watch its conns. A subscribe
// that reaches it after its conn unsubscribed (it went by way of a feed that
// was passivating, which hands subscribes on) is forgotten once its line
// ended, and the feed then lingers and stops as it does with no conn. Kept,
// it would hold the feed, and its job's actor, for as long as the node runs.
func TestFeedForgetsAnEndedLine(t *testing.T) {
	cfg := actors.DefaultLocalConfig()
	cfg.FeedLinger = 50 * time.Millisecond
	h := startHub(t, cfg, 0)
	c := h.OpenClient(countSink{new(atomic.Int64)}, "s", actors.Access{User: "u"})
	if err := c.Deliver(t.Context(), subscribeRequest("j")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() error {
		if f := testutil.ToFloat64(h.Metrics().Feeds); f != 1 {
			return fmt.Errorf("%v feeds", f)
		}
		return nil
	})
	h.SubscribeEndedLine("j", countSink{new(atomic.Int64)})
	c.Close()
	waitFor(t, func() error {
		if f := testutil.ToFloat64(h.Metrics().Feeds); f != 0 {
			return fmt.Errorf("%v feeds with no conn left", f)
		}
		return nil
	})
}
