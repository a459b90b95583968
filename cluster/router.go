package cluster

import (
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/actorhub/actorhub/cluster/clusterpb"
	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
)

// Envelope kinds.
const (
	kindReq   = "req"   // a Request to a job; answered by kindRep
	kindRep   = "rep"   // the Reply to a kindReq
	kindRoute = "route" // a Route to a job
	kindTell  = "tell"  // a Tell to one actor of the receiving node
	kindWhere = "where" // where job JobId lives: Payload is the holding node's id
)

// codecVersion is the payload encoding of envelopes this node writes and
// reads; a node drops (and counts) envelopes of another version. 2: payloads
// are the table's encodings (1 had hand-written wire structs). 3: emits and
// their answers travel in binary forms of their own, as event batches do, and
// the envelopes to one node travel in batch envelopes.
const codecVersion = 3

// routerName is the actor id of every node's router: peers address it as
// PID{Address: the node's remote address, Id: routerName}.
const routerName = "router"

// JobMsg is a message on its way to the node that holds job JobID: what a
// node's job directory receives. Hops counts the nodes that forwarded it, up
// to MaxHops; then it is not forwarded again: the node serves it, or refuses
// it (retry) when the store names another live holder. From is the actor-remote
// address of the node that forwarded it here ("" when it started here). Place
// marks a message that may make its job live on this node when no node holds
// it: a create from this node's own clients.
type JobMsg struct {
	JobID string
	Msg   any
	Hops  uint32
	From  string
	Place bool
}

// MaxHops bounds how often a job message is forwarded between nodes: to the
// job's directory node, from there to the node that holds the job, and once
// more if the job moved meanwhile.
const MaxHops = 3

// JobsName is the actor name the job directory must be spawned with: the
// router hands it the job messages that arrive from other nodes.
const JobsName = "jobs"

// forward asks the router to take a job message to the node that owns it.
type forward struct {
	msg    *JobMsg
	sender *actor.PID
	remote string // the owner's actor-remote address
}

// membersChanged tells the router that the view changed.
type membersChanged struct{}

// sweep is the router's tick for request deadlines.
type sweep struct{}

// pendingReq is a message forwarded to another node: a request waiting for
// its answer, or a route kept a moment in case its node dies.
type pendingReq struct {
	msg      *JobMsg
	decl     *Message
	sender   *actor.PID
	remote   string
	deadline time.Time
	rerouted bool
}

// routeKeep is how long a Route is kept for a reroute: about the time failure
// detection takes.
const routeKeep = 3 * time.Second

// router carries job messages between nodes, each in the one stable envelope
// type. Outbound, it forwards messages to the owner's router and keeps them
// until answered: when the owner dies first they are routed once more (to the
// new owner), when they time out the sender gets the table's failure answer.
// Inbound, it hands requests to the local job directory and sends the answer
// back, routes one-way job messages there too, and delivers Tells to local
// actors.
type router struct {
	n       *Network
	nextID  uint64
	pending map[uint64]*pendingReq
	served  []*replyTo // requests from other nodes not answered yet, for their deadline
}

// Receive implements actor.Actor.
func (r *router) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		r.pending = map[uint64]*pendingReq{}
		// request ids start at the clock: a node restarted on the same
		// address must not take a late answer to its previous life's request
		// for the answer to a new one
		r.nextID = uint64(time.Now().UnixNano())
		r.n.after(time.Second, ctx.Self(), &sweep{})
	case *forward:
		r.onForward(ctx, m, false)
	case *clusterpb.Envelope:
		r.onEnvelope(ctx, m)
	case *membersChanged:
		var lost []uint64 // messages to nodes that died, rerouted in the order they were sent
		for id, p := range r.pending {
			if !r.n.Alive(p.remote) {
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
		r.n.after(time.Second, ctx.Self(), &sweep{})
		r.expire(ctx, time.Now())
	}
}

// expireServed answers the requests from other nodes that the local job did
// not answer in time, and forgets the answered ones.
func (r *router) expireServed(now time.Time) {
	keep := r.served[:0]
	for _, p := range r.served {
		switch {
		case p.answered.Load():
		case now.After(p.deadline):
			p.fail()
		default:
			keep = append(keep, p)
		}
	}
	clear(r.served[len(keep):])
	r.served = keep
}

// expire drops the routes kept past their time and fails the requests, both
// those it forwarded and those it serves.
func (r *router) expire(ctx actor.Context, now time.Time) {
	r.expireServed(now)
	r.n.locs.forgetIdle(now)
	for id, p := range r.pending {
		if now.After(p.deadline) {
			delete(r.pending, id)
			if p.decl.Kind == Request {
				r.fail(ctx, p, &events.CodedError{Code: events.CodeTimeout,
					Err: fmt.Errorf("job %s: node %s did not answer in time; retry", p.msg.JobID, p.remote)})
			}
		}
	}
}

func (r *router) onForward(ctx actor.Context, m *forward, rerouted bool) {
	name, payload, err := r.n.cfg.Table.Encode(m.msg.Msg)
	if err != nil {
		r.n.cfg.Log.Error("router: cannot encode a job message", "job", m.msg.JobID, "err", err)
		return
	}
	decl, _ := r.n.cfg.Table.Lookup(m.msg.Msg)
	env := &clusterpb.Envelope{Version: codecVersion, JobId: m.msg.JobID, From: r.n.Address(), Msg: name,
		Payload: payload, Hops: m.msg.Hops + 1}
	r.nextID++
	p := &pendingReq{msg: m.msg, decl: decl, sender: m.sender, remote: m.remote, rerouted: rerouted}
	switch decl.Kind {
	case Request:
		env.Kind, env.ReqId = kindReq, r.nextID
		p.deadline = time.Now().Add(r.n.cfg.RequestTimeout)
	case Route:
		// a route gets no answer through here, but is kept a moment: if its
		// node dies meanwhile it goes to the new owner instead of being lost
		// with it
		env.Kind, p.deadline = kindRoute, time.Now().Add(routeKeep)
	default:
		r.n.cfg.Log.Error("router: a job message must be a request or a route", "job", m.msg.JobID, "msg", name, "kind", decl.Kind)
		return
	}
	r.pending[r.nextID] = p
	r.n.send(m.remote, env)
}

// reroute sends a message whose owner died to the job's new owner, once.
func (r *router) reroute(ctx actor.Context, p *pendingReq) {
	if p.rerouted {
		r.fail(ctx, p, &events.CodedError{Code: events.CodeUnavailable,
			Err: fmt.Errorf("job %s: its owner changed twice during the request; retry", p.msg.JobID)})
		return
	}
	if r.n.cfg.Table.once(p.msg.Msg) {
		r.fail(ctx, p, &events.CodedError{Code: events.CodeUnavailable,
			Err: fmt.Errorf("job %s: node %s was declared dead before it answered, and may still append what it got; events without an offset are not sent twice; retry (with offsets a retry is safe)", p.msg.JobID, p.remote)})
		return
	}
	// one hop spent: the node that gets it may still pass it to the job's
	// holder once
	nodeID, remote, ok := r.n.cfg.Placement.Owner(p.msg.JobID)
	again := &JobMsg{JobID: p.msg.JobID, Msg: p.msg.Msg, Hops: 1}
	switch {
	case !ok:
		r.fail(ctx, p, &events.CodedError{Code: events.CodeUnavailable, Err: fmt.Errorf("job %s: no node can own it now; retry", p.msg.JobID)})
	case nodeID == r.n.cfg.NodeID && p.decl.Kind == Route:
		ctx.Send(r.n.jobs(), again)
	case nodeID == r.n.cfg.NodeID:
		ctx.RequestWithCustomSender(r.n.jobs(), again, p.sender)
	default:
		r.onForward(ctx, &forward{msg: again, sender: p.sender, remote: remote}, true)
	}
}

// fail gives a forwarded message's sender the table's answer for err.
func (r *router) fail(ctx actor.Context, p *pendingReq, err error) {
	if to, reply := r.n.cfg.Table.Fail(p.msg.JobID, p.msg.Msg, p.sender, err); to != nil {
		r.n.Tell(ctx, reply, to)
	}
}

func (r *router) onEnvelope(ctx actor.Context, env *clusterpb.Envelope) {
	if env.Version != codecVersion {
		r.n.dropped("cluster_version", "router: dropped an envelope of another protocol version", "from", env.From, "version", env.Version)
		return
	}
	if env.Kind == kindBatch {
		envs, err := decodeBatch(env.Payload)
		if err != nil {
			r.n.dropped("cluster_decode", "router: dropped a batch envelope that does not decode", "from", env.From, "err", err)
			return
		}
		for _, e := range envs {
			r.onEnvelope(ctx, e)
		}
		return
	}
	if env.Kind == kindWhere {
		r.n.Learn(env.JobId, string(env.Payload))
		return
	}
	msg, decl, err := r.n.cfg.Table.Decode(env.Msg, env.Payload)
	if err != nil {
		r.n.dropped("cluster_decode", "router: dropped an envelope that does not decode", "from", env.From, "kind", env.Kind, "err", err)
		return
	}
	switch {
	case env.Kind == kindReq && decl.Kind == Request:
		r.serve(ctx, env, msg, decl)
	case env.Kind == kindRep && decl.Kind == Reply:
		p := r.pending[env.ReqId]
		if p == nil || p.msg.JobID != env.JobId || p.remote != env.From {
			return // answered late (after a timeout or a reroute), or not ours
		}
		delete(r.pending, env.ReqId)
		if p.sender != nil {
			ctx.Send(p.sender, msg)
		}
	case env.Kind == kindRoute && decl.Kind == Route:
		ctx.Send(r.n.jobs(), &JobMsg{JobID: env.JobId, Msg: msg, Hops: env.Hops, From: env.From})
	case env.Kind == kindTell && env.Target != "" && env.Target != routerName:
		ctx.Send(actor.NewPID(r.n.Address(), env.Target), msg)
	default:
		r.n.dropped("cluster_kind", "router: dropped an envelope whose kind does not fit its message", "from", env.From,
			"kind", env.Kind, "msg", env.Msg)
	}
}

// serve hands a request from another node to the local job directory, with
// a replyTo as its sender: the job's answer goes back to that node from the
// job's own goroutine, as soon as it is sent.
func (r *router) serve(ctx actor.Context, env *clusterpb.Envelope, msg any, decl *Message) {
	p := &replyTo{n: r.n, decl: decl, msg: msg, from: env.From, reqID: env.ReqId, jobID: env.JobId,
		deadline: time.Now().Add(r.n.cfg.RequestTimeout)}
	reg := r.n.system.ProcessRegistry
	pid, ok := reg.Add(p, "reply$"+reg.NextId())
	if !ok {
		r.n.cfg.Log.Error("router: cannot register the answer of a request", "job", env.JobId)
		return
	}
	p.pid = pid
	r.served = append(r.served, p)
	ctx.RequestWithCustomSender(r.n.jobs(), &JobMsg{JobID: env.JobId, Msg: msg, Hops: env.Hops, From: env.From}, pid)
}

// replyTo is the sender of a request served for another node: a process of
// the actor system (as a future is, without a future's timer and its hop back
// through the router's mailbox) that sends the first answer it gets back to
// the requesting node. The router's sweep fails it at its deadline.
type replyTo struct {
	n        *Network
	decl     *Message
	msg      any
	from     string
	reqID    uint64
	jobID    string
	deadline time.Time
	pid      *actor.PID
	answered atomic.Bool
}

var _ actor.Process = (*replyTo)(nil)

// SendUserMessage implements actor.Process: the job's answer (or protoactor's
// word that no actor took the request).
func (p *replyTo) SendUserMessage(_ *actor.PID, message any) {
	if _, ok := actor.UnwrapEnvelopeMessage(message).(*actor.DeadLetterResponse); ok {
		p.fail()
		return
	}
	if !p.answered.CompareAndSwap(false, true) {
		return
	}
	p.n.system.ProcessRegistry.Remove(p.pid)
	p.send(actor.UnwrapEnvelopeMessage(message))
}

// SendSystemMessage implements actor.Process; a request's sender gets none.
func (p *replyTo) SendSystemMessage(*actor.PID, any) {}

// Stop implements actor.Process.
func (p *replyTo) Stop(*actor.PID) { p.fail() }

// fail answers with the table's failure for a request its job did not answer.
func (p *replyTo) fail() {
	if !p.answered.CompareAndSwap(false, true) {
		return
	}
	p.n.system.ProcessRegistry.Remove(p.pid)
	if p.decl.Fail == nil {
		return
	}
	if _, res := p.decl.Fail(p.jobID, p.msg, &events.CodedError{Code: events.CodeTimeout,
		Err: fmt.Errorf("job %s did not answer in time; retry", p.jobID)}); res != nil {
		p.send(res)
	}
}

func (p *replyTo) send(res any) {
	name, payload, err := p.n.cfg.Table.Encode(res)
	if err != nil {
		p.n.cfg.Log.Error("router: cannot encode an answer", "job", p.jobID, "err", err)
		return
	}
	p.n.send(p.from, &clusterpb.Envelope{Version: codecVersion, Kind: kindRep, ReqId: p.reqID,
		JobId: p.jobID, From: p.n.Address(), Msg: name, Payload: payload})
}

func routerOf(remote string) *actor.PID { return actor.NewPID(remote, routerName) }
