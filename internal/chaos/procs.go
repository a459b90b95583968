package chaos

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/actorhub/actorhub/internal/freeport"
	"github.com/actorhub/actorhub/internal/procsig"
)

// proc is one child process the harness owns (a node or redis-server).
type proc struct {
	name   string
	bin    string
	args   []string
	log    *os.File
	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	expect bool // an exit now is the harness's doing
	exits  []string
}

func (p *proc) start() error {
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.Env = cleanEnv()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.expect = cmd, done, false
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		if !p.expect {
			p.exits = append(p.exits, fmt.Sprintf("%s exited on its own: %v", p.name, err))
		}
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// signal sends sig; expected marks the exit it may cause as the harness's.
func (p *proc) signal(sig os.Signal, expected bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if expected {
		p.expect = true
	}
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

// wait waits up to d for the process to exit; it returns the exit code, or
// -1 when it is still running.
func (p *proc) wait(d time.Duration) int {
	p.mu.Lock()
	done, cmd := p.done, p.cmd
	p.mu.Unlock()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(d):
		return -1
	}
}

func (p *proc) kill() {
	if procsig.Pauses() {
		p.signal(procsig.Cont, true) // a paused process ends only once resumed
	}
	p.signal(os.Kill, true)
	p.wait(10 * time.Second)
}

// unexpected returns the exits the harness did not cause.
func (p *proc) unexpected() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.exits...)
}

// cleanEnv is this process's environment without ACTORHUB_* (a node reads
// them as flags).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !bytes.HasPrefix([]byte(kv), []byte("ACTORHUB_")) {
			env = append(env, kv)
		}
	}
	return env
}

// node is one `actorhub serve`.
type node struct {
	proc
	id, http, gossip, remote string
	host                     string // of its gossip and remote ports
}

// newNode prepares node i; host is the address of its gossip and remote
// ports ("" for 127.0.0.1).
func newNode(bin, dir, store string, i int, join, host string) (*node, error) {
	ports := make([]int, 3)
	for k := range ports {
		p, err := freeport.Pick()
		if err != nil {
			return nil, err
		}
		ports[k] = p
	}
	n := &node{id: "c" + strconv.Itoa(i+1), http: addr(ports[0]), gossip: addr(ports[1]), remote: addr(ports[2]), host: "127.0.0.1"}
	if host != "" {
		n.host = host
		n.gossip, n.remote = net.JoinHostPort(host, strconv.Itoa(ports[1])), net.JoinHostPort(host, strconv.Itoa(ports[2]))
	}
	f, err := os.Create(filepath.Join(dir, n.id+".log"))
	if err != nil {
		return nil, err
	}
	n.proc = proc{name: "node " + n.id, bin: bin, log: f,
		args: []string{"serve", "--http", n.http, "--gossip", n.gossip, "--remote", n.remote, "--node-id", n.id,
			"--store", store, "--drain-timeout", "10s"}}
	if join != "" {
		n.args = append(n.args, "--join", join)
	}
	return n, nil
}

func addr(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }

func (n *node) url(path string) string { return "http://" + n.http + path }

// waitReady polls /readyz until 200.
func (n *node) waitReady(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		if resp, err := http.Get(n.url("/readyz")); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %s (log: %s)", n.name, d, n.log.Name())
		case <-n.done:
			return fmt.Errorf("%s exited before it was ready (log: %s)", n.name, n.log.Name())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// redis is one private redis-server (or sentinel), with AOF (appendfsync
// always) so that a restart keeps every write it acknowledged.
type redis struct {
	proc
	port int
}

func startRedis(dir string) (*redis, error) { return startRedisNamed(dir, "redis", nil) }

// startRedisNamed starts redis-server name with extra arguments; a name other
// than "redis" gets a folder of its own in dir.
func startRedisNamed(dir, name string, extra []string) (*redis, error) {
	bin, port, err := redisBinPort()
	if err != nil {
		return nil, err
	}
	data := dir
	if name != "redis" {
		data = filepath.Join(dir, name)
		if err := os.MkdirAll(data, 0o755); err != nil {
			return nil, err
		}
	}
	// a run starts from an empty store, whatever an earlier run with the same
	// --out left there
	for _, f := range []string{"appendonlydir", "appendonly.aof", "dump.rdb"} {
		if err := os.RemoveAll(filepath.Join(data, f)); err != nil {
			return nil, err
		}
	}
	f, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	r := &redis{port: port, proc: proc{name: name, bin: bin, log: f,
		args: append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "no", "--save", "", "--appendonly", "yes",
			"--appendfsync", "always", "--dir", data}, extra...)}}
	return r, r.startWait()
}

// redisBinPort finds redis-server and picks a port for one more of them.
func redisBinPort() (string, int, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", 0, fmt.Errorf("chaos needs redis-server on PATH (apt-get install redis-server), or --store")
	}
	port, err := freeport.Pick()
	return bin, port, err
}

// startSentinel starts a Redis Sentinel that watches the primary at port as
// master sentinelMaster (quorum one: it is the only one) and promotes a
// replica a second after the primary stops answering.
func startSentinel(dir string, primary int) (*redis, error) {
	bin, port, err := redisBinPort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "sentinel.conf") // the sentinel rewrites it
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\nsentinel resolve-hostnames no\n"+
		"sentinel monitor %[2]s 127.0.0.1 %[3]d 1\nsentinel down-after-milliseconds %[2]s 1000\n"+
		"sentinel failover-timeout %[2]s 10000\nsentinel parallel-syncs %[2]s 2\n", port, sentinelMaster, primary)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, "sentinel.log"))
	if err != nil {
		return nil, err
	}
	r := &redis{port: port, proc: proc{name: "sentinel", bin: bin, log: f, args: []string{conf, "--sentinel"}}}
	return r, r.startWait()
}

// sentinelMaster is the name the chaos sentinel gives the primary.
const sentinelMaster = "chaos"

func (r *redis) startWait() error {
	if err := r.start(); err != nil {
		return err
	}
	// ready once it answers PING: while it loads its AOF it answers -LOADING
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if pingRedis(addr(r.port)) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("redis-server did not answer PING on %d within 30s (log: %s)", r.port, r.log.Name())
}

// pingRedis reports whether the redis-server at a answers PING with PONG.
func pingRedis(a string) bool {
	c, err := dialTCP(a)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

func (r *redis) url() string { return "redis://127.0.0.1:" + strconv.Itoa(r.port) + "/0" }
