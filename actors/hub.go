package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/actorhub/actorhub/cluster/clusterpb"
	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
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
	// FeedRing is how many recent events a feed keeps for conns that (re)subscribe.
	FeedRing int
	// MaxSubscriptions per client connection.
	MaxSubscriptions int
	// RetryMin and RetryMax bound the full-jitter backoff of internal retries.
	RetryMin, RetryMax time.Duration
	// RemoteAddr is the actor-remote (gRPC) bind address, host:port (port 0:
	// pick one). Empty: no remote; the hub serves every job itself.
	RemoteAddr string
}

// Placement tells which node owns a job; cluster.Membership implements it.
// Its methods do not block.
type Placement interface {
	// Owner returns the id and actor-remote address of the node that owns
	// jobID; ok is false when no node can own jobs now.
	Owner(jobID string) (nodeID, remote string, ok bool)
	// Alive reports whether the node at that actor-remote address is a member
	// that is alive (or only suspected).
	Alive(remote string) bool
}

// DefaultConfig returns production settings.
func DefaultConfig() Config {
	return Config{StoreTimeout: 5 * time.Second, RequestTimeout: 10 * time.Second, JobIdle: time.Minute,
		FeedLinger: 10 * time.Second, FeedRing: 256, MaxSubscriptions: 100,
		RetryMin: 50 * time.Millisecond, RetryMax: 2 * time.Second}
}

// DefaultLocalConfig returns fast timings for tests.
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.JobIdle, c.FeedLinger, c.StoreTimeout, c.RequestTimeout = 2*time.Second, time.Second, 2*time.Second, 5*time.Second
	c.RetryMin, c.RetryMax = 10*time.Millisecond, 200*time.Millisecond
	return c
}

// Hub runs a node's actors: the job and feed directories and the connection
// actors, on one actor system. Transport calls its methods; they are safe for
// concurrent use.
type Hub struct {
	cfg       Config
	store     Store
	log       *slog.Logger
	metrics   *Metrics
	system    *actor.ActorSystem
	jobs      *actor.PID // job directory
	feeds     *actor.PID // feed directory
	router    *actor.PID // carries job messages between nodes
	remote    *remote.Remote
	placement Placement
	wg        sync.WaitGroup
	mu        sync.Mutex // guards closed with wg.Add
	closed    bool
}

// New validates cfg and creates a hub; Start spawns its actors.
func New(cfg Config, store Store, m *Metrics, log *slog.Logger) (*Hub, error) {
	d := DefaultConfig()
	if cfg.NodeID == "" {
		return nil, errors.New("actors: Config.NodeID is required")
	}
	if store == nil || m == nil {
		return nil, errors.New("actors: a store and metrics are required")
	}
	fill := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	fill(&cfg.StoreTimeout, d.StoreTimeout)
	fill(&cfg.RequestTimeout, d.RequestTimeout)
	fill(&cfg.JobIdle, d.JobIdle)
	fill(&cfg.FeedLinger, d.FeedLinger)
	fill(&cfg.RetryMin, d.RetryMin)
	fill(&cfg.RetryMax, d.RetryMax)
	if cfg.FeedRing <= 0 {
		cfg.FeedRing = d.FeedRing
	}
	if cfg.MaxSubscriptions <= 0 {
		cfg.MaxSubscriptions = d.MaxSubscriptions
	}
	if cfg.RetryMin > cfg.RetryMax {
		return nil, fmt.Errorf("actors: RetryMin %s is above RetryMax %s", cfg.RetryMin, cfg.RetryMax)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{cfg: cfg, store: store, log: log, metrics: m}, nil
}

// Start creates the actor system and the directories.
func (h *Hub) Start(ctx context.Context) error {
	// protoactor logs dead letters at info; the ones we cause (a watch on an
	// actor that just stopped) are expected, so only its warnings pass.
	logger := slog.New(minLevel{h.log.Handler(), slog.LevelWarn}).With("lib", "protoactor")
	h.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger }))
	if h.cfg.RemoteAddr != "" {
		if err := h.startRemote(); err != nil {
			h.system.Shutdown()
			return err
		}
	}
	router, err := h.system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &Router{h: h} }), routerName)
	if err != nil {
		return fmt.Errorf("start router: %w", err)
	}
	h.router = router
	h.jobs = h.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		d := newDirectory("job", h.spawnJob)
		if h.placement != nil {
			d.route, d.owned = h.routeJob, h.owns
		}
		return d
	}))
	if h.placement != nil {
		h.tickOwnership()
	}
	h.feeds = h.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return newDirectory("feed", h.spawnFeed)
	}))
	return nil
}

// startRemote binds the actor-remote address. protoactor's remote panics on a
// port in use, so the port is checked first.
func (h *Hub) startRemote() error {
	host, portS, err := net.SplitHostPort(h.cfg.RemoteAddr)
	if err != nil {
		return fmt.Errorf("remote address %q: %w", h.cfg.RemoteAddr, err)
	}
	ln, err := net.Listen("tcp", h.cfg.RemoteAddr)
	if err != nil {
		return fmt.Errorf("remote address %s: %w", h.cfg.RemoteAddr, err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if _, err := strconv.Atoi(portS); err != nil {
		return fmt.Errorf("remote address %q: bad port", h.cfg.RemoteAddr)
	}
	h.remote = remote.NewRemote(h.system, remote.Configure(host, port))
	h.remote.Start()
	return nil
}

// SetPlacement makes the hub route each job to the node that owns it (call
// before Start). Without it every job is served here.
func (h *Hub) SetPlacement(p Placement) { h.placement = p }

// MembershipChanged tells the hub that the members changed: jobs that moved
// are handed off, requests to nodes that died are routed again, feeds whose
// job lived on a dead node subscribe again. It does not block.
func (h *Hub) MembershipChanged() {
	if h.system == nil || h.jobs == nil {
		return
	}
	for _, pid := range []*actor.PID{h.router, h.jobs, h.feeds} {
		h.system.Root.Send(pid, &membersChanged{})
	}
}

// routeJob takes a job message to its owner when that is another node.
func (h *Hub) routeJob(ctx actor.Context, m *routed) bool {
	nodeID, remote, ok := h.placement.Owner(m.jobID)
	switch {
	case ok && nodeID == h.cfg.NodeID:
		return false
	case ok:
		ctx.Send(h.router, &forward{jobID: m.jobID, msg: m.msg, sender: ctx.Sender(), remote: remote, hops: m.hops})
		return true
	}
	err := &events.CodedError{Code: events.CodeUnavailable, Err: fmt.Errorf("job %s: no node can own jobs now (all draining or gone); retry", m.jobID)}
	switch msg := m.msg.(type) {
	case *subscribeJob:
		h.tell(ctx, msg.feed, &jobSubscribed{jobID: m.jobID, err: err})
	case *unsubscribeJob:
	case *emit:
		h.send(ctx.Sender(), &EmitResult{JobID: m.jobID, Err: err})
	default:
		h.send(ctx.Sender(), &stateReply{err: err})
	}
	return true
}

// tickOwnership has the job directory check its children's ownership every
// second, until the hub stops.
func (h *Hub) tickOwnership() {
	time.AfterFunc(time.Second, func() {
		h.mu.Lock()
		closed := h.closed
		h.mu.Unlock()
		if !closed {
			h.system.Root.Send(h.jobs, &ownershipTick{})
			h.tickOwnership()
		}
	})
}

// owns reports whether this node owns jobID in the current view.
func (h *Hub) owns(jobID string) bool {
	nodeID, _, ok := h.placement.Owner(jobID)
	return ok && nodeID == h.cfg.NodeID
}

// addr is this node's actor-remote address ("nonhost" without remote).
func (h *Hub) addr() string { return h.system.Address() }

// alive reports whether the node at an actor address is alive.
func (h *Hub) alive(addr string) bool {
	return h.placement == nil || addr == h.addr() || h.placement.Alive(addr)
}

// tell sends msg to pid, which may live on another node: then it goes in an
// envelope to that node's router.
func (h *Hub) tell(ctx actor.SenderContext, pid *actor.PID, msg any) {
	if pid == nil {
		return
	}
	if pid.Address == h.addr() || h.remote == nil {
		ctx.Send(pid, msg)
		return
	}
	name, payload, err := encodeMsg(msg)
	if err != nil {
		h.log.Error("cannot encode a message for another node", "to", pid.String(), "err", err)
		return
	}
	ctx.Send(routerOf(pid.Address), &clusterpb.Envelope{Version: codecVersion, Kind: kindTell, Target: pid.Id,
		From: h.addr(), Msg: name, Payload: payload})
}

// Stop stops every actor (jobs finish their write in flight and release their
// ownership), waits for the hub's goroutines and shuts the actor system down.
func (h *Hub) Stop(ctx context.Context) error {
	h.mu.Lock()
	if h.closed || h.system == nil {
		h.mu.Unlock()
		return nil
	}
	h.mu.Unlock()
	var errs []error
	for _, pid := range []*actor.PID{h.feeds, h.jobs} {
		if err := h.system.Root.PoisonFuture(pid).Wait(); err != nil {
			errs = append(errs, fmt.Errorf("stop directory: %w", err))
		}
	}
	if h.router != nil {
		_ = h.system.Root.StopFuture(h.router).Wait()
	}
	if h.remote != nil {
		// not Shutdown(true): in this protoactor version its suspend of the
		// endpoint reader races with the reader (DESIGN.md, library hazards).
		// The actors are stopped and the node has left the gossip by now.
		h.remote.Shutdown(false)
	}
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("stop hub: store operations still running: %w", ctx.Err()))
	}
	h.system.Shutdown()
	return errors.Join(errs...)
}

func (h *Hub) spawnJob(ctx actor.Context, id string, msg any, sender *actor.PID) (*actor.PID, bool) {
	switch m := msg.(type) {
	case *createJob:
		return ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return newJobActor(h, id, m, sender) })), false
	case *getState: // a read does not activate the job: the snapshot answers
		h.async(func() {
			c, cancel := context.WithTimeout(context.Background(), h.cfg.StoreTimeout)
			defer cancel()
			st, err := h.store.Snapshot(c, id)
			if err != nil {
				err = storeError("read", id, err)
			}
			h.send(sender, &stateReply{state: st, err: err})
		})
		return nil, false
	}
	return ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return newJobActor(h, id, nil, nil) })), true
}

func (h *Hub) spawnFeed(ctx actor.Context, id string, msg any, _ *actor.PID) (*actor.PID, bool) {
	if _, ok := msg.(*feedSubscribe); !ok {
		return nil, false // nothing to unsubscribe from
	}
	return ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return newJobFeed(h, id) })), true
}

// async runs fn on a goroutine the hub waits for at Stop.
func (h *Hub) async(fn func()) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.wg.Done()
		fn()
	}()
}

// after sends msg to pid after d.
func (h *Hub) after(d time.Duration, pid *actor.PID, msg any) {
	time.AfterFunc(d, func() { h.system.Root.Send(pid, msg) })
}

func (h *Hub) send(pid *actor.PID, msg any) {
	if pid != nil {
		h.system.Root.Send(pid, msg)
	}
}

func (h *Hub) rand(n int64) int64 { return rand.Int64N(max(n, 1)) }

// readEvents reads the journal after seq `after` and sends *fetched to pid.
func (h *Hub) readEvents(pid *actor.PID, jobID string, after int64) {
	h.async(func() {
		c, cancel := context.WithTimeout(context.Background(), h.cfg.StoreTimeout)
		defer cancel()
		evs, err := h.store.Events(c, jobID, after, 1000)
		if err == nil && len(evs) == 0 {
			err = fmt.Errorf("read job %s after seq %d: the journal has no such events yet", jobID, after)
		}
		h.send(pid, &fetched{jobID: jobID, events: evs, err: err})
	})
}

// release gives up a job's ownership in the background.
func (h *Hub) release(jobID string, epoch uint64) {
	h.async(func() {
		c, cancel := context.WithTimeout(context.Background(), h.cfg.StoreTimeout)
		defer cancel()
		if err := h.store.Release(c, jobID, epoch); err != nil {
			h.log.Debug("release job failed (the next owner takes it over anyway)", "job", jobID, "err", err)
		}
	})
}

// NodeID returns the node's id.
func (h *Hub) NodeID() string { return h.cfg.NodeID }

// Metrics returns the node's instruments.
func (h *Hub) Metrics() *Metrics { return h.metrics }

// Ready reports whether the store answers.
func (h *Hub) Ready(ctx context.Context) error { return h.store.Ping(ctx) }

// ask sends msg to job jobID and waits for its answer.
func (h *Hub) ask(ctx context.Context, jobID string, msg any) (any, error) {
	timeout := h.cfg.RequestTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	res, err := h.system.Root.RequestFuture(h.jobs, &routed{jobID: jobID, msg: msg}, timeout).Result()
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
	return sr.state, sr.created, sr.err
}

// CreateJob creates a job (idempotent: an existing job answers with its state
// and created false).
func (h *Hub) CreateJob(ctx context.Context, jobID, userID, typ string, input []byte) (events.JobState, bool, error) {
	st, first := events.NewJob(jobID, userID, typ, input, time.Now().UnixMilli())
	return h.askState(ctx, jobID, &createJob{state: st, first: first})
}

// Emit appends a worker's events to a job and returns once they are durable.
func (h *Hub) Emit(ctx context.Context, jobID string, items []EmitItem) (*EmitResult, error) {
	res, err := h.ask(ctx, jobID, &emit{items: items})
	if err != nil {
		return nil, err
	}
	r, ok := res.(*EmitResult)
	if !ok {
		return nil, fmt.Errorf("job %s answered %T", jobID, res)
	}
	return r, nil
}

// Cancel appends job:cancelled:v1 (unless the job is cancelled already) and
// returns the job's state once durable.
func (h *Hub) Cancel(ctx context.Context, jobID, reason string) (events.JobState, error) {
	st, _, err := h.askState(ctx, jobID, &cancelJob{reason: reason})
	return st, err
}

// State returns the job's durable state.
func (h *Hub) State(ctx context.Context, jobID string) (events.JobState, error) {
	st, _, err := h.askState(ctx, jobID, &getState{})
	return st, err
}

// Events returns durable events with seq > after (at most limit).
func (h *Hub) Events(ctx context.Context, jobID string, after int64, limit int) ([]events.Event, error) {
	evs, err := h.store.Events(ctx, jobID, after, limit)
	if err != nil {
		return nil, storeError("read", jobID, err)
	}
	return evs, nil
}

// SpawnConn starts the actor of a client connection; transport sends it
// *Request messages and stops it when the connection ends.
func (h *Hub) SpawnConn(sink Sink, session, user string) *actor.PID {
	return h.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &ConnActor{h: h, sink: sink, session: session, user: user}
	}))
}

// SpawnWorkerConn starts the actor of a worker connection.
func (h *Hub) SpawnWorkerConn(sink Sink) *actor.PID {
	return h.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &WorkerConnActor{h: h, sink: sink}
	}))
}

// Send delivers a request to a connection actor.
func (h *Hub) Send(pid *actor.PID, r *Request) { h.system.Root.Send(pid, r) }

// StopConn stops a connection actor.
func (h *Hub) StopConn(pid *actor.PID) { h.system.Root.Stop(pid) }

// ActiveJobs returns how many job actors this node runs.
func (h *Hub) ActiveJobs() int {
	res, err := h.system.Root.RequestFuture(h.jobs, &countChildren{}, time.Second).Result()
	if err != nil {
		return -1
	}
	n, _ := res.(int)
	return n
}

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

// RemoteAddress returns the actor-remote address in use ("" without remote).
func (h *Hub) RemoteAddress() string {
	if h.remote == nil {
		return ""
	}
	return h.system.Address()
}
