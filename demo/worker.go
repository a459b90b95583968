package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/actorhub/actorhub/client"
	"github.com/actorhub/actorhub/events"
)

// MaxJobs bounds the demo jobs streaming at once.
const MaxJobs = 32

// Worker is the simulated LLM: POST /api/demo/prompt {"prompt"} creates a job
// and streams an answer to it token by token through the worker API;
// {"prompt","jobId"} answers a job a client created (type demo:llm), once: a
// job this node answers already, or one that ended, is left alone, and one
// that an earlier answer left half done goes on from its nextOffset.
type Worker struct {
	w      *client.Worker
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	slots  chan struct{}

	mu      sync.Mutex
	running map[string]context.CancelFunc // jobs this node answers now
	// TokenDelay is the mean pause between tokens.
	TokenDelay time.Duration
}

// NewWorker creates a demo worker that talks to the nodes at baseURLs
// (http://host:port): its Go SDK worker fails over from one to the next, so
// an answer goes on when the node it used dies (when the worker runs outside
// that node: `actorhub demo-worker`).
func NewWorker(baseURLs []string, log *slog.Logger) *Worker {
	ctx, cancel := context.WithCancel(context.Background())
	d := &Worker{
		log: log, ctx: ctx, cancel: cancel, slots: make(chan struct{}, MaxJobs), TokenDelay: 60 * time.Millisecond,
		running: map[string]context.CancelFunc{},
	}
	// a cancelled job stops at once: the node pushes the cancellation
	d.w = client.NewWorker(client.WorkerConfig{BaseURLs: baseURLs, Logger: log, OnCancel: func(jobID, _ string) { d.Cancelled(jobID) }})
	return d
}

// Start is a no-op kept for symmetry: jobs start with requests.
func (d *Worker) Start() {}

// Stop cancels the running demo jobs and waits for them.
func (d *Worker) Stop() {
	d.cancel()
	d.wg.Wait()
	d.w.Close()
}

// ServeHTTP handles POST /api/demo/prompt.
func (d *Worker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Prompt string `json:"prompt"`
		JobID  string `json:"jobId"`
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<10))
	if err != nil || json.Unmarshal(b, &req) != nil || strings.TrimSpace(req.Prompt) == "" {
		writeJSON(w, 400, map[string]string{"error": events.CodeBadRequest, "message": `send {"prompt":"…","jobId"?:"…"} (at most 8 KiB)`})
		return
	}
	if req.JobID != "" {
		if err := events.ValidateJobID(req.JobID); err != nil {
			writeJSON(w, 400, map[string]string{"error": events.CodeBadRequest, "message": err.Error()})
			return
		}
	}
	select {
	case d.slots <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "2")
		writeJSON(w, 429, map[string]string{"error": events.CodeRateLimited, "message": fmt.Sprintf("%d demo jobs are streaming; try again shortly", MaxJobs)})
		return
	}
	jobID := req.JobID
	if jobID == "" {
		var rb [6]byte
		_, _ = rand.Read(rb[:])
		jobID = "demo-" + hex.EncodeToString(rb[:])
	}
	job, err := d.w.CreateJob(r.Context(), jobID, "demo", "demo:llm", map[string]string{"prompt": req.Prompt})
	switch {
	case err == nil && job.UserID != "" && (job.UserID != "demo" || job.Type != "demo:llm"): // it existed: whose is it?
		<-d.slots
		writeJSON(w, 409, map[string]string{"error": events.CodeJobExists, "message": "job " + jobID + " is not a demo:llm job of user demo"})
		return
	case err != nil:
		<-d.slots
		writeJSON(w, 503, map[string]string{"error": events.CodeUnavailable, "message": "create job: " + err.Error()})
		return
	}
	ctx, stop := context.WithCancel(d.ctx)
	d.mu.Lock()
	_, busy := d.running[jobID]
	if !busy && !job.Status.Terminal() {
		d.running[jobID] = stop
	}
	d.mu.Unlock()
	if busy || job.Status.Terminal() {
		stop()
		<-d.slots
		writeJSON(w, 200, map[string]any{"jobId": jobID, "status": job.Status, "answering": busy})
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer func() { <-d.slots }()
		defer func() {
			d.mu.Lock()
			delete(d.running, jobID)
			d.mu.Unlock()
			stop()
		}()
		if err := d.stream(ctx, jobID, req.Prompt, job.NextOffset); err != nil && ctx.Err() == nil {
			d.log.Warn("demo job failed", "job", jobID, "err", err)
		}
	}()
	writeJSON(w, 201, map[string]string{"jobId": jobID})
}

// Cancelled stops answering jobID (its job was cancelled).
func (d *Worker) Cancelled(jobID string) {
	d.mu.Lock()
	stop := d.running[jobID]
	d.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// stream emits job:running, the answer's tokens with progress, then
// job:completed: the same events, at the same offsets, for the same prompt,
// so that an answer an earlier process left half done goes on after the
// skip events it has in the journal (its nextOffset).
func (d *Worker) stream(ctx context.Context, jobID, prompt string, skip int64) error {
	start := time.Now()
	tokens := Answer(prompt)
	if err := d.w.ResumeJob(jobID, skip); err != nil {
		return err
	}
	var n int64 // events of the answer so far
	emit := func(name string, data any) error {
		n++
		if n <= skip {
			return nil
		}
		_, err := d.w.Emit(ctx, jobID, name, data)
		return err
	}
	if err := emit(events.Running, map[string]any{}); err != nil {
		return err
	}
	h := fnv.New64a()
	h.Write([]byte(prompt))
	seed := h.Sum64()
	for i, tok := range tokens {
		seed = seed*6364136223846793005 + 1442695040888963407
		pause := d.TokenDelay/2 + time.Duration(seed>>33)%d.TokenDelay
		if n < skip {
			pause = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		if err := emit(events.Chunk, map[string]any{"chunk": tok, "index": i, "total": len(tokens)}); err != nil {
			return err
		}
		if (i+1)%10 == 0 {
			pct := float64(i+1) * 100 / float64(len(tokens))
			if err := emit(events.Progress, map[string]any{"progress": pct, "step": "generating"}); err != nil {
				return err
			}
		}
	}
	text := strings.Join(tokens, "")
	if err := emit(events.Completed, map[string]any{"result": map[string]string{"text": text},
		"tokens": len(tokens), "duration": time.Since(start).Seconds()}); err != nil {
		return err
	}
	return d.w.Flush(ctx, jobID)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
