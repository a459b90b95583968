package e2e

import (
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
	cmd.Env = append(os.Environ(), "DEMO_PORT="+strconv.Itoa(demoBase(t)), "DEMO_USERS=6", "DEMO_DIR="+t.TempDir())
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

// demoBase picks the DEMO_PORT of a run: the script puts its processes on it
// and on fixed offsets from it, so every one of those ports must be free.
// They are taken below the kernel's ephemeral range (32768 and up here), where
// the other tests' port-0 listeners and outgoing connections land, and each is
// checked.
func demoBase(t *testing.T) int {
	offsets := []int{0, 1, 2, 100, 101, 102, 200, 300, 301, 302, 1000}
	for range 50 {
		base := 10000 + rand.IntN(20000)
		free := true
		for _, o := range offsets {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+o))
			if err != nil {
				free = false
				break
			}
			ln.Close()
		}
		if free {
			return base
		}
	}
	t.Fatal("no base port with all of run-demo.sh's ports free")
	return 0
}
