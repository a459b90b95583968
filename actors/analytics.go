package actors

import (
	"context"
	"time"

	"github.com/actorhub/actorhub/analytics"
	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
)

// The analytics actor of a node adds up what the node's actors tell it (a
// connection opened or closed, a subscription resumed, events replayed, a job
// created or ended) into an analytics.Batch and flushes it to the store once
// a second, one flush at a time; a failed flush is merged back into the next.
// Actors tell it with a mailbox post (Hub.track) a few times per connection
// and per job, never per event: what a job's events add up to (time to first
// token, tokens, tokens per second) is read from its journal once it ended.

// Messages to the analytics actor (local only).
type (
	anSession    struct{ user string }
	anSessionEnd struct {
		opened  time.Time
		resumed bool
	}
	anResume     struct{ first bool }
	anReplayed   struct{ n int }
	anJobCreated struct{ typ, user string }
	anJobEnded   struct {
		jobID, typ string
		status     events.Status
		created    int64 // ms
		ended      int64 // ms
	}
	anJournal struct { // what the journal of an ended job adds up to
		typ, day          string
		tokens            int64
		ttftMs, tokPerSec float64
		hasFirst          bool
	}
	anFlush     struct{}
	anFlushDone struct {
		b   *analytics.Batch
		err error
	}
)

// analyticsFlushEvery is how often a node writes its share.
const analyticsFlushEvery = time.Second

type analyticsActor struct {
	h        *Hub
	store    analytics.Store
	batch    *analytics.Batch
	flushing bool
	types    map[string]bool // job types the metrics are labelled with (at most maxTypeLabels)
	conns    int64           // client connections open on this node (opened − closed)
}

// add adds n to counter name of job type typ, for the day and for the
// minute of now.
func (a *analyticsActor) add(now time.Time, name, typ string, n int64) {
	day := analytics.Day(now)
	a.batch.Add(day, analytics.Key{Name: name, Type: typ}, n)
	a.batch.Add(day, analytics.MinuteKey(name, now), n)
}

// label is the metrics label of job type typ.
func (a *analyticsActor) label(typ string) string {
	if a.types[typ] {
		return typ
	}
	if len(a.types) < maxTypeLabels {
		a.types[typ] = true
		return typ
	}
	return "other"
}

// track tells the node's analytics actor something, when the node keeps
// analytics.
func (h *Hub) track(msg any) {
	if h.analytics != nil {
		h.system.Root.Send(h.analytics, msg)
	}
}

// Receive implements actor.Actor.
func (a *analyticsActor) Receive(ctx actor.Context) {
	now := time.Now()
	day := analytics.Day(now)
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.batch = analytics.NewBatch()
		a.types = map[string]bool{}
		a.h.after(analyticsFlushEvery, ctx.Self(), &anFlush{})
	case *anSession:
		a.conns++
		a.batch.User(day, m.user)
		a.add(now, analytics.Sessions, "", 1)
		a.h.metrics.Sessions.Inc()
	case *anSessionEnd:
		a.conns--
		secs := now.Sub(m.opened).Seconds()
		a.batch.Observe(day, analytics.Key{Name: analytics.SessionSeconds}, secs)
		a.h.metrics.SessionDuration.Observe(secs)
	case *anResume:
		a.add(now, analytics.Resumes, "", 1)
		a.h.metrics.Resumes.Inc()
		if m.first {
			a.batch.Add(day, analytics.Key{Name: analytics.Reconnects}, 1)
			a.h.metrics.Reconnects.Inc()
		}
	case *anReplayed:
		a.add(now, analytics.Replayed, "", int64(m.n))
		a.h.metrics.Replayed.Add(float64(m.n))
	case *anJobCreated:
		if m.user != "" {
			a.batch.User(day, m.user)
		}
		a.add(now, analytics.JobsCreated, m.typ, 1)
		a.h.metrics.Jobs.WithLabelValues("created", a.label(m.typ)).Inc()
	case *anJobEnded:
		name := map[events.Status]string{events.StatusCompleted: analytics.JobsCompleted,
			events.StatusFailed: analytics.JobsFailed, events.StatusCancelled: analytics.JobsCancelled}[m.status]
		if name != "" {
			a.add(now, name, m.typ, 1)
			a.h.metrics.Jobs.WithLabelValues(string(m.status), a.label(m.typ)).Inc()
		}
		if m.created > 0 && m.ended >= m.created {
			a.batch.Observe(day, analytics.Key{Name: analytics.DurationMillis, Type: m.typ}, float64(m.ended-m.created))
			a.h.metrics.JobDuration.WithLabelValues(a.label(m.typ)).Observe(float64(m.ended-m.created) / 1000)
		}
		a.readJournal(ctx, m, day)
	case *anJournal:
		k := func(name string) analytics.Key { return analytics.Key{Name: name, Type: m.typ} }
		a.add(now, analytics.Tokens, m.typ, m.tokens)
		a.batch.Observe(m.day, k(analytics.TokensPerJob), float64(m.tokens))
		a.h.metrics.JobTokens.WithLabelValues(a.label(m.typ)).Add(float64(m.tokens))
		if m.hasFirst {
			a.batch.Observe(m.day, k(analytics.TTFTMillis), m.ttftMs)
			a.h.metrics.TTFT.WithLabelValues(a.label(m.typ)).Observe(m.ttftMs / 1000)
		}
		if m.tokPerSec > 0 {
			a.batch.Observe(m.day, k(analytics.TokensPerSec), m.tokPerSec)
		}
	case *anFlush:
		a.flush(ctx)
		a.h.after(analyticsFlushEvery, ctx.Self(), &anFlush{})
	case *anFlushDone:
		a.flushing = false
		if m.err != nil {
			a.h.log.Warn("analytics: flush failed; its figures go with the next one", "err", m.err)
			a.batch.Merge(m.b)
		}
	case *actor.Stopping:
		if !a.batch.Empty() { // the last second's figures, bounded by the store timeout
			c, cancel := context.WithTimeout(context.Background(), a.h.cfg.StoreTimeout)
			_ = a.store.Flush(c, a.batch, a.h.cfg.AnalyticsRetention)
			cancel()
		}
	}
}

func (a *analyticsActor) flush(ctx actor.Context) {
	if a.flushing {
		return
	}
	b := a.batch // every flush carries the node's connections, so a quiet node stays listed
	b.Node, b.Conns = a.h.cfg.NodeID, a.conns
	a.batch = analytics.NewBatch()
	a.flushing = true
	store, retention := a.store, a.h.cfg.AnalyticsRetention
	a.h.io(ctx.Self(), func(c context.Context) any {
		return &anFlushDone{b: b, err: store.Flush(c, b, retention)}
	})
}

// readJournal reads an ended job's journal off the actor and sends back what
// its chunks add up to.
func (a *analyticsActor) readJournal(ctx actor.Context, m *anJobEnded, day string) {
	store := a.h.store
	a.h.io(ctx.Self(), func(c context.Context) any {
		j := &anJournal{typ: m.typ, day: day}
		var first, last int64
		for after := int64(0); ; {
			evs, err := store.Events(c, m.jobID, after, 1000)
			if err != nil || len(evs) == 0 {
				break
			}
			for _, ev := range evs {
				if ev.Name == events.Chunk {
					j.tokens++
					if first == 0 {
						first = ev.TS
					}
					last = ev.TS
				}
			}
			after = evs[len(evs)-1].Seq
		}
		if first > 0 && m.created > 0 && first >= m.created {
			j.hasFirst, j.ttftMs = true, float64(first-m.created)
		}
		if j.tokens > 1 && last > first {
			j.tokPerSec = float64(j.tokens-1) / (float64(last-first) / 1000)
		}
		return j
	})
}

// jobEndedOf is what the analytics actor is told of a job whose terminal
// event became durable.
func jobEndedOf(st *events.JobState, last *events.Event) *anJobEnded {
	return &anJobEnded{jobID: st.JobID, typ: st.Type, status: st.Status, created: st.CreatedAt, ended: last.TS}
}
