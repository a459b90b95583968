package actors

import (
	"context"
	"errors"
	"fmt"
	"github.com/actorhub/actorhub/analytics"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/actorhub/actorhub/cluster"
	"github.com/actorhub/actorhub/internal/group"
	"github.com/asynkron/protoactor-go/actor"
)

// Config tunes a Hub.
type Config struct {
	// NodeID names this node (owner of the jobs it activates, shown to clients).
	NodeID string
	// StoreTimeout bounds one store operation of an actor.
	StoreTimeout time.Duration
	// RequestTimeout bounds a request from transport to a job (HTTP calls, cancel).
	RequestTimeout time.Duration
	// JobIdle passivates a job actor with no feeds after this long without messages.
	JobIdle time.Duration
	// FeedLinger stops a feed this long after its last conn left.
	FeedLinger time.Duration
	// FeedRing is how many recent events a feed keeps for conns that
	// (re)subscribe, exactly (eventRing); older ones come from the store.
	// Every feed's ring is live heap that each GC marks: with one
	// job per client, 256 held ~100 MB at 1,000 jobs, whose GC cycles on a
	// one-core node put 60–150 ms on p99 (docs/BENCHMARKS.md C3); 32 covers a
	// client that reconnects within a second or two at LLM token rates.
	FeedRing int
	// MaxSubscriptions per client connection.
	MaxSubscriptions int
	// MaxInflight bounds the requests of one connection that wait for a job's
	// answer (emits, cancels): past it the connection's reader waits, so a
	// worker faster than the store is slowed down by TCP. A worker connection
	// multiplexes many jobs, each emit waiting a store round trip (and a hop to
	// the owner's node): the bound must cover rate × that time with room to
	// spare (20k emits/s × 5 ms = 100). A request is at most one frame, so a
	// connection holds at most MaxInflight × the frame limit.
	MaxInflight int
	// MaxPending bounds the events a job holds that are not durable yet; an
	// emit past it is refused with unavailable (a worker connection closes
	// with 1013 and its worker resends after a backoff).
	MaxPending int
	// MaxJobEvents and MaxJobBytes bound one job: its events, and the bytes
	// of their data (JobState.DataBytes). Past either, emits are refused with
	// too_large, except the terminal event that ends the job. 0: no bound.
	MaxJobEvents, MaxJobBytes int64
	// MaxAsks bounds the HTTP requests to jobs in flight on this node; past it
	// they are refused with unavailable (503).
	MaxAsks int
	// RetryMin and RetryMax bound the full-jitter backoff of internal retries.
	RetryMin, RetryMax time.Duration
	// RemoteAddr is the actor-remote (gRPC) bind address, host:port (port 0:
	// pick one). Empty: no remote; the hub serves every job itself.
	RemoteAddr string
	// RemoteTLS, when set, makes the remote port mutual TLS (cluster.LoadMutualTLS).
	RemoteTLS *cluster.MutualTLS
	// AnalyticsRetention is how long a day's analytics stay in the store after
	// its last flush (when the store keeps analytics: analytics.Store).
	AnalyticsRetention time.Duration
}

// DefaultConfig returns production settings.
func DefaultConfig() Config {
	return Config{StoreTimeout: 5 * time.Second, RequestTimeout: 10 * time.Second, JobIdle: time.Minute,
		FeedLinger: 10 * time.Second, FeedRing: 32, MaxSubscriptions: 100, MaxInflight: 1024,
		MaxPending: 4096, MaxAsks: 4096, MaxJobEvents: 1_000_000, MaxJobBytes: 16 << 20, RetryMin: 50 * time.Millisecond, RetryMax: 2 * time.Second,
		AnalyticsRetention: 90 * 24 * time.Hour}
}

// DefaultLocalConfig returns fast timings for tests.
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.JobIdle, c.FeedLinger, c.StoreTimeout, c.RequestTimeout = 2*time.Second, time.Second, 2*time.Second, 5*time.Second
	c.RetryMin, c.RetryMax = 10*time.Millisecond, 200*time.Millisecond
	return c
}

// Hub runs a node's actors: the job and feed directories and the connection
// actors, on one actor system, and owns every goroutine and timer they use.
// With a placement (SetPlacement) and a RemoteAddr it routes each job to the
// node that owns it through a cluster.Network. Its methods are safe for
// concurrent use.
type Hub struct {
	cfg       Config
	store     Store
	log       *slog.Logger
	metrics   *Metrics
	placement cluster.Placement
	system    *actor.ActorSystem
	net       *cluster.Network          // nil: every job is served here
	run       *group.Group              // store I/O and timers
	jobs      *actor.PID                // job directory
	jobDir    atomic.Pointer[directory] // its actor: a worker connection sends emits to a job here itself (tellChild)
	feeds     *actor.PID                // feed directory
	analytics *actor.PID                // nil: the store keeps no analytics
	asks      chan struct{}             // HTTP requests to jobs in flight
	pool      *pool                     // runs the mailbox turns of the hub's actors
	started   atomic.Bool
	// gate lets a long fan-out give way to the network (netGate); nil before
	// Start
	gate *netGate
	// helping counts the helper goroutines lent to fan-outs (lendHelpers);
	// a fan-out asks for them past helpAfter (a test may set both it and
	// helpProcs, the number of Ps, 0: GOMAXPROCS)
	helping   atomic.Int32
	helpAfter time.Duration
	helpProcs int
	// idleStuck counts the job actors found stopping (failed or passivating)
	// yet idle for JobIdle; logged at powers of two
	idleStuck atomic.Int64
}

// New validates cfg and creates a hub; Start spawns its actors.
func New(cfg Config, store Store, m *Metrics, log *slog.Logger) (*Hub, error) {
	if cfg.NodeID == "" {
		return nil, errors.New("actors: Config.NodeID is required")
	}
	if store == nil || m == nil {
		return nil, errors.New("actors: a store and metrics are required")
	}
	d := DefaultConfig()
	for _, p := range []struct{ v, def *time.Duration }{{&cfg.StoreTimeout, &d.StoreTimeout},
		{&cfg.RequestTimeout, &d.RequestTimeout}, {&cfg.JobIdle, &d.JobIdle}, {&cfg.FeedLinger, &d.FeedLinger},
		{&cfg.RetryMin, &d.RetryMin}, {&cfg.RetryMax, &d.RetryMax}, {&cfg.AnalyticsRetention, &d.AnalyticsRetention}} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	for _, p := range []struct{ v, def *int }{{&cfg.FeedRing, &d.FeedRing}, {&cfg.MaxSubscriptions, &d.MaxSubscriptions},
		{&cfg.MaxInflight, &d.MaxInflight}, {&cfg.MaxPending, &d.MaxPending}, {&cfg.MaxAsks, &d.MaxAsks}} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	if cfg.RetryMin > cfg.RetryMax {
		return nil, fmt.Errorf("actors: RetryMin %s is above RetryMax %s", cfg.RetryMin, cfg.RetryMax)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{cfg: cfg, store: store, log: log, metrics: m, run: group.New(), asks: make(chan struct{}, cfg.MaxAsks)}
	h.helpAfter = helpAfter
	return h, nil
}

// SetPlacement makes the hub route each job to the node that owns it (call
// before Start, with a RemoteAddr). Without it every job is served here.
func (h *Hub) SetPlacement(p cluster.Placement) { h.placement = p }

// Start creates the actor system, the network (with a placement) and the
// directories.
func (h *Hub) Start(ctx context.Context) error {
	// protoactor logs dead letters at info; the ones we cause (a watch on an
	// actor that just stopped) are expected, so only its warnings pass.
	logger := slog.New(minLevel{h.log.Handler(), slog.LevelWarn}).With("lib", "protoactor")
	g, err := newNetGate()
	if err != nil {
		return fmt.Errorf("actors: a pipe to yield to the network: %w", err)
	}
	h.gate = g
	h.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger }))
	h.pool = newPool(max(4, 2*runtime.GOMAXPROCS(0)), 300)
	abort := func() {
		h.system.Shutdown()
		h.pool.stop()
		h.gate.close()
	}
	if h.cfg.RemoteAddr != "" && h.placement != nil {
		n, err := cluster.NewNetwork(cluster.NetworkConfig{NodeID: h.cfg.NodeID, Addr: h.cfg.RemoteAddr, Table: wire, TLS: h.cfg.RemoteTLS,
			Placement: h.placement, RequestTimeout: h.cfg.RequestTimeout, Log: h.log,
			Dropped: func(reason string) { h.metrics.Errors.WithLabelValues(reason).Inc() }})
		if err == nil {
			err = n.Start(h.system)
		}
		if err != nil {
			abort()
			return err
		}
		h.net = n
	}
	jobs, err := h.system.Root.SpawnNamed(h.props(func() actor.Actor {
		d := newDirectory("job", h.spawnJob)
		h.jobDir.Store(d)
		if h.net != nil {
			d.route, d.keep = h.net.Route, h.net.SelfPlaceable
		}
		return d
	}), cluster.JobsName)
	if err != nil {
		abort()
		return fmt.Errorf("start job directory: %w", err)
	}
	h.jobs = jobs
	h.feeds = h.system.Root.Spawn(h.props(func() actor.Actor {
		return newDirectory("feed", h.spawnFeed)
	}))
	if as, ok := h.store.(analytics.Store); ok {
		h.analytics = h.system.Root.Spawn(h.props(func() actor.Actor { return &analyticsActor{h: h, store: as} }))
	}
	if h.net != nil {
		h.tickOwnership()
	}
	h.started.Store(true)
	return nil
}

// MembershipChanged tells the hub that the members changed: the jobs of a
// node that started draining are handed off, requests to nodes that died are
// routed again, feeds whose job lived on a dead node subscribe again. It does
// not block.
func (h *Hub) MembershipChanged() {
	if !h.started.Load() {
		return
	}
	if h.net != nil {
		h.net.MembersChanged()
	}
	h.system.Root.Send(h.jobs, &membersChanged{})
	h.system.Root.Send(h.feeds, &membersChanged{})
}

// tickOwnership has the job directory check its children's ownership every
// second, until the hub stops.
func (h *Hub) tickOwnership() {
	h.run.After(time.Second, func() {
		h.system.Root.Send(h.jobs, &ownershipTick{})
		h.tickOwnership()
	})
}

// Stop stops every actor (jobs finish their write in flight and release their
// ownership), the network, every timer and goroutine of the hub, and the
// actor system. It is idempotent; ctx bounds the wait for store operations.
func (h *Hub) Stop(ctx context.Context) error {
	if !h.started.CompareAndSwap(true, false) {
		return nil
	}
	var errs []error
	for _, pid := range []*actor.PID{h.feeds, h.jobs, h.analytics} {
		if pid == nil {
			continue
		}
		if err := h.system.Root.PoisonFuture(pid).Wait(); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", pid.Id, err))
		}
	}
	if h.net != nil {
		errs = append(errs, h.net.Stop(ctx))
	}
	if err := h.run.Stop(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop hub: store operations still running: %w", err))
	}
	h.system.Shutdown()
	h.pool.stop()
	h.gate.close()
	return errors.Join(errs...)
}

func (h *Hub) spawnJob(ctx actor.Context, jm *cluster.JobMsg, sender *actor.PID) (*actor.PID, bool) {
	id := jm.JobID
	// the store is asked first where the job lives; a message that came the
	// most hops is not passed on again
	here := jm.Hops >= cluster.MaxHops
	switch m := jm.Msg.(type) {
	case *createJob:
		// The props live as long as the actor, and so does what the producer
		// holds: it lets go of the create and its sender (whose PID caches
		// the asker's future, with its result: ~1 KB a job) once the first
		// incarnation has them. An actor restarted after a panic takes the
		// job over from the store instead.
		create, from := m, sender
		return ctx.Spawn(h.props(func() actor.Actor {
			a := newJobActor(h, id, create, from, here)
			create, from = nil, nil
			return a
		})), false
	case *getState: // a read does not activate the job: the snapshot answers
		h.io(sender, func(c context.Context) any {
			st, err := h.store.Snapshot(c, id)
			if err != nil {
				return &stateReply{Err: storeError("read", id, err)}
			}
			return &stateReply{State: st}
		})
		return nil, false
	}
	return ctx.Spawn(h.props(func() actor.Actor { return newJobActor(h, id, nil, nil, here) })), true
}

func (h *Hub) spawnFeed(ctx actor.Context, m *cluster.JobMsg, _ *actor.PID) (*actor.PID, bool) {
	if _, ok := m.Msg.(*feedSubscribe); !ok {
		return nil, false // nothing to unsubscribe from
	}
	id := m.JobID // not m: the feed's props would keep the first subscribe
	return ctx.Spawn(h.props(func() actor.Actor { return newJobFeed(h, id) })), true
}

// props makes the props of one of the hub's actors: on the hub's pool.
func (h *Hub) props(producer actor.Producer) *actor.Props {
	return actor.PropsFromProducer(producer, actor.WithDispatcher(h.pool))
}

// quietProps is props for an actor that has a few messages in its life, one
// per connection: its mailbox is protoactor's linked queue, which holds no
// memory while empty, where the default one keeps a ring of 10 slots and a
// mutex (~330 B). A message costs it a 32-byte node, so the actors that
// carry events (jobs, feeds, workers) keep the ring.
func (h *Hub) quietProps(producer actor.Producer) *actor.Props {
	return actor.PropsFromProducer(producer, actor.WithDispatcher(h.pool), actor.WithMailbox(quietMailbox))
}

var quietMailbox = actor.UnboundedLockfree()

// tell sends msg to every pid, each on whichever node it lives (encoded once
// for all the pids on other nodes).
func (h *Hub) tell(ctx actor.SenderContext, msg any, to ...*actor.PID) {
	if h.net != nil {
		h.net.Tell(ctx, msg, to...)
		return
	}
	for _, pid := range to {
		if pid != nil {
			ctx.Send(pid, msg)
		}
	}
}

// alive reports whether the node at an actor address is alive.
func (h *Hub) alive(addr string) bool { return h.net == nil || h.net.Alive(addr) }

// minLevel drops records below a level.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.Handler.Enabled(ctx, l)
}

func (m minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{m.Handler.WithAttrs(a), m.min}
}
func (m minLevel) WithGroup(n string) slog.Handler { return minLevel{m.Handler.WithGroup(n), m.min} }
