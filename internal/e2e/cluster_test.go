package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/actorhub/actorhub/client"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/nodetest"
	"github.com/actorhub/actorhub/internal/procsig"
	"github.com/actorhub/actorhub/internal/redistest"
)

// heldBy creates k jobs (prefix-N) through node's HTTP API, so that they live
// on node (a job lives where it is made), and checks in the store that node
// holds them.
func heldBy(t *testing.T, rs *redistest.Server, node *nodetest.Node, prefix string, k int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := client.NewWorker(client.WorkerConfig{BaseURLs: []string{node.URL("")}})
	defer w.Close()
	rc := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer rc.Close()
	var ids []string
	for i := 0; i < k; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := w.CreateJob(ctx, id, "u", "t", nil); err != nil {
			t.Fatal(err)
		}
		if owner, err := rc.HGet(ctx, "{job:"+id+"}:state", "owner").Result(); err != nil || owner != node.ID {
			t.Fatalf("job %s made through %s is held by %q (%v)", id, node.ID, owner, err)
		}
		ids = append(ids, id)
	}
	return ids
}

// streamer emits chunks "c<i> " to jobs through the SDK worker until stopped,
// then completes them; want[job] is the text emitted.
type streamer struct {
	w    *client.Worker
	mu   sync.Mutex
	want map[string]*strings.Builder
}

// newStreamer creates the jobs through w and a streamer that emits to them.
func newStreamer(ctx context.Context, t *testing.T, w *client.Worker, jobs []string) *streamer {
	t.Helper()
	st := &streamer{w: w, want: map[string]*strings.Builder{}}
	for _, j := range jobs {
		if _, err := w.CreateJob(ctx, j, "u", "t", nil); err != nil {
			t.Fatal(err)
		}
		st.want[j] = &strings.Builder{}
	}
	return st
}

func (s *streamer) run(ctx context.Context, t *testing.T, jobs []string, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			for _, j := range jobs {
				if _, err := s.w.Emit(ctx, j, events.Completed, map[string]any{}); err != nil {
					t.Errorf("complete %s: %v", j, err)
				}
			}
			return
		case <-time.After(5 * time.Millisecond):
		}
		for _, j := range jobs {
			chunk := fmt.Sprintf("c%d ", i)
			if _, err := s.w.Emit(ctx, j, events.Chunk, map[string]any{"chunk": chunk}); err != nil {
				t.Errorf("emit %s: %v", j, err)
				return
			}
			s.mu.Lock()
			s.want[j].WriteString(chunk)
			s.mu.Unlock()
		}
	}
}

// flushAll waits until the worker's events of every job are acked.
func (s *streamer) flushAll(ctx context.Context, t *testing.T, jobs []string) {
	t.Helper()
	for _, j := range jobs {
		if err := s.w.Flush(ctx, j); err != nil {
			t.Fatalf("flush %s: %v", j, err)
		}
	}
}

// checkSubscriber waits until a subscriber saw every job's terminal event and
// checks that its text of each is exactly what the worker emitted.
func (s *streamer) checkSubscriber(t *testing.T, name string, sub *client.Subscriber, cs map[string]*collector, jobs []string, wait time.Duration) {
	t.Helper()
	for _, j := range jobs {
		c := cs[j]
		nodetest.WaitFor(t, wait, func() error {
			if !c.done() {
				return fmt.Errorf("%s: job %s at seq %d, no terminal event", name, j, sub.LastSeq(j))
			}
			return nil
		})
		c.mu.Lock()
		got := c.text.String()
		c.mu.Unlock()
		s.mu.Lock()
		want := s.want[j].String()
		s.mu.Unlock()
		if got != want {
			t.Errorf("%s, job %s: text differs from what the worker emitted (%d vs %d bytes)", name, j, len(got), len(want))
		}
	}
}

// checkJournals checks, through node n, that every job's journal is exactly
// what the worker emitted and ends with the terminal event.
func (s *streamer) checkJournals(t *testing.T, n *nodetest.Node, jobs []string) {
	t.Helper()
	for _, j := range jobs {
		chunks, last := journalText(t, n, j)
		if strings.Join(chunks, "") != s.want[j].String() || last.str("event") != "job:completed:v1" {
			t.Errorf("journal of %s differs from what the worker emitted, or does not end with the terminal event", j)
		}
	}
}

// follow starts a Subscriber on urls that follows every job from seq 0, each
// into a collector of its own; wg waits for it to stop with ctx.
func follow(ctx context.Context, t *testing.T, wg *sync.WaitGroup, urls, jobs []string, backoff client.Backoff) (*client.Subscriber, map[string]*collector) {
	cs := map[string]*collector{}
	for _, j := range jobs {
		cs[j] = &collector{t: t}
	}
	sub := client.NewSubscriber(client.SubscriberConfig{URLs: urls, Backoff: backoff, Handler: func(ev events.Event) { cs[ev.JobID].handle(ev) }})
	for _, j := range jobs {
		sub.Subscribe(j, 0)
	}
	wg.Add(1)
	go func() { defer wg.Done(); _ = sub.Run(ctx) }()
	return sub, cs
}

// TestClusterKillOwner: 3 nodes, jobs streaming, clients on the surviving
// nodes; kill -9 of the node that owns some jobs mid-stream. Every client's
// stream continues with no gap and no duplicate and without reconnecting, the
// text equals what the worker emitted, the terminal event is last, and no
// stale write was accepted.
func TestClusterKillOwner(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	nodes := nodetest.StartCluster(t, 3, rs.URL())
	victim := nodes[2]
	jobs := append(heldBy(t, rs, victim, "kv", 3), heldBy(t, rs, nodes[0], "k0", 1)...)
	jobs = append(jobs, heldBy(t, rs, nodes[1], "k1", 1)...)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	w := client.NewWorker(client.WorkerConfig{BaseURLs: []string{nodes[0].URL(""), nodes[1].URL("")},
		Backoff: client.Backoff{Min: 20 * time.Millisecond, Max: 300 * time.Millisecond}})
	defer w.Close()
	st := newStreamer(ctx, t, w, jobs)
	// subscribers on the two nodes that survive
	var cols []map[string]*collector
	var subs []*client.Subscriber
	var wg sync.WaitGroup
	for _, n := range nodes[:2] {
		sub, cs := follow(ctx, t, &wg, []string{n.WS("/ws")}, jobs, client.Backoff{})
		cols, subs = append(cols, cs), append(subs, sub)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); st.run(ctx, t, jobs, stop) }()
	time.Sleep(1500 * time.Millisecond)
	victim.Kill()
	nodetest.WaitConverged(t, nodes[:2], 2, 15*time.Second)
	time.Sleep(2 * time.Second)
	close(stop)
	<-done
	st.flushAll(ctx, t, jobs)
	for i, cs := range cols {
		st.checkSubscriber(t, "client on "+nodes[i].ID, subs[i], cs, jobs, 20*time.Second)
		if s := subs[i].Stats(); s.Gaps != 0 || s.OutOfOrder != 0 || s.Reconnects != 0 {
			t.Errorf("client on %s: %+v; want no gap, no reordering, no reconnect", nodes[i].ID, s)
		}
	}
	cancel()
	wg.Wait()
	st.checkJournals(t, nodes[0], jobs)
	for _, n := range nodes[:2] {
		if m := metrics(t, n); !strings.Contains(m, "actorhub_stale_writes_refused_total 0") {
			t.Errorf("node %s accepted or refused stale writes:\n%s", n.ID, grepLines(m, "stale"))
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestClusterPausedOwner: the owner of a job is paused (SIGSTOP) past failure
// detection, another node takes the job over with a higher epoch, then the
// paused node resumes (SIGCONT). Its stale actors' writes are refused (and
// counted), it rejoins, and the journal has exactly what the worker emitted:
// never two writers.
func TestClusterPausedOwner(t *testing.T) {
	if !procsig.Pauses() {
		t.Skip("this system cannot pause a process")
	}
	t.Parallel()
	rs := redistest.Start(t)
	nodes := nodetest.StartCluster(t, 3, rs.URL())
	victim := nodes[2]
	jobs := heldBy(t, rs, victim, "ps", 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// the worker talks to the victim too: it keeps writing there until paused
	w := client.NewWorker(client.WorkerConfig{BaseURLs: []string{victim.URL(""), nodes[0].URL(""), nodes[1].URL("")},
		AckTimeout: 2 * time.Second, Backoff: client.Backoff{Min: 20 * time.Millisecond, Max: 300 * time.Millisecond}})
	defer w.Close()
	st := newStreamer(ctx, t, w, jobs)
	var subWG sync.WaitGroup
	sub, cs := follow(ctx, t, &subWG, []string{nodes[0].WS("/ws")}, jobs, client.Backoff{})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); st.run(ctx, t, jobs, stop) }()
	time.Sleep(time.Second)
	victim.Signal(procsig.Stop)
	nodetest.WaitConverged(t, nodes[:2], 2, 15*time.Second)
	time.Sleep(time.Second) // the survivors own the jobs now and write
	victim.Signal(procsig.Cont)
	nodetest.WaitConverged(t, nodes, 3, 30*time.Second) // it rejoins as a normal member
	time.Sleep(time.Second)
	close(stop)
	<-done
	st.flushAll(ctx, t, jobs)
	st.checkSubscriber(t, "client on "+nodes[0].ID, sub, cs, jobs, 20*time.Second)
	st.checkJournals(t, nodes[0], jobs)
	cancel()
	subWG.Wait()
	// the worker's frames that waited in the paused node's socket were written
	// by its stale actors on SIGCONT: refused, and counted
	if line := grepLines(metrics(t, victim), "actorhub_stale_writes_refused_total "); strings.HasSuffix(line, " 0") {
		t.Errorf("the paused node should have had stale writes refused: %s", line)
	}
}

// TestClusterJoinAndRollingRestart: under load, a fourth node joins (no job
// moves: jobs stay where they live), then every node in turn is
// drained with SIGTERM (exit 0) and started again. Clients follow reconnect
// frames to other nodes and resume from their last seq; the worker resends
// what was not acked. Nothing is lost, nothing duplicated, and every journal
// is exactly what the worker emitted.
func TestClusterJoinAndRollingRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of rolling restarts")
	}
	t.Parallel()
	rs := redistest.Start(t)
	nodes := nodetest.StartCluster(t, 3, rs.URL(), "--drain-timeout", "10s")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	var jobs []string
	for i := 0; i < 12; i++ {
		jobs = append(jobs, fmt.Sprintf("rr-%d", i))
	}
	urls := func(f func(*nodetest.Node) string) []string {
		var out []string
		for _, n := range nodes {
			out = append(out, f(n))
		}
		return out
	}
	fourth := nodetest.Start(t, nodetest.Options{Store: rs.URL(), Args: []string{"--join", nodes[0].Gossip, "--drain-timeout", "10s"}})
	fourth.Kill() // started once to reserve its ports; it joins under load below
	w := client.NewWorker(client.WorkerConfig{BaseURLs: urls(func(n *nodetest.Node) string { return n.URL("") }),
		AckTimeout: 2 * time.Second, Backoff: client.Backoff{Min: 20 * time.Millisecond, Max: 300 * time.Millisecond}})
	defer w.Close()
	st := newStreamer(ctx, t, w, jobs)
	var subs []*client.Subscriber
	var cols []map[string]*collector
	var wg sync.WaitGroup
	for i := range nodes {
		// each subscriber starts on its own node and moves on when told to
		u := urls(func(n *nodetest.Node) string { return n.WS("/ws") })
		u = append(u[i:], u[:i]...)
		sub, cs := follow(ctx, t, &wg, u, jobs, client.Backoff{Min: 20 * time.Millisecond, Max: 300 * time.Millisecond})
		subs, cols = append(subs, sub), append(cols, cs)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); st.run(ctx, t, jobs, stop) }()
	time.Sleep(time.Second)
	fourth.Restart(t)
	all := append(append([]*nodetest.Node{}, nodes...), fourth)
	nodetest.WaitConverged(t, all, 4, 30*time.Second)
	time.Sleep(time.Second)
	for i, n := range nodes {
		n.Signal(syscall.SIGTERM)
		if code, ok := n.Wait(20 * time.Second); !ok || code != 0 {
			t.Fatalf("node %s drain: exit %d (exited %v)", n.ID, code, ok)
		}
		others := []*nodetest.Node{}
		for _, o := range all {
			if o != n {
				others = append(others, o)
			}
		}
		nodetest.WaitConverged(t, others, 3, 30*time.Second)
		n.RestartWith(t, "--join", others[0].Gossip)
		nodetest.WaitConverged(t, all, 4, 30*time.Second)
		t.Logf("node %d (%s) drained and back", i, n.ID)
		time.Sleep(500 * time.Millisecond)
	}
	close(stop)
	<-done
	st.flushAll(ctx, t, jobs)
	for i, cs := range cols {
		st.checkSubscriber(t, fmt.Sprintf("subscriber %d", i), subs[i], cs, jobs, 30*time.Second)
		if s := subs[i].Stats(); s.Gaps != 0 || s.OutOfOrder != 0 {
			t.Errorf("subscriber %d: %+v; want no gap and no reordering", i, s)
		}
	}
	cancel()
	wg.Wait()
	st.checkJournals(t, fourth, jobs)
}
