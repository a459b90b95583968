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
type WorkerConnActor struct {
	h        *Hub
	conn     *Conn
	sink     Sink
	inflight int // emits sent to jobs, not answered yet
}

// Receive implements actor.Actor.
func (w *WorkerConnActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Request:
		w.onRequest(ctx, m)
	case *EmitResult:
		w.onResult(ctx, m)
	case *actor.ReceiveTimeout:
		if w.inflight > 0 { // an answer was lost (a node died mid-request): the worker resends
			w.closeRetry(ctx, "no answer from the job in time")
		}
	}
}

func (w *WorkerConnActor) onRequest(ctx actor.Context, r *Request) {
	m := r.Msg
	if r.Err != nil {
		w.h.metrics.Errors.WithLabelValues(r.Err.Code).Inc()
		w.sink.Send(events.AppendError(nil, m.ID, m.JobID, r.Err.Code, r.Err.Error(), -1, 0))
		return
	}
	switch m.Type {
	case events.TypePing:
		w.sink.Send(events.AppendReply(nil, events.TypePong, m.ID, ""))
	case events.TypeEmit:
		if w.inflight == 0 {
			ctx.SetReceiveTimeout(2 * w.h.cfg.RequestTimeout)
		}
		w.inflight++
		ctx.Request(w.h.jobs, &cluster.JobMsg{JobID: m.JobID, Msg: &emit{Items: r.Items}})
	default:
		w.h.metrics.Errors.WithLabelValues(events.CodeUnknownType).Inc()
		w.sink.Send(events.AppendError(nil, m.ID, m.JobID, events.CodeUnknownType,
			"a worker connection takes emit and ping; "+m.Type+" is for clients (/ws)", -1, 0))
	}
}

func (w *WorkerConnActor) onResult(ctx actor.Context, m *EmitResult) {
	n := max(m.Acks, 1)
	w.inflight = max(w.inflight-n, 0)
	w.conn.giveBack(n)
	if w.inflight == 0 {
		ctx.CancelReceiveTimeout()
	}
	if m.Err == nil {
		w.sink.Send(events.AppendAck(nil, m.JobID, m.NextOffset, m.LastSequence, m.Epoch))
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
		w.closeRetry(ctx, m.Err.Error())
	}
}

// closeRetry closes the connection with 1013 and frees the reader, which may
// wait for a credit, so that it sees the close.
func (w *WorkerConnActor) closeRetry(ctx actor.Context, why string) {
	w.sink.Close(CloseTryAgainLater, "retry: "+truncate(why, 100))
	w.conn.giveBack(cap(w.conn.credits))
	ctx.CancelReceiveTimeout()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
