package actors_test

import (
	"bytes"
	"context"
	"fmt"
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

func (s countSink) Send(b []byte) bool { return s.SendAll([][]byte{b}) }
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
	srv := redistest.Start(b)
	store, err := persistence.OpenRedis(context.Background(), srv.URL(), persistence.DefaultLocalConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	cfg := actors.DefaultConfig()
	cfg.NodeID = "n1"
	h, err := actors.New(cfg, store, actors.NewMetrics(prometheus.NewRegistry()), nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := h.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = h.Stop(sctx)
	}()
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
