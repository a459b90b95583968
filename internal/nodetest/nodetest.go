package nodetest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actorhub/actorhub/client"
	"github.com/actorhub/actorhub/internal/freeport"
	"github.com/actorhub/actorhub/internal/procsig"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Tests wraps a package's tests so that the binary Binary built for them is
// removed once they end: TestMain calls os.Exit(nodetest.Tests(m).Run()), or
// passes it to leakcheck.VerifyTestMain in m's place. (A test binary killed
// by its -timeout leaves its build behind in os.TempDir.)
func Tests(m *testing.M) interface{ Run() int } { return tests{m} }

type tests struct{ m *testing.M }

func (t tests) Run() int {
	defer func() {
		if buildPath != "" {
			os.RemoveAll(filepath.Dir(buildPath))
		}
	}()
	return t.m.Run()
}

// Binary builds ./cmd/actorhub once per test binary and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %v", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		dir, err := os.MkdirTemp("", "actorhub-nodetest-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "actorhub")
		args := []string{"build", "-o", buildPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/actorhub")...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build actorhub: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// Options for a node.
type Options struct {
	// Store is the --store URL; empty means a bolt file in a temp dir of the test.
	Store string
	// Args are extra flags (e.g. "--job-idle", "1s").
	Args []string
	// Env are extra KEY=VALUE environment entries.
	Env []string
}

// Node is one running `actorhub serve` process.
type Node struct {
	t      testing.TB
	bin    string
	args   []string
	env    []string
	HTTP   string // host:port
	Gossip string // host:port
	Remote string // host:port of the actor-remote (gRPC) port
	Admin  string // host:port of the admin listener (--admin-http): /metrics, /api/cluster without a token
	ID     string
	mu     sync.Mutex
	cmd    *exec.Cmd
	logs   *lockedBuffer
	exited chan struct{}
	err    error
}

// Start runs a node on free ports and waits until /readyz answers 200.
func Start(t testing.TB, o Options) *Node {
	t.Helper()
	bin := Binary(t)
	store := o.Store
	if store == "" {
		store = "bolt:" + filepath.Join(t.TempDir(), "actorhub.db")
	}
	n := &Node{t: t, bin: bin, logs: &lockedBuffer{}, env: o.Env}
	n.pickPorts(t, store, o.Args)
	t.Cleanup(func() {
		n.Kill()
		if strings.Contains(n.logs.String(), "WARNING: DATA RACE") {
			t.Errorf("node %s had a data race:\n%s", n.ID, tail(n.logs.String(), 8000))
		}
		if t.Failed() {
			t.Logf("node %s log (tail):\n%s", n.ID, tail(n.logs.String(), 6000))
		}
	})
	// Ports are picked free, but another test process (go test runs packages
	// in parallel) may bind one before the node does: then the node starts
	// again on other ports, up to three times.
	for attempt := 1; n.launchWait(t, 20*time.Second); attempt++ {
		if attempt == 3 {
			t.Fatalf("node %s: another process took one of its ports before it bound it, three times\n%s", n.ID, tail(n.logs.String(), 4000))
		}
		t.Logf("node %s: a port was taken before it bound it; trying other ports", n.ID)
		n.logs = &lockedBuffer{}
		n.pickPorts(t, store, o.Args)
	}
	return n
}

// pickPorts gives the node free ports, an id and its command line.
func (n *Node) pickPorts(t testing.TB, store string, extra []string) {
	t.Helper()
	n.HTTP = "127.0.0.1:" + strconv.Itoa(FreePort(t))
	n.ID = "t" + strconv.Itoa(FreePort(t))
	n.Gossip = "127.0.0.1:" + strconv.Itoa(FreePort(t))
	n.Remote = "127.0.0.1:" + strconv.Itoa(FreePort(t))
	n.Admin = "127.0.0.1:" + strconv.Itoa(FreePort(t))
	n.args = append([]string{"serve", "--http", n.HTTP, "--gossip", n.Gossip,
		"--remote", n.Remote, "--admin-http", n.Admin, "--node-id", n.ID, "--store", store,
		"--log-level", "debug"}, extra...)
}

// launchWait starts the node and waits until it is ready; it reports true when
// the node exited first because one of its ports was in use.
func (n *Node) launchWait(t testing.TB, d time.Duration) (portTaken bool) {
	t.Helper()
	n.launch(t)
	ready, exited := n.readyOrExited(d)
	if exited && strings.Contains(n.logs.String(), "address already in use") {
		return true
	}
	n.mustBeReady(t, d, ready, exited) // fails the test, with the node's log, if it exited for another reason
	return false
}

func (n *Node) run(t testing.TB) {
	t.Helper()
	n.launch(t)
	n.WaitReady(t, 20*time.Second)
}

// launch starts the node's process.
func (n *Node) launch(t testing.TB) {
	t.Helper()
	cmd := exec.Command(n.bin, n.args...)
	cmd.Env = append(os.Environ(), n.env...)
	cmd.Stdout, cmd.Stderr = n.logs, n.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	exited := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()
	go func() {
		err := cmd.Wait()
		n.mu.Lock()
		n.err = err
		n.mu.Unlock()
		close(exited)
	}()
}

// WaitReady polls /readyz until 200.
func (n *Node) WaitReady(t testing.TB, d time.Duration) {
	t.Helper()
	ready, exited := n.readyOrExited(d)
	n.mustBeReady(t, d, ready, exited)
}

// readyOrExited polls /readyz for up to d, until it answers 200 (ready) or the
// process exits (exited); neither means d passed.
func (n *Node) readyOrExited(d time.Duration) (ready, exited bool) {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-n.exited:
			return false, true
		default:
		}
		if resp, err := http.Get(n.URL("/readyz")); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return true, false
			}
		}
	}
	return false, false
}

// mustBeReady fails the test, with the node's log, unless readyOrExited found
// the node ready.
func (n *Node) mustBeReady(t testing.TB, d time.Duration, ready, exited bool) {
	t.Helper()
	switch {
	case ready:
	case exited:
		t.Fatalf("node %s exited before it was ready: %v\n%s", n.ID, n.err, tail(n.logs.String(), 4000))
	default:
		t.Fatalf("node %s not ready within %s\n%s", n.ID, d, tail(n.logs.String(), 4000))
	}
}

// URL returns http://HTTP + path.
func (n *Node) URL(path string) string { return "http://" + n.HTTP + path }

// WS returns ws://HTTP + path.
func (n *Node) WS(path string) string { return "ws://" + n.HTTP + path }

// PID returns the process id.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd.Process.Pid
}

// Kill sends SIGKILL and waits for the process to end.
func (n *Node) Kill() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	if procsig.Pauses() {
		_ = cmd.Process.Signal(procsig.Cont) // a paused process ends only once resumed
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Signal sends sig to the process.
func (n *Node) Signal(sig os.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	_ = n.cmd.Process.Signal(sig)
}

// Wait waits up to d for the process to exit and returns its exit code (-1 on
// a signal, or if it did not exit in time).
func (n *Node) Wait(d time.Duration) (code int, exited bool) {
	n.mu.Lock()
	ch := n.exited
	n.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(d):
		return -1, false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd.ProcessState.ExitCode(), true
}

// Restart starts the node again with the same flags, ports and store (after
// Kill or an exit).
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	n.Kill()
	n.run(t)
}

// RestartWith is Restart with flags added to the ones it started with (for
// example a --join for a node that was the first of its cluster).
func (n *Node) RestartWith(t testing.TB, extra ...string) {
	t.Helper()
	n.Kill()
	n.args = append(n.args, extra...)
	n.run(t)
}

// Logs returns what the node wrote so far.
func (n *Node) Logs() string { return n.logs.String() }

// FreePort returns a loopback port, free for TCP and UDP a moment ago, outside
// the ephemeral range (a node restarted on its ports finds them free).
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// WaitFor polls fn every 20ms until it returns nil or d passes.
func WaitFor(t testing.TB, d time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for {
		if err = fn(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 8<<20 { // keep memory bounded on chatty nodes
		l.b.Reset()
		l.b.WriteString("…(log truncated)\n")
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// StartCluster runs n nodes on one shared store (a Redis URL), each joining the
// first, and waits until every node sees n alive members.
func StartCluster(t testing.TB, n int, store string, args ...string) []*Node {
	t.Helper()
	first := Start(t, Options{Store: store, Args: args})
	nodes := []*Node{first}
	for i := 1; i < n; i++ {
		nodes = append(nodes, Start(t, Options{Store: store, Args: append([]string{"--join", first.Gossip}, args...)}))
	}
	WaitConverged(t, nodes, n, 30*time.Second)
	return nodes
}

// WaitConverged waits until every node of nodes lists want alive members.
func WaitConverged(t testing.TB, nodes []*Node, want int, d time.Duration) {
	t.Helper()
	for _, n := range nodes {
		WaitFor(t, d, func() error {
			alive, err := n.AliveMembers()
			if err != nil {
				return err
			}
			if alive != want {
				return fmt.Errorf("node %s sees %d alive members, want %d", n.ID, alive, want)
			}
			return nil
		})
	}
}

// AliveMembers returns how many members GET /api/cluster (of the admin
// listener, which needs no token) lists as alive.
func (n *Node) AliveMembers() (int, error) {
	return client.AliveMembers(context.Background(), nil, "http://"+n.Admin)
}
