package chaos

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/actorhub/actorhub/internal/nodetest"
)

// runLogged runs cfg, logs its progress lines and summary, and returns the
// report and the progress text; a run that cannot start fails the test.
func runLogged(t *testing.T, cfg Config) (*Report, string) {
	t.Helper()
	var progress bytes.Buffer
	cfg.Progress = &progress
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("chaos: %v\n%s", err, progress.String())
	}
	var sum bytes.Buffer
	rep.Print(&sum)
	t.Logf("%s%s", progress.String(), sum.String())
	return rep, progress.String()
}

// faultsNoting counts the faults whose note says note.
func faultsNoting(rep *Report, note string) int {
	n := 0
	for _, f := range rep.Faults {
		if strings.Contains(f.Note, note) {
			n++
		}
	}
	return n
}

// TestChaosSmoke is the 60-second smoke of `actorhub chaos` that make test
// runs: every fault kind on 3 nodes, and no invariant may break. Its jobs end
// every 5 s and are replaced (JobChunks), each verified on its own.
// ACTORHUB_CHAOS_DURATION changes the length.
func TestChaosSmoke(t *testing.T) {
	d := 60 * time.Second
	if v, err := time.ParseDuration(os.Getenv("ACTORHUB_CHAOS_DURATION")); err == nil {
		d = v
	}
	cfg := DefaultConfig()
	cfg.Bin, cfg.Dir, cfg.Duration, cfg.Seed = nodetest.Binary(t), t.TempDir(), d, 7
	cfg.JobChunks = 100
	rep, _ := runLogged(t, cfg)
	if rep.JobsVerified <= int64(cfg.Jobs) {
		t.Errorf("%d jobs verified: the %d slots' jobs did not end and start again", rep.JobsVerified, cfg.Jobs)
	}
	// a fault takes seconds itself (a restart waits for the node to rejoin), so
	// fewer than Duration/Every fit; under -race on 2 cores about half do
	if len(rep.Faults) < 3 || rep.Delivered == 0 {
		t.Fatalf("the run injected %d faults and delivered %d events: it did not run", len(rep.Faults), rep.Delivered)
	}
	if rep.Failed() {
		t.Fatalf("invariants violated (logs in %s)", cfg.Dir)
	}
	if err := rep.Write(cfg.Dir); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(cfg.Dir, "timeline.svg")); err != nil || !bytes.HasPrefix(b, []byte("<svg")) {
		t.Fatalf("timeline.svg: %v", err)
	}
}

// TestChaosCatchesAckBeforeDurable builds a deliberately broken hub (the
// chaosbroken tag: it acks a worker's events before they are written) and
// checks that chaos fails it, naming the invariant: Redis restarts make writes
// fail after the acks, so acked events never reach the journal.
func TestChaosCatchesAckBeforeDurable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a second binary and runs 25 s of chaos")
	}
	cfg := DefaultConfig()
	cfg.Bin, cfg.Dir, cfg.Duration, cfg.Every, cfg.Seed = buildTagged(t, "chaosbroken"), t.TempDir(), 25*time.Second, 6*time.Second, 3
	cfg.Faults = []string{FaultRedisRestart}
	rep, _ := runLogged(t, cfg)
	if !rep.Failed() {
		t.Fatal("chaos passed a hub that acks before the write")
	}
	if len(rep.Violations[Inv2Acked])+len(rep.Violations[Inv5Journal]) == 0 {
		t.Fatalf("the violations should name invariant 2 or 5: %v", rep.Violations)
	}
}

// TestChaosRedisFailover: the store is a primary, a replica and a
// sentinel; the primary is killed, a replica promoted, the old primary
// comes back as a replica, and with --store-wait-replicas 1 nothing
// acknowledged is lost.
func TestChaosRedisFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 25 s of chaos on a sentinel-managed Redis")
	}
	cfg := DefaultConfig()
	cfg.Bin, cfg.Dir, cfg.Duration, cfg.Every, cfg.Seed = nodetest.Binary(t), t.TempDir(), 25*time.Second, 6*time.Second, 5
	cfg.Faults = []string{FaultRedisFailover}
	rep, progress := runLogged(t, cfg)
	if faultsNoting(rep, "promoted") == 0 || rep.Delivered == 0 {
		t.Fatalf("no failover happened (%d faults, %d delivered):\n%s", len(rep.Faults), rep.Delivered, progress)
	}
	if rep.Failed() {
		t.Fatalf("invariants violated across a Redis failover (logs in %s)", cfg.Dir)
	}
}

// TestChaosPartition: the network faults, cut by the kernel. A node cut
// from the others' cluster traffic by nftables (both ways, then one way)
// while it keeps its clients and Redis: the others take its jobs over, its
// stale writes are refused, it goes on standby (a minority), a split-brain
// probe writes on both sides without a duplicate seq, and the cluster is
// whole again after the heal. A node cut from Redis (isolate-store) goes on
// standby and its jobs move; slow-net (where tc can shape lo) makes the
// cluster's traffic slow and lossy. No invariant may break. It needs root
// and nftables (CI has both; .ci/run installs nftables).
func TestChaosPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 50 s of chaos with partitions")
	}
	if err := checkNft(); err != nil {
		t.Skipf("%v", err)
	}
	cfg := DefaultConfig()
	cfg.Bin, cfg.Dir, cfg.Duration, cfg.Every, cfg.Seed = nodetest.Binary(t), t.TempDir(), 50*time.Second, 5*time.Second, 6
	cfg.Faults = []string{FaultPartition, FaultAsymmetric, FaultIsolateStore, FaultSlowNet}
	if err := checkTc(); err != nil {
		t.Logf("without slow-net: %v", err)
		cfg.Faults = cfg.Faults[:3]
	}
	rep, progress := runLogged(t, cfg)
	if faultsNoting(rep, "whole again") == 0 || rep.Delivered == 0 {
		t.Fatalf("no partition healed into a whole cluster (%d faults, %d delivered):\n%s", len(rep.Faults), rep.Delivered, progress)
	}
	if faultsNoting(rep, "on standby after") == 0 || faultsNoting(rep, "probe probe-") == 0 {
		t.Fatalf("no cut node went on standby, or no split-brain probe ran:\n%s", progress)
	}
	if rep.Failed() {
		t.Fatalf("invariants violated across partitions (logs in %s)", cfg.Dir)
	}
}

// TestChaosCatchesNoFencing builds a deliberately broken hub (the
// chaosnofence tag: its Redis appends check neither the epoch nor the seq)
// and checks that the partition fault fails it: the split-brain probe's two
// writers append at the same seqs, or the worker's offsets stop matching.
func TestChaosCatchesNoFencing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a second binary and runs 25 s of chaos")
	}
	if err := checkNft(); err != nil {
		t.Skipf("%v", err)
	}
	cfg := DefaultConfig()
	cfg.Bin, cfg.Dir, cfg.Duration, cfg.Every, cfg.Seed = buildTagged(t, "chaosnofence"), t.TempDir(), 25*time.Second, 6*time.Second, 4
	cfg.Faults = []string{FaultPartition, FaultAsymmetric}
	rep, progress := runLogged(t, cfg)
	if !rep.Failed() {
		t.Fatalf("chaos passed a hub that does not fence its writes:\n%s", progress)
	}
	if len(rep.Violations[Inv4OneOwner])+len(rep.Violations[Inv2Acked])+len(rep.Violations[Inv5Journal]) == 0 {
		t.Fatalf("the violations should name invariant 2, 4 or 5: %v", rep.Violations)
	}
}

// buildTagged builds the hub with a build tag into the test's folder.
func buildTagged(t *testing.T, tag string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "actorhub-"+tag)
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-tags", tag, "-o", bin, "./cmd/actorhub")
	build.Dir = filepath.Dir(strings.TrimSpace(string(out)))
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the %s hub: %v\n%s", tag, err, b)
	}
	return bin
}
