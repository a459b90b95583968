package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// node is a child actorhub process.
type node struct {
	cmd    *exec.Cmd
	pid    string
	http   string // http://127.0.0.1:P
	gossip string // 127.0.0.1:P
	store  string
	dir    string
	tail   *tailBuffer
	exited chan struct{} // closed once the process was reaped
	err    error         // Wait's, after exited
}

// startNode starts `bin serve` as node bench<i+1> on free loopback ports, in
// a temporary folder, joining the gossip address join unless it is empty.
func startNode(cfg Config, i int, join string) (*node, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "actorhub-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: temporary folder: %w", err)
	}
	store := cfg.Store
	if store == "" {
		store = "bolt:" + dir + "/bench.db"
	}
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	args := []string{"serve", "--http", addr(ports[0]), "--gossip", addr(ports[1]),
		"--remote", addr(ports[2]), "--node-id", "bench" + strconv.Itoa(i+1), "--store", store}
	if join != "" {
		args = append(args, "--join", join)
	}
	if cfg.Pprof != "" {
		host, port, err := net.SplitHostPort(cfg.Pprof)
		p, perr := strconv.Atoi(port)
		if err != nil || perr != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("bench: --pprof %q: want host:port", cfg.Pprof)
		}
		args = append(args, "--pprof", net.JoinHostPort(host, strconv.Itoa(p+i)))
	}
	cmd := exec.Command(cfg.Bin, args...)
	cmd.Dir = dir
	cmd.Env = nodeEnv(os.Environ(), cfg.NodeEnv)
	tail := &tailBuffer{max: 8 << 10}
	var out io.Writer = tail
	if cfg.NodeStderr != nil {
		out = io.MultiWriter(tail, cfg.NodeStderr)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: start %s: %w", cfg.Bin, err)
	}
	n := &node{cmd: cmd, pid: strconv.Itoa(cmd.Process.Pid), http: "http://" + addr(ports[0]), gossip: addr(ports[1]), store: store,
		dir: dir, tail: tail, exited: make(chan struct{})}
	go func() { n.err = cmd.Wait(); close(n.exited) }() // stop waits for it
	return n, nil
}

// nodeEnv is env without ACTORHUB_* (the node would read them as flags), plus extra.
func nodeEnv(env, extra []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "ACTORHUB_") {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// freePorts returns n distinct loopback ports free for TCP and UDP (gossip uses both).
func freePorts(n int) ([]int, error) {
	var ports []int
	var hold []io.Closer
	defer func() {
		for _, c := range hold {
			c.Close()
		}
	}()
	for tries := 0; len(ports) < n && tries < 50; tries++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("bench: find a free port: %w", err)
		}
		hold = append(hold, l)
		p := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		hold = append(hold, u)
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("bench: found %d free loopback ports, need %d", len(ports), n)
	}
	return ports, nil
}

// waitReady polls GET /readyz until 200, the process exits, or ctx ends.
func (n *node) waitReady(ctx context.Context, hc *http.Client) error {
	for {
		if err := getOK(ctx, hc, n.http+"/readyz"); err == nil {
			return nil
		}
		select {
		case <-n.exited:
			return fmt.Errorf("bench: the node exited before GET /readyz answered 200 (%v); its output ends with:\n%s", n.err, n.tail)
		case <-ctx.Done():
			return fmt.Errorf("bench: no 200 from GET %s/readyz: %w; the node's output ends with:\n%s", n.http, ctx.Err(), n.tail)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func getOK(ctx context.Context, hc *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	return nil
}

// alive reports whether the process still runs.
func (n *node) alive() bool {
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// stop ends the node (SIGTERM, SIGKILL after 3 s), reaps it and removes its folder.
func (n *node) stop() {
	if n.alive() {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(3 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
	}
	os.RemoveAll(n.dir)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

var errNodeDied = errors.New("bench: the node exited during the run")
