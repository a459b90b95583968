package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/actorhub/actorhub/cluster"
	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
)

type jobPhase int

const (
	jobActivating  jobPhase = iota // waiting for the store to hand over the job
	jobActive                      // serving
	jobPassivating                 // asked the directory to stop routing here; serves what still comes
	jobFailed                      // lost the job (store error, fenced); bounces what still comes
)

type replyKind int

const (
	replyEmit  replyKind = iota // *EmitResult
	replyState                  // *stateReply
)

// reply is an answer that waits for a write to become durable.
type reply struct {
	to   *actor.PID
	kind replyKind
	err  *events.CodedError
}

// maxSpareReplies bounds the replies slice a job keeps for its next batch: a
// burst of requests (a worker's backlog, a batch of emits) grows it, and the
// job would otherwise hold that size for the rest of its life.
const maxSpareReplies = 32

type queued struct {
	msg    any
	sender *actor.PID
}

// JobActor is the one live incarnation of a job on this node. It owns seq
// assignment, the worker offset, status and output. Events are accepted into a
// pending batch; one batch is written at a time (group commit: what arrives
// during a write goes into the next one), and only after the write are workers
// acked and feeds sent the events. It activates by taking the job's ownership
// from the store (a higher epoch) and passivates when idle and unwatched.
type JobActor struct {
	h      *Hub
	id     string
	idle   idleTimeout // JobIdle, from activation
	create *createJob  // the request that activated it, if a create
	sender *actor.PID  // who asked for the create
	phase  jobPhase
	queue  []queued // messages that arrived while activating

	st         events.JobState // all accepted events applied (pending and in flight too)
	out        []byte          // output of st
	durable    events.JobState // what the store holds (Output unset)
	durableLen int             // len(out) that is durable

	pending        []events.Event
	pendingReplies []reply
	spareReplies   []reply     // emptied, for the next pendingReplies
	written        func(error) // the AsyncAppender's callback (flush)
	inflight       bool
	inflightSnap   events.JobState
	inflightEnd    int
	inflightEvents []events.Event
	inflightReply  []reply
	inflightAt     time.Time

	feeds    map[string]*actor.PID
	feedList []*actor.PID // the values of feeds but local's; nil when they changed
	// local is the feed on this node, when it subscribed from here
	// (subscribeJob.local): it gets the job's messages through toFeed, and
	// its events from the job's own turn when it can (JobFeed.tryEvents).
	local    *JobFeed
	localKey string // its pidKey
	localPID *actor.PID

	// watchers are the worker connections to tell when the job is cancelled
	// (watchCancel), at most maxWatchers, the oldest dropped; cancelReason is
	// the reason of the cancellation, once this incarnation knows it.
	watchers     []*actor.PID
	cancelReason *string
	streaming    bool // counted in actorhub_jobs_streaming

	// gap refusals wait for a check that this incarnation still owns the job:
	// a stale one (another node took the job over) must not tell a worker an
	// offset it expects, since its memory is behind the store.
	gapHeld   []reply
	verifying bool
	// here: the message that made it came the most hops; if another node
	// holds the job it is refused (retry), not passed on again
	here bool
	sure time.Time // when the store last confirmed this incarnation's epoch
	// forgotten: the directory no longer routes to this actor (its passivate
	// came); until then the actor does not stop, since what the directory
	// sent it meanwhile would go to the dead letters and its requests fail
	forgotten bool
}

func newJobActor(h *Hub, id string, create *createJob, sender *actor.PID, here bool) *JobActor {
	return &JobActor{h: h, id: id, create: create, sender: sender, feeds: map[string]*actor.PID{}, here: here}
}

// Receive implements actor.Actor.
func (j *JobActor) Receive(ctx actor.Context) {
	j.idle.saw(ctx.Message())
	switch m := ctx.Message().(type) {
	case *actor.Started:
		j.h.metrics.JobActors.Inc()
		j.activate(ctx)
	case *activated:
		j.onActivated(ctx, m)
	case *appendDone:
		j.onAppendDone(ctx, m)
	case *epochChecked:
		j.onEpochChecked(ctx, m)
	case *cancelRead:
		if m.ok {
			j.cancelReason = &m.reason
		}
		j.h.tell(ctx, &jobCancelled{JobID: j.id, Reason: m.reason}, m.to)
	case *passivate:
		if j.phase != jobFailed {
			j.phase = jobPassivating
		}
		j.forgotten = true
		j.stopIfDone(ctx)
	case *idleTick:
		if !j.idle.expired(j.h, ctx.Self(), m) {
			break
		}
		if j.phase == jobActive && len(j.feeds) == 0 && !j.inflight && len(j.pending) == 0 {
			j.phase = jobPassivating
			ctx.Send(ctx.Parent(), &passivateRequest{jobID: j.id, pid: ctx.Self()})
		} else if j.phase != jobActive {
			// a failed or passivating actor idle this long: something it
			// waits for never came, or a path that ended its wait missed its
			// stop (a soak's nodes held thousands of such actors once)
			if n := j.h.idleStuck.Add(1); logAttempt(int(n)) {
				j.h.log.Warn("job actor: stopping, yet idle for the job idle time", "job", j.id, "phase", int(j.phase),
					"forgotten", j.forgotten, "inflight", j.inflight, "pending", len(j.pending), "verifying", j.verifying, "count", n)
			}
			j.stopIfDone(ctx)
		} else {
			// watched, or writing: idle again from now (the timeout fires
			// once, and a job that let it pass stayed active for good)
			j.idle.set(j.h, ctx.Self(), j.h.cfg.JobIdle)
		}
	case *actor.Terminated:
		j.dropFeed(pidKey(m.Who))
	case *actor.Stopped:
		j.idle.stop()
		j.h.metrics.JobActors.Dec()
		j.setStreaming(false)
		if j.phase != jobFailed && j.durable.Epoch > 0 {
			j.h.release(j.id, j.durable.Epoch)
		}
	case *actor.Stopping, *actor.Restarting:
	default:
		j.handle(ctx, m, ctx.Sender())
	}
}

func (j *JobActor) handle(ctx actor.Context, msg any, sender *actor.PID) {
	switch j.phase {
	case jobActivating:
		j.queue = append(j.queue, queued{msg, sender})
		return
	case jobFailed: // the directory routes anew once it has our passivateRequest
		ctx.RequestWithCustomSender(ctx.Parent(), &cluster.JobMsg{JobID: j.id, Msg: msg}, sender)
		return
	}
	switch m := msg.(type) {
	case *emit:
		j.onEmit(ctx, m, sender)
	case *createJob:
		j.respond(ctx, reply{to: sender, kind: replyState})
	case *getState:
		j.respond(ctx, reply{to: sender, kind: replyState})
	case *cancelJob:
		j.onCancel(ctx, m, sender)
	case *subscribeJob:
		key := pidKey(m.Feed)
		if j.feeds[key] != nil && time.Since(j.sure) >= heartbeatEvery {
			// a feed that heard nothing for a while checks in: if another
			// node took the job over meanwhile (this node was paused past
			// failure detection), this incarnation stops and its feeds find
			// the live one
			j.verify(ctx)
		}
		j.feeds[key] = m.Feed
		j.feedList = nil
		switch {
		case m.local != nil:
			j.local, j.localKey, j.localPID = m.local, key, m.Feed
		case key == j.localKey:
			j.local, j.localKey, j.localPID = nil, "", nil
		}
		ctx.Watch(m.Feed)
		j.toFeed(ctx, m.Feed, &jobSubscribed{JobID: j.id, Job: ctx.Self(), Status: j.durable.Status,
			LastSeq: j.durable.LastSequence, Epoch: j.durable.Epoch, Owner: j.durable.UserID})
	case *unsubscribeJob:
		j.dropFeed(pidKey(m.Feed))
		ctx.Unwatch(m.Feed)
	case *watchCancel:
		j.onWatch(ctx, m.Worker)
	default:
		j.h.log.Warn("job actor: unexpected message", "job", j.id, "type", fmt.Sprintf("%T", msg))
	}
}

func (j *JobActor) activate(ctx actor.Context) {
	store, id, owner, create := j.h.store, j.id, j.h.cfg.NodeID, j.create
	net, here := j.h.net, j.here
	j.h.io(ctx.Self(), func(c context.Context) any {
		var m activated
		if net != nil { // where does the job live?
			holder, _, err := store.Holder(c, id)
			if err == nil && holder != "" && holder != owner {
				if _, ok := net.Placeable(holder); ok {
					m.holder = holder
					if here { // no more hops: the sender tries again, and finds it
						m.err = &events.CodedError{Code: events.CodeUnavailable,
							Err: fmt.Errorf("job %s moved to node %s; retry", id, holder)}
					}
					return &m
				}
				if net.Unheard(holder) {
					m.err = &events.CodedError{Code: events.CodeUnavailable,
						Err: fmt.Errorf("job %s: this node is still joining the cluster; retry", id)}
					return &m
				}
			}
		}
		if create != nil {
			m.state, m.created, m.err = store.Create(c, create.State, create.First, owner)
		} else {
			m.state, m.err = store.Acquire(c, id, owner)
		}
		return &m
	})
	if create != nil {
		j.queue = append(j.queue, queued{create, j.sender})
	}
}

func (j *JobActor) onActivated(ctx actor.Context, m *activated) {
	queue, create := j.queue, j.create
	// the create and its sender are answered from queue: the actor keeps
	// neither (a sender's PID caches its process: a create's future, with
	// its result, stayed reachable for the job's whole life, ~1 KB a job)
	j.queue, j.create, j.sender = nil, nil, nil
	if m.holder != "" {
		j.h.net.Learn(j.id, m.holder)
	}
	if m.holder != "" && m.err == nil {
		// another node holds the job: what came here goes there, with one hop
		// left: it is served there, or refused if the job moved again
		j.fail(ctx)
		for _, q := range queue {
			ctx.RequestWithCustomSender(ctx.Parent(), &cluster.JobMsg{JobID: j.id, Msg: q.msg, Hops: cluster.MaxHops - 1}, q.sender)
		}
		j.stopIfDone(ctx)
		return
	}
	if m.err != nil {
		err := storeError("activate", j.id, m.err)
		for _, q := range queue {
			if to, reply := wire.Fail(j.id, q.msg, q.sender, err); to != nil {
				j.h.tell(ctx, reply, to)
			}
		}
		j.fail(ctx)
		return
	}
	j.st = m.state
	j.setStreaming(j.st.Status == events.StatusRunning)
	j.out = []byte(m.state.Output)
	j.st.Output = ""
	j.durable, j.durableLen = j.st, len(j.out)
	j.phase = jobActive
	j.sure = time.Now()
	j.idle.set(j.h, ctx.Self(), j.h.cfg.JobIdle)
	for _, q := range queue {
		if c, ok := q.msg.(*createJob); ok && c == create {
			if m.created {
				j.h.track(&anJobCreated{typ: j.st.Type, user: j.st.UserID})
			}
			j.h.tell(ctx, &stateReply{State: j.stateNow(), Created: m.created}, q.sender)
			continue
		}
		j.handle(ctx, q.msg, q.sender)
	}
}

func (j *JobActor) onEmit(ctx actor.Context, m *emit, sender *actor.PID) {
	if j.inflight && len(j.pending)+len(m.Items) > j.h.cfg.MaxPending {
		// the store is behind: refuse rather than hold without bound (the
		// worker resends after a backoff)
		j.later(ctx, reply{to: sender, kind: replyEmit, err: &events.CodedError{Code: events.CodeUnavailable,
			Err: fmt.Errorf("job %s: %d events wait for the store; retry later", j.id, len(j.pending))}})
		return
	}
	var err error
	for _, it := range m.Items {
		if it.Offset != NoOffset && it.Offset < j.st.NextOffset {
			continue // a retry of what we have: acked again, not appended
		}
		if err = j.st.CheckAppend(it.Name); err != nil {
			break
		}
		if err = j.checkSize(it); err != nil {
			break
		}
		if it.Offset != NoOffset && it.Offset > j.st.NextOffset {
			gap := &events.CodedError{Code: events.CodeOffsetGap,
				Err: fmt.Errorf("job %s: offset %d is past the next expected offset %d; resend from %d", j.id, it.Offset, j.st.NextOffset, j.st.NextOffset)}
			j.holdGap(ctx, reply{to: sender, kind: replyEmit, err: gap})
			j.flush(ctx)
			return
		}
		j.append(it.Name, it.Data, it.Fold, it.Offset)
	}
	if ackBeforeDurable && err == nil { // the deliberately broken build (broken_on.go)
		j.h.tell(ctx, &EmitResult{JobID: j.id, NextOffset: j.st.NextOffset, LastSequence: j.st.LastSequence, Status: j.st.Status}, sender)
		j.flush(ctx)
		return
	}
	j.later(ctx, reply{to: sender, kind: replyEmit, err: events.AsCoded(err, events.CodeInvalidEvent)})
	j.flush(ctx)
}

// checkSize refuses an event past the job's bounds (MaxJobEvents,
// MaxJobBytes); the terminal events always fit, so a worker can end a job
// that is full.
func (j *JobActor) checkSize(it EmitItem) error {
	if events.Terminal(it.Name) {
		return nil
	}
	if limit := j.h.cfg.MaxJobEvents; limit > 0 && j.st.LastSequence >= limit {
		return &events.CodedError{Code: events.CodeTooLarge,
			Err: fmt.Errorf("job %s holds %d events, the most one job may (--max-job-events); end it", j.id, j.st.LastSequence)}
	}
	if limit := j.h.cfg.MaxJobBytes; limit > 0 && j.st.DataBytes+int64(len(it.Data)) > limit {
		return &events.CodedError{Code: events.CodeTooLarge,
			Err: fmt.Errorf("job %s: its events' data would pass %d bytes, the most one job may (--max-job-bytes); end it", j.id, limit)}
	}
	return nil
}

// holdGap keeps an offset_gap refusal until the store confirms this
// incarnation still owns the job.
func (j *JobActor) holdGap(ctx actor.Context, r reply) {
	j.gapHeld = append(j.gapHeld, r)
	j.verify(ctx)
}

// verify asks the store whether this incarnation still owns the job.
func (j *JobActor) verify(ctx actor.Context) {
	if j.verifying || j.phase == jobFailed {
		return
	}
	j.verifying = true
	store, id := j.h.store, j.id
	j.h.io(ctx.Self(), func(c context.Context) any {
		_, epoch, err := store.Holder(c, id) // the epoch alone, not the snapshot and output
		return &epochChecked{epoch: epoch, err: err}
	})
}

func (j *JobActor) onEpochChecked(ctx actor.Context, m *epochChecked) {
	j.verifying = false
	// whatever the answer: an actor that failed (or passivated) and was
	// forgotten while the check was out waited for it, and for nothing after
	// (a soak's nodes held thousands of them)
	defer j.stopIfDone(ctx)
	held := j.gapHeld
	j.gapHeld = nil
	if m.err == nil && m.epoch == j.durable.Epoch {
		j.sure = time.Now()
		for _, r := range held {
			j.later(ctx, r)
		}
		return
	}
	err := &events.CodedError{Code: events.CodeUnavailable, Err: fmt.Errorf("job %s moved to another incarnation; retry", j.id)}
	if m.err != nil {
		err = storeError("check", j.id, m.err)
	}
	for _, r := range held {
		r.err = err
		j.later(ctx, r)
	}
	if m.err == nil && j.phase != jobFailed { // stale: stop, the next request reaches the real owner
		j.fail(ctx)
	}
}

func (j *JobActor) onCancel(ctx actor.Context, m *cancelJob, sender *actor.PID) {
	switch {
	case !m.By.MayCancel(j.st.UserID):
		j.later(ctx, reply{to: sender, kind: replyState, err: &events.CodedError{Code: events.CodeForbidden,
			Err: fmt.Errorf("job %s belongs to another user; cancelling it needs a token with scope worker or jobs:cancel:*", j.id)}})
		return
	case j.st.Status == events.StatusCancelled:
	case j.st.Status.Terminal():
		j.later(ctx, reply{to: sender, kind: replyState, err: &events.CodedError{Code: events.CodeJobFinished,
			Err: fmt.Errorf("job %s is already %s", j.id, j.st.Status)}})
		return
	default:
		j.append(events.Cancelled, events.AppendJSONObject(nil, "reason", m.Reason), events.Fold{}, NoOffset)
	}
	j.later(ctx, reply{to: sender, kind: replyState})
	j.flush(ctx)
}

// append accepts one event into the pending batch; fold is what the state
// takes from its data (decoded when the data was checked).
func (j *JobActor) append(name string, data []byte, fold events.Fold, offset int64) {
	ev := events.Event{JobID: j.id, Seq: j.st.LastSequence + 1, Name: name, Data: data, TS: time.Now().UnixMilli()}
	ev.Encode()
	j.out = append(j.out, j.st.ApplyFold(&ev, fold)...)
	j.setStreaming(j.st.Status == events.StatusRunning)
	if offset != NoOffset {
		j.st.NextOffset = offset + 1
	}
	j.pending = append(j.pending, ev)
}

// later sends r once everything accepted before it is durable.
func (j *JobActor) later(ctx actor.Context, r reply) {
	switch {
	case len(j.pending) > 0:
		j.pendingReplies = append(j.pendingReplies, r)
	case j.inflight:
		j.inflightReply = append(j.inflightReply, r)
	default:
		j.respond(ctx, r)
	}
}

// flush starts writing the pending batch unless a write is in flight.
func (j *JobActor) flush(ctx actor.Context) {
	if j.inflight || len(j.pending) == 0 {
		return
	}
	j.inflight = true
	j.inflightEvents, j.pending = j.pending, nil
	j.inflightReply, j.pendingReplies, j.spareReplies = j.pendingReplies, j.spareReplies, nil
	j.inflightSnap, j.inflightEnd = j.st, len(j.out)
	batch, delta := j.inflightEvents, string(j.out[j.durableLen:])
	self, t0 := ctx.Self(), time.Now()
	j.inflightAt = t0
	if aa, ok := j.h.store.(AsyncAppender); ok {
		if j.written == nil {
			// made once per actor, not per commit: it runs on the store's
			// goroutine after the actor set inflightAt and before it reads
			// the appendDone, so the next flush cannot change it meanwhile
			j.written = func(err error) {
				j.h.system.Root.Send(self, &appendDone{err: err, nanos: int64(time.Since(j.inflightAt))})
			}
		}
		aa.AppendAsync(j.st, delta, batch, j.written)
		return
	}
	// the closure's own copy of the state: declared here, not above, so
	// that the asynchronous path above does not move it to the heap
	snap, store := j.st, j.h.store
	j.h.io(self, func(c context.Context) any {
		err := store.Append(c, snap, delta, batch)
		return &appendDone{err: err, nanos: int64(time.Since(t0))}
	})
}

func (j *JobActor) onAppendDone(ctx actor.Context, m *appendDone) {
	j.inflight = false
	j.h.metrics.StoreWrite.Observe(float64(m.nanos) / 1e9)
	if m.err != nil {
		if errors.Is(m.err, events.ErrFenced) {
			j.h.metrics.StaleWrites.Inc()
		}
		j.h.log.Warn("journal write failed; job stops and re-activates from the store on the next request",
			"job", j.id, "epoch", j.inflightSnap.Epoch, "err", m.err)
		err := storeError("append", j.id, m.err)
		for _, r := range append(j.inflightReply, j.pendingReplies...) {
			r.err = err
			j.respond(ctx, r)
		}
		j.inflightReply, j.pendingReplies, j.pending = nil, nil, nil
		j.fail(ctx)
		return
	}
	batch := j.inflightEvents
	j.durable, j.durableLen = j.inflightSnap, j.inflightEnd
	j.sure = j.inflightAt
	j.h.metrics.EventsAppended.Add(float64(len(batch)))
	if len(j.feeds) > 0 {
		if j.feedList == nil { // not nil once made, even empty: a local feed alone is not listed again per commit
			j.feedList = make([]*actor.PID, 0, len(j.feeds))
			for k, f := range j.feeds {
				if k != j.localKey {
					j.feedList = append(j.feedList, f)
				}
			}
		}
		msg := &jobEvents{JobID: j.id, Events: batch}
		if len(j.feedList) > 0 {
			j.h.tell(ctx, msg, j.feedList...)
		}
		if j.local != nil && !j.local.tryEvents(ctx, msg) {
			j.toFeed(ctx, j.localPID, msg)
		}
	}
	replies := j.inflightReply
	j.inflightReply, j.inflightEvents = nil, nil
	j.respondAll(ctx, replies)
	if clear(replies); cap(replies) <= maxSpareReplies {
		j.spareReplies = replies[:0] // the next batch's, instead of a new slice per commit
	}
	if last := batch[len(batch)-1]; events.Terminal(last.Name) {
		j.ended(ctx, &last)
	}
	j.flush(ctx)
	j.stopIfDone(ctx)
}

// toFeed sends a feed a message: to the local feed counted in its backlog,
// so that the job does not hand it events itself while the message waits.
func (j *JobActor) toFeed(ctx actor.Context, feed *actor.PID, msg any) {
	if j.local != nil && feed == j.localPID {
		j.local.turn.post(ctx, feed, msg)
		return
	}
	j.h.tell(ctx, msg, feed)
}

// dropFeed forgets a feed (by its pidKey).
func (j *JobActor) dropFeed(key string) {
	delete(j.feeds, key)
	j.feedList = nil
	if key == j.localKey {
		j.local, j.localKey, j.localPID = nil, "", nil
	}
}

// setStreaming keeps actorhub_jobs_streaming: the jobs this node holds that
// are running.
func (j *JobActor) setStreaming(on bool) {
	if on != j.streaming {
		j.streaming = on
		if on {
			j.h.metrics.JobsStreaming.Inc()
		} else {
			j.h.metrics.JobsStreaming.Dec()
		}
	}
}

// maxWatchers bounds the worker connections a job tells of its cancellation.
const maxWatchers = 64

// onWatch keeps a worker connection to tell when the job is cancelled (once
// that is durable); one that watches a job cancelled already is told at once,
// one that watches a job that completed or failed is not kept.
func (j *JobActor) onWatch(ctx actor.Context, w *actor.PID) {
	switch {
	case j.durable.Status == events.StatusCancelled:
		j.tellCancelled(ctx, w)
		return
	case j.st.Status.Terminal() && j.st.Status != events.StatusCancelled:
		return
	}
	for _, p := range j.watchers {
		if p.Address == w.Address && p.Id == w.Id {
			return
		}
	}
	if len(j.watchers) == maxWatchers {
		n := copy(j.watchers, j.watchers[1:])
		j.watchers[n] = nil
		j.watchers = j.watchers[:n]
	}
	j.watchers = append(j.watchers, w)
}

// ended runs when the job's terminal event (last) became durable: the
// watchers are told of a cancellation, and forgotten either way.
func (j *JobActor) ended(ctx actor.Context, last *events.Event) {
	j.h.track(jobEndedOf(&j.durable, last))
	if last.Name == events.Cancelled {
		reason := cancelReason(last.Data)
		j.cancelReason = &reason
		if len(j.watchers) > 0 {
			j.h.tell(ctx, &jobCancelled{JobID: j.id, Reason: reason}, j.watchers...)
		}
	}
	j.watchers = nil
}

// tellCancelled tells one worker connection that the job is cancelled; when
// this incarnation did not make the cancellation, the reason is read from the
// journal first (the terminal event is the last one).
func (j *JobActor) tellCancelled(ctx actor.Context, w *actor.PID) {
	if j.cancelReason != nil {
		j.h.tell(ctx, &jobCancelled{JobID: j.id, Reason: *j.cancelReason}, w)
		return
	}
	store, id, seq := j.h.store, j.id, j.durable.LastSequence
	j.h.io(ctx.Self(), func(c context.Context) any {
		m := &cancelRead{to: w}
		if evs, err := store.Events(c, id, seq-1, 1); err == nil && len(evs) == 1 && evs[0].Name == events.Cancelled {
			m.reason, m.ok = cancelReason(evs[0].Data), true
		}
		return m
	})
}

// cancelReason returns the reason of a job:cancelled:v1 event's data.
func cancelReason(data []byte) string {
	var c events.CancelledData
	_ = json.Unmarshal(data, &c)
	return c.Reason
}

// respondAll sends the replies of one commit; acks to the same worker
// connection collapse into one that says how many emits it answers (they
// would all carry the same offsets).
func (j *JobActor) respondAll(ctx actor.Context, rs []reply) {
	if len(rs) == 1 {
		j.respond(ctx, rs[0])
		return
	}
	acks := map[string]int{} // per connection: its emits answered by this commit
	keys := make([]string, len(rs))
	for i, r := range rs {
		if r.kind == replyEmit && r.err == nil && r.to != nil {
			keys[i] = pidKey(r.to)
			acks[keys[i]]++
		}
	}
	for i, r := range rs {
		if keys[i] == "" {
			j.respond(ctx, r)
			continue
		}
		if n := acks[keys[i]]; n > 0 { // the first of the connection's acks answers them all
			acks[keys[i]] = 0
			j.h.tell(ctx, j.emitResult(nil, n), r.to)
		}
	}
}

func (j *JobActor) emitResult(err *events.CodedError, acks int) *EmitResult {
	return &EmitResult{JobID: j.id, NextOffset: j.durable.NextOffset, LastSequence: j.durable.LastSequence,
		Status: j.durable.Status, Acks: acks, Epoch: j.durable.Epoch, Err: err}
}

func (j *JobActor) respond(ctx actor.Context, r reply) {
	if r.to == nil {
		return
	}
	switch r.kind {
	case replyEmit:
		j.h.tell(ctx, j.emitResult(r.err, 1), r.to)
	case replyState:
		if r.err != nil {
			j.h.tell(ctx, &stateReply{Err: r.err}, r.to)
			return
		}
		j.h.tell(ctx, &stateReply{State: j.stateNow()}, r.to)
	}
}

// stateNow is the durable state with its output.
func (j *JobActor) stateNow() events.JobState {
	st := j.durable
	st.Output = string(j.out[:j.durableLen])
	return st
}

// fail gives the job up: the directory stops routing here, what still arrives
// is routed anew (to a fresh incarnation that re-reads the store), and feeds
// re-subscribe when they see this actor stop.
func (j *JobActor) fail(ctx actor.Context) {
	j.phase = jobFailed
	ctx.Send(ctx.Parent(), &passivateRequest{jobID: j.id, pid: ctx.Self()})
}

func (j *JobActor) stopIfDone(ctx actor.Context) {
	if (j.phase == jobPassivating || j.phase == jobFailed) && j.forgotten && !j.inflight && len(j.pending) == 0 && !j.verifying {
		ctx.Stop(ctx.Self())
	}
}

// storeError turns a store error into what a client sees.
func storeError(action, jobID string, err error) *events.CodedError {
	var ce *events.CodedError
	switch {
	case errors.As(err, &ce):
		return ce
	case errors.Is(err, events.ErrJobNotFound):
		return &events.CodedError{Code: events.CodeNotFound, Err: fmt.Errorf("job %s not found", jobID)}
	case errors.Is(err, events.ErrFenced):
		return &events.CodedError{Code: events.CodeUnavailable, Err: fmt.Errorf("%s job %s: the job moved to a newer owner; retry", action, jobID)}
	default:
		return &events.CodedError{Code: events.CodeUnavailable, Err: fmt.Errorf("%s job %s: %v; retry", action, jobID, err)}
	}
}

func pidKey(p *actor.PID) string { return p.Address + "/" + p.Id }
