package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/actorhub/actorhub/internal/freeport"
	"github.com/actorhub/actorhub/internal/procsig"
)

// SkipEnv is the environment variable that lets tests skip (instead of fail)
// when redis-server is not installed.
const SkipEnv = "ACTORHUB_ALLOW_SKIP_REDIS"

// readyTimeout bounds the wait for a started server to answer PING (and, for a
// cluster, to report cluster_state:ok).
const readyTimeout = 15 * time.Second

// Option changes how the server runs.
type Option func(*options)

type options struct {
	aof     bool
	cluster bool
	args    []string
	// sentinel, when set, runs the process as a Redis Sentinel with this
	// configuration (the port is added)
	sentinel string
}

// AOF turns on the append-only file with appendfsync always, so that a write
// acknowledged before Kill is there after Restart.
func AOF() Option { return func(o *options) { o.aof = true } }

// Cluster runs the server in cluster mode as a one-node cluster that owns all
// 16384 slots.
func Cluster() Option { return func(o *options) { o.cluster = true } }

// Args adds command-line arguments for redis-server (e.g. "--maxmemory", "1mb").
func Args(args ...string) Option { return func(o *options) { o.args = append(o.args, args...) } }

// ReplicaOf makes the server a replica of primary.
func ReplicaOf(primary *Server) Option {
	return func(o *options) {
		host, port, _ := net.SplitHostPort(primary.Addr())
		o.args = append(o.args, "--replicaof", host, port)
	}
}

// StartSentinel runs a Redis Sentinel (redis-server --sentinel) that monitors
// primary as master name, with a quorum of one and failure detection after
// downAfter, and kills it when the test ends.
func StartSentinel(t testing.TB, primary *Server, name string, downAfter time.Duration) *Server {
	t.Helper()
	host, port, _ := net.SplitHostPort(primary.Addr())
	conf := fmt.Sprintf("bind 127.0.0.1\nprotected-mode no\nsentinel resolve-hostnames no\n"+
		"sentinel monitor %[1]s %[2]s %[3]s 1\nsentinel down-after-milliseconds %[1]s %[4]d\n"+
		"sentinel failover-timeout %[1]s 10000\nsentinel parallel-syncs %[1]s 1\n", name, host, port, downAfter.Milliseconds())
	return Start(t, func(o *options) { o.sentinel = conf })
}

// WaitReplicated waits until replica's link to its primary is up, or fails
// the test after readyTimeout.
func WaitReplicated(t testing.TB, replica *Server) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		info, err := command(replica.Addr(), "INFO replication")
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: replica %s not in sync with its primary after %v: %v\n%s", replica.Addr(), readyTimeout, err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Command sends one inline command to the server and returns the first line
// of the reply (or the whole bulk string).
func (s *Server) Command(cmd string) (string, error) { return command(s.Addr(), cmd) }

// Server is one redis-server process.
type Server struct {
	bin  string
	dir  string
	opts options

	mu     sync.Mutex
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current process has been reaped
}

// Start runs redis-server on a free 127.0.0.1 port and waits until it answers.
// The server is killed when the test ends. Without redis-server on PATH the
// test fails, or is skipped when ACTORHUB_ALLOW_SKIP_REDIS=1.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redistest: redis-server is not on PATH; install Redis ≥ 7 (apt-get install redis-server)"
		if os.Getenv(SkipEnv) == "1" {
			t.Skip(msg + " (skipped because " + SkipEnv + "=1)")
		}
		t.Fatal(msg + ", or set " + SkipEnv + "=1 to skip the tests that need it")
	}
	s := &Server{bin: bin, dir: t.TempDir()}
	for _, o := range opts {
		o(&s.opts)
	}
	t.Cleanup(s.Kill)
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ { // another process may take the port we picked
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: pick a port: %v", err)
		}
		if lastErr = s.start(port); lastErr == nil {
			return s
		}
	}
	t.Fatalf("redistest: start redis-server: %v", lastErr)
	return nil
}

// URL returns redis://127.0.0.1:PORT/0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// ClusterURL returns a URL that persistence opens as Redis Cluster (it has an
// addr= parameter).
func (s *Server) ClusterURL() string { return "redis://" + s.Addr() + "?addr=" + s.Addr() }

// Addr returns 127.0.0.1:PORT.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "127.0.0.1:" + strconv.Itoa(s.port)
}

// Dir returns the server's working directory (its AOF, nodes.conf and log).
func (s *Server) Dir() string { return s.dir }

// Kill sends SIGKILL and waits until the process is gone. No-op if it is not
// running.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Stop shuts the server down gracefully (SIGTERM), killing it if it takes
// more than 5s.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Pause stops the process (SIGSTOP): it keeps its connections but answers
// nothing, as a hung server does. Resume undoes it.
func (s *Server) Pause() { s.signal(procsig.Stop) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() { s.signal(procsig.Cont) }

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

// Restart starts the server again on the same port and directory (after Kill
// or Stop; a running server is killed first) and waits until it answers.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	s.mu.Lock()
	port := s.port
	s.mu.Unlock()
	if err := s.start(port); err != nil {
		t.Fatalf("redistest: restart redis-server on port %d: %v", port, err)
	}
}

func (s *Server) start(port int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--dir", s.dir,
		"--appendonly", "no", "--protected-mode", "no"}
	if s.opts.sentinel != "" { // a sentinel rewrites its configuration file: it must be its own
		conf := filepath.Join(s.dir, "sentinel.conf")
		if _, err := os.Stat(conf); err != nil {
			if err := os.WriteFile(conf, []byte(s.opts.sentinel), 0o644); err != nil {
				return err
			}
		}
		args = []string{conf, "--sentinel", "--port", strconv.Itoa(port), "--dir", s.dir}
	}
	if s.opts.aof {
		args[len(args)-3] = "yes"
		args = append(args, "--appendfsync", "always")
	}
	if s.opts.cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	}
	args = append(args, s.opts.args...)
	logPath := filepath.Join(s.dir, "redis.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }() // reaped by Kill/Stop through exited
	s.cmd, s.exited, s.port = cmd, exited, port
	if err := s.waitReady(port, exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		s.cmd = nil
		return fmt.Errorf("%w\n--- %s ---\n%s", err, logPath, tail(logPath))
	}
	return nil
}

// waitReady polls PING (and cluster_state) until the server is ready, it
// exited, or readyTimeout passed.
func (s *Server) waitReady(port int, exited <-chan struct{}) error {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(readyTimeout)
	assigned := false
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server on %s exited while starting", addr)
		case <-time.After(20 * time.Millisecond):
		}
		reply, err := command(addr, "PING")
		if err != nil || reply != "+PONG" {
			lastErr = fmt.Errorf("PING: %q %v", reply, err)
			continue
		}
		if !s.opts.cluster {
			return nil
		}
		if !assigned { // a restart finds its slots in nodes.conf: then this fails harmlessly
			_, _ = command(addr, "CLUSTER ADDSLOTSRANGE 0 16383")
			assigned = true
		}
		if info, err := command(addr, "CLUSTER INFO"); err == nil && strings.Contains(info, "cluster_state:ok") {
			return nil
		}
		lastErr = fmt.Errorf("cluster_state is not ok yet")
	}
	return fmt.Errorf("redis-server on %s not ready after %v: %v", addr, readyTimeout, lastErr)
}

// command sends one inline command and returns the first line of the reply,
// or the whole bulk string.
func command(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "$") {
		return line, nil
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 0 {
		return line, nil
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// freePort picks a port outside the ephemeral range: the server may be
// restarted on it after a while (see package freeport).
func freePort() (int, error) { return freeport.Pick() }

// tail returns the end of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
