package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/actorhub/actorhub/client"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/backoff"
	"github.com/actorhub/actorhub/internal/procsig"
	"github.com/actorhub/actorhub/persistence"
)

// cluster is the running system under test.
type cluster struct {
	cfg   Config
	store string
	redis *redis
	// servers and sentinel are the store of a redis-failover run (redis is
	// nil then): servers[0] starts as the primary
	servers  []*redis
	sentinel *redis
	nodes    []*node
	probes   []*probe // of the partitions so far (probe.go)
	// probeTries numbers the probes tried, those that could not start too
	probeTries int
	audit      *persistence.Redis // the store, read by verify
}

// Run runs the chaos schedule and returns its report; the report's
// Violations say whether the system kept its invariants.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &cluster{cfg: cfg, store: cfg.Store}
	defer c.stop()
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	slots := newSlots(cfg)
	seconds := int((cfg.Duration+2*time.Minute)/time.Second) + 1
	rec := newRecord(slots, cfg.Clients, seconds)
	rep := &Report{Config: reportConfig(cfg), Start: rec.start}
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration+3*time.Minute) // a hard bound on everything below
	defer cancel()

	w := client.NewWorker(client.WorkerConfig{BaseURLs: c.urls(""), Conns: 2, AckTimeout: 2 * time.Second,
		Backoff: client.Backoff{Min: 20 * time.Millisecond, Max: 500 * time.Millisecond}})
	defer w.Close()
	for _, s := range slots {
		if _, err := w.CreateJob(runCtx, s.job, "chaos", "chaos", nil); err != nil {
			return nil, fmt.Errorf("create job %s: %w", s.job, err)
		}
	}
	sampleCtx, stopSampling := context.WithCancel(runCtx)
	smp := newSampler(rec.start, cfg.Duration)
	sampled := make(chan struct{})
	go func() { defer close(sampled); smp.run(sampleCtx, c.nodes) }()
	subs, subsDone := c.subscribe(runCtx, rec, slots)
	rot := &rotator{c: c, w: w, rec: rec, subs: subs}
	emitDone := make(chan struct{})
	stopEmit := make(chan struct{})
	go func() {
		defer close(emitDone)
		emitLoop(runCtx, w, rec, rot, slots, cfg.Rate, cfg.ChunkBytes, stopEmit)
	}()

	c.faults(runCtx, rec, rep)
	close(stopEmit)
	<-emitDone
	rot.handoff.Wait()
	c.finish(runCtx, w, rec, slots)
	rot.wait()
	stopSampling()
	<-sampled
	rep.Nodes = smp.resources()
	cancel()
	subsDone.Wait()
	left := rec.jobs()
	c.verify(rec, rep, left, subs)
	rep.JobsVerified = rot.retired.Load() + int64(len(left))
	rep.finishStats(rec, w.Stats())
	return rep, nil
}

func (c *cluster) start(ctx context.Context) error {
	if needsOwnHosts(c.cfg.Faults) {
		if err := checkNft(); err != nil {
			return err
		}
	}
	if slices.Contains(c.cfg.Faults, FaultSlowNet) {
		if err := checkTc(); err != nil {
			return err
		}
	}
	var extra []string
	switch {
	case c.store == "" && slices.Contains(c.cfg.Faults, FaultRedisFailover):
		if err := c.startSentinel(ctx); err != nil {
			return err
		}
		if !c.cfg.NoWait {
			extra = []string{"--store-wait-replicas", "1", "--store-wait-timeout", "1s"}
		}
	case c.store == "":
		r, err := startRedis(c.cfg.Dir)
		if err != nil {
			return err
		}
		c.redis, c.store = r, r.url()
	}
	for i := 0; i < c.cfg.Nodes; i++ {
		join := ""
		if i > 0 {
			join = c.nodes[0].gossip
		}
		host := ""
		if needsOwnHosts(c.cfg.Faults) {
			host = nodeHost(i)
		}
		n, err := newNode(c.cfg.Bin, c.cfg.Dir, c.store, i, join, host)
		if err != nil {
			return err
		}
		n.args = append(n.args, extra...)
		if c.cfg.JobChunks > 0 {
			n.args = append(n.args, "--retention", RetentionAfterEnd.String())
		}
		if host != "" { // its store connections come from its address too: isolate-store cuts them
			n.args = append(n.args, "--store-source", host)
		}
		c.nodes = append(c.nodes, n)
		if err := n.start(); err != nil {
			return err
		}
		if err := n.waitReady(ctx, 30*time.Second); err != nil {
			return err
		}
	}
	return c.converged(ctx, 30*time.Second)
}

// converged waits until every running node sees every node alive.
func (c *cluster) converged(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	for _, n := range c.nodes {
		for {
			alive, err := aliveMembers(n)
			if err == nil && alive == len(c.nodes) {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("cluster did not converge: %s sees %d of %d alive (%v)", n.id, alive, len(c.nodes), err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

func (c *cluster) stop() {
	if needsOwnHosts(c.cfg.Faults) {
		_ = c.heal() // a cut left by an interrupted fault (an error: there was none)
	}
	if slices.Contains(c.cfg.Faults, FaultSlowNet) {
		_ = unshape()
	}
	for _, n := range c.nodes {
		n.kill()
		n.log.Close()
	}
	if c.audit != nil {
		_ = c.audit.Close()
	}
	for _, r := range c.stores() {
		r.kill()
		r.log.Close()
	}
}

// stores lists the harness's redis-server processes (and sentinel).
func (c *cluster) stores() []*redis {
	var out []*redis
	if c.redis != nil {
		out = append(out, c.redis)
	}
	out = append(out, c.servers...)
	if c.sentinel != nil {
		out = append(out, c.sentinel)
	}
	return out
}

func (c *cluster) urls(path string) []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, n.url(path))
	}
	return out
}

// subscribe starts the clients: client k starts on node k mod N and moves on
// to the next node when its connection fails or it is told to reconnect.
func (c *cluster) subscribe(ctx context.Context, rec *record, slots []*slot) ([]*client.Subscriber, *sync.WaitGroup) {
	var subs []*client.Subscriber
	wg := &sync.WaitGroup{}
	for k := 0; k < c.cfg.Clients; k++ {
		var urls []string
		for i := range c.nodes {
			urls = append(urls, "ws://"+c.nodes[(k+i)%len(c.nodes)].http+"/ws")
		}
		sub := client.NewSubscriber(client.SubscriberConfig{URLs: urls, User: clientName(k), Handler: rec.handler(clientName(k)),
			OnStatus: rec.onStatus(clientName(k)), Backoff: client.Backoff{Min: 50 * time.Millisecond, Max: time.Second}})
		for _, i := range followedSlots(k, len(slots), c.cfg.Follow) {
			sub.Subscribe(slots[i].job, 0)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = sub.Run(ctx) }()
		subs = append(subs, sub)
	}
	return subs, wg
}

// emitLoop emits one chunk to each slot's job every 1/rate seconds until
// stop; a job that reached its length goes to rot, which starts the slot's
// next one (the slot skips the ticks until then).
func emitLoop(ctx context.Context, w *client.Worker, rec *record, rot *rotator, slots []*slot, rate float64, size int, stop <-chan struct{}) {
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, s := range slots {
			if s.busy.Load() {
				continue
			}
			chunk := fmt.Sprintf("%d ", i) // unique in its job, padded to the chunk size
			if pad := size - len(chunk); pad > 0 {
				chunk = strings.Repeat("-", pad) + chunk
			}
			if _, err := w.Emit(ctx, s.job, events.Chunk, map[string]any{"chunk": chunk}); err != nil {
				if ctx.Err() == nil {
					rec.violate(Inv2Acked, "worker: emit to %s refused for good: %v", s.job, err)
				}
				return
			}
			rec.emit(s.job, chunk)
			if s.chunks++; s.limit > 0 && s.chunks >= s.limit {
				rot.next(ctx, s)
			}
		}
	}
}

// faults injects the schedule until the streaming phase ends.
func (c *cluster) faults(ctx context.Context, rec *record, rep *Report) {
	rng := rand.New(rand.NewPCG(uint64(c.cfg.Seed), 0x5eed))
	end := time.Now().Add(c.cfg.Duration)
	// no fault starts in the last stretch: its effect (and the streams moving
	// again) must fall inside the streaming phase to be measured
	lastStart := end.Add(-min(10*time.Second, c.cfg.Duration/4))
	kinds := c.cfg.Faults
	if c.redis == nil && c.sentinel == nil {
		kinds = without(kinds, FaultRedisRestart)
	}
	for i := 0; ; i++ {
		wait := time.Duration(float64(c.cfg.Every) * (0.75 + 0.5*rng.Float64()))
		if time.Now().Add(wait).After(lastStart) || len(kinds) == 0 {
			backoff.Sleep(ctx, time.Until(end))
			return
		}
		if !backoff.Sleep(ctx, wait) {
			return
		}
		kind := kinds[rng.IntN(len(kinds))]
		target := c.nodes[rng.IntN(len(c.nodes))]
		f := c.inject(ctx, kind, target, rec)
		rep.Faults = append(rep.Faults, f)
		fmt.Fprintf(c.cfg.Progress, "[chaos %6.1fs] %-13s %-6s streams resumed after %s%s\n", f.AtS, f.Kind, f.Target,
			msOrNever(f.ResumedMs), f.Note)
	}
}

// inject runs one fault, brings the target back, and measures how long it
// took every stream to move again.
func (c *cluster) inject(ctx context.Context, kind string, n *node, rec *record) Fault {
	at := time.Now()
	f := Fault{Kind: kind, Target: n.id, AtS: at.Sub(rec.start).Seconds(), ResumedMs: -1}
	resumed := make(chan int64, 1) // measured while the fault runs: from its start until every stream moved again
	go func() {
		for deadline := at.Add(resumeWindow); time.Now().Before(deadline) && ctx.Err() == nil; {
			time.Sleep(20 * time.Millisecond)
			if rec.resumedSince(at) {
				resumed <- time.Since(at).Milliseconds()
				return
			}
		}
		resumed <- -1
	}()
	switch kind {
	case FaultKill:
		n.signal(syscall.SIGKILL, true)
		n.wait(10 * time.Second)
		gone := time.Now()
		backoff.Sleep(ctx, 2*time.Second)
		f.Note = c.rejoin(ctx, n, rec, &f, gone)
	case FaultRestart:
		n.signal(syscall.SIGKILL, true)
		n.wait(10 * time.Second)
		f.Note = c.restart(ctx, n)
	case FaultStop:
		n.signal(procsig.Stop, false)
		backoff.Sleep(ctx, 3*time.Second) // past failure detection: the others take its jobs
		n.signal(procsig.Cont, false)
	case FaultTerm:
		n.signal(syscall.SIGTERM, true)
		if code := n.wait(20 * time.Second); code != 0 {
			rec.violate(Inv6NoCrash, "%s: SIGTERM drain ended with exit %d (want 0 within --drain-timeout)", n.id, code)
			n.kill()
		}
		f.Note = c.rejoin(ctx, n, rec, &f, time.Now())
	case FaultRedisRestart:
		r := c.redis
		if c.sentinel != nil {
			r = c.primary()
		}
		f.Target = "redis"
		if r == nil {
			f.Note = " (the sentinel names no primary of ours)"
			break
		}
		r.kill()
		backoff.Sleep(ctx, time.Second)
		if err := r.startWait(); err != nil {
			f.Note = " (redis did not come back: " + err.Error() + ")"
		}
	case FaultRedisFailover:
		f.Target = "redis"
		f.Note = c.failover(ctx)
	case FaultPartition, FaultAsymmetric:
		f.Note = c.partition(ctx, n, kind == FaultAsymmetric)
	case FaultIsolateStore:
		f.Note = c.isolateStore(ctx, n)
	case FaultSlowNet:
		f.Target = "cluster"
		f.Note = c.slowNet(ctx)
	}
	f.ResumedMs = <-resumed
	return f
}

// resumeWindow is how long after a fault's start the streams are watched for
// all moving again; a fault after which they did not has ResumedMs -1.
const resumeWindow = 30 * time.Second

// rejoinWindow is how long after a restarted node converged the streams
// are watched for a stall its return causes.
const rejoinWindow = 3 * time.Second

// rejoin restarts n once the others took its jobs over and its clients
// moved to other nodes (every stream got an event after gone, when n's
// process had ended: an event in flight when the fault began does not count),
// and measures what its return costs the streams (no job moves to it: jobs stay
// where they live, but the job ids that hash to it find their holders through
// it): per stream, the longest time without an event from the restart until
// rejoinWindow after the node converged (f.RejoinGapsMs).
func (c *cluster) rejoin(ctx context.Context, n *node, rec *record, f *Fault, gone time.Time) string {
	for deadline := time.Now().Add(10 * time.Second); !rec.resumedSince(gone) && time.Now().Before(deadline); {
		if !backoff.Sleep(ctx, 20*time.Millisecond) {
			break
		}
	}
	rec.gapWindow(time.Now())
	note := c.restart(ctx, n)
	backoff.Sleep(ctx, rejoinWindow)
	for _, g := range rec.windowGaps(time.Now()) {
		f.RejoinGapsMs = append(f.RejoinGapsMs, g.Milliseconds())
	}
	return note
}

// restart starts n again on its ports, joining a live node.
func (c *cluster) restart(ctx context.Context, n *node) string {
	for _, o := range c.nodes {
		if o != n {
			n.args = withJoin(n.args, o.gossip)
			break
		}
	}
	if err := n.start(); err != nil {
		return " (restart failed: " + err.Error() + ")"
	}
	if err := n.waitReady(ctx, 30*time.Second); err != nil {
		return " (" + err.Error() + ")"
	}
	if err := c.converged(ctx, 30*time.Second); err != nil {
		return " (" + err.Error() + ")"
	}
	return ""
}

// finish ends every slot's job with its terminal event, waits until the
// worker's events are all acked and every client saw every terminal event.
func (c *cluster) finish(ctx context.Context, w *client.Worker, rec *record, slots []*slot) {
	var jobs []string
	for _, s := range slots {
		if !s.ended {
			jobs = append(jobs, s.job)
		}
	}
	for _, j := range jobs {
		if _, err := w.Emit(ctx, j, events.Completed, map[string]any{}); err != nil {
			rec.violate(Inv2Acked, "worker: terminal event of %s refused: %v", j, err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, j := range jobs {
		if err := w.Flush(fctx, j); err != nil {
			rec.violate(Inv2Acked, "worker: events of %s not acked: %v", j, err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !rec.allTerminal(); {
		time.Sleep(50 * time.Millisecond)
	}
}

func withJoin(args []string, join string) []string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--join" {
			args[i+1] = join
			return args
		}
	}
	return append(args, "--join", join)
}

func without(list []string, x string) []string {
	var out []string
	for _, v := range list {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

func msOrNever(ms int64) string {
	if ms < 0 {
		return fmt.Sprintf("never (%v)", resumeWindow)
	}
	return fmt.Sprintf("%d ms", ms)
}
