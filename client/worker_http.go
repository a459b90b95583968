package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/backoff"
)

// httpAnswer is what this package reads of an HTTP answer: the fields of a
// POST events reply and of an error body.
type httpAnswer struct {
	Error      string `json:"error"`
	Message    string `json:"message"`
	NextOffset *int64 `json:"nextOffset"`
	Node       string `json:"node"` // the node that holds the job, when not the one that answered
	from       string // the node that answered (Actorhub-Node)
}

// runHTTP is the lane goroutine on HTTP: one POST at a time, of one job's
// unsent events, jobs taking turns.
func (l *lane) runHTTP(ctx context.Context) {
	defer l.w.wg.Done()
	tick := time.NewTicker(l.w.tickEvery())
	defer tick.Stop()
	for ctx.Err() == nil {
		j, body, n, via := l.collectBatch(time.Now())
		if j == nil {
			select {
			case <-ctx.Done():
			case <-l.wake:
			case <-tick.C:
			}
			continue
		}
		l.postBatch(ctx, j, body, n, via)
	}
}

// collectBatch picks the first dirty job that is ready and builds a request
// body of its unsent events (within frameLimit and batchMax), marked sent; via
// is the job's (see job.via).
func (l *lane) collectBatch(now time.Time) (j *job, body []byte, n, via int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, j := range l.dirty {
		if j.err != nil || now.Before(j.retryAt) || len(j.log.unsent()) == 0 {
			continue
		}
		buf := append(l.buf[:0], httpBodyHead...)
		n := 0
		for _, p := range j.log.unsent() {
			if (l.batchMax > 0 && n == l.batchMax) || len(buf)+1+len(p.line)+len(httpBodyTail) > l.frameLimit && n > 0 {
				break
			}
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, p.line...)
			n++
		}
		l.buf = append(buf, httpBodyTail...)
		j.log.markSent(n, now)
		// the job goes to the back: jobs take turns
		l.dirty = append(l.dirty[:i], l.dirty[i+1:]...)
		j.dirty = false
		return j, l.buf, n, j.via
	}
	// drop the jobs that failed for good or have nothing left to send
	keep := l.dirty[:0]
	for _, j := range l.dirty {
		if j.err == nil && len(j.log.unsent()) > 0 {
			keep = append(keep, j)
		} else {
			j.dirty = false
		}
	}
	clear(l.dirty[len(keep):])
	l.dirty = keep
	return nil, nil, 0, 0
}

// postBatch sends one batch of j, to the node via names (see job.via) or the
// lane's, and applies the answer.
func (l *lane) postBatch(ctx context.Context, j *job, body []byte, n, via int) {
	w := l.w
	bi := l.node % len(w.bases)
	if via > 0 {
		bi = via - 1
	}
	base := w.bases[bi]
	rctx, cancel := context.WithTimeout(ctx, w.cfg.AckTimeout)
	status, ans, retryAfter, err := w.post(rctx, base+"/api/jobs/"+url.PathEscape(j.id)+"/events", body)
	cancel()
	if ctx.Err() != nil {
		return
	}
	switch {
	case ans.from != "":
		w.learnNode(bi, ans.from)
	case err != nil:
		w.triedNode(bi) // no answer: not a base to try for a node it has not named (unheard)
	}
	now := time.Now()
	var out []acked
	l.mu.Lock()
	switch {
	case err == nil && status == http.StatusOK && ans.NextOffset != nil:
		out = l.ackLocked(j, *ans.NextOffset, out)
		if ans.Node != "" && !j.gone {
			k := w.baseOf(ans.Node)
			if k < 0 {
				k = w.unheard() // a base not heard from yet may be that node
			}
			if k >= 0 && k != bi {
				j.via = k + 1 // the node that holds the job: its next batches go there
				w.moved.Add(1)
			}
		}
	case err == nil && status == http.StatusRequestEntityTooLarge && n > 1:
		w.countErr(events.CodeTooLarge)
		l.batchMax = max(n/2, 1)
		l.frameLimit = max(l.frameLimit/2, 4<<10)
	case err == nil && status >= 400 && status < 500 && status != http.StatusTooManyRequests:
		code := ans.Error
		if status == http.StatusNotFound {
			code = events.CodeNotFound
		} else if code == "" {
			code = "http_" + strconv.Itoa(status)
		}
		next := int64(-1)
		if ans.NextOffset != nil {
			next = *ans.NextOffset
		}
		out = l.refusedLocked(j, code, ans.Message, next, 0, status, now, out)
	default: // transport error, 5xx, 429, a 200 without nextOffset: again, on the next node
		code := "transport"
		switch {
		case err == nil && status == http.StatusTooManyRequests:
			code = events.CodeRateLimited
		case err == nil && status >= 500:
			code = "http_5xx"
		case err == nil:
			code = "http_" + strconv.Itoa(status)
		}
		w.countErr(code)
		w.log.Warn("client: POST events failed; retrying on the next node", "job", j.id, "url", base,
			"status", status, "err", err)
		if via > 0 && j.via == via {
			j.via = 0 // back to the lane's node
		} else {
			l.node++
		}
		l.retryLocked(j, now, retryAfter)
	}
	if j.err == nil {
		j.log.rewind() // whatever the answer did not ack goes again
		if len(j.log.pend) > 0 {
			l.markDirty(j)
		}
	}
	l.mu.Unlock()
	l.reportAcks(out)
}

// post sends a JSON body and reads the answer. Status 0 and err: no answer.
func (w *Worker) post(ctx context.Context, u string, body []byte) (int, httpAnswer, time.Duration, error) {
	var ans httpAnswer
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, ans, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if err := setAuth(req, w.cfg.Token, w.cfg.TokenFunc); err != nil {
		return 0, ans, 0, fmt.Errorf("token: %w", err)
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		return 0, ans, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, ans, 0, fmt.Errorf("read answer: %w", err)
	}
	_ = json.Unmarshal(b, &ans) // a body that is not ours leaves ans empty: the status decides
	ans.from = resp.Header.Get(nodeHeader)
	return resp.StatusCode, ans, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), nil
}

// parseRetryAfter reads a Retry-After header (seconds or an HTTP date); 0 when
// absent or unreadable, capped at one minute.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(secs, 0), 60)) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), time.Minute)
}

// CreateJob creates a job through POST /api/jobs (201), or finds it (200: the
// same id again). A job lives on the node that creates it, so it is created
// through the node its lane starts on: its events then reach it without
// crossing nodes, and the jobs of a worker with several lanes spread over the
// nodes (a job without an id goes to the nodes in turn). It retries on the
// next node, with backoff, after a transport error, a 5xx or a 429 (honouring
// Retry-After), until ctx ends; any other refusal comes back as an *EmitError.
func (w *Worker) CreateJob(ctx context.Context, jobID, userID, typ string, input any) (Job, error) {
	if w.cfgErr != nil {
		return Job{}, w.cfgErr
	}
	req := map[string]any{"userId": userID, "type": typ}
	if jobID != "" {
		req["jobId"] = jobID
	}
	if input != nil {
		req["input"] = input
	}
	body, err := json.Marshal(req)
	if err != nil {
		return Job{}, fmt.Errorf("client: create job %s: marshal input: %w", jobID, err)
	}
	var first int
	if jobID != "" {
		first = w.laneOf(jobID)
	} else {
		first = int(w.creates.Add(1))
	}
	for attempt := 0; ; attempt++ {
		base := w.bases[(first+attempt)%len(w.bases)]
		job, retryAfter, err := w.createOnce(ctx, base, jobID, body)
		var ee *EmitError
		if err == nil || errors.As(err, &ee) {
			return job, err
		}
		w.log.Warn("client: create job failed; retrying on the next node", "job", jobID, "url", base, "err", err)
		if !backoff.Sleep(ctx, max(w.cfg.Backoff.Delay(attempt), retryAfter)) {
			return Job{}, fmt.Errorf("client: create job %s: %w (last error: %v)", jobID, ctx.Err(), err)
		}
	}
}

// createOnce is one POST /api/jobs; an *EmitError means do not retry.
func (w *Worker) createOnce(ctx context.Context, base, jobID string, body []byte) (Job, time.Duration, error) {
	rctx, cancel := context.WithTimeout(ctx, w.cfg.AckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, base+"/api/jobs", bytes.NewReader(body))
	if err != nil {
		return Job{}, 0, &EmitError{JobID: jobID, Code: events.CodeBadRequest, Message: err.Error(), NextOffset: -1}
	}
	req.Header.Set("Content-Type", "application/json")
	if err := setAuth(req, w.cfg.Token, w.cfg.TokenFunc); err != nil {
		return Job{}, 0, &EmitError{JobID: jobID, Code: events.CodeUnauthorized, Message: "token: " + err.Error(), NextOffset: -1}
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		w.countErr("transport")
		return Job{}, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		w.countErr("transport")
		return Job{}, 0, err
	}
	if resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK {
		var job Job
		if err := json.Unmarshal(b, &job.JobState); err != nil {
			return Job{}, 0, &EmitError{JobID: jobID, Code: "bad_answer", NextOffset: -1,
				Message: fmt.Sprintf("POST /api/jobs answered %d with a body that does not decode: %v", resp.StatusCode, err)}
		}
		job.Created = resp.StatusCode == http.StatusCreated
		return job, 0, nil
	}
	var ans httpAnswer
	_ = json.Unmarshal(b, &ans)
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		w.countErr("http_" + strconv.Itoa(resp.StatusCode))
		return Job{}, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
			fmt.Errorf("POST %s/api/jobs: %d %s", base, resp.StatusCode, bytes.TrimSpace(b))
	}
	code := ans.Error
	if code == "" {
		code = "http_" + strconv.Itoa(resp.StatusCode)
	}
	w.countErr(code)
	return Job{}, 0, &EmitError{JobID: jobID, Code: code, Message: ans.Message, NextOffset: -1, HTTPStatus: resp.StatusCode}
}
