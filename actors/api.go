package actors

import (
	"context"
	"errors"
	"fmt"
	"github.com/actorhub/actorhub/analytics"
	"time"

	"github.com/actorhub/actorhub/cluster"
	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
)

// What transport calls. Every method is safe for concurrent use.

// Conn is the actor of one client or worker connection, as transport holds
// it: an opaque handle.
type Conn struct {
	h   *Hub
	pid *actor.PID
	// credits holds one token per request that waits for a job's answer
	// (MaxInflight in all); the actor takes tokens back as answers arrive
	credits chan struct{}
	// worker is the actor of a worker connection, which takes requests on
	// Deliver's goroutine when it can (WorkerConnActor.tryRequest)
	worker *WorkerConnActor
}

// ErrBusy is returned by Deliver when a connection's requests got no answer
// for RequestTimeout: the connection should be closed (1013).
var ErrBusy = errors.New("actors: the connection's requests to jobs got no answer in time")

// Deliver hands the actor one request. A request that waits for a job's
// answer (a worker's emit, a client's cancel or create) takes a credit: while
// MaxInflight of them wait, Deliver blocks — the reader stops reading, and TCP
// slows the peer — until an answer comes back, ctx ends or RequestTimeout
// passes (then it returns ErrBusy).
func (c *Conn) Deliver(ctx context.Context, r *Request) error {
	if r.Err == nil && waitsForJob(r.Type()) {
		select {
		case c.credits <- struct{}{}:
		default:
			t := time.NewTimer(c.h.cfg.RequestTimeout)
			defer t.Stop()
			select {
			case c.credits <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return ErrBusy
			}
		}
	}
	if w := c.worker; w != nil {
		if !w.tryRequest(r) {
			w.turn.post(c.h.system.Root, c.pid, r)
		}
		return nil
	}
	c.h.system.Root.Send(c.pid, r)
	return nil
}

// waitsForJob reports whether a request of type typ waits for a job's answer.
func waitsForJob(typ string) bool {
	return typ == events.TypeEmit || typ == events.TypeCancel || typ == events.TypeCreate
}

// giveBack returns n credits; it never blocks (answers that arrive after the
// connection gave up waiting find none to return).
func (c *Conn) giveBack(n int) {
	for range max(n, 1) {
		select {
		case <-c.credits:
		default:
			return
		}
	}
}

// Close stops the actor.
func (c *Conn) Close() { c.h.system.Root.Stop(c.pid) }

// OpenClient starts the actor of a client connection (/ws) that writes
// through sink.
func (h *Hub) OpenClient(sink Sink, session string, by Access) *Conn {
	c := &Conn{h: h, credits: make(chan struct{}, h.cfg.MaxInflight)}
	c.pid = h.system.Root.Spawn(h.quietProps(func() actor.Actor {
		return &ConnActor{h: h, conn: c, sink: sink, session: session, access: by}
	}))
	return c
}

// OpenWorker starts the actor of a worker connection (/ws/worker).
func (h *Hub) OpenWorker(sink Sink) *Conn {
	c := &Conn{h: h, credits: make(chan struct{}, h.cfg.MaxInflight)}
	w := &WorkerConnActor{h: h, conn: c, sink: sink, watched: map[string]watch{}, sent: map[string]sentTo{}}
	c.pid = h.system.Root.Spawn(h.props(func() actor.Actor { return w }))
	w.turn.mu.Lock() // its turns run from now on, Started first
	w.self = c.pid
	w.turn.mu.Unlock()
	c.worker = w
	return c
}

// NodeID returns the node's id.
func (h *Hub) NodeID() string { return h.cfg.NodeID }

// Metrics returns the node's instruments.
func (h *Hub) Metrics() *Metrics { return h.metrics }

// Ready reports whether the store answers.
func (h *Hub) Ready(ctx context.Context) error { return h.store.Ping(ctx) }

// RemoteAddress returns the actor-remote address in use ("" without remote).
func (h *Hub) RemoteAddress() string {
	if h.net == nil {
		return ""
	}
	return h.net.Address()
}

// ask sends msg to job jobID and waits for its answer. At most MaxAsks run at
// once on a node; past that it refuses at once with unavailable.
func (h *Hub) ask(ctx context.Context, jobID string, msg any) (any, error) {
	select {
	case h.asks <- struct{}{}:
		defer func() { <-h.asks }()
	default:
		return nil, &events.CodedError{Code: events.CodeUnavailable,
			Err: fmt.Errorf("node busy: %d requests to jobs in flight; retry", cap(h.asks))}
	}
	timeout := h.cfg.RequestTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	_, create := msg.(*createJob) // a job lives where it is made
	res, err := h.system.Root.RequestFuture(h.jobs, &cluster.JobMsg{JobID: jobID, Msg: msg, Place: create}, timeout).Result()
	if err != nil {
		return nil, &events.CodedError{Code: events.CodeTimeout,
			Err: fmt.Errorf("job %s did not answer within %s; retry", jobID, timeout)}
	}
	return res, nil
}

func (h *Hub) askState(ctx context.Context, jobID string, msg any) (events.JobState, bool, error) {
	res, err := h.ask(ctx, jobID, msg)
	if err != nil {
		return events.JobState{}, false, err
	}
	sr, ok := res.(*stateReply)
	if !ok {
		return events.JobState{}, false, fmt.Errorf("job %s answered %T", jobID, res)
	}
	if sr.Err != nil {
		return events.JobState{}, false, sr.Err
	}
	return sr.State, sr.Created, nil
}

// CreateJob creates a job (idempotent: an existing job answers with its state
// and created false).
func (h *Hub) CreateJob(ctx context.Context, jobID, userID, typ string, input []byte) (events.JobState, bool, error) {
	st, first := events.NewJob(jobID, userID, typ, input, time.Now().UnixMilli())
	return h.askState(ctx, jobID, &createJob{State: st, First: first})
}

// Emit appends a worker's events to a job and returns once they are durable.
// A refusal comes back as an error with the result (offset_gap and
// job_finished carry the offsets to resume from).
func (h *Hub) Emit(ctx context.Context, jobID string, items []EmitItem) (EmitResult, error) {
	res, err := h.ask(ctx, jobID, &emit{Items: items})
	if err != nil {
		return EmitResult{}, err
	}
	r, ok := res.(*EmitResult)
	if !ok {
		return EmitResult{}, fmt.Errorf("job %s answered %T", jobID, res)
	}
	if r.Err == nil {
		r.Node = h.answeredElsewhere(jobID, len(items))
	}
	return *r, r.err()
}

// Cancel appends job:cancelled:v1 (unless the job is cancelled already) and
// returns the job's state once durable; the job refuses (forbidden) when by
// may not cancel it.
func (h *Hub) Cancel(ctx context.Context, jobID, reason string, by Access) (events.JobState, error) {
	st, _, err := h.askState(ctx, jobID, &cancelJob{Reason: reason, By: by})
	return st, err
}

// Access is who asks, and what they may do with jobs that are not their own
// (a job is its creator's).
type Access struct {
	User      string `json:"user"`
	ReadAny   bool   `json:"read,omitempty"`
	CancelAny bool   `json:"cancel,omitempty"`
}

// MayRead reports whether a may read and subscribe to a job of owner.
func (a Access) MayRead(owner string) bool { return a.ReadAny || a.User == owner }

// MayCancel reports whether a may cancel a job of owner.
func (a Access) MayCancel(owner string) bool { return a.CancelAny || a.User == owner }

// State returns the job's durable state.
func (h *Hub) State(ctx context.Context, jobID string) (events.JobState, error) {
	st, _, err := h.askState(ctx, jobID, &getState{})
	return st, err
}

// answeredElsewhere returns the id of the node that holds job jobID when it
// is not this one ("" otherwise), for the answer to emits of its that a
// worker sent here, and counts them then: they crossed to that node and back.
// It is the node this node passes them to (where the job is known to live,
// else the node its id hashes to, which holds it or passes them on and says
// where). The answer names it, so that a worker that can reach that node sends
// the job's emits there: fewer hops for each, and one node's work instead of
// two's (docs/BENCHMARKS.md C28).
func (h *Hub) answeredElsewhere(jobID string, emits int) string {
	if h.net == nil {
		return ""
	}
	if d := h.jobDir.Load(); d == nil || d.has(jobID) {
		return "" // held here
	}
	node, _ := h.net.Destination(jobID)
	if node != "" {
		h.metrics.EmitsElsewhere.Add(float64(emits))
	}
	return node
}

// Holder returns the node that holds the job now ("" when none does: its node
// let it go idle, drained or died, and no request has activated it since).
func (h *Hub) Holder(ctx context.Context, jobID string) (string, error) {
	node, _, err := h.store.Holder(ctx, jobID)
	if err != nil {
		return "", storeError("read", jobID, err)
	}
	return node, nil
}

// Analytics returns the store's analytics, nil when it keeps none.
func (h *Hub) Analytics() analytics.Store {
	as, _ := h.store.(analytics.Store)
	return as
}

// Events returns durable events with seq > after (at most limit).
func (h *Hub) Events(ctx context.Context, jobID string, after int64, limit int) ([]events.Event, error) {
	evs, err := h.store.Events(ctx, jobID, after, limit)
	if err != nil {
		return nil, storeError("read", jobID, err)
	}
	return evs, nil
}

// ActiveJobs returns how many job actors this node runs.
func (h *Hub) ActiveJobs() int {
	res, err := h.system.Root.RequestFuture(h.jobs, &countChildren{}, time.Second).Result()
	if err != nil {
		return -1
	}
	n, _ := res.(int)
	return n
}
