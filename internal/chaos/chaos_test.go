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
// runs: every fault kind on 3 nodes, and no invariant may break.
// ACTORHUB_CHAOS_DURATION changes the length.
func TestChaosSmoke(t *testing.T) {
	d := 60 * time.Second
	if v, err := time.ParseDuration(os.Getenv("ACTORHUB_CHAOS_DURATION")); err == nil {
		d = v
	}
	cfg := DefaultConfig()
	cfg.Bin, cfg.Dir, cfg.Duration, cfg.Seed = nodetest.Binary(t), t.TempDir(), d, 7
	rep, _ := runLogged(t, cfg)
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
	bin := filepath.Join(t.TempDir(), "actorhub-broken")
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-tags", "chaosbroken", "-o", bin, "./cmd/actorhub")
	build.Dir = filepath.Dir(strings.TrimSpace(string(out)))
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the broken hub: %v\n%s", err, b)
	}
	cfg := DefaultConfig()
	cfg.Bin, cfg.Dir, cfg.Duration, cfg.Every, cfg.Seed = bin, t.TempDir(), 25*time.Second, 6*time.Second, 3
	cfg.Faults = []string{FaultRedisRestart}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("chaos: %v", err)
	}
	var sum bytes.Buffer
	rep.Print(&sum)
	t.Log(sum.String())
	if !rep.Failed() {
		t.Fatal("chaos passed a hub that acks before the write")
	}
	if len(rep.Violations[Inv2Acked])+len(rep.Violations[Inv5Journal]) == 0 {
		t.Fatalf("the violations should name invariant 2 or 5: %v", rep.Violations)
	}
}

// TestChaosRedisFailover: the store is a primary, two replicas and a
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

// TestChaosPartition: a node cut from the others' cluster traffic by
// nftables (both ways, then one way) while it keeps its clients and Redis:
// the others take its jobs over, its stale writes are refused, the cluster is
// whole again after the heal, and no invariant breaks. It needs root and
// nftables (CI has both; .ci/run installs nftables).
func TestChaosPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 30 s of chaos with partitions")
	}
	if err := checkNft(); err != nil {
		t.Skipf("%v", err)
	}
	cfg := DefaultConfig()
	cfg.Bin, cfg.Dir, cfg.Duration, cfg.Every, cfg.Seed = nodetest.Binary(t), t.TempDir(), 30*time.Second, 6*time.Second, 4
	cfg.Faults = []string{FaultPartition, FaultAsymmetric}
	rep, progress := runLogged(t, cfg)
	if faultsNoting(rep, "whole again") == 0 || rep.Delivered == 0 {
		t.Fatalf("no partition healed into a whole cluster (%d faults, %d delivered):\n%s", len(rep.Faults), rep.Delivered, progress)
	}
	if rep.Failed() {
		t.Fatalf("invariants violated across partitions (logs in %s)", cfg.Dir)
	}
}
