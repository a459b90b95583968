package bench

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actorhub/actorhub/internal/nodetest"
	"github.com/actorhub/actorhub/internal/redistest"
)

// TestRunAgainstNode drives a real node (this repository's binary, started by
// Run as it is by `actorhub bench`) and checks the report adds up.
func TestRunAgainstNode(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3 s run")
	}
	var progress strings.Builder
	var pmu sync.Mutex
	cfg := Config{Bin: nodetest.Binary(t), Conns: 40, Jobs: 4, Rate: 200, Duration: 3 * time.Second, Warmup: time.Second,
		Grace: 2 * time.Second, Settle: 100 * time.Millisecond, DialConcurrency: 8}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := Run(ctx, cfg, writerFunc(func(p []byte) (int, error) {
		pmu.Lock()
		defer pmu.Unlock()
		return progress.Write(p)
	}))
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, progress.String())
	}
	t.Logf("%s\n%s", rep.Markdown(), rep)
	// 200 emits/s for 3 s, each received by the 10 subscribers of its job
	if rep.Emitted < 590 || rep.Emitted > 600 {
		t.Errorf("emitted %d, want 600 (±10)", rep.Emitted)
	}
	if rep.Lost != 0 || rep.Received != rep.Expected || rep.Expected != rep.Emitted*10 {
		t.Errorf("lost %d, received %d of %d expected, emitted %d", rep.Lost, rep.Received, rep.Expected, rep.Emitted)
	}
	if rep.Duplicates+rep.OutOfOrder+rep.SeqGaps != 0 {
		t.Errorf("dup %d ooo %d gaps %d, want none", rep.Duplicates, rep.OutOfOrder, rep.SeqGaps)
	}
	if rep.DeliveredMsgsS < 1800 || rep.DeliveredMsgsS > 2200 || rep.OfferedMsgsS != 2000 {
		t.Errorf("delivered %.0f msg/s of %.0f offered, want about 2000", rep.DeliveredMsgsS, rep.OfferedMsgsS)
	}
	if rep.LatSamples == 0 || rep.LatP50Ms <= 0 || rep.LatMaxMs < rep.LatP99Ms || rep.WorkerAckP50Ms <= 0 {
		t.Errorf("latency p50 %.3f p99 %.3f max %.3f over %d samples, ack p50 %.3f",
			rep.LatP50Ms, rep.LatP99Ms, rep.LatMaxMs, rep.LatSamples, rep.WorkerAckP50Ms)
	}
	if rep.WorkerAcked != rep.Emitted || rep.WorkerUnacked != 0 {
		t.Errorf("worker acked %d unacked %d of %d", rep.WorkerAcked, rep.WorkerUnacked, rep.Emitted)
	}
	if rep.ServerCPUPct == nil || rep.RSSPerConnKB == nil || rep.Subscribed != 40 || rep.Config != "C40-N1-2k" {
		t.Errorf("report %+v", rep)
	}
	pmu.Lock()
	defer pmu.Unlock()
	if n := strings.Count(progress.String(), "delivered/s"); n < 3 {
		t.Errorf("%d progress lines, want one a second:\n%s", n, progress.String())
	}
}

// TestRunAgainstCluster: with Nodes 3 Run starts a cluster of three real
// nodes on a real redis-server, spreads the subscribers and the worker's
// lanes over them (most events then cross nodes), and sums their CPU and RSS.
func TestRunAgainstCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3 s run on three nodes")
	}
	rs := redistest.Start(t)
	cfg := Config{Bin: nodetest.Binary(t), Store: rs.URL(), Nodes: 3, Conns: 30, Jobs: 6, Rate: 120,
		Duration: 3 * time.Second, Warmup: time.Second, Grace: 2 * time.Second, Settle: 100 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var progress strings.Builder
	var pmu sync.Mutex
	rep, err := Run(ctx, cfg, writerFunc(func(p []byte) (int, error) {
		pmu.Lock()
		defer pmu.Unlock()
		return progress.Write(p)
	}))
	pmu.Lock()
	defer pmu.Unlock()
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, progress.String())
	}
	t.Logf("%s\n%s", rep.Markdown(), rep)
	if rep.Nodes != 3 || rep.Config != "C30-N3-1k" || strings.Count(rep.Node, ",") != 2 || rep.WorkerConns != 3 {
		t.Errorf("report %+v", rep)
	}
	if rep.Emitted < 350 || rep.Lost != 0 || rep.Received != rep.Expected || rep.Expected != rep.Emitted*5 {
		t.Errorf("emitted %d, lost %d, received %d of %d expected", rep.Emitted, rep.Lost, rep.Received, rep.Expected)
	}
	if rep.Duplicates+rep.OutOfOrder+rep.SeqGaps != 0 || rep.WorkerAcked != rep.Emitted {
		t.Errorf("dup %d ooo %d gaps %d, acked %d of %d", rep.Duplicates, rep.OutOfOrder, rep.SeqGaps, rep.WorkerAcked, rep.Emitted)
	}
	if rep.ServerCPUPct == nil || rep.RSSPerConnKB == nil || !strings.Contains(progress.String(), "3 nodes ready and clustered") {
		t.Errorf("cpu %v rss %v; progress:\n%s", rep.ServerCPUPct, rep.RSSPerConnKB, progress.String())
	}
}

// TestClusterNeedsSharedStore: more than one node on the default bolt store
// is refused before anything starts.
func TestClusterNeedsSharedStore(t *testing.T) {
	_, err := Run(context.Background(), Config{Bin: "/nonexistent", Nodes: 2}, nil)
	if err == nil || !strings.Contains(err.Error(), "shared store") {
		t.Fatalf("Run with 2 nodes on bolt: %v", err)
	}
}

func TestRunNodeThatExits(t *testing.T) {
	bin := t.TempDir() + "/actorhub"
	if err := writeScript(bin, "#!/bin/sh\necho \"bad flag: $*\" >&2\nexit 2\n"); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), Config{Bin: bin, Conns: 1, Duration: 2 * time.Second, Warmup: time.Second}, nil)
	if err == nil || !strings.Contains(err.Error(), "exited before") || !strings.Contains(err.Error(), "bad flag: serve --http 127.0.0.1:") {
		t.Fatalf("Run with a node that exits: %v", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
