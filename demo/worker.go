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
// and streams an answer to it token by token through the worker API.
type Worker struct {
	w      *client.Worker
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	slots  chan struct{}
	// TokenDelay is the mean pause between tokens.
	TokenDelay time.Duration
}

// NewWorker creates a demo worker that talks to the node at baseURL (http://host:port).
func NewWorker(baseURL string, log *slog.Logger) *Worker {
	ctx, cancel := context.WithCancel(context.Background())
	return &Worker{
		w:   client.NewWorker(client.WorkerConfig{BaseURLs: []string{baseURL}, Logger: log}),
		log: log, ctx: ctx, cancel: cancel, slots: make(chan struct{}, MaxJobs), TokenDelay: 60 * time.Millisecond,
	}
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
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<10))
	if err != nil || json.Unmarshal(b, &req) != nil || strings.TrimSpace(req.Prompt) == "" {
		writeJSON(w, 400, map[string]string{"error": events.CodeBadRequest, "message": `send {"prompt":"…"} (at most 8 KiB)`})
		return
	}
	select {
	case d.slots <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "2")
		writeJSON(w, 429, map[string]string{"error": events.CodeRateLimited, "message": fmt.Sprintf("%d demo jobs are streaming; try again shortly", MaxJobs)})
		return
	}
	var rb [6]byte
	_, _ = rand.Read(rb[:])
	jobID := "demo-" + hex.EncodeToString(rb[:])
	if _, err := d.w.CreateJob(r.Context(), jobID, "demo", "demo:llm", map[string]string{"prompt": req.Prompt}); err != nil {
		<-d.slots
		writeJSON(w, 503, map[string]string{"error": events.CodeUnavailable, "message": "create job: " + err.Error()})
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer func() { <-d.slots }()
		if err := d.stream(d.ctx, jobID, req.Prompt); err != nil && d.ctx.Err() == nil {
			d.log.Warn("demo job failed", "job", jobID, "err", err)
		}
	}()
	writeJSON(w, 201, map[string]string{"jobId": jobID})
}

// stream emits job:running, the answer's tokens with progress, then job:completed.
func (d *Worker) stream(ctx context.Context, jobID, prompt string) error {
	start := time.Now()
	tokens := Answer(prompt)
	emit := func(name string, data any) error {
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
