package actors_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/persistence"
)

// downStore refuses writes and take-overs while down, and counts the
// take-overs.
type downStore struct {
	persistence.Store
	down     atomic.Bool
	acquires atomic.Int64
}

// over makes s wrap store (startHubOn's wrap).
func (s *downStore) over(store persistence.Store) actors.Store {
	s.Store = store
	return s
}

// emitChunk has worker connection w emit chunk to job at offset off.
func emitChunk(t *testing.T, w *actors.Conn, job string, off int64, chunk string) {
	t.Helper()
	if err := w.Deliver(t.Context(), emitRequest(job, off, []byte(`{"chunk":"`+chunk+`"}`))); err != nil {
		t.Fatal(err)
	}
}

// streaming opens a client that follows job and a worker that emits to it,
// and returns once the worker's first chunk ("before", offset 0) reached the
// client; both close when the test ends.
func streaming(t *testing.T, h *actors.Hub, job string) (*frames, *actors.Conn) {
	t.Helper()
	client := &frames{}
	c := h.OpenClient(client, "s", actors.Access{User: "u"})
	t.Cleanup(c.Close)
	if err := c.Deliver(t.Context(), subscribeRequest(job)); err != nil {
		t.Fatal(err)
	}
	w := h.OpenWorker(&frames{})
	t.Cleanup(w.Close)
	emitChunk(t, w, job, 0, "before")
	waitFor(t, func() error {
		if !client.has("before") {
			return fmt.Errorf("the first chunk did not reach the client: %s", client)
		}
		return nil
	})
	return client, w
}

func (s *downStore) Append(ctx context.Context, st events.JobState, delta string, evs []events.Event) error {
	if s.down.Load() {
		return errors.New("store unavailable (test)")
	}
	return s.Store.Append(ctx, st, delta, evs)
}

func (s *downStore) AppendAsync(st events.JobState, delta string, evs []events.Event, done func(error)) {
	if s.down.Load() {
		go done(errors.New("store unavailable (test)"))
		return
	}
	s.Store.AppendAsync(st, delta, evs, done)
}

func (s *downStore) Acquire(ctx context.Context, jobID, owner string) (events.JobState, error) {
	s.acquires.Add(1)
	if s.down.Load() {
		return events.JobState{}, errors.New("store unavailable (test)")
	}
	return s.Store.Acquire(ctx, jobID, owner)
}

// frames keeps what a client connection was sent.
type frames struct {
	mu  sync.Mutex
	all [][]byte
}

func (f *frames) Send(b []byte) bool    { return f.SendAll([][]byte{b}) }
func (f *frames) SendNow(b []byte) bool { return f.Send(b) }
func (f *frames) SendAll(objs [][]byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range objs {
		f.all = append(f.all, bytes.Clone(b))
	}
	return true
}
func (f *frames) Close(int, string) {}

// String lists what the connection was sent (for a test's failure text).
func (f *frames) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("%q", f.all)
}
func (f *frames) Backlog() int { return 0 }
func (f *frames) has(s string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.all {
		if bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}

// TestFeedRetriesOneAtATime: a feed whose job stopped and cannot be taken
// over again (the store is down) retries with one subscribe out at a time and
// a growing backoff, however often the membership changes meanwhile; once the
// store answers again, its client gets the job's events again. Each
// membership change used to start another subscribe at once, its backoff
// reset: after a Redis restart 2,000 feeds kept the store busy with
// take-overs for over a minute.
func TestFeedRetriesOneAtATime(t *testing.T) {
	cfg := actors.DefaultLocalConfig()
	cfg.RetryMin, cfg.RetryMax = 100*time.Millisecond, time.Second // the retries' own pace: a few a second
	store := &downStore{}
	h := startHubOn(t, cfg, store.over, "k")
	client, w := streaming(t, h, "k")
	emit := func(off int64, chunk string) { t.Helper(); emitChunk(t, w, "k", off, chunk) }
	store.down.Store(true)
	emit(1, "lost") // its write fails: the job stops, the feed subscribes again and cannot get it
	waitFor(t, func() error {
		if store.acquires.Load() == 0 {
			return fmt.Errorf("no take-over tried yet")
		}
		return nil
	})
	start, from := time.Now(), store.acquires.Load()
	for time.Since(start) < time.Second {
		h.MembershipChanged()
		time.Sleep(5 * time.Millisecond)
	}
	// one subscribe per resendAfterChange (250 ms) at most, and the retries'
	// own backoff (100 ms doubling): under ten in the second, where each change
	// used to start a loop of its own (over a thousand)
	n := store.acquires.Load() - from
	t.Logf("%d take-overs tried in the second of membership changes", n)
	if n > 20 {
		t.Fatalf("%d take-overs tried in the second of membership changes; want one subscribe out at a time", n)
	}
	store.down.Store(false)
	emit(1, "after")
	waitFor(t, func() error {
		if !client.has("after") {
			return fmt.Errorf("the chunk after the store came back did not reach the client (%d take-overs tried)", store.acquires.Load())
		}
		return nil
	})
}

// TestFeedResubscribesForANewConn: a feed that lost its job while nobody
// watched (its job stopped, the take-over failed, and with no conn it did not
// retry) subscribes again when a conn attaches; it used to hand that conn its
// old view and nothing more, and the stream stalled until a membership change.
func TestFeedResubscribesForANewConn(t *testing.T) {
	cfg := actors.DefaultLocalConfig()
	cfg.FeedLinger = time.Minute // the feed outlives the test's pause
	store := &downStore{}
	h := startHubOn(t, cfg, store.over, "k")
	first := &frames{}
	c := h.OpenClient(first, "s1", actors.Access{User: "u"})
	if err := c.Deliver(t.Context(), subscribeRequest("k")); err != nil {
		t.Fatal(err)
	}
	w := h.OpenWorker(&frames{})
	defer w.Close()
	emit := func(off int64, chunk string) { t.Helper(); emitChunk(t, w, "k", off, chunk) }
	emit(0, "before")
	waitFor(t, func() error {
		if !first.has("before") {
			return fmt.Errorf("the first chunk did not reach the client")
		}
		return nil
	})
	c.Close() // the feed lingers without a conn
	store.down.Store(true)
	emit(1, "lost") // the job stops; the feed's take-over fails, and nobody is there to retry for
	waitFor(t, func() error {
		if store.acquires.Load() == 0 {
			return fmt.Errorf("no take-over tried yet")
		}
		return nil
	})
	time.Sleep(1500 * time.Millisecond) // past the feed's resubscribe tick, which finds no conn
	store.down.Store(false)
	second := &frames{}
	c2 := h.OpenClient(second, "s2", actors.Access{User: "u"})
	defer c2.Close()
	if err := c2.Deliver(t.Context(), subscribeRequest("k")); err != nil {
		t.Fatal(err)
	}
	emit(1, "after")
	waitFor(t, func() error {
		if !second.has("after") {
			return fmt.Errorf("the chunk emitted after the store came back did not reach the new client")
		}
		return nil
	})
}

// TestFeedSubscribesForAConnBackAfterARefusal: a client whose first subscribe
// was refused (the store was down) subscribes again later, on the same
// connection, to the feed that refused it. That feed never had its job and
// has no conn: its retries stopped when it told the refused conn. It used to
// put the returning conn in its waiting list and send no subscribe, so the
// client got neither "subscribed" nor an error, for ever (chaos: 54 clients
// moved to a node during a Redis failover, none subscribed there in three
// minutes).
func TestFeedSubscribesForAConnBackAfterARefusal(t *testing.T) {
	cfg := actors.DefaultLocalConfig()
	cfg.FeedLinger = time.Minute // the feed outlives the test's pause
	cfg.RetryMin, cfg.RetryMax = 50*time.Millisecond, 100*time.Millisecond
	store := &downStore{}
	h := startHubOn(t, cfg, store.over, "k")
	worker := &frames{}
	w := h.OpenWorker(worker)
	defer w.Close()
	emit := func(off int64, chunk string) { t.Helper(); emitChunk(t, w, "k", off, chunk) }
	store.down.Store(true)
	emit(0, "lost") // its write fails: the job stops, and nobody watches it
	waitFor(t, func() error {
		if !worker.has(`"code":"unavailable"`) {
			return fmt.Errorf("the emit while the store is down was not refused")
		}
		return nil
	})
	client := &frames{}
	c := h.OpenClient(client, "s", actors.Access{User: "u"})
	defer c.Close()
	if err := c.Deliver(t.Context(), subscribeRequest("k")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() error {
		if !client.has(`"code":"unavailable"`) {
			return fmt.Errorf("the subscribe was not refused while the store is down (client has %s; %d take-overs)", client, store.acquires.Load())
		}
		return nil
	})
	time.Sleep(1500 * time.Millisecond) // past the feed's resubscribe tick, which finds nobody waiting
	store.down.Store(false)
	if err := c.Deliver(t.Context(), subscribeRequest("k")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() error {
		if !client.has(`"type":"subscribed"`) {
			return fmt.Errorf("the subscribe sent again after the store came back got no answer")
		}
		return nil
	})
	emit(0, "after")
	waitFor(t, func() error {
		if !client.has("after") {
			return fmt.Errorf("the client did not get the job's chunks: %s; the worker got %s", client, worker)
		}
		return nil
	})
}
