package actors_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/internal/redistest"
	"github.com/actorhub/actorhub/persistence"
	"github.com/prometheus/client_golang/prometheus"
)

// countSink counts the events a client connection is sent.
type countSink struct{ events *atomic.Int64 }

func (s countSink) Send(b []byte) bool    { return s.SendAll([][]byte{b}) }
func (s countSink) SendNow(b []byte) bool { return s.Send(b) }
func (s countSink) SendAll(objs [][]byte) bool {
	for _, b := range objs {
		if bytes.HasPrefix(b, []byte(`{"type":"event"`)) {
			s.events.Add(1)
		}
	}
	return true
}
func (countSink) Close(int, string) {}
func (countSink) Backlog() int      { return 0 }

// BenchmarkOneJobPerUser is the mission's main shape inside one node, without
// the WebSockets: 200 jobs, each watched by one client connection of its
// own, a worker connection emitting one chunk to each job in turn, on a real
// Redis. One op is one event emitted, made durable and delivered to its
// client. Its allocations per op (-benchmem) do not depend on how busy the
// machine is; its time does.
func BenchmarkOneJobPerUser(b *testing.B) { benchDeliveries(b, 200, 1) }

// BenchmarkFanOut is the shape where many clients watch one job, the same way:
// 10 jobs, each watched by 100 client connections. One op is one event made
// durable and delivered to its 100 clients; ns/delivery is the op's time over
// its deliveries.
func BenchmarkFanOut(b *testing.B) { benchDeliveries(b, 10, 100) }

// benchDeliveries runs one node on a real Redis with jobs jobs, each watched
// by perJob client connections, and a worker connection that emits to the
// jobs in turn, one event per op; it waits for every delivery.
func benchDeliveries(b *testing.B, jobs, perJob int) {
	h := benchHub(b)
	ctx := context.Background()
	var delivered atomic.Int64
	ids := make([]string, jobs)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)
		if _, _, err := h.CreateJob(ctx, ids[i], "u", "t", nil); err != nil {
			b.Fatal(err)
		}
		for range perJob {
			c := h.OpenClient(countSink{&delivered}, "s", actors.Access{User: "u"})
			defer c.Close()
			if err := c.Deliver(ctx, subscribeRequest(ids[i])); err != nil {
				b.Fatal(err)
			}
		}
	}
	w := h.OpenWorker(countSink{new(atomic.Int64)}) // acks are not events: counted nowhere
	defer w.Close()
	data := []byte(`{"chunk":"a token "}`)
	waitDelivered := func(events int) {
		n := int64(events * perJob)
		for deadline := time.Now().Add(time.Minute); delivered.Load() < n; {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d deliveries within a minute", delivered.Load(), n)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	emit := func(i int) {
		if err := w.Deliver(ctx, emitRequest(ids[i%jobs], int64(i/jobs), data)); err != nil {
			b.Fatal(err)
		}
	}
	for i := range jobs { // the feeds, the jobs and their first commit: not measured
		emit(i)
	}
	waitDelivered(jobs)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		emit(jobs + i)
		if (i+1)%jobs == 0 {
			waitDelivered(jobs + i + 1)
		}
	}
	waitDelivered(jobs + b.N)
	if perJob > 1 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perJob), "ns/delivery")
	}
}

// benchHub starts one node on a real Redis for a benchmark; it stops with it.
func benchHub(b *testing.B) *actors.Hub {
	srv := redistest.Start(b)
	store, err := persistence.OpenRedis(context.Background(), srv.URL(), persistence.DefaultLocalConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	cfg := actors.DefaultConfig()
	cfg.NodeID = "n1"
	h, err := actors.New(cfg, store, actors.NewMetrics(prometheus.NewRegistry()), nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { // before the store closes (cleanups run last first)
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Stop(sctx)
	})
	return h
}

// BenchmarkLiveHeapPerJob is what one job per user keeps in a node's memory
// while it streams: one op is a job, created and watched by a client
// connection of its own; then every job gets one chunk in turn, streamEvents
// times (more than a feed's ring holds), as tokens arrive. It reports the live
// heap after a GC, over the ops, as live-B/job: the job's actor, its feed, the
// client's actor and subscription, and the recent events they keep (the
// WebSockets are not part of it).
func BenchmarkLiveHeapPerJob(b *testing.B) {
	const streamEvents = 100
	h := benchHub(b)
	ctx := context.Background()
	var delivered atomic.Int64
	w := h.OpenWorker(countSink{new(atomic.Int64)})
	b.Cleanup(w.Close)
	data := []byte(`{"chunk":" the quick brown fox jumps over"}`)
	liveHeap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := liveHeap()
	b.ResetTimer()
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = fmt.Sprintf("mem-%d-%d", time.Now().UnixNano(), i)
		if _, _, err := h.CreateJob(ctx, ids[i], "u", "t", nil); err != nil {
			b.Fatal(err)
		}
		c := h.OpenClient(countSink{&delivered}, "s", actors.Access{User: "u"})
		b.Cleanup(c.Close)
		if err := c.Deliver(ctx, subscribeRequest(ids[i])); err != nil {
			b.Fatal(err)
		}
	}
	for k := range streamEvents {
		for _, id := range ids {
			if err := w.Deliver(ctx, emitRequest(id, int64(k), data)); err != nil {
				b.Fatal(err)
			}
		}
		want := int64((k + 1) * b.N)
		for deadline := time.Now().Add(time.Minute); delivered.Load() < want; {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d deliveries within a minute", delivered.Load(), want)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	b.StopTimer()
	ids = nil
	b.ReportMetric(float64(int64(liveHeap())-int64(before))/float64(b.N), "live-B/job")
}
