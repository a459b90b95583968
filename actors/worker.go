package actors

import (
	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
)

// CloseTryAgainLater is the WebSocket close code (1013) for "retry later".
const CloseTryAgainLater = 1013

// WorkerConnActor is one worker WebSocket (/ws/worker): it routes emits to their
// jobs and writes acks and refusals back. An ack means durable; a refusal for a
// transient reason (the store, an ownership move) closes the connection with
// 1013 after the error, so that any worker resends what was not acked.
type WorkerConnActor struct {
	h    *Hub
	sink Sink
}

// Receive implements actor.Actor.
func (w *WorkerConnActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Request:
		w.onRequest(ctx, m)
	case *EmitResult:
		w.onResult(m)
	}
}

func (w *WorkerConnActor) onRequest(ctx actor.Context, r *Request) {
	m := r.Msg
	if r.Err != nil {
		w.h.metrics.Errors.WithLabelValues(r.Err.Code).Inc()
		w.sink.Send(events.AppendError(nil, m.ID, m.JobID, r.Err.Code, r.Err.Error(), -1))
		return
	}
	switch m.Type {
	case events.TypePing:
		w.sink.Send(events.AppendReply(nil, events.TypePong, m.ID, ""))
	case events.TypeEmit:
		ctx.Request(w.h.jobs, &routed{jobID: m.JobID, msg: &emit{items: r.Items}})
	default:
		w.h.metrics.Errors.WithLabelValues(events.CodeUnknownType).Inc()
		w.sink.Send(events.AppendError(nil, m.ID, m.JobID, events.CodeUnknownType,
			"a worker connection takes emit and ping; "+m.Type+" is for clients (/ws)", -1))
	}
}

func (w *WorkerConnActor) onResult(m *EmitResult) {
	if m.Err == nil {
		w.sink.Send(events.AppendAck(nil, m.JobID, m.NextOffset, m.LastSequence))
		return
	}
	code := codeOf(m.Err, events.CodeUnavailable)
	w.h.metrics.Errors.WithLabelValues(code).Inc()
	next := int64(-1)
	if code == events.CodeOffsetGap || code == events.CodeJobFinished {
		next = m.NextOffset
	}
	w.sink.Send(events.AppendError(nil, nil, m.JobID, code, m.Err.Error(), next))
	if code == events.CodeUnavailable || code == events.CodeTimeout {
		w.sink.Close(CloseTryAgainLater, "retry: "+truncate(m.Err.Error(), 100))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
