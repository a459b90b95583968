package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/analytics"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/rawio"
	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config tunes the HTTP and WebSocket edge of a node.
type Config struct {
	// Addr is the listen address; port 0 picks a free port (see Server.Addr).
	Addr string
	// NodeID names the node in session ids.
	NodeID string
	// FrameLimit is the largest WebSocket frame accepted; larger ones get a
	// frame_too_large error and are skipped.
	FrameLimit int
	// HardFrameLimit closes the connection (1009) above this size.
	HardFrameLimit int
	// MaxBody bounds an HTTP request body.
	MaxBody int64
	// MaxEventsPerRequest bounds the events of one POST .../events.
	MaxEventsPerRequest int
	// OutboundQueue bounds the objects waiting for one connection; a client over
	// it is closed with 1008 and resumes later from its seq.
	OutboundQueue int
	// PingInterval between server pings; PingTimeout drops a peer that does not
	// answer one in time.
	PingInterval, PingTimeout time.Duration
	// WriteTimeout bounds writing one frame.
	WriteTimeout time.Duration
	// Auth is "none" (user from ?user=) or "jwt" (HS256 with JWTSecret).
	Auth string
	// JWTSecret verifies HMAC tokens (HS256/384/512) when Auth is "jwt".
	JWTSecret []byte
	// JWKS, when set, finds the public key of an asymmetric token (RS*, PS*,
	// ES*, EdDSA) by its kid (keyfunc over a JWKS file or URL).
	JWKS jwt.Keyfunc
	// JWTAudience and JWTIssuer, when set, are required in aud and iss.
	JWTAudience, JWTIssuer string
	// MaxTokenLifetime refuses a token that lives longer (exp − iat, or
	// exp − now without iat); 0: no bound.
	MaxTokenLifetime time.Duration
	// Limits bound connections, request rates and error floods.
	Limits Limits
	// AdminAddr, when set, serves /metrics, /api/cluster, /api/analytics/*,
	// /healthz and /readyz on a listener of their own, without a token: bind
	// it where only operators reach it.
	AdminAddr string
	// AllowedOrigins are extra Origin host patterns accepted on WebSockets (same
	// origin always is).
	AllowedOrigins []string
	// DrainReconnectMax is the upper bound of the jittered afterMs sent to
	// clients when the node drains.
	DrainReconnectMax time.Duration
}

// DefaultConfig returns production settings.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:8080", FrameLimit: 64 << 10, HardFrameLimit: 1 << 20, MaxBody: 1 << 20,
		MaxEventsPerRequest: 1000, OutboundQueue: 4096, PingInterval: 25 * time.Second,
		PingTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, Auth: "none", Limits: DefaultLimits(),
		DrainReconnectMax: 2 * time.Second}
}

// nodeHeader names the node in the answer to a worker's upgrade (and to any
// WebSocket's) and to POST /api/jobs/{id}/events.
const nodeHeader = "Actorhub-Node"

// Hub is what the edge needs of the node's actors; *actors.Hub implements it.
// Its methods are safe for concurrent use; the ones that take a ctx block
// until the job answered (or the ctx ended).
type Hub interface {
	// OpenClient starts the actor of a client connection (/ws) that writes
	// through sink; OpenWorker the actor of a worker connection (/ws/worker).
	// Neither blocks. The connection's reader hands the actor each request
	// with Conn.Deliver and stops it with Conn.Close when the socket ends.
	OpenClient(sink actors.Sink, session string, by actors.Access) *actors.Conn
	OpenWorker(sink actors.Sink) *actors.Conn
	// CreateJob creates a job, or returns the existing one's state with
	// created false.
	CreateJob(ctx context.Context, jobID, userID, typ string, input []byte) (st events.JobState, created bool, err error)
	// Emit appends a worker's events and returns once they are durable; a
	// refusal (offset_gap, job_finished) returns the offsets with the error.
	Emit(ctx context.Context, jobID string, items []actors.EmitItem) (actors.EmitResult, error)
	// Cancel cancels a job and returns its state once that is durable; the
	// job refuses (forbidden) when by may not cancel it.
	Cancel(ctx context.Context, jobID, reason string, by actors.Access) (events.JobState, error)
	// State returns a job's durable state.
	State(ctx context.Context, jobID string) (events.JobState, error)
	// Events returns up to limit durable events of a job with seq > after.
	Events(ctx context.Context, jobID string, after int64, limit int) ([]events.Event, error)
	// Holder returns the node that holds a job now ("" when none does).
	Holder(ctx context.Context, jobID string) (string, error)
	// Analytics returns the store's analytics (nil when it keeps none).
	Analytics() analytics.Store
	// Ready reports whether the node's store answers.
	Ready(ctx context.Context) error
	// Metrics returns the node's instruments.
	Metrics() *actors.Metrics
}

var _ Hub = (*actors.Hub)(nil)

// ClusterView tells who the members are (GET /api/cluster).
type ClusterView interface {
	// Members returns this node's id and every member's id, HTTP address and
	// state (alive, suspect, dead, left). It does not block.
	Members() (self string, members []Member)
	// Joined reports whether the node is part of its cluster yet.
	Joined() bool
}

// Member is one entry of GET /api/cluster.
type Member struct {
	ID    string `json:"id"`
	HTTP  string `json:"http"`
	State string `json:"state"`
}

// Server is a node's HTTP server.
type Server struct {
	cfg      Config
	hub      Hub
	cluster  ClusterView
	gatherer prometheus.Gatherer
	log      *slog.Logger
	mux      *http.ServeMux
	srv      *http.Server
	ln       net.Listener
	admin    *http.Server // on cfg.AdminAddr
	adminLn  net.Listener
	adminErr chan error
	draining atomic.Bool
	standby  atomic.Pointer[string] // why the node is on standby; nil when it is not
	sessions atomic.Uint64
	users    users
	admitted atomic.Int64 // WebSockets admitted and not yet released
	tokens   *jwt.Parser  // with --auth jwt
	serveErr chan error

	mu       sync.Mutex
	live     map[*session]struct{}
	slots    []map[*session]struct{} // the pinger's: sessions by the tick that pings them
	nextSlot int
	closed   bool
	handler  sync.WaitGroup
	pings    sync.WaitGroup // the pinger and its pings in flight
	stopPing context.CancelFunc

	// the pinger parks while no session is live; track wakes it
	pingWake   chan struct{}
	pingerIdle atomic.Bool // parked (for tests)
}

// New validates cfg and builds a server; Start listens.
func New(cfg Config, hub Hub, cluster ClusterView, g prometheus.Gatherer, log *slog.Logger) (*Server, error) {
	d := DefaultConfig()
	if cfg.FrameLimit <= 0 {
		cfg.FrameLimit = d.FrameLimit
	}
	if cfg.HardFrameLimit < cfg.FrameLimit {
		cfg.HardFrameLimit = max(d.HardFrameLimit, cfg.FrameLimit)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = d.MaxBody
	}
	if cfg.MaxEventsPerRequest <= 0 {
		cfg.MaxEventsPerRequest = d.MaxEventsPerRequest
	}
	if cfg.OutboundQueue <= 0 {
		cfg.OutboundQueue = d.OutboundQueue
	}
	fillDur(&cfg.PingInterval, d.PingInterval)
	fillDur(&cfg.PingTimeout, d.PingTimeout)
	cfg.PingTimeout = min(cfg.PingTimeout, cfg.PingInterval) // a pong is due before the next ping
	fillDur(&cfg.WriteTimeout, d.WriteTimeout)
	fillDur(&cfg.DrainReconnectMax, d.DrainReconnectMax)
	switch cfg.Auth {
	case "", "none":
		cfg.Auth = "none"
	case "jwt":
		if len(cfg.JWTSecret) == 0 && cfg.JWKS == nil {
			return nil, errors.New("transport: --auth jwt needs a key: --jwt-secret-file (HMAC) or --jwt-jwks (public keys)")
		}
	default:
		return nil, fmt.Errorf("transport: --auth %q: use none or jwt", cfg.Auth)
	}
	if hub == nil || cluster == nil || g == nil {
		return nil, errors.New("transport: a hub, a cluster view and a metrics gatherer are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, hub: hub, cluster: cluster, gatherer: g, log: log, mux: http.NewServeMux(),
		live: map[*session]struct{}{}, pingWake: make(chan struct{}, 1), serveErr: make(chan error, 1), adminErr: make(chan error, 1)}
	s.slots = make([]map[*session]struct{}, max(1, int(cfg.PingInterval/pingStep(&cfg))))
	for i := range s.slots {
		s.slots[i] = map[*session]struct{}{}
	}
	if cfg.Auth == "jwt" {
		s.tokens = newTokenParser(&s.cfg)
	}
	s.routes()
	return s, nil
}

// Handle adds a handler (the demo page, say) to the server's mux.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	for pattern, h := range s.opsRoutes() {
		s.mux.Handle(pattern, s.guarded(h))
	}
	s.mux.HandleFunc("POST /api/jobs", s.jsonOnly(s.createJob))
	s.mux.HandleFunc("POST /api/jobs/{id}/events", s.jsonOnly(s.postEvents))
	s.mux.HandleFunc("POST /api/jobs/{id}/cancel", s.jsonOnly(s.cancelJob))
	s.mux.HandleFunc("GET /api/job/{id}/state", s.jobState)
	s.mux.HandleFunc("GET /api/job/{id}/status", s.jobStatus)
	s.mux.HandleFunc("GET /api/job/{id}/events", s.jobEvents)
	s.mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) { s.serveWS(w, r, false) })
	s.mux.HandleFunc("GET /ws/worker", func(w http.ResponseWriter, r *http.Request) { s.serveWS(w, r, true) })
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, map[string]string{"status": "ok"})
}

// opsRoutes are the operational endpoints: behind the ops scope on the main
// listener (guarded), as they are on the admin listener.
func (s *Server) opsRoutes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /metrics":               promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}),
		"GET /api/cluster":           http.HandlerFunc(s.clusterInfo),
		"GET /api/analytics/dau":     http.HandlerFunc(s.analyticsDAU),
		"GET /api/analytics/metrics": http.HandlerFunc(s.analyticsMetrics),
		"GET /api/analytics/series":  http.HandlerFunc(s.analyticsSeries),
	}
}

// adminRoutes are the admin listener's: the health checks and the
// operational endpoints, without a token.
func (s *Server) adminRoutes() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /healthz", healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	for pattern, h := range s.opsRoutes() {
		m.Handle(pattern, h)
	}
	return m
}

// Start listens on cfg.Addr and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen http %s: %w", s.cfg.Addr, err)
	}
	s.ln = rawio.Listener(ln)
	s.srv = &http.Server{Handler: s.hostGuard(s.mux), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	go func() { s.serveErr <- s.srv.Serve(s.ln) }()
	if s.cfg.AdminAddr != "" {
		if s.adminLn, err = (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.AdminAddr); err != nil {
			_ = s.srv.Close()
			<-s.serveErr
			s.srv = nil
			return fmt.Errorf("listen admin http %s: %w", s.cfg.AdminAddr, err)
		}
		s.admin = &http.Server{Handler: s.adminRoutes(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: time.Minute, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
		go func() { s.adminErr <- s.admin.Serve(s.adminLn) }()
	}
	pctx, cancel := context.WithCancel(context.Background())
	s.stopPing = cancel
	s.pings.Add(1)
	go s.pinger(pctx)
	return nil
}

// pingStep is the pinger's tick: at most 50 ms, so that the pings of a
// PingInterval are spread over many small bursts.
func pingStep(cfg *Config) time.Duration {
	return max(time.Millisecond, min(50*time.Millisecond, cfg.PingInterval/4))
}

// pinger pings every WebSocket once per PingInterval from one goroutine; a
// peer that does not answer within PingTimeout is dropped, and so is one that
// has not taken a frame for WriteTimeout. Sessions are dealt round-robin into
// PingInterval/step slots and each tick pings one slot: 10k connections that
// connected together are pinged ~20 at a time, not all in one instant (that
// burst, every 25 s, put 100+ ms on the events behind it). A client's ping is
// a frame of its session's writer (session.sendPing), and the tick that comes
// PingTimeout after it checks its pong; the others' pings (workers'; any
// connection where the reader does not take pongs off the wire) go through
// coder/websocket, each on a goroutine that waits for the pong. While no
// session is live the pinger stops its ticker and parks until track wakes it,
// so that an idle node is not woken 20 times a second for nothing.
func (s *Server) pinger(ctx context.Context) {
	defer s.pings.Done()
	step := pingStep(&s.cfg)
	stuckEvery := max(1, int(s.cfg.WriteTimeout/4/step))
	n := len(s.slots)
	back := min(n, int((s.cfg.PingTimeout+step-1)/step)) // ticks from a ping to its check
	var due []*session
	t := time.NewTicker(step)
	defer t.Stop()
	for tick := 0; ; tick++ {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			mono := monoNow()
			s.mu.Lock()
			if tick >= back {
				for sess := range s.slots[(tick-back)%n] {
					sess.dropIfNoPong(mono, s.cfg.PingTimeout)
				}
			}
			for sess := range s.slots[tick%n] {
				if sess.ownPings {
					due = append(due, sess)
					continue
				}
				s.pings.Add(1)
				go s.ping(ctx, sess)
			}
			if tick%stuckEvery == 0 {
				for sess := range s.live {
					sess.dropIfStuck(now, s.cfg.WriteTimeout)
				}
			}
			idle := len(s.live) == 0 // read under s.mu, as track reads it: no wake is missed
			s.mu.Unlock()
			for i, sess := range due { // outside s.mu: a ping may be written from here
				sess.sendPing(mono)
				due[i] = nil
			}
			due = due[:0]
			if idle {
				t.Stop()
				s.pingerIdle.Store(true)
				select {
				case <-ctx.Done():
					return
				case <-s.pingWake: // possibly left by a track that found the pinger awake: one tick more
				}
				s.pingerIdle.Store(false)
				t.Reset(step)
			}
		}
	}
}

func (s *Server) ping(ctx context.Context, sess *session) {
	defer s.pings.Done()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PingTimeout)
	defer cancel()
	pc := sess.startPing(ctx)
	err := sess.conn.Ping(pc)
	if sess.endPing(pc) { // the reader took the pong off the wire (connReader.readSome)
		return
	}
	if err != nil && !sess.over() && ctx.Err() != context.Canceled {
		sess.conn.CloseNow()
	}
}

// AdminAddr returns the address of the admin listener ("" without one).
func (s *Server) AdminAddr() string {
	if s.adminLn == nil {
		return ""
	}
	return s.adminLn.Addr().String()
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string {
	if s.ln == nil {
		return s.cfg.Addr
	}
	return s.ln.Addr().String()
}

// SetDraining turns /readyz to 503 and refuses new WebSockets.
func (s *Server) SetDraining() { s.draining.Store(true) }

// Drain marks the node not ready, tells every client to reconnect elsewhere
// after a jittered delay and closes the client sockets once that is written.
func (s *Server) Drain() {
	s.draining.Store(true)
	s.sendAway("node draining", false)
}

// SetStandby puts the node on standby for reason (cluster.Standby), or takes
// it off with "": on standby /readyz answers 503, new WebSockets are refused,
// and the open ones are sent to other nodes (clients get reconnect first,
// workers are closed with 1012 and resend there).
func (s *Server) SetStandby(reason string) {
	if reason == "" {
		s.standby.Store(nil)
		return
	}
	s.standby.Store(&reason)
	s.sendAway("node on standby", true)
}

// standbyReason returns why the node is on standby ("" when it is not).
func (s *Server) standbyReason() string {
	if r := s.standby.Load(); r != nil {
		return *r
	}
	return ""
}

// sendAway tells every client to reconnect elsewhere after a jittered delay
// and closes its socket once that is written; with workers it closes the
// workers' sockets too.
func (s *Server) sendAway(why string, workers bool) {
	s.mu.Lock()
	away := make([]*session, 0, len(s.live))
	for sess := range s.live {
		if sess.client || workers {
			away = append(away, sess)
		}
	}
	s.mu.Unlock()
	for _, sess := range away {
		if sess.client {
			after := rand.Int64N(int64(s.cfg.DrainReconnectMax/time.Millisecond)) + 1
			sess.Send(events.AppendReconnect(nil, after, why))
		}
		sess.Close(int(websocket.StatusServiceRestart), why+"; reconnect to another node")
	}
}

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// Stop stops accepting, closes every WebSocket (1001) and waits for every
// connection's goroutines. It is idempotent.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for sess := range s.live {
		sess.Close(int(websocket.StatusGoingAway), "node shutting down")
	}
	s.mu.Unlock()
	var err error
	if s.srv != nil {
		err = s.srv.Shutdown(ctx)
		if e := <-s.serveErr; e != nil && !errors.Is(e, http.ErrServerClosed) {
			err = errors.Join(err, e)
		}
	}
	if s.admin != nil {
		err = errors.Join(err, s.admin.Shutdown(ctx))
		if e := <-s.adminErr; e != nil && !errors.Is(e, http.ErrServerClosed) {
			err = errors.Join(err, e)
		}
	}
	if s.stopPing != nil {
		s.stopPing()
		s.pings.Wait()
	}
	done := make(chan struct{})
	go func() { s.handler.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for sess := range s.live {
			sess.conn.CloseNow()
		}
		s.mu.Unlock()
		<-done
	}
	return err
}

func (s *Server) track(sess *session) (refused websocket.StatusCode, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return websocket.StatusGoingAway, "node is shutting down"
	case s.draining.Load(), s.standby.Load() != nil:
		// it began after the handler's check; Drain and SetStandby send away
		// the sessions they find under s.mu, which this one is not yet among
		return websocket.StatusServiceRestart, "node draining or on standby; reconnect to another node"
	}
	if len(s.live) == 0 {
		select { // the pinger may be parked (see pinger)
		case s.pingWake <- struct{}{}:
		default:
		}
	}
	s.live[sess] = struct{}{}
	sess.slot = s.nextSlot
	s.slots[sess.slot][sess] = struct{}{}
	s.nextSlot = (s.nextSlot + 1) % len(s.slots)
	s.handler.Add(1)
	return 0, ""
}

func (s *Server) untrack(sess *session) {
	s.mu.Lock()
	delete(s.live, sess)
	delete(s.slots[sess.slot], sess)
	s.mu.Unlock()
	s.handler.Done()
}

func fillDur(v *time.Duration, def time.Duration) {
	if *v <= 0 {
		*v = def
	}
}
