package actors

import (
	"time"

	"github.com/actorhub/actorhub/cluster"
	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
)

// JobFeed is this node's view of one job: it subscribes to the JobActor
// wherever it lives, keeps the last seq it received and the most recent events,
// and fans events out to the node's ConnActors watching the job. The JobActor
// thus sends one message per node, not per client. When the JobActor stops
// (passivation, failover) the feed subscribes again and reads what it missed
// from the store, so its conns see no gap.
type JobFeed struct {
	turn       sharedTurn // its job's actor on this node hands it events itself (tryEvents)
	h          *Hub
	id         string
	self       *actor.PID
	idle       idleTimeout // FeedLinger
	job        *actor.PID
	ready      bool
	status     events.Status
	epoch      uint64
	owner      string // the job's user
	gap        gapFill
	ring       eventRing
	conns      map[string]feedConn
	wide       []feedConn // a wide fan-out's clients, in the order it writes them (reused)
	waiting    []*feedSubscribe
	attempts   int
	subscribes int // subscribes sent; a resubscribe tick for an older one is stale
	// inflight: the last subscribe is not answered yet (sent at sentAt). A
	// feed has one subscribe out at a time: every path that wants one goes
	// through subscribe, and an unanswered one is sent again by its
	// resubscribe tick. (Each path used to send its own: after a Redis restart
	// 2,000 feeds ran several retry loops each, whose backoff every membership
	// change reset, and their take-over attempts kept the store from
	// recovering for over a minute.)
	inflight   bool
	sentAt     time.Time
	fetchFails int  // consecutive failed reads of missed events
	fetchWait  bool // a read failed: the next waits for its refetch tick
	stopping   bool
	heard      time.Time // when the job last sent anything
	// alone: since when the feed has had no conn (zero while it has one). Its
	// idle timeout (FeedLinger) alone does not end it: the events of a job
	// that streams reset that timer, and a feed whose clients all went to
	// other nodes kept itself and its job's actor alive here for as long as
	// the job streamed (a soak's node grew to 8 GB of such pairs).
	alone time.Time
}

// feedConn is a conn attached to a feed, with the subscription's line through
// which the feed writes to the client (subLine).
type feedConn struct {
	pid  *actor.PID
	line *subLine
}

// heartbeat makes a feed with clients check its subscription when its job has
// been silent: a remote watch can be lost with its connection (a node paused
// and resumed), and a feed must not wait forever on an incarnation that
// stopped. Subscribing again is idempotent at the job.
type heartbeat struct{}

// heartbeatEvery is how long a feed waits in silence before it checks.
const heartbeatEvery = 3 * time.Second

// resubscribe re-sends subscribe number n if nothing answered it, or after
// the backoff that followed its refusal.
type resubscribe struct{ n int }

// resendAfterChange is how long a subscribe stays out before a membership
// change sends it again.
const resendAfterChange = 250 * time.Millisecond

func newJobFeed(h *Hub, id string) *JobFeed {
	return &JobFeed{h: h, id: id, conns: map[string]feedConn{}}
}

// inlineMaxConns: a job's actor hands its feed the events itself only while
// the feed serves this many conns or fewer. A larger fan-out runs in the
// feed's own turn, where it holds up neither the job's acks nor its next
// commit, and where another core may run it.
const inlineMaxConns = nowCheckEvery

// tryEvents does, on the caller's goroutine (the job actor's turn), what the
// feed's turn does with the job's events, and reports whether it did: not
// when the feed cannot take a turn so (sharedTurn.enter), or fans out wide.
func (f *JobFeed) tryEvents(ctx actor.SenderContext, m *jobEvents) bool {
	if !f.turn.enter() {
		return false
	}
	defer f.turn.end()
	if len(f.conns) > inlineMaxConns {
		return false
	}
	f.idle.saw(m)
	f.onEvents(ctx, m)
	return true
}

// Receive implements actor.Actor.
func (f *JobFeed) Receive(ctx actor.Context) {
	msg := f.turn.begin(ctx.Message())
	defer f.turn.end()
	f.receive(ctx, msg)
}

func (f *JobFeed) receive(ctx actor.Context, msg any) {
	f.idle.saw(msg)
	switch m := msg.(type) {
	case *actor.Started:
		f.self = ctx.Self()
		f.h.metrics.Feeds.Inc()
		f.alone = time.Now()
		f.idle.set(f.h, ctx.Self(), f.h.cfg.FeedLinger)
		f.subscribe(ctx)
		f.h.after(heartbeatEvery, ctx.Self(), &heartbeat{})
	case *heartbeat:
		f.onHeartbeat(ctx)
	case *actor.Stopped:
		f.turn.dead = true
		f.idle.stop()
		f.h.metrics.Feeds.Dec()
		if f.job != nil {
			f.h.tell(ctx, &unsubscribeJob{Feed: ctx.Self()}, f.job)
		}
	case *membersChanged:
		switch {
		case f.job != nil && !f.h.alive(f.job.Address): // the job's node died
			f.restart(ctx)
		case f.job == nil && f.inflight && time.Since(f.sentAt) >= resendAfterChange:
			// the unanswered subscribe may have gone to a node that is gone:
			// send it again now rather than at its resubscribe tick
			f.inflight = false
			f.subscribe(ctx)
		}
	case *jobSubscribed:
		f.onSubscribed(ctx, m)
	case *jobEvents:
		f.onEvents(ctx, m)
	case *fetched:
		f.onFetched(ctx, m)
	case *refetch:
		f.fetchWait = false
		f.fetch()
	case *resubscribe:
		if m.n != f.subscribes || f.job != nil {
			break // a later subscribe is out, or one was answered
		}
		if f.inflight { // unanswered
			f.inflight = false
			f.attempts++
		}
		if len(f.conns) > 0 || len(f.waiting) > 0 {
			f.subscribe(ctx)
		} // else the next conn to attach subscribes (onConnSubscribe)
	case *feedSubscribe:
		f.onConnSubscribe(ctx, m)
	case *feedUnsubscribe:
		f.dropConn(pidKey(m.conn))
	case *actor.Terminated:
		f.onTerminated(ctx, m)
	case *idleTick:
		if !f.idle.expired(f.h, ctx.Self(), m) {
			break
		}
		if len(f.conns) == 0 && len(f.waiting) == 0 && !f.stopping {
			f.stopping = true
			ctx.Send(ctx.Parent(), &passivateRequest{jobID: f.id, pid: ctx.Self()})
		}
	case *passivate:
		ctx.Stop(ctx.Self())
	}
}

// refetch asks a feed to read what it missed from the store again.
type refetch struct{}

func (f *JobFeed) onHeartbeat(ctx actor.Context) {
	f.h.after(heartbeatEvery, ctx.Self(), &heartbeat{})
	for k, c := range f.conns {
		if c.line.ended() { // its feedUnsubscribe is late, or went to the feed before this one
			f.dropConn(k)
		}
	}
	if len(f.conns) == 0 && len(f.waiting) == 0 && !f.stopping && !f.alone.IsZero() && time.Since(f.alone) >= f.h.cfg.FeedLinger {
		f.stopping = true // lingered long enough with nobody to serve
		ctx.Send(ctx.Parent(), &passivateRequest{jobID: f.id, pid: ctx.Self()})
		return
	}
	switch {
	case len(f.conns) == 0 && len(f.waiting) == 0, f.status.Terminal():
	case f.job == nil: // without its job and, unless one is out, without a subscribe on the way
		f.subscribe(ctx)
	case time.Since(f.heard) >= heartbeatEvery:
		f.inflight = false // a check of the subscription, sent whatever is out
		f.subscribe(ctx)
	}
}

func (f *JobFeed) onFetched(ctx actor.Context, m *fetched) {
	out := f.gap.fetched(m.events, m.err)
	if m.err != nil {
		if f.fetchFails++; logAttempt(f.fetchFails) {
			f.h.log.Warn("feed: reading missed events failed; retrying", "job", f.id, "attempt", f.fetchFails, "err", m.err)
		}
		f.fetchWait = true // not again before the tick (an immediate read after each failure made a tight loop)
		f.h.after(f.h.backoff(f.fetchFails), ctx.Self(), &refetch{})
	} else {
		f.fetchFails = 0
	}
	f.deliver(ctx, out)
	f.fetch()
}

// onEvents takes the job's events, in the feed's turn or the job's
// (tryEvents).
func (f *JobFeed) onEvents(ctx actor.SenderContext, m *jobEvents) {
	f.heard = time.Now()
	f.deliver(ctx, f.gap.accept(m.Events))
	f.fetch()
}

// onTerminated: the job stopped (subscribe again, catching up from
// f.gap.have).
func (f *JobFeed) onTerminated(ctx actor.Context, m *actor.Terminated) {
	if f.job != nil && m.Who.Id == f.job.Id && m.Who.Address == f.job.Address {
		f.restart(ctx)
	}
}

// dropConn forgets a conn (by its pidKey); the last one gone starts the
// feed's linger.
func (f *JobFeed) dropConn(key string) {
	delete(f.conns, key)
	if len(f.conns) == 0 && f.alone.IsZero() {
		f.alone = time.Now()
	}
}

// restart forgets the job's incarnation and subscribes anew, at once.
func (f *JobFeed) restart(ctx actor.Context) {
	f.job = nil
	f.attempts = 0
	f.inflight = false
	f.subscribe(ctx)
}

// subscribe asks the job (wherever it lives) for its events, unless a
// subscribe is out already: its answer, or its resubscribe tick, comes. An
// unanswered subscribe (the owner died before answering) is sent again after
// a while.
func (f *JobFeed) subscribe(ctx actor.Context) {
	if f.inflight {
		return
	}
	f.inflight, f.sentAt = true, time.Now()
	ctx.Send(f.h.jobs, &cluster.JobMsg{JobID: f.id, Msg: &subscribeJob{Feed: ctx.Self(), local: f}})
	f.subscribes++
	f.h.after(time.Second+f.h.backoff(f.attempts), ctx.Self(), &resubscribe{n: f.subscribes})
}

// logAttempt reports whether the n-th failure in a row is logged: the first
// and then every power of two, so that thousands of feeds waiting on a store
// that is down do not flood the log.
func logAttempt(n int) bool { return n&(n-1) == 0 }

func (f *JobFeed) onSubscribed(ctx actor.Context, m *jobSubscribed) {
	f.inflight = false
	if m.Err != nil {
		f.attempts++
		for _, w := range f.waiting {
			ctx.Send(w.conn, &feedSubscribed{jobID: f.id, err: m.Err})
		}
		f.waiting = nil
		if m.Err.Code == events.CodeNotFound {
			for _, c := range f.conns {
				ctx.Send(c.pid, &feedSubscribed{jobID: f.id, err: m.Err})
			}
			f.conns = map[string]feedConn{}
			return // idle now: passivates after the linger
		}
		if len(f.conns) > 0 {
			if logAttempt(f.attempts) {
				f.h.log.Warn("feed: cannot reach the job; retrying", "job", f.id, "attempt", f.attempts, "err", m.Err)
			}
			f.h.after(f.h.backoff(f.attempts), ctx.Self(), &resubscribe{n: f.subscribes})
		}
		return
	}
	f.attempts = 0
	f.heard = time.Now()
	if f.job != nil && (f.job.Id != m.Job.Id || f.job.Address != m.Job.Address) {
		ctx.Unwatch(f.job) // the job moved to another incarnation
	}
	f.job = m.Job
	ctx.Watch(m.Job)
	f.status, f.epoch, f.owner = m.Status, m.Epoch, m.Owner
	if !f.ready {
		f.ready = true
		f.gap.have, f.gap.want = m.LastSeq, m.LastSeq
	} else {
		f.gap.known(m.LastSeq)
	}
	for _, w := range f.waiting {
		f.onConnSubscribe(ctx, w)
	}
	f.waiting = nil
	f.fetch()
}

func (f *JobFeed) onConnSubscribe(ctx actor.Context, m *feedSubscribe) {
	if f.stopping {
		// it asked its directory to stop: the directory routes the job to a
		// fresh feed now, and this subscribe, which was on its way, goes
		// there too. (Served here, a conn that waited for a feed not ready yet
		// was dropped with it when it stopped, and waited for ever.)
		ctx.Send(ctx.Parent(), &cluster.JobMsg{JobID: f.id, Msg: m})
		return
	}
	if !f.ready {
		f.waiting = append(f.waiting, m)
		// unless one is out: a feed whose first subscribe was refused told
		// its waiting conns and stopped retrying, having nobody left to
		// retry for; a conn back later (its client subscribing again) waited
		// here for ever, with neither "subscribed" nor an error
		f.subscribe(ctx)
		return
	}
	recent := f.ring.after(f.id, m.fromSeq)
	f.alone = time.Time{}
	// not watched: a conn that stops ends its lines and unsubscribes
	// (ConnActor.drop), and the heartbeat forgets a conn whose line ended
	// should its unsubscribe have come first (a feed that passivated hands
	// the subscribe on to its successor). A watch made every conn actor
	// keep a watcher set, about 550 bytes of each connection's heap.
	f.conns[pidKey(m.conn)] = feedConn{pid: m.conn, line: m.line}
	ctx.Send(m.conn, &feedSubscribed{jobID: f.id, feed: ctx.Self(), status: f.status, lastSeq: f.gap.have, epoch: f.epoch, owner: f.owner, recent: recent})
	if f.job == nil {
		// the feed lost its job while nobody watched (its retries stopped
		// with its last conn): a conn that attaches now would wait on it for
		// ever
		f.subscribe(ctx)
	}
}

func (f *JobFeed) deliver(ctx actor.SenderContext, evs []events.Event) {
	if len(evs) == 0 {
		return
	}
	for i := range evs {
		if events.Terminal(evs[i].Name) {
			f.status = terminalStatus(evs[i].Name)
		} else if f.status == events.StatusCreated && evs[i].Name != events.Created {
			f.status = events.StatusRunning
		}
	}
	f.ring.push(f.h.cfg.FeedRing, evs)
	var own fanShare
	if len(f.conns) <= nowCheckEvery {
		for _, c := range f.conns {
			own.one(evs, c)
		}
	} else {
		f.fanOut(evs, &own)
	}
	if len(own.later) > 0 {
		msg := &jobEvents{JobID: f.id, Events: evs}
		for _, pid := range own.later {
			ctx.Send(pid, msg) // a gap, a replay or a subscription not confirmed yet: the conn sorts it out
		}
	}
	if own.sent > 0 {
		f.h.metrics.EventsDelivered.Add(float64(own.sent * len(evs)))
	}
}

// fanOut writes evs to more than nowCheckEvery clients (fanout.go): from this
// goroutine, giving way every nowCheckEvery clients, and past helpAfter with
// what helpers the hub lends for the clients left.
func (f *JobFeed) fanOut(evs []events.Event, own *fanShare) {
	conns := f.wide[:0]
	for _, c := range f.conns {
		conns = append(conns, c)
	}
	start := time.Now()
	done, netAt := own.write(f.h, evs, conns, start.Add(netYieldEvery), start.Add(f.h.helpAfter))
	if rest := conns[done:]; len(rest) > 0 {
		if n := f.h.lendHelpers(len(rest) / helpMinShare); n > 0 {
			f.share(evs, rest, n, own, netAt)
		} else {
			own.write(f.h, evs, rest, f.h.pause(time.Now(), netAt), time.Time{})
		}
	}
	f.h.metrics.FanOut.Observe(time.Since(start).Seconds())
	clear(conns) // holds no conn past its fan-out
	f.wide = conns[:0]
}

func (f *JobFeed) fetch() {
	if !f.fetchWait && f.gap.needFetch() {
		f.h.readEvents(f.self, f.id, f.gap.have)
	}
}

func terminalStatus(name string) events.Status {
	switch name {
	case events.Completed:
		return events.StatusCompleted
	case events.Failed:
		return events.StatusFailed
	default:
		return events.StatusCancelled
	}
}
