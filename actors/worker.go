package actors

import (
	"github.com/actorhub/actorhub/cluster"
	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
)

// CloseTryAgainLater is the WebSocket close code (1013) for "retry later".
const CloseTryAgainLater = 1013

// WorkerConnActor is one worker WebSocket (/ws/worker): it routes emits to their
// jobs and writes acks and refusals back. An ack means durable; a refusal for a
// transient reason (the store, an ownership move, a job whose store is behind)
// closes the connection with 1013 after the error, so that any worker resends
// what was not acked. Each emit holds one of the connection's credits until
// its answer comes back (Conn.Deliver).
//
// It asks each job it emits to, and each new incarnation of it, to tell it
// when the job is cancelled (watchCancel), and pushes that to the worker
// ({"type":"cancelled"}), once per job.
type WorkerConnActor struct {
	turn     sharedTurn // its reader hands it requests itself (tryRequest)
	self     *actor.PID
	h        *Hub
	idle     idleTimeout // 2 × RequestTimeout while emits are in flight
	conn     *Conn
	sink     Sink
	inflight int // emits sent to jobs, not answered yet
	// sent holds the jobs with emits not answered yet: how many, and the
	// job's actor on this node they all went to straight (nil: some went
	// through the job directory). An emit goes straight to the job's
	// actor only when it cannot overtake one through the directory (send).
	sent map[string]sentTo
	// watched holds the jobs emitted to: the ones in progress (at most
	// maxWatched in all) and the last maxEnded that ended, listed in ended
	// (a ring from endedAt on) until they are forgotten
	watched map[string]watch
	ended   []string
	endedAt int
}

// sentTo is a job's entry in WorkerConnActor.sent.
type sentTo struct {
	n   int
	via *actor.PID
}

// watch is what a worker connection knows of a job it emitted to.
type watch struct {
	epoch uint64 // of the job's incarnation it last heard from (0: none yet)
	ended bool   // an answer showed the job's end, or it was told of its cancellation
	told  bool   // the worker was sent "cancelled"
}

// Bounds of WorkerConnActor.watched: the jobs in progress it watches (past
// that, further jobs get no push), and the ended jobs it remembers (so that
// late emits to them do not watch them again).
const (
	maxWatched = 16384
	maxEnded   = 1024
)

// Receive implements actor.Actor.
func (w *WorkerConnActor) Receive(ctx actor.Context) {
	msg := w.turn.begin(ctx.Message())
	defer w.turn.end()
	w.idle.saw(msg)
	switch m := msg.(type) {
	case *Request:
		w.onRequest(ctx, m)
	case *EmitResult:
		w.onResult(m)
		w.heard(ctx, m)
	case *jobCancelled:
		w.onCancelled(m)
	case *actor.Stopped:
		w.turn.dead = true
		w.idle.stop()
	case *idleTick:
		if !w.idle.expired(w.h, w.self, m) {
			break
		}
		if w.inflight > 0 { // an answer was lost (a node died mid-request): the worker resends
			w.closeRetry("no answer from the job in time")
		}
	}
}

// tryRequest does, on the caller's goroutine (the connection's reader, in
// Conn.Deliver), what the connection's turn does with a request, and reports
// whether it did (sharedTurn.enter): that saves each emit the mailbox post
// and the turn that only passed it on to its job.
func (w *WorkerConnActor) tryRequest(r *Request) bool {
	if !w.turn.enter() {
		return false
	}
	defer w.turn.end()
	w.idle.saw(r)
	w.onRequest(w.h.system.Root, r)
	return true
}

// onRequest takes a request, in the connection's turn or its reader's
// (tryRequest).
func (w *WorkerConnActor) onRequest(ctx actor.SenderContext, r *Request) {
	if r.Msg == nil && r.Err == nil {
		w.emit(ctx, r.JobID, r.Items)
		return
	}
	m := r.Head()
	if r.Err != nil {
		w.h.metrics.Errors.WithLabelValues(r.Err.Code).Inc()
		w.sink.Send(events.AppendError(nil, m.ID, m.JobID, r.Err.Code, r.Err.Error(), -1, 0))
		return
	}
	switch m.Type {
	case events.TypePing:
		w.sink.Send(events.AppendReply(nil, events.TypePong, m.ID, ""))
	case events.TypeEmit:
		w.emit(ctx, m.JobID, r.Items)
	default:
		w.h.metrics.Errors.WithLabelValues(events.CodeUnknownType).Inc()
		w.sink.Send(events.AppendError(nil, m.ID, m.JobID, events.CodeUnknownType,
			"a worker connection takes emit and ping; "+m.Type+" is for clients (/ws)", -1, 0))
	}
}

// emit sends emitted events to their job, and watches the job for its
// cancellation.
func (w *WorkerConnActor) emit(ctx actor.SenderContext, jobID string, items []EmitItem) {
	if w.inflight == 0 {
		w.idle.set(w.h, w.self, 2*w.h.cfg.RequestTimeout)
	}
	w.inflight++
	w.send(ctx, jobID, items)
	if _, ok := w.watched[jobID]; !ok && len(w.watched) < maxWatched {
		w.watched[jobID] = watch{}
		w.watch(ctx, jobID)
	}
}

// send sends an emit to its job. When the job's actor is on this node and
// none of the connection's emits to the job is unanswered, or they all went
// straight to that same actor, the emit goes straight there too
// (directory.tellChild): for one job per user that saves each emit the job
// directory's turn. Otherwise it goes through the directory, which it
// cannot overtake so: an emit sent straight after one through the
// directory might reach the job first.
func (w *WorkerConnActor) send(ctx actor.SenderContext, jobID string, items []EmitItem) {
	e := &emit{Items: items}
	st := w.sent[jobID]
	if d := w.h.jobDir.Load(); d != nil && (st.n == 0 || st.via != nil) {
		if pid := d.tellChild(ctx, jobID, e, w.self, st.via); pid != nil {
			w.sent[jobID] = sentTo{n: st.n + 1, via: pid}
			return
		}
	}
	w.sent[jobID] = sentTo{n: st.n + 1}
	ctx.RequestWithCustomSender(w.h.jobs, &cluster.JobMsg{JobID: jobID, Msg: e}, w.self)
}

func (w *WorkerConnActor) onResult(m *EmitResult) {
	n := max(m.Acks, 1)
	w.inflight = max(w.inflight-n, 0)
	if st, ok := w.sent[m.JobID]; ok {
		if st.n -= n; st.n > 0 {
			w.sent[m.JobID] = st
		} else {
			delete(w.sent, m.JobID)
		}
	}
	w.conn.giveBack(n)
	if w.inflight == 0 {
		w.idle.pause()
	}
	if m.Err == nil {
		node := w.h.answeredElsewhere(m.JobID, n)
		w.sink.Send(events.AppendAck(make([]byte, 0, 96+len(m.JobID)+len(node)), m.JobID, m.NextOffset, m.LastSequence, m.Epoch, node))
		return
	}
	code := m.Err.Code
	w.h.metrics.Errors.WithLabelValues(code).Inc()
	next := int64(-1)
	if code == events.CodeOffsetGap || code == events.CodeJobFinished {
		next = m.NextOffset
	}
	w.sink.Send(events.AppendError(nil, nil, m.JobID, code, m.Err.Error(), next, m.Epoch))
	if code == events.CodeUnavailable || code == events.CodeTimeout {
		w.closeRetry(m.Err.Error())
	}
}

// watch asks the job to tell this connection when it is cancelled.
func (w *WorkerConnActor) watch(ctx actor.SenderContext, jobID string) {
	ctx.Send(w.h.jobs, &cluster.JobMsg{JobID: jobID, Msg: &watchCancel{Worker: w.self}})
}

// heard applies what an emit's answer shows of its job: its end, or a new
// incarnation (a higher epoch), which knows nothing of the watch: it is asked
// again.
func (w *WorkerConnActor) heard(ctx actor.SenderContext, m *EmitResult) {
	wt, ok := w.watched[m.JobID]
	switch {
	case !ok || wt.ended:
		return
	case m.Err != nil && m.Err.Code == events.CodeNotFound:
		delete(w.watched, m.JobID)
		return
	case m.Status.Terminal():
		wt.ended = true
		w.retire(m.JobID)
	case m.Epoch > wt.epoch:
		if wt.epoch != 0 {
			w.watch(ctx, m.JobID)
		}
		wt.epoch = m.Epoch
	}
	w.watched[m.JobID] = wt
}

// onCancelled pushes a job's cancellation to the worker, once.
func (w *WorkerConnActor) onCancelled(m *jobCancelled) {
	wt, ok := w.watched[m.JobID]
	if ok && wt.told {
		return
	}
	w.sink.Send(events.AppendCancelled(nil, m.JobID, m.Reason))
	if !ok {
		return
	}
	wt.told = true
	if !wt.ended {
		wt.ended = true
		w.retire(m.JobID)
	}
	w.watched[m.JobID] = wt
}

// retire records that a watched job ended; the oldest of the maxEnded
// remembered is forgotten.
func (w *WorkerConnActor) retire(jobID string) {
	if len(w.ended) < maxEnded {
		w.ended = append(w.ended, jobID)
		return
	}
	if wt, ok := w.watched[w.ended[w.endedAt]]; ok && wt.ended {
		delete(w.watched, w.ended[w.endedAt])
	}
	w.ended[w.endedAt] = jobID
	w.endedAt = (w.endedAt + 1) % maxEnded
}

// closeRetry closes the connection with 1013 and frees the reader, which may
// wait for a credit, so that it sees the close.
func (w *WorkerConnActor) closeRetry(why string) {
	w.sink.Close(CloseTryAgainLater, "retry: "+truncate(why, 100))
	w.conn.giveBack(cap(w.conn.credits))
	w.idle.stop()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
