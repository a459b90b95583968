package client

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actorhub/actorhub/events"
)

// lane is one WebSocket connection (ws) or one sender (http) and the jobs that
// hash to it. Its goroutine owns the connection and node; mu guards the rest,
// and every field of its jobs.
type lane struct {
	w    *Worker
	idx  int
	node int           // index in w.bases of the node in use (lane goroutine only)
	wake chan struct{} // cap 1: something to send, or a job to retry
	// nodeID is the id of the node its WebSocket is connected to (the
	// upgrade's Actorhub-Node header), nil while it has none
	nodeID atomic.Pointer[string]

	mu   sync.Mutex
	jobs []*job
	byID map[string]*job
	// finished are the ids of jobs forgotten lately (forgetLocked), the
	// oldest replaced first
	finished     map[string]struct{}
	finishedRing []string
	finishedNext int
	dirty        []*job // jobs with unsent events, in the order they got them
	frameLimit   int    // bytes of a frame or body; halved when a node says too large
	batchMax     int    // http: events per request, 0 no limit; halved on 413
	buf          []byte // the frame being built (lane goroutine)
}

// acked is an ack to report through OnAck once mu is released.
type acked struct {
	jobID    string
	offset   int64
	queuedAt time.Time
}

func (l *lane) markDirty(j *job) {
	if !j.dirty {
		j.dirty = true
		l.dirty = append(l.dirty, j)
	}
}

// ackLocked applies "every offset of j below next is durable" and appends the
// released events to out, for OnAck.
func (l *lane) ackLocked(j *job, next int64, out []acked) []acked {
	before := j.log.next
	n := j.log.ack(next, func(p *pendingEvent) {
		if l.w.cfg.OnAck != nil {
			out = append(out, acked{j.id, p.offset, p.queuedAt})
		}
	})
	if j.log.next > before {
		l.w.log.Warn("client: node acked offsets this worker did not emit; another writer? numbering continues after them",
			"job", j.id, "nextOffset", next, "emitted", before)
	}
	if n > 0 {
		j.retries = 0
		l.w.acked.Add(int64(n))
		j.notify()
	}
	if j.ended && len(j.log.pend) == 0 && j.err == nil {
		l.forgetLocked(j)
	}
	return out
}

// forgetLocked drops an ended job whose events are all acked: nothing of it
// is left to send, and a worker that streams job after job keeps only those
// still going. The lane remembers the last finishedKept such ids: an Emit to
// one of them is refused at once (job_finished), where a job begun anew from
// offset 0 would have its events taken for duplicates by the node.
func (l *lane) forgetLocked(j *job) {
	if j.gone {
		return
	}
	l.dropLocked(j)
	if l.finished == nil {
		l.finished = make(map[string]struct{}, finishedKept)
		l.finishedRing = make([]string, 0, finishedKept)
	}
	if len(l.finishedRing) == finishedKept {
		delete(l.finished, l.finishedRing[l.finishedNext])
		l.w.unroute(l.finishedRing[l.finishedNext], l)
		l.finishedRing[l.finishedNext] = j.id
	} else {
		l.finishedRing = append(l.finishedRing, j.id)
	}
	l.finishedNext = (l.finishedNext + 1) % finishedKept
	l.finished[j.id] = struct{}{}
}

// finishedKept is how many forgotten job ids a lane remembers.
const finishedKept = 4096

// isFinishedLocked reports whether jobID is a job this lane forgot lately.
func (l *lane) isFinishedLocked(jobID string) bool {
	_, ok := l.finished[jobID]
	return ok
}

// dropLocked takes j out of the lane, for good.
func (l *lane) dropLocked(j *job) {
	j.gone = true
	l.unlinkLocked(j)
}

// connectedTo reports whether the lane's WebSocket is connected to node.
func (l *lane) connectedTo(node string) bool {
	id := l.nodeID.Load()
	return id != nil && *id == node
}

// unlinkLocked takes j out of the lane's jobs.
func (l *lane) unlinkLocked(j *job) {
	last := len(l.jobs) - 1
	l.jobs[j.at] = l.jobs[last]
	l.jobs[j.at].at = j.at
	l.jobs[last] = nil
	l.jobs = l.jobs[:last]
	delete(l.byID, j.id)
}

// finishedError is the refusal of an event after the job's terminal one.
func finishedError(jobID string) *EmitError {
	return &EmitError{JobID: jobID, Code: events.CodeJobFinished, NextOffset: -1,
		Message: fmt.Sprintf("job %s: its terminal event is acked; no event may follow it", jobID)}
}

func (l *lane) reportAcks(out []acked) {
	for _, a := range out {
		l.w.cfg.OnAck(a.jobID, a.offset, a.queuedAt)
	}
}

// cancelled is a job's cancellation to report through OnCancel once mu is
// released.
type cancelled struct {
	jobID, reason string
}

// cancelledLocked applies the node's word that j was cancelled: its unacked
// events would only be refused (job_finished), so they are dropped and its
// stream ends with an *EmitError of that code. It reports whether the word is
// new (OnCancel is due).
func (l *lane) cancelledLocked(j *job, reason string) bool {
	if j.cancelled {
		return false
	}
	j.cancelled = true
	l.w.log.Debug("client: job cancelled", "job", j.id, "reason", reason, "unacked", len(j.log.pend))
	if j.err == nil {
		msg := "the job was cancelled"
		if reason != "" {
			msg += ": " + reason
		}
		j.err = &EmitError{JobID: j.id, Code: events.CodeJobFinished, Message: msg, NextOffset: -1}
		j.log.pend = nil
		j.log.sent = j.log.acked
		j.notify()
	}
	return true
}

func (l *lane) reportCancels(cs []cancelled) {
	for _, c := range cs {
		l.w.cfg.OnCancel(c.jobID, c.reason)
	}
}

// refusedLocked applies a node's refusal of j's events: resend from where the
// node expects (offset_gap), retry later (transient codes), or end the job's
// stream with an *EmitError.
func (l *lane) refusedLocked(j *job, code, msg string, next int64, epoch uint64, httpStatus int, now time.Time, out []acked) []acked {
	l.w.countErr(code)
	fail := func(code string) {
		if next >= 0 {
			out = l.ackLocked(j, next, out)
		}
		j.err = &EmitError{JobID: j.id, Code: code, Message: msg, NextOffset: next, HTTPStatus: httpStatus}
		j.log.pend = nil
		j.log.sent = j.log.acked
		j.notify()
		l.w.log.Warn("client: job refused for good", "job", j.id, "code", code, "message", msg, "nextOffset", next)
	}
	switch {
	case j.err != nil:
	case code == events.CodeOffsetGap && next >= 0 && j.log.isLate(epoch): // not acked: its next is an old view
		if resend, _ := j.log.gap(next, epoch); resend { // late, from an incarnation that lost the job
			l.w.resent.Add(int64(len(j.log.unsent())))
			l.markDirty(j)
		}
	case code == events.CodeOffsetGap && next >= 0:
		out = l.ackLocked(j, next, out)
		resend, ok := j.log.gap(next, epoch)
		if !ok {
			fail(code)
			break
		}
		if resend {
			l.w.resent.Add(int64(len(j.log.unsent())))
			l.markDirty(j)
		}
	case code == events.CodeOffsetGap || !retryable(code):
		fail(code)
	default:
		l.retryLocked(j, now, 0)
	}
	return out
}

// retryLocked makes j's unacked events unsent, to go again after a backoff
// (at least minDelay).
func (l *lane) retryLocked(j *job, now time.Time, minDelay time.Duration) {
	l.w.resent.Add(int64(j.log.rewind()))
	j.retryAt = now.Add(max(l.w.cfg.Backoff.Delay(j.retries), minDelay))
	j.retries++
	if len(j.log.pend) > 0 {
		l.markDirty(j)
	}
}

// rewindAllLocked makes every unacked event of the lane unsent (a new connection).
func (l *lane) rewindAllLocked() {
	for _, j := range l.jobs {
		if j.err != nil {
			continue
		}
		l.w.resent.Add(int64(j.log.rewind()))
		if len(j.log.pend) > 0 {
			l.markDirty(j)
		}
	}
}

func (l *lane) hasPending() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, j := range l.jobs {
		if len(j.log.pend) > 0 {
			return true
		}
	}
	return false
}

// stuck reports whether an event was written more than AckTimeout ago and is
// still not acked.
func (l *lane) stuck(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, j := range l.jobs {
		if t, ok := j.log.oldestInflight(); ok && now.Sub(t) > l.w.cfg.AckTimeout {
			return true
		}
	}
	return false
}

// collectFrame builds, in l.buf, a frame of unsent events of the dirty jobs
// (in their order, '\n'-separated, within frameLimit) and marks them sent. It
// returns nil when nothing is ready.
func (l *lane) collectFrame(now time.Time) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	buf := l.buf[:0]
	full := false
	keep := l.dirty[:0]
	for _, j := range l.dirty {
		if full || j.err != nil || now.Before(j.retryAt) {
			if j.err == nil {
				keep = append(keep, j)
			} else {
				j.dirty = false
			}
			continue
		}
		n := 0
		for _, p := range j.log.unsent() {
			var ok bool
			if buf, ok = appendLine(buf, p.line, l.frameLimit); !ok {
				full = true
				break
			}
			n++
		}
		j.log.markSent(n, now)
		if len(j.log.unsent()) > 0 {
			keep = append(keep, j)
		} else {
			j.dirty = false
		}
	}
	clear(l.dirty[len(keep):])
	l.dirty = keep
	l.buf = buf
	if len(buf) == 0 {
		return nil
	}
	return buf
}
