package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/actorhub/actorhub/internal/nodetest"
)

// TestRunDemoScript runs scripts/run-demo.sh as a person would for a
// rehearsal: three nodes on a private Redis, the demo model as its own
// process, scripted users, the busiest node killed with -9 and restarted; it
// passes only if every watcher's text equals its job's journal.
func TestRunDemoScript(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is needed (apt-get install redis-server)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("scripts/run-demo.sh", "--headless", "20s", "--kill-after", "8s")
	cmd.Dir = root
	// the script puts its processes on DEMO_PORT and fixed offsets from it
	cmd.Env = append(os.Environ(), "DEMO_PORT="+strconv.Itoa(20000+nodetest.FreePort(t)%20000), "DEMO_USERS=6", "DEMO_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run-demo.sh: %v\n%s", err, out)
	}
	for _, want := range []string{"FAULT: kill -9 node", "is back", "0 mismatches, 0 gaps or repeats", "PASS"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("run-demo.sh printed no %q:\n%s", want, out)
		}
	}
}
