package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/actorhub/actorhub/client"
	"github.com/actorhub/actorhub/demo"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/backoff"
)

// runDemoWorker runs the simulated LLM outside the nodes: it answers POST
// /api/demo/prompt (a node started with --demo-worker passes its page's
// prompts here) and streams through the public worker API to whichever node is
// up, so an answer goes on when a node dies.
func runDemoWorker(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo-worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("http", "127.0.0.1:9100", "listen address of POST /api/demo/prompt")
	nodes := fs.String("nodes", "http://127.0.0.1:8080", "the nodes' HTTP base URLs, comma-separated")
	delay := fs.Duration("token-delay", 60*time.Millisecond, "mean pause between tokens")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := envOverlay(fs); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	w := demo.NewWorker(strings.Split(*nodes, ","), log)
	w.TokenDelay = *delay
	mux := http.NewServeMux()
	mux.Handle("POST /api/demo/prompt", w)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Fprintf(stderr, "actorhub demo-worker: POST http://%s/api/demo/prompt, streaming to %s\n", ln.Addr(), *nodes)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	w.Stop()
	return nil
}

// demoPrompts are what the scripted users ask.
var demoPrompts = []string{
	"what happens to my stream when a node dies?",
	"explain journals and snapshots",
	"why actors for realtime jobs?",
	"how does a client resume without a gap?",
	"what does gossip do in a cluster?",
	"how is a worker's retry made safe?",
	"compare this with a Redis pub/sub adapter",
	"what is an epoch?",
}

// watcher is one scripted user's connection: a Subscriber on every node (it
// starts on one and fails over to the others) that keeps each job's text.
type watcher struct {
	name string
	sub  *client.Subscriber
	mu   sync.Mutex
	text map[string]*strings.Builder
	seq  map[string]int64
	bad  []string // events that came out of order (never, if the hub keeps its promise)
}

func (w *watcher) handle(ev events.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ev.Seq != w.seq[ev.JobID]+1 {
		w.bad = append(w.bad, fmt.Sprintf("%s: seq %d after %d", ev.JobID, ev.Seq, w.seq[ev.JobID]))
	}
	w.seq[ev.JobID] = ev.Seq
	if ev.Name == events.Chunk {
		var c events.ChunkData
		_ = json.Unmarshal(ev.Data, &c)
		b := w.text[ev.JobID]
		if b == nil {
			b = &strings.Builder{}
			w.text[ev.JobID] = b
		}
		b.WriteString(c.Chunk)
	}
}

// runDemoUsers is the headless audience of scripts/run-demo.sh: scripted users
// ask the demo model one prompt after another through the nodes, watch their
// answers (some users twice, from two nodes), and at the end compare every
// watcher's text with the job's journal. It exits 1 on any difference, gap or
// repeat, or a job that did not complete.
func runDemoUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo-users", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodes := fs.String("nodes", "http://127.0.0.1:8080", "the nodes' HTTP base URLs, comma-separated")
	users := fs.Int("users", 9, "scripted users (every third one watches from two nodes)")
	duration := fs.Duration("duration", 60*time.Second, "how long users keep asking; then every answer must end and match")
	settle := fs.Duration("settle", 90*time.Second, "how long the answers asked for may take to end after that")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := envOverlay(fs); err != nil {
		return err
	}
	bases := strings.Split(*nodes, ",")
	if *users < 1 || len(bases) == 0 {
		return errors.New("demo-users: --users ≥ 1 and --nodes are required")
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	hc := &http.Client{Timeout: 10 * time.Second}

	var watchers []*watcher
	var wg sync.WaitGroup
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	newWatcher := func(name string, first int) *watcher {
		urls := make([]string, len(bases))
		for i := range bases {
			urls[i] = strings.Replace(bases[(first+i)%len(bases)], "http", "ws", 1) + "/ws"
		}
		w := &watcher{name: name, text: map[string]*strings.Builder{}, seq: map[string]int64{}}
		w.sub = client.NewSubscriber(client.SubscriberConfig{URLs: urls, User: "demo", Handler: w.handle,
			Backoff: client.Backoff{Min: 50 * time.Millisecond, Max: time.Second}})
		watchers = append(watchers, w)
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.sub.Run(runCtx) }()
		return w
	}

	var mu sync.Mutex
	var jobs []string
	started := time.Now()
	var askers sync.WaitGroup
	for u := range *users {
		ws := []*watcher{newWatcher(fmt.Sprintf("user%d", u+1), u)}
		if u%3 == 2 {
			ws = append(ws, newWatcher(fmt.Sprintf("user%d'", u+1), u+1)) // the same user on another node
		}
		askers.Add(1)
		go func() {
			defer askers.Done()
			r := rand.New(rand.NewPCG(uint64(u), 7))
			for n := 0; time.Since(started) < *duration && ctx.Err() == nil; n++ {
				prompt := demoPrompts[r.IntN(len(demoPrompts))]
				jobID, err := ask(ctx, hc, bases, u+n, prompt)
				if err != nil {
					fmt.Fprintf(stdout, "%6.1fs  user%d: prompt refused: %v\n", time.Since(started).Seconds(), u+1, err)
					backoff.Sleep(ctx, time.Second)
					continue
				}
				for _, w := range ws {
					w.sub.Subscribe(jobID, 0)
				}
				mu.Lock()
				jobs = append(jobs, jobID)
				mu.Unlock()
				// the next prompt once this answer ended (or the run is over)
				for time.Since(started) < *duration+*settle && ctx.Err() == nil {
					if st, err := jobState(ctx, hc, bases, jobID); err == nil && st.Status.Terminal() {
						break
					}
					backoff.Sleep(ctx, 500*time.Millisecond)
				}
			}
		}()
	}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	done := make(chan struct{})
	go func() { askers.Wait(); close(done) }()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			mu.Lock()
			n := len(jobs)
			mu.Unlock()
			var evs int64
			for _, w := range watchers {
				evs += w.sub.Stats().Events
			}
			fmt.Fprintf(stdout, "%6.1fs  %d jobs asked, %d events delivered to %d watchers\n", time.Since(started).Seconds(), n, evs, len(watchers))
		}
	}

	// every job ended: each watcher must have all of it, and the same text
	deadline := time.Now().Add(*settle)
	failures := 0
	completed := 0
	for _, jobID := range jobs {
		st, err := waitJob(ctx, hc, bases, jobID, deadline)
		if err != nil {
			fmt.Fprintf(stdout, "FAIL %s: %v\n", jobID, err)
			failures++
			continue
		}
		if st.Status == events.StatusCompleted {
			completed++
		}
		for _, w := range watchers {
			if w.sub.LastSeq(jobID) == 0 && !watches(w, jobID) {
				continue
			}
			for w.sub.LastSeq(jobID) < st.LastSequence && time.Now().Before(deadline) {
				backoff.Sleep(ctx, 50*time.Millisecond)
			}
			w.mu.Lock()
			got := ""
			if b := w.text[jobID]; b != nil {
				got = b.String()
			}
			seq := w.seq[jobID]
			w.mu.Unlock()
			if seq != st.LastSequence || got != st.Output {
				fmt.Fprintf(stdout, "FAIL %s on %s: seq %d of %d, text %d of %d bytes equal=%v\n", jobID, w.name, seq, st.LastSequence, len(got), len(st.Output), got == st.Output)
				failures++
			}
		}
	}
	cancelRun()
	wg.Wait()
	var gapsOrRepeats int
	for _, w := range watchers {
		for _, b := range w.bad {
			fmt.Fprintf(stdout, "FAIL %s: %s\n", w.name, b)
		}
		gapsOrRepeats += len(w.bad)
	}
	fmt.Fprintf(stdout, "demo-users: %d jobs (%d completed), %d watchers, %d mismatches, %d gaps or repeats\n",
		len(jobs), completed, len(watchers), failures, gapsOrRepeats)
	if len(jobs) == 0 || failures > 0 || gapsOrRepeats > 0 {
		return errors.New("demo-users: some watcher's text differs from its job's journal")
	}
	fmt.Fprintln(stdout, "demo-users: every watcher's text equals its job's journal: 0 missing, 0 repeated")
	return nil
}

func watches(w *watcher, jobID string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.seq[jobID]
	return ok
}

// ask posts a prompt to one node after another until one takes it.
func ask(ctx context.Context, hc *http.Client, bases []string, first int, prompt string) (string, error) {
	body, _ := json.Marshal(map[string]string{"prompt": prompt})
	var last error
	for i := range bases {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, bases[(first+i)%len(bases)]+"/api/demo/prompt", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			last = err
			continue
		}
		var out struct {
			JobID   string `json:"jobId"`
			Message string `json:"message"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode == http.StatusCreated && out.JobID != "" {
			return out.JobID, nil
		}
		last = fmt.Errorf("%s: %d %s", bases[(first+i)%len(bases)], resp.StatusCode, out.Message)
	}
	return "", last
}

// jobState asks the nodes in turn for a job's state.
func jobState(ctx context.Context, hc *http.Client, bases []string, jobID string) (events.JobState, error) {
	var last error
	first := rand.IntN(len(bases))
	for k := range bases {
		i := (first + k) % len(bases)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, bases[i]+"/api/job/"+jobID+"/state", nil)
		resp, err := hc.Do(req)
		if err != nil {
			last = err
			continue
		}
		var st events.JobState
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if resp.StatusCode == 200 && err == nil {
			return st, nil
		}
		last = fmt.Errorf("%s: %d", bases[i], resp.StatusCode)
	}
	return events.JobState{}, last
}

// waitJob waits until the job ended, or the deadline.
func waitJob(ctx context.Context, hc *http.Client, bases []string, jobID string, deadline time.Time) (events.JobState, error) {
	for {
		st, err := jobState(ctx, hc, bases, jobID)
		if err == nil && st.Status.Terminal() {
			return st, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err == nil {
				err = fmt.Errorf("still %s at seq %d", st.Status, st.LastSequence)
			}
			return st, err
		}
		backoff.Sleep(ctx, 250*time.Millisecond)
	}
}
