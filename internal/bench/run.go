package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actorhub/actorhub/client"
	"github.com/actorhub/actorhub/internal/backoff"
)

// processStart is the origin of the bench's clock: emit ts and receive times
// are µs since it, from Go's monotonic clock, in this one process.
var processStart = time.Now()

func monoUs() int64 { return time.Since(processStart).Microseconds() }

// run is the state of one Run.
type run struct {
	cfg      Config
	progress io.Writer
	pmu      sync.Mutex // progress writes
	bases    []string   // http://host:port of each node
	nodes    []*node    // empty when driving Target
	hc       *http.Client
	jobIDs   []string
	clients  []*benchClient
	worker   *client.Worker

	dialSlots  chan struct{}
	subscribed atomic.Int64
	live       atomic.Int64
	gapSeqs    atomic.Int64
	errFrames  atomic.Int64

	t0        atomic.Int64 // µs: stream start; 0 before
	warmEnd   atomic.Int64 // µs: end of the warm-up
	recvBySec []atomic.Int64
	hist      histogram
	emitted   []atomic.Int64 // per job
	maxLagUs  int64

	ackMu   sync.Mutex
	ackLats []int64 // µs, emits queued after the warm-up

	phase atomic.Value // string, for progress
}

// Run performs one benchmark run and returns its report. progress (may be
// nil) gets a line per second. A watchdog ends the run Duration + 60 s after
// it started; the node child is stopped whatever happens.
func Run(ctx context.Context, cfg Config, progress io.Writer) (Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Report{}, err
	}
	if err := checkFDs(cfg.Conns); err != nil {
		return Report{}, err
	}
	if progress == nil {
		progress = io.Discard
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration+60*time.Second)
	defer cancel()
	r := &run{cfg: cfg, progress: progress, hc: &http.Client{Timeout: 5 * time.Second},
		recvBySec: make([]atomic.Int64, int((cfg.Duration+cfg.Grace).Seconds())+30)}
	r.phase.Store("starting")
	if cfg.Target != "" {
		r.bases = []string{strings.TrimRight(cfg.Target, "/")}
	} else {
		defer func() {
			for _, n := range r.nodes {
				n.stop()
			}
		}()
		for i := range cfg.Nodes {
			join := ""
			if i > 0 {
				join = r.nodes[0].gossip
			}
			n, err := startNode(cfg, i, join)
			if err != nil {
				return Report{}, err
			}
			r.nodes, r.bases = append(r.nodes, n), append(r.bases, n.http)
		}
	}
	rep, err := r.execute(ctx)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		err = fmt.Errorf("bench: watchdog: the run took longer than Duration + 60 s: %w", err)
	}
	return rep, err
}

// execute runs the phases; every goroutine it starts has stopped when it returns.
func (r *run) execute(ctx context.Context) (Report, error) {
	cfg := r.cfg
	readyCtx, cancelReady := context.WithTimeout(ctx, 20*time.Second)
	err := r.waitReady(readyCtx)
	cancelReady()
	if err != nil {
		return Report{}, err
	}
	progDone := make(chan struct{})
	progCtx, stopProg := context.WithCancel(ctx)
	go func() { defer close(progDone); r.progressLoop(progCtx) }()
	defer func() { stopProg(); <-progDone }()

	r.worker = client.NewWorker(client.WorkerConfig{BaseURLs: r.bases, Transport: cfg.Transport,
		Conns: cfg.WorkerConns, OnAck: r.onAck, MaxPending: max(4096, int(cfg.Rate*10)/cfg.Jobs)})
	defer r.worker.Close()
	cctx, cancelCreate := context.WithTimeout(ctx, 30*time.Second)
	err = r.createJobs(cctx)
	cancelCreate()
	if err != nil {
		return Report{}, err
	}
	rssBefore := r.rss()

	subCtx, stopSubs := context.WithCancel(ctx)
	var subs sync.WaitGroup
	defer func() { stopSubs(); subs.Wait() }()
	r.phase.Store("connecting")
	connectTime, err := r.connect(ctx, subCtx, &subs)
	if err != nil {
		return Report{}, err
	}
	r.logf("%d subscribers connected and subscribed in %.2f s", cfg.Conns, connectTime.Seconds())
	r.phase.Store("settling")
	if !backoff.Sleep(ctx, cfg.Settle) {
		return Report{}, ctx.Err()
	}
	rssAfter := r.rss()

	r.phase.Store("streaming")
	win, err := r.stream(ctx)
	if err != nil {
		return Report{}, err
	}
	r.phase.Store("draining")
	flushErr := r.drain(ctx)
	serverRSS := r.rss()
	stopSubs()
	subs.Wait()
	if flushErr != nil {
		r.logf("worker: %v", flushErr)
	}
	return r.report(connectTime, rssBefore, rssAfter, serverRSS, win), nil
}

func (r *run) waitReady(ctx context.Context) error {
	if len(r.nodes) == 0 {
		for {
			err := getOK(ctx, r.hc, r.bases[0]+"/readyz")
			if err == nil {
				return nil
			}
			if !backoff.Sleep(ctx, 100*time.Millisecond) {
				return fmt.Errorf("bench: %s is not ready: %w", r.bases[0], err)
			}
		}
	}
	for _, n := range r.nodes {
		if err := n.waitReady(ctx, r.hc); err != nil {
			return err
		}
	}
	if len(r.nodes) == 1 {
		return nil
	}
	// a cluster: every node sees every node alive before the jobs are placed
	for _, n := range r.nodes {
		for {
			alive, err := client.AliveMembers(ctx, r.hc, n.http)
			if err == nil && alive == len(r.nodes) {
				break
			}
			if err := r.check(ctx); err != nil {
				return err
			}
			if !backoff.Sleep(ctx, 100*time.Millisecond) {
				return fmt.Errorf("bench: %s sees %d of %d nodes alive (%v)", n.http, alive, len(r.nodes), err)
			}
		}
	}
	r.logf("%d nodes ready and clustered", len(r.nodes))
	return nil
}

// check fails when ctx ended or the node died.
func (r *run) check(ctx context.Context) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for _, n := range r.nodes {
		if !n.alive() {
			return fmt.Errorf("%w (%v); its output ends with:\n%s", errNodeDied, n.err, n.tail)
		}
	}
	return nil
}

// createJobs creates the J jobs, 16 at a time; their ids are new every run.
func (r *run) createJobs(ctx context.Context) error {
	prefix := fmt.Sprintf("bench%d-%d-", time.Now().UnixMilli(), pidSelf())
	r.jobIDs = make([]string, r.cfg.Jobs)
	r.emitted = make([]atomic.Int64, r.cfg.Jobs)
	for j := range r.jobIDs {
		r.jobIDs[j] = fmt.Sprintf("%s%d", prefix, j)
	}
	// on "subscriber", job j is made through the node of subscriber j, by a
	// Worker whose one node that is (it makes a job through its lane's node)
	var through []*client.Worker
	if r.cfg.CreateOn == "subscriber" {
		for _, b := range r.bases {
			cw := client.NewWorker(client.WorkerConfig{BaseURLs: []string{b}, HTTPClient: r.hc})
			defer cw.Close()
			through = append(through, cw)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(r.jobIDs))
	sem := make(chan struct{}, 16)
	for j, id := range r.jobIDs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			w := r.worker
			if through != nil {
				w = through[j%len(through)]
			}
			if _, err := w.CreateJob(ctx, id, "bench", "bench", nil); err != nil {
				errs <- fmt.Errorf("bench: create job %s: %w", id, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs // nil when none failed
}

func (r *run) onAck(_ string, _ int64, queuedAt time.Time) {
	if queuedAt.Sub(processStart).Microseconds() < r.warmEnd.Load() || r.warmEnd.Load() == 0 {
		return
	}
	lat := time.Since(queuedAt).Microseconds()
	r.ackMu.Lock()
	r.ackLats = append(r.ackLats, lat)
	r.ackMu.Unlock()
}

// rss reads the nodes' VmRSS, summed; not ok when driving Target.
func (r *run) rss() rssReading {
	if len(r.nodes) == 0 {
		return rssReading{}
	}
	var sum int64
	for _, n := range r.nodes {
		kb, err := procRSS(n.pid)
		if err != nil {
			return rssReading{}
		}
		sum += kb
	}
	return rssReading{kb: sum, ok: true}
}

// pids are the child nodes' process ids.
func (r *run) pids() []string {
	out := make([]string, len(r.nodes))
	for i, n := range r.nodes {
		out[i] = n.pid
	}
	return out
}

func (r *run) logf(format string, a ...any) {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	fmt.Fprintf(r.progress, "[bench] "+format+"\n", a...)
}

// progressLoop writes a line per second until ctx ends.
func (r *run) progressLoop(ctx context.Context) {
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		perSec := int64(0)
		if t0 := r.t0.Load(); t0 > 0 {
			if sec := (monoUs()-t0)/1e6 - 1; sec >= 0 && sec < int64(len(r.recvBySec)) {
				perSec = r.recvBySec[sec].Load()
			}
		}
		r.logf("%5.1fs %-10s conns %d/%d subscribed %d delivered/s %d p99 %.1f ms lost so far %d",
			time.Since(start).Seconds(), r.phase.Load(), r.live.Load(), r.cfg.Conns, r.subscribed.Load(),
			perSec, float64(r.hist.quantile(99))/1000, r.gapSeqs.Load())
	}
}
