package actors

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/actorhub/actorhub/cluster"
	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
)

// Sink is a connection's outbound side, implemented by transport.
type Sink interface {
	// Send queues one object (a JSON object, no newline) for the peer. It
	// never blocks; false means the queue was full and the sink is closing the
	// connection (the peer resumes later from its last seq). SendAll queues
	// several, in order, the same way. (Two methods, not one variadic: the
	// common single object then costs no slice.)
	Send(obj []byte) bool
	SendAll(objs [][]byte) bool
	// SendNow is Send, except that the sink may write obj to the peer on the
	// caller's goroutine, as far as that takes no waiting. The feed's
	// fan-out uses it for every client's next event (fanout.go).
	SendNow(obj []byte) bool
	// Close closes the connection with a WebSocket status code and reason, after
	// what is queued.
	Close(code int, reason string)
	// Backlog tells how many objects wait to be written; replays read further
	// pages from the store only while it is low.
	Backlog() int
}

// connSub is one subscription of a client.
type connSub struct {
	id   json.RawMessage // the subscribe request's id
	feed *actor.PID
	// line holds the subscription's gapFill, shared with the job's feed,
	// which writes events that are next in line to the client itself: every
	// use of line.gap holds line.mu
	line       *subLine
	announced  bool // "subscribed" was sent
	fetchFails int  // consecutive failed reads of missed events
	fetchWait  bool // a read failed: the next waits for its retry tick
	// attachFails counts the attempts in a row to attach an announced
	// subscription to its job's feed that failed for a while (reattach)
	attachFails int
}

// subSet is a conn's subscriptions by job id. Most clients hold one, which
// it keeps in place: a Go map, even of one entry, is ~200 B more per
// connection. The others go in a map made at the second.
type subSet struct {
	oneJob string
	one    *connSub
	more   map[string]*connSub
}

func (ss *subSet) get(jobID string) *connSub {
	if ss.one != nil && ss.oneJob == jobID {
		return ss.one
	}
	return ss.more[jobID]
}

// set adds or replaces jobID's subscription.
func (ss *subSet) set(jobID string, s *connSub) {
	switch {
	case ss.one != nil && ss.oneJob == jobID:
		ss.one = s
	case ss.more[jobID] != nil:
		ss.more[jobID] = s
	case ss.one == nil:
		ss.oneJob, ss.one = jobID, s
	default:
		if ss.more == nil {
			ss.more = map[string]*connSub{}
		}
		ss.more[jobID] = s
	}
}

func (ss *subSet) del(jobID string) {
	if ss.one != nil && ss.oneJob == jobID {
		ss.oneJob, ss.one = "", nil
		return
	}
	delete(ss.more, jobID)
}

func (ss *subSet) len() int {
	n := len(ss.more)
	if ss.one != nil {
		n++
	}
	return n
}

// each calls f for every subscription; f may delete the one it was given.
func (ss *subSet) each(f func(jobID string, s *connSub)) {
	if ss.one != nil {
		f(ss.oneJob, ss.one)
	}
	for jobID, s := range ss.more {
		f(jobID, s)
	}
}

// reattach asks a conn to attach a subscription to its job's feed again.
type reattach struct{ jobID string }

// ConnActor is one client WebSocket: it owns the client's subscriptions (job →
// last seq sent) and turns requests into feed subscriptions, cancels and
// replies. Events reach it from the job's feed and go out through the Sink in
// seq order, with gaps filled from the store.
type ConnActor struct {
	h       *Hub
	conn    *Conn
	sink    Sink
	session string
	access  Access // its user, and what it may do with others' jobs
	subs    subSet
	opened  time.Time // for the session's duration (analytics)
	resumed bool      // a subscribe of this connection resumed (fromSeq > 0)
}

// Receive implements actor.Actor.
func (c *ConnActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		c.opened = time.Now()
		c.h.track(&anSession{user: c.access.User})
		c.sink.Send(events.AppendConnected(nil, c.session, c.h.cfg.NodeID, c.access.User))
	case *Request:
		c.onRequest(ctx, m)
	case *feedSubscribed:
		c.onFeedSubscribed(ctx, m)
	case *jobEvents: // events the feed could not write itself (subLine.direct)
		if s := c.subs.get(m.JobID); s != nil {
			s.line.mu.Lock()
			c.deliver(ctx, m.JobID, s, s.line.gap.accept(m.Events))
			s.line.mu.Unlock()
		}
	case *fetched:
		if len(m.events) > 0 {
			c.h.track(&anReplayed{n: len(m.events)})
		}
		if s := c.subs.get(m.jobID); s != nil {
			s.line.mu.Lock()
			defer s.line.mu.Unlock()
			out := s.line.gap.fetched(m.events, m.err)
			if m.err != nil {
				s.fetchFails++
				s.fetchWait = true // not again before the tick (an immediate read after each failure made a tight loop)
				c.h.after(c.h.backoff(s.fetchFails), ctx.Self(), &retry{jobID: m.jobID})
			} else {
				s.fetchFails = 0
			}
			c.deliver(ctx, m.jobID, s, out)
		}
	case *retry:
		if s := c.subs.get(m.jobID); s != nil {
			s.fetchWait = false
			s.line.mu.Lock()
			c.fetch(ctx, m.jobID, s)
			s.line.mu.Unlock()
		}
	case *reattach:
		if s := c.subs.get(m.jobID); s != nil && s.feed == nil {
			c.attach(ctx, m.jobID, s)
		}
	case *actor.Terminated: // a feed stopped: attach to its successor from where we are
		c.subs.each(func(jobID string, s *connSub) {
			if s.feed != nil && s.feed.Id == m.Who.Id {
				s.feed = nil
				s.line.mu.Lock()
				s.line.gap.held = true
				s.line.mu.Unlock()
				c.attach(ctx, jobID, s)
			}
		})
	case *actor.Stopping:
		c.h.track(&anSessionEnd{opened: c.opened, resumed: c.resumed})
		c.subs.each(func(jobID string, s *connSub) { c.drop(ctx, jobID, s) })
	}
}

func (c *ConnActor) onRequest(ctx actor.Context, r *Request) {
	m := r.Head()
	if r.Err != nil {
		c.sendError(m.ID, m.JobID, r.Err.Code, r.Err.Error())
		return
	}
	switch m.Type {
	case events.TypePing:
		c.sink.Send(events.AppendReply(nil, events.TypePong, m.ID, ""))
	case events.TypeSubscribe:
		s := c.subs.get(m.JobID)
		if s == nil && c.subs.len() >= c.h.cfg.MaxSubscriptions {
			c.sendError(m.ID, m.JobID, events.CodeTooManySubs,
				fmt.Sprintf("a connection may hold %d subscriptions; unsubscribe from one first", c.h.cfg.MaxSubscriptions))
			return
		}
		from := int64(0)
		if m.FromSeq != nil {
			from = *m.FromSeq
		}
		if from > 0 {
			c.h.track(&anResume{first: !c.resumed})
			c.resumed = true
		}
		// a repeated subscribe restarts the subscription from its fromSeq
		if old := c.subs.get(m.JobID); old != nil {
			old.line.end()
		}
		s = &connSub{id: m.ID, line: newSubLine(c.sink, from)}
		c.subs.set(m.JobID, s)
		ctx.Send(c.h.feeds, &cluster.JobMsg{JobID: m.JobID, Msg: &feedSubscribe{jobID: m.JobID, conn: ctx.Self(), fromSeq: from, line: s.line}})
	case events.TypeUnsubscribe:
		s := c.subs.get(m.JobID)
		if s == nil {
			c.sendError(m.ID, m.JobID, events.CodeNotSubscribed, "not subscribed to job "+m.JobID)
			return
		}
		c.drop(ctx, m.JobID, s)
		c.sink.Send(events.AppendReply(nil, events.TypeUnsubscribed, m.ID, m.JobID))
	case events.TypeCreate:
		c.create(ctx, m)
	case events.TypeCancel:
		id, jobID := m.ID, m.JobID
		f := ctx.RequestFuture(c.h.jobs, &cluster.JobMsg{JobID: jobID, Msg: &cancelJob{Reason: m.Reason, By: c.access}}, c.h.cfg.RequestTimeout)
		ctx.ReenterAfter(f, func(res any, err error) {
			c.conn.giveBack(1)
			if sr, ok := res.(*stateReply); ok && err == nil && sr.Err != nil {
				err = sr.Err
			}
			if err != nil {
				c.sendError(id, jobID, codeOf(err, events.CodeTimeout), err.Error())
				return
			}
			c.sink.Send(events.AppendReply(nil, events.TypeAck, id, jobID))
		})
	default:
		c.sendError(m.ID, m.JobID, events.CodeUnknownType, fmt.Sprintf("type %q is for workers (/ws/worker)", m.Type))
	}
}

// create makes a job of the connection's user, on this node (a job lives
// where it is made), as POST /api/jobs does, and answers "created" once it is
// durable. A jobId that exists with the same user and type answers again,
// with existing true; with another user or type it is refused (job_exists).
func (c *ConnActor) create(ctx actor.Context, m *events.Inbound) {
	id, jobID, typ := m.ID, m.JobID, m.JobType
	if jobID == "" {
		jobID = events.NewJobID()
	}
	input, err := events.NormalizeInput(m.Input)
	if err != nil {
		c.conn.giveBack(1)
		c.sendError(id, jobID, events.CodeBadRequest, "create: "+err.Error())
		return
	}
	st, first := events.NewJob(jobID, c.access.User, typ, input, time.Now().UnixMilli())
	f := ctx.RequestFuture(c.h.jobs, &cluster.JobMsg{JobID: jobID, Msg: &createJob{State: st, First: first}, Place: true},
		c.h.cfg.RequestTimeout)
	ctx.ReenterAfter(f, func(res any, err error) {
		c.conn.giveBack(1)
		sr, ok := res.(*stateReply)
		switch {
		case err != nil:
			err = &events.CodedError{Code: events.CodeTimeout,
				Err: fmt.Errorf("job %s did not answer within %s; retry", jobID, c.h.cfg.RequestTimeout)}
		case !ok:
			err = &events.CodedError{Code: events.CodeInternal, Err: fmt.Errorf("job %s answered %T", jobID, res)}
		case sr.Err != nil:
			err = sr.Err
		case !sr.Created && (sr.State.UserID != c.access.User || sr.State.Type != typ):
			err = &events.CodedError{Code: events.CodeJobExists,
				Err: fmt.Errorf("job %s exists with another user or type; create it under another jobId", jobID)}
		}
		if err != nil {
			c.sendError(id, jobID, codeOf(err, events.CodeInternal), err.Error())
			return
		}
		c.sink.Send(events.AppendCreated(nil, id, &sr.State, !sr.Created))
	})
}

func (c *ConnActor) onFeedSubscribed(ctx actor.Context, m *feedSubscribed) {
	s := c.subs.get(m.jobID)
	if s == nil {
		return
	}
	if m.err != nil {
		code := codeOf(m.err, events.CodeUnavailable)
		if s.announced && (code == events.CodeUnavailable || code == events.CodeTimeout) {
			// A subscription the client has, whose feed went away while its
			// job cannot be reached for a while (a store restarting, a
			// partition): it stands, and attaches again after a backoff. An
			// error with the first subscribe's id would have ended it here
			// while both SDKs, past that subscribe, went on waiting for its
			// events: streams stalled until the client happened to reconnect.
			s.attachFails++
			c.h.after(c.h.backoff(s.attachFails), ctx.Self(), &reattach{jobID: m.jobID})
			return
		}
		s.line.end()
		c.subs.del(m.jobID)
		c.sendError(s.id, m.jobID, code, m.err.Error())
		return
	}
	s.attachFails = 0
	if !c.access.MayRead(m.owner) { // before any event of it goes out
		c.drop(ctx, m.jobID, s)
		c.sendError(s.id, m.jobID, events.CodeForbidden, "job "+m.jobID+" belongs to another user; reading it needs a token with scope jobs:read:*")
		return
	}
	s.feed = m.feed
	ctx.Watch(s.feed)
	if !s.announced {
		s.announced = true
		c.sink.Send(events.AppendSubscribed(nil, s.id, m.jobID, m.status, m.lastSeq, m.epoch))
	}
	s.line.mu.Lock()
	defer s.line.mu.Unlock()
	g := &s.line.gap
	g.known(m.lastSeq)
	out := g.release()
	out = append(out, g.accept(m.recent)...)
	c.deliver(ctx, m.jobID, s, out)
}

// drop ends subscription s to jobID and detaches this conn from the job's
// feed.
func (c *ConnActor) drop(ctx actor.Context, jobID string, s *connSub) {
	s.line.end()
	c.subs.del(jobID)
	ctx.Send(c.h.feeds, &cluster.JobMsg{JobID: jobID, Msg: &feedUnsubscribe{jobID: jobID, conn: ctx.Self()}})
}

// attach asks the job's feed for the subscription's events after the last
// one the client got.
func (c *ConnActor) attach(ctx actor.Context, jobID string, s *connSub) {
	s.line.mu.Lock()
	from := s.line.gap.have
	s.line.mu.Unlock()
	ctx.Send(c.h.feeds, &cluster.JobMsg{JobID: jobID, Msg: &feedSubscribe{jobID: jobID, conn: ctx.Self(), fromSeq: from, line: s.line}})
}

// deliver writes evs, which the subscription's gap handed on, and reads what
// it misses from the store. The caller holds s.line.mu.
func (c *ConnActor) deliver(ctx actor.Context, jobID string, s *connSub, evs []events.Event) {
	if len(evs) > 0 {
		if !sendEvents(c.sink, evs) {
			return
		}
		c.h.metrics.EventsDelivered.Add(float64(len(evs)))
	}
	c.fetch(ctx, jobID, s)
}

// replayBacklog: a replay reads its next page from the store only while fewer
// objects than this wait to be written to the client.
const replayBacklog = 1024

// fetch reads the events the subscription misses, unless a read is out or
// the client's queue is long. The caller holds s.line.mu.
func (c *ConnActor) fetch(ctx actor.Context, jobID string, s *connSub) {
	g := &s.line.gap
	if g.want > g.have && !g.fetching && !g.held && c.sink.Backlog() > replayBacklog {
		c.h.after(20*time.Millisecond, ctx.Self(), &retry{jobID: jobID})
		return
	}
	if !s.fetchWait && g.needFetch() {
		c.h.readEvents(ctx.Self(), jobID, g.have)
	}
}

func (c *ConnActor) sendError(id json.RawMessage, jobID, code, msg string) {
	c.h.metrics.Errors.WithLabelValues(code).Inc()
	c.sink.Send(events.AppendError(nil, id, jobID, code, msg, -1, 0))
}

// codeOf returns the client-facing code of err, or def when it has none.
func codeOf(err error, def string) string {
	var ce *events.CodedError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return def
}
