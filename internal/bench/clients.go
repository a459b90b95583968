package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actorhub/actorhub/client"
	"github.com/actorhub/actorhub/events"
)

// benchClient is one subscriber and what it received.
type benchClient struct {
	r        *run
	job      int
	sub      *client.Subscriber
	recv     atomic.Int64 // chunks received (each seq once: the client drops duplicates)
	lats     []int64      // µs, chunks emitted after the warm-up; the subscriber's goroutine only
	live     atomic.Bool
	subbed   atomic.Bool
	released atomic.Bool
}

// handle runs on the subscriber's reading goroutine.
func (c *benchClient) handle(ev events.Event) {
	if ev.Name != events.Chunk {
		return
	}
	t := monoUs()
	c.recv.Add(1)
	r := c.r
	t0 := r.t0.Load()
	if t0 == 0 {
		return
	}
	if sec := (t - t0) / 1e6; sec >= 0 && sec < int64(len(r.recvBySec)) {
		r.recvBySec[sec].Add(1)
	}
	if ts, ok := chunkTS(ev.Data); ok && ts >= r.warmEnd.Load() {
		lat := max(t-ts, 0)
		c.lats = append(c.lats, lat)
		r.hist.record(lat)
	}
}

func (c *benchClient) onStatus(kind string, info client.StatusInfo) {
	r := c.r
	switch kind {
	case client.StatusConnected:
		if c.live.CompareAndSwap(false, true) {
			r.live.Add(1)
		}
	case client.StatusDisconnected:
		if c.live.CompareAndSwap(true, false) {
			r.live.Add(-1)
		}
		c.release()
	case client.StatusSubscribed:
		if c.subbed.CompareAndSwap(false, true) {
			r.subscribed.Add(1)
		}
		c.release()
	case client.StatusGap:
		r.gapSeqs.Add(info.Seq - info.LastSeq - 1)
	case client.StatusError:
		c.release() // a refused subscribe must not hold a dial slot
		if n := r.errFrames.Add(1); n <= 5 {
			r.logf("subscriber: node error %s %s: %s%v", info.Code, info.JobID, info.Message, errOrEmpty(info.Err))
		}
	}
}

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return " " + err.Error()
}

// release frees the client's dial slot once: when it subscribed, or when its
// first attempt failed or was refused (it retries on its own, without a slot).
func (c *benchClient) release() {
	if c.released.CompareAndSwap(false, true) {
		<-c.r.dialSlots
	}
}

// connect starts the C subscribers, at most DialConcurrency dialing at once,
// and waits until all have subscribed. Their Run goroutines end with subCtx;
// wg counts them.
func (r *run) connect(ctx, subCtx context.Context, wg *sync.WaitGroup) (time.Duration, error) {
	cfg := r.cfg
	r.dialSlots = make(chan struct{}, cfg.DialConcurrency)
	ws := make([]string, len(r.bases))
	for i, b := range r.bases {
		ws[i] = "ws" + strings.TrimPrefix(b, "http") + "/ws"
	}
	hc := &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext, MaxIdleConnsPerHost: -1}}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	start := time.Now()
	for i := 0; i < cfg.Conns; i++ {
		select {
		case r.dialSlots <- struct{}{}:
		case <-ctx.Done():
			return 0, fmt.Errorf("bench: connecting subscribers (%d of %d subscribed): %w", r.subscribed.Load(), cfg.Conns, ctx.Err())
		}
		c := &benchClient{r: r, job: i % len(r.jobIDs)}
		k := i % len(ws) // node i mod N first, the others after a failure
		urls := append(append([]string(nil), ws[k:]...), ws[:k]...)
		c.sub = client.NewSubscriber(client.SubscriberConfig{URLs: urls, User: "bench",
			Handler: c.handle, OnStatus: c.onStatus, HTTPClient: hc, DialTimeout: 10 * time.Second,
			Backoff: client.Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second}, ReadLimit: 4 << 20})
		c.sub.Subscribe(r.jobIDs[c.job], 0)
		r.clients = append(r.clients, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.release()
			_ = c.sub.Run(subCtx)
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for r.subscribed.Load() < int64(cfg.Conns) {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("bench: %d of %d subscribers subscribed within 60 s after the last dial started",
				r.subscribed.Load(), cfg.Conns)
		}
		if err := r.check(ctx); err != nil {
			return 0, err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start), nil
}
