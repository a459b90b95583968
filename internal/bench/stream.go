package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/actorhub/actorhub/events"
)

// steady is the CPU samples of the steady window.
type steady struct {
	srvA, srvB cpuSample
	genA, genB cpuSample
}

// chunkText returns n bytes of token-like text, as the baseline's worker.js.
func chunkText(n int) string {
	const base = " the quick brown fox jumps over the lazy dog"
	return strings.Repeat(base, n/len(base)+1)[:n]
}

// appendChunkData appends {"chunk":text,"ts":ts}.
func appendChunkData(b []byte, textJSON string, ts int64) []byte {
	b = append(b, `{"chunk":`...)
	b = append(b, textJSON...)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	return append(b, '}')
}

// stream emits Rate chunks/s over the jobs for Duration: job j's k-th chunk is
// due at t0 + (j/J + k)·J/Rate. ts is taken when the chunk is handed to the
// worker, so time spent behind schedule or queued counts as latency.
func (r *run) stream(ctx context.Context) (steady, error) {
	cfg := r.cfg
	J := len(r.jobIDs)
	periodUs := 1e6 * float64(J) / cfg.Rate
	text := string(events.AppendString(nil, chunkText(cfg.ChunkBytes)))
	t0 := monoUs() + 100_000
	end := t0 + cfg.Duration.Microseconds()
	r.warmEnd.Store(t0 + cfg.Warmup.Microseconds())
	r.t0.Store(t0)
	next := make([]float64, J)
	for j := range next {
		next[j] = float64(t0) + float64(j)/float64(J)*periodUs
	}
	var win steady
	pids := r.pids()
	sampled := false
	var buf []byte
	for {
		now := monoUs()
		if !sampled && now >= r.warmEnd.Load() {
			win.srvA, win.genA, sampled = sampleCPUs(pids), sampleCPU("self"), true
		}
		soonest, remaining, err := r.emitDue(ctx, next, now, end, periodUs, text, &buf)
		if err != nil {
			return win, err
		}
		if remaining == 0 {
			break
		}
		if err := r.check(ctx); err != nil {
			return win, err
		}
		if wait := time.Duration(soonest-float64(monoUs())) * time.Microsecond; wait > 0 {
			time.Sleep(min(wait, time.Millisecond))
		}
	}
	for monoUs() < end {
		time.Sleep(time.Millisecond)
	}
	win.srvB, win.genB = sampleCPUs(pids), sampleCPU("self")
	if !sampled {
		win.srvA, win.genA = win.srvB, win.genB
	}
	return win, nil
}

// emitDue emits every chunk due by now, and returns when the next one is due
// and how many jobs have chunks left.
func (r *run) emitDue(ctx context.Context, next []float64, now, end int64, periodUs float64, text string, buf *[]byte) (soonest float64, remaining int, err error) {
	soonest = float64(end)
	for j, id := range r.jobIDs {
		for next[j] <= float64(now) && next[j] < float64(end) {
			r.maxLagUs = max(r.maxLagUs, now-int64(next[j]))
			*buf = appendChunkData((*buf)[:0], text, monoUs())
			if _, err := r.worker.Emit(ctx, id, events.Chunk, json.RawMessage(*buf)); err != nil {
				return 0, 0, fmt.Errorf("bench: emit to %s: %w", id, err)
			}
			r.emitted[j].Add(1)
			next[j] += periodUs
		}
		if next[j] < float64(end) {
			remaining++
			soonest = min(soonest, next[j])
		}
	}
	return soonest, remaining, nil
}

// drain waits until the worker's events are acked, then until every
// subscriber received every chunk of its job, or Grace passes.
func (r *run) drain(ctx context.Context) error {
	fctx, cancel := context.WithTimeout(ctx, r.cfg.Grace+10*time.Second)
	defer cancel()
	var flushErr error
	for _, id := range r.jobIDs {
		if err := r.worker.Flush(fctx, id); err != nil && flushErr == nil {
			flushErr = fmt.Errorf("flush %s: %w", id, err)
		}
	}
	expected := r.expected()
	deadline := time.Now().Add(r.cfg.Grace)
	for r.received() < expected && time.Now().Before(deadline) {
		if r.check(ctx) != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return flushErr
}

func (r *run) expected() int64 {
	var n int64
	for _, c := range r.clients {
		n += r.emitted[c.job].Load()
	}
	return n
}

func (r *run) received() int64 {
	var n int64
	for _, c := range r.clients {
		n += c.recv.Load()
	}
	return n
}

func pidSelf() int { return os.Getpid() }
