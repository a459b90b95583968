package actors

import (
	"fmt"
	"slices"
	"time"

	"github.com/actorhub/actorhub/cluster/clusterpb"
	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
)

// routerName is the actor id of every node's router: peers address it as
// PID{Address: node's remote address, Id: routerName}.
const routerName = "router"

// Envelope kinds.
const (
	kindReq   = "req"   // a request to a job; answered by kindRep
	kindRep   = "rep"   // the answer to a kindReq
	kindRoute = "route" // a one-way message to a job (subscribe, unsubscribe)
	kindTell  = "tell"  // a message to one actor of the receiving node
)

// forward asks the router to take a job message to the node that owns the job.
type forward struct {
	jobID  string
	msg    any
	sender *actor.PID
	remote string // the owner's actor-remote address
	hops   uint32 // forwards so far
}

// membersChanged tells the router and the directories that the view changed.
type membersChanged struct{}

// sweep is the router's tick for request deadlines.
type sweep struct{}

// pendingReq is a request forwarded to another node, waiting for its answer.
type pendingReq struct {
	jobID    string
	msg      any
	sender   *actor.PID
	remote   string
	deadline time.Time
	rerouted bool
	oneWay   bool // a route: dropped silently at its deadline
}

// routeKeep is how long a one-way job message is kept for a reroute: about
// the time failure detection takes.
const routeKeep = 3 * time.Second

// Router carries job messages between nodes, each wrapped in the one stable
// envelope type. Outbound, it forwards requests to the owner's router and keeps
// them until answered: when the owner dies first they are routed once more
// (to the new owner), when they time out the sender gets a timeout. Inbound, it
// hands requests to the local job directory and sends the answer back, routes
// one-way job messages there too, and delivers messages addressed to local
// actors.
type Router struct {
	h       *Hub
	nextID  uint64
	pending map[uint64]*pendingReq
}

// Receive implements actor.Actor.
func (r *Router) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		r.pending = map[uint64]*pendingReq{}
		// request ids start at the clock: a node restarted on the same
		// address must not take a late answer to its previous life's request
		// for the answer to a new one
		r.nextID = uint64(time.Now().UnixNano())
		r.h.after(time.Second, ctx.Self(), &sweep{})
	case *forward:
		r.onForward(ctx, m, false)
	case *clusterpb.Envelope:
		r.onEnvelope(ctx, m)
	case *membersChanged:
		var lost []uint64 // requests to nodes that died, rerouted in the order they were sent
		for id, p := range r.pending {
			if !r.h.alive(p.remote) {
				lost = append(lost, id)
			}
		}
		slices.Sort(lost)
		for _, id := range lost {
			p := r.pending[id]
			delete(r.pending, id)
			r.reroute(ctx, p)
		}
	case *sweep:
		r.h.after(time.Second, ctx.Self(), &sweep{})
		now := time.Now()
		for id, p := range r.pending {
			if now.After(p.deadline) {
				delete(r.pending, id)
				if p.oneWay {
					continue
				}
				r.fail(ctx, p, &events.CodedError{Code: events.CodeTimeout,
					Err: fmt.Errorf("job %s: node %s did not answer in time; retry", p.jobID, p.remote)})
			}
		}
	}
}

func (r *Router) onForward(ctx actor.Context, m *forward, rerouted bool) {
	name, payload, err := encodeMsg(m.msg)
	if err != nil {
		r.h.log.Error("router: cannot encode a job message", "job", m.jobID, "err", err)
		return
	}
	env := &clusterpb.Envelope{Version: codecVersion, JobId: m.jobID, From: r.h.addr(), Msg: name, Payload: payload, Hops: m.hops + 1}
	r.nextID++
	p := &pendingReq{jobID: m.jobID, msg: m.msg, sender: m.sender, remote: m.remote,
		deadline: time.Now().Add(r.h.cfg.RequestTimeout), rerouted: rerouted}
	if isRequest(m.msg) {
		env.Kind, env.ReqId = kindReq, r.nextID
	} else {
		// a one-way message (a feed's subscribe) gets no answer through here,
		// but is kept a moment: if its node dies meanwhile it goes to the new
		// owner instead of being lost with it
		env.Kind, p.oneWay, p.deadline = kindRoute, true, time.Now().Add(routeKeep)
	}
	r.pending[r.nextID] = p
	ctx.Send(routerOf(m.remote), env)
}

// reroute sends a request whose owner died to the job's new owner, once.
func (r *Router) reroute(ctx actor.Context, p *pendingReq) {
	if p.rerouted {
		r.fail(ctx, p, &events.CodedError{Code: events.CodeUnavailable,
			Err: fmt.Errorf("job %s: its owner changed twice during the request; retry", p.jobID)})
		return
	}
	nodeID, remote, ok := r.h.placement.Owner(p.jobID)
	switch {
	case !ok:
		r.fail(ctx, p, &events.CodedError{Code: events.CodeUnavailable, Err: fmt.Errorf("job %s: no node can own it now; retry", p.jobID)})
	case nodeID == r.h.cfg.NodeID && p.oneWay:
		ctx.Send(r.h.jobs, &routed{jobID: p.jobID, msg: p.msg, hops: maxHops})
	case nodeID == r.h.cfg.NodeID:
		ctx.RequestWithCustomSender(r.h.jobs, &routed{jobID: p.jobID, msg: p.msg, hops: maxHops}, p.sender)
	default:
		r.onForward(ctx, &forward{jobID: p.jobID, msg: p.msg, sender: p.sender, remote: remote, hops: maxHops - 1}, true)
	}
}

// fail answers a forwarded request with err, in the form its sender expects.
func (r *Router) fail(ctx actor.Context, p *pendingReq, err error) {
	if p.oneWay {
		if sub, ok := p.msg.(*subscribeJob); ok {
			r.h.tell(ctx, sub.feed, &jobSubscribed{jobID: p.jobID, err: err})
		}
		return
	}
	if p.sender == nil {
		return
	}
	switch p.msg.(type) {
	case *emit:
		ctx.Send(p.sender, &EmitResult{JobID: p.jobID, Err: err})
	default:
		ctx.Send(p.sender, &stateReply{err: err})
	}
}

func (r *Router) onEnvelope(ctx actor.Context, env *clusterpb.Envelope) {
	if env.Version != codecVersion {
		r.h.log.Warn("router: dropped an envelope of another protocol version", "from", env.From, "version", env.Version)
		r.h.metrics.Errors.WithLabelValues("cluster_version").Inc()
		return
	}
	msg, err := decodeMsg(env.Msg, env.Payload)
	if err != nil {
		r.h.log.Warn("router: dropped an envelope that does not decode", "from", env.From, "kind", env.Kind, "err", err)
		r.h.metrics.Errors.WithLabelValues("cluster_decode").Inc()
		return
	}
	switch env.Kind {
	case kindReq:
		from, reqID := env.From, env.ReqId
		f := ctx.RequestFuture(r.h.jobs, &routed{jobID: env.JobId, msg: msg, hops: env.Hops}, r.h.cfg.RequestTimeout)
		ctx.ReenterAfter(f, func(res any, err error) {
			if err != nil {
				res = &stateReply{err: &events.CodedError{Code: events.CodeTimeout, Err: fmt.Errorf("job %s did not answer in time; retry", env.JobId)}}
				if _, ok := msg.(*emit); ok {
					res = &EmitResult{JobID: env.JobId, Err: res.(*stateReply).err}
				}
			}
			name, payload, e := encodeMsg(res)
			if e != nil {
				r.h.log.Error("router: cannot encode an answer", "job", env.JobId, "err", e)
				return
			}
			ctx.Send(routerOf(from), &clusterpb.Envelope{Version: codecVersion, Kind: kindRep, ReqId: reqID,
				JobId: env.JobId, From: r.h.addr(), Msg: name, Payload: payload})
		})
	case kindRep:
		p := r.pending[env.ReqId]
		if p == nil || p.jobID != env.JobId || p.remote != env.From {
			return // answered late (after a timeout or a reroute), or not ours
		}
		delete(r.pending, env.ReqId)
		if p.sender != nil {
			ctx.Send(p.sender, msg)
		}
	case kindRoute:
		ctx.Send(r.h.jobs, &routed{jobID: env.JobId, msg: msg, hops: env.Hops})
	case kindTell:
		ctx.Send(actor.NewPID(r.h.addr(), env.Target), msg)
	default:
		r.h.log.Warn("router: dropped an envelope of unknown kind", "from", env.From, "kind", env.Kind)
	}
}

func isRequest(msg any) bool {
	switch msg.(type) {
	case *emit, *createJob, *getState, *cancelJob:
		return true
	}
	return false
}

func routerOf(remote string) *actor.PID { return actor.NewPID(remote, routerName) }
