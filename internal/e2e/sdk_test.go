package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actorhub/actorhub/client"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/nodetest"
	"github.com/actorhub/actorhub/internal/redistest"
)

// endAndCheck emits jobID's terminal event (job:completed:v1 with data),
// waits until the subscriber handed it on, stops the subscriber (stop, then
// its Run's end on done) and checks that its text is exactly want; it
// returns the subscriber's stats.
func endAndCheck(ctx context.Context, t *testing.T, w *client.Worker, jobID string, data any, col *collector,
	sub *client.Subscriber, stop context.CancelFunc, done <-chan error, want string) client.SubscriberStats {
	t.Helper()
	if _, err := w.Emit(ctx, jobID, events.Completed, data); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx, jobID); err != nil {
		t.Fatalf("flush: %v", err)
	}
	nodetest.WaitFor(t, 20*time.Second, func() error {
		if !col.done() {
			return fmt.Errorf("subscriber at seq %d, no terminal event yet", sub.LastSeq(jobID))
		}
		return nil
	})
	stop()
	<-done
	col.mu.Lock()
	got := col.text.String()
	col.mu.Unlock()
	if got != want {
		t.Fatalf("subscriber text differs from what the worker emitted:\n got %.200q\nwant %.200q", got, want)
	}
	return sub.Stats()
}

// collector gathers what a Subscriber hands on, checking seq order.
type collector struct {
	mu   sync.Mutex
	t    testing.TB
	last int64
	text strings.Builder
	term bool
}

func (c *collector) handle(ev events.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.Seq != c.last+1 {
		c.t.Errorf("subscriber got seq %d after %d", ev.Seq, c.last)
	}
	c.last = ev.Seq
	if ev.Name == events.Chunk {
		var d events.ChunkData
		if err := jsonUnmarshal(ev.Data, &d); err != nil {
			c.t.Errorf("chunk data: %v", err)
		}
		c.text.WriteString(d.Chunk)
	}
	if events.Terminal(ev.Name) {
		c.term = true
	}
}

func (c *collector) done() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.term }

// TestSDKAcrossNodeRestart: the Go SDK's Subscriber and Worker ride through a
// kill -9 and restart of their node: the subscriber reconnects and resumes
// from its last seq, the worker resends what was not acked; the subscriber's
// text is exactly what the worker emitted, with no gap and no duplicate.
func TestSDKAcrossNodeRestart(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{client.TransportWS, client.TransportHTTP} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			rs := redistest.Start(t)
			n := nodetest.Start(t, nodetest.Options{Store: rs.URL()})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			w := client.NewWorker(client.WorkerConfig{BaseURLs: []string{n.URL("")}, Transport: transport,
				Backoff: client.Backoff{Min: 20 * time.Millisecond, Max: 300 * time.Millisecond}})
			defer w.Close()
			if _, err := w.CreateJob(ctx, "sdk-1", "u", "llm", nil); err != nil {
				t.Fatal(err)
			}
			col := &collector{t: t}
			sub := client.NewSubscriber(client.SubscriberConfig{URLs: []string{n.WS("/ws")}, Handler: col.handle,
				Backoff: client.Backoff{Min: 20 * time.Millisecond, Max: 300 * time.Millisecond}})
			sub.Subscribe("sdk-1", 0)
			subDone := make(chan error, 1)
			go func() { subDone <- sub.Run(ctx) }()

			var want strings.Builder
			for i := 0; i < 300; i++ {
				chunk := fmt.Sprintf("t%d ", i)
				want.WriteString(chunk)
				if _, err := w.Emit(ctx, "sdk-1", events.Chunk, map[string]any{"chunk": chunk}); err != nil {
					t.Fatal(err)
				}
				if i == 150 {
					n.Kill()
					n.Restart(t)
				}
				time.Sleep(2 * time.Millisecond)
			}
			st := endAndCheck(ctx, t, w, "sdk-1", map[string]any{"tokens": 300}, col, sub, cancel, subDone, want.String())
			if st.Gaps != 0 || st.OutOfOrder != 0 || st.Reconnects < 1 {
				t.Fatalf("subscriber stats %+v: want no gap, and at least one reconnect", st)
			}
			chunks, _ := journalText(t, n, "sdk-1")
			if strings.Join(chunks, "") != want.String() {
				t.Fatal("journal differs from what the worker emitted")
			}
		})
	}
}
