package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/actorhub/actorhub/internal/nodetest"
	"github.com/actorhub/actorhub/internal/redistest"
)

// TestClusterBusyNodesStayAlive: with both cores saturated (two busy loops
// beside the three nodes), failure detection must not declare anyone dead: a
// busy node is not a dead one. ACTORHUB_BUSY_SECONDS sets how long (default
// 10), ACTORHUB_NODES how many nodes (default 3; `make cluster` runs ten too).
func TestClusterBusyNodesStayAlive(t *testing.T) {
	// It saturates the machine, which would also load the tests that run
	// beside it: `make cluster` runs it (ACTORHUB_BUSY_SECONDS=20), alone.
	v := os.Getenv("ACTORHUB_BUSY_SECONDS")
	if v == "" {
		t.Skip("set ACTORHUB_BUSY_SECONDS (make cluster does)")
	}
	secs := 10
	fmt.Sscan(v, &secs)
	size := 3
	fmt.Sscan(os.Getenv("ACTORHUB_NODES"), &size)
	size = max(size, 3)
	rs := redistest.Start(t)
	nodes := nodetest.StartCluster(t, size, rs.URL())
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second)
	defer cancel()
	for i := 0; i < 2; i++ { // one busy loop per core, bounded by ctx
		cmd := exec.CommandContext(ctx, "sh", "-c", "while :; do :; done")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
	}
	worst := size
	for ctx.Err() == nil {
		for _, n := range nodes {
			alive, err := n.AliveMembers()
			if err == nil {
				worst = min(worst, alive)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if worst != size {
		t.Fatalf("a busy member was declared dead: some node saw only %d alive of %d", worst, size)
	}
}
