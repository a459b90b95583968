package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/cluster"
	"github.com/actorhub/actorhub/demo"
	"github.com/actorhub/actorhub/persistence"
	"github.com/actorhub/actorhub/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// serveConfig is everything `actorhub serve` reads from flags and environment.
type serveConfig struct {
	http, nodeID, gossip, remote, join, store, auth, jwtSecret, jwtSecretFile, logLevel, origins, pprof, demoWorkers string
	gossipKey, gossipKeyFile, adminHTTP, jwks, audience, issuer                                                      string
	maxTokenLife                                                                                                     time.Duration
	limits                                                                                                           transport.Limits
	maxJobEvents, maxJobBytes                                                                                        int64
	waitReplicas                                                                                                     int
	waitAOF                                                                                                          bool
	waitTimeout                                                                                                      time.Duration
	storeTLS                                                                                                         cluster.TLSFiles
	tls                                                                                                              cluster.TLSFiles
	demo, insecureCluster, standby                                                                                   bool
	storeSource                                                                                                      string
	gossipKeys                                                                                                       [][]byte
	remoteTLS                                                                                                        *cluster.MutualTLS
	frameLimit, maxSubs, outbound                                                                                    int
	ping, writeTimeout, retention, commitDelay, drainTimeout, jobIdle, reconnectMax                                  time.Duration
	probeInterval, probeTimeout, analyticsRetention                                                                  time.Duration
	suspicionMult, suspicionMaxMult                                                                                  int
}

func parseServe(args []string, stderr io.Writer) (*serveConfig, error) {
	c := &serveConfig{}
	td, ad, pd, cd := transport.DefaultConfig(), actors.DefaultConfig(), persistence.DefaultConfig(), cluster.DefaultConfig()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.http, "http", td.Addr, "HTTP + WebSocket listen address (port 0: pick a free port)")
	fs.StringVar(&c.adminHTTP, "admin-http", "", "serve /metrics, /api/cluster, /api/analytics/*, /healthz and /readyz also on this address, without a token (bind it where only operators reach it)")
	fs.StringVar(&c.nodeID, "node-id", "", "unique node name (default: derived from host and ports)")
	fs.StringVar(&c.gossip, "gossip", cd.Gossip, "memberlist bind address")
	fs.StringVar(&c.remote, "remote", "127.0.0.1:8090", "actor remote (gRPC) bind address")
	fs.StringVar(&c.join, "join", "", "gossip addresses of existing members, comma-separated")
	fs.StringVar(&c.tls.Cert, "tls-cert", "", "PEM certificate of this node for the actor-remote port's mutual TLS (actorhub certs makes a development set)")
	fs.StringVar(&c.tls.Key, "tls-key", "", "PEM key of --tls-cert")
	fs.StringVar(&c.tls.CA, "tls-ca", "", "PEM CA that signs every member's certificate: a peer without one is refused at the handshake")
	fs.StringVar(&c.gossipKey, "gossip-key", "", "gossip encryption keys, base64 of 16, 24 or 32 bytes, comma-separated: the first encrypts, all decrypt (it shows in ps: prefer --gossip-key-file or ACTORHUB_GOSSIP_KEY)")
	fs.StringVar(&c.gossipKeyFile, "gossip-key-file", "", "a file of gossip keys, one per line, the first the one that encrypts")
	fs.BoolVar(&c.insecureCluster, "insecure-cluster", false, "allow gossip without keys or the remote port without TLS on addresses beyond loopback (anyone who reaches them joins the cluster)")
	fs.StringVar(&c.store, "store", "bolt:./data/actorhub.db", "bolt:PATH, redis://host:port/db, rediss://…, a Redis Cluster URL with addr= parameters, or redis+sentinel://sentinel:port/db?master_name=NAME")
	fs.IntVar(&c.waitReplicas, "store-wait-replicas", 0, "Redis: acknowledge an event only once this many replicas have it (WAIT after each group commit); a commit they do not confirm in --store-wait-timeout fails as unavailable and the worker resends")
	fs.BoolVar(&c.waitAOF, "store-wait-aof", false, "Redis: acknowledge an event only once the primary (and --store-wait-replicas replicas) fsynced it to the append-only file (WAITAOF)")
	fs.DurationVar(&c.waitTimeout, "store-wait-timeout", pd.WaitTimeout, "Redis: how long a group commit waits for --store-wait-replicas / --store-wait-aof")
	fs.StringVar(&c.storeSource, "store-source", "", "Redis: the local IP address to connect to the store from (a host with several addresses)")
	fs.BoolVar(&c.standby, "standby", true, "Redis store, several nodes: go on standby (hold no jobs, send clients and workers to other nodes, /readyz 503) while this node reaches fewer than half of the nodes that heartbeat to the store, or cannot reach the store while another node can hold its jobs")
	fs.StringVar(&c.storeTLS.Cert, "store-tls-cert", "", "rediss://: a PEM client certificate (for a Redis with tls-auth-clients)")
	fs.StringVar(&c.storeTLS.Key, "store-tls-key", "", "rediss://: the key of --store-tls-cert")
	fs.StringVar(&c.storeTLS.CA, "store-tls-ca", "", "rediss://: the PEM CA of the Redis server's certificate (default: the system's roots)")
	fs.StringVar(&c.auth, "auth", td.Auth, "none (user from ?user=) or jwt (HS256 tokens signed with --jwt-secret)")
	fs.StringVar(&c.jwtSecret, "jwt-secret", "", "HMAC secret that verifies tokens with --auth jwt (it shows in ps: prefer --jwt-secret-file or ACTORHUB_JWT_SECRET)")
	fs.StringVar(&c.jwtSecretFile, "jwt-secret-file", "", "a file holding the HMAC secret of --auth jwt (a trailing newline is dropped)")
	fs.StringVar(&c.jwks, "jwt-jwks", "", "JSON Web Key Set (a file, or an http(s) URL refreshed every 15 min) whose keys verify RS/PS/ES/EdDSA tokens by kid, with --auth jwt")
	fs.StringVar(&c.audience, "jwt-audience", "", "with --auth jwt: a token must name this in aud")
	fs.StringVar(&c.issuer, "jwt-issuer", "", "with --auth jwt: a token must name this in iss")
	fs.DurationVar(&c.maxTokenLife, "jwt-max-lifetime", 24*time.Hour, "with --auth jwt: refuse a token that lives longer (exp − iat, or exp − now without iat); 0: no bound")
	fs.BoolVar(&c.demo, "demo", false, "run the built-in demo worker (a simulated LLM) and its prompt box on the page at /")
	fs.StringVar(&c.demoWorkers, "demo-worker", "", "URLs of actorhub demo-worker processes, comma-separated: the page's prompts go to them (instead of --demo's worker inside this node)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.origins, "allowed-origins", "", "extra Origin host patterns accepted on WebSockets, comma-separated")
	fs.StringVar(&c.pprof, "pprof", "", "serve net/http/pprof on this address (off when empty; keep it on loopback)")
	c.limits = td.Limits
	fs.Int64Var(&c.maxJobEvents, "max-job-events", ad.MaxJobEvents, "events one job may hold; past it emits get too_large, except the terminal event (0: no bound)")
	fs.Int64Var(&c.maxJobBytes, "max-job-bytes", ad.MaxJobBytes, "bytes of data of one job's events; past it emits get too_large, except the terminal event (0: no bound)")
	fs.IntVar(&c.limits.MaxConnections, "max-connections", c.limits.MaxConnections, "WebSockets this node holds; one more is refused 503 so that it goes to another node (0: no cap)")
	fs.IntVar(&c.limits.MaxConnectionsPerUser, "max-connections-per-user", c.limits.MaxConnectionsPerUser, "WebSockets of one authenticated user on this node (--auth jwt); one more is refused 429 (0: no cap)")
	fs.Float64Var(&c.limits.ClientRate, "client-rate", c.limits.ClientRate, "requests per second of one client connection (burst --client-burst); more get rate_limited (0: no limit)")
	fs.IntVar(&c.limits.ClientBurst, "client-burst", c.limits.ClientBurst, "burst of --client-rate")
	fs.Float64Var(&c.limits.UserRate, "user-rate", c.limits.UserRate, "requests per second of all of one authenticated user's client connections on this node (burst --user-burst; 0: no limit)")
	fs.IntVar(&c.limits.UserBurst, "user-burst", c.limits.UserBurst, "burst of --user-rate")
	fs.IntVar(&c.limits.ErrorsPerFrame, "errors-per-frame", c.limits.ErrorsPerFrame, "error objects answered for one frame; the rest of the frame is dropped with one more error")
	fs.Float64Var(&c.limits.ErrorsPerSecond, "errors-per-second", c.limits.ErrorsPerSecond, "a connection earning more refused requests than this in a second is closed 1008")
	fs.IntVar(&c.frameLimit, "frame-limit", td.FrameLimit, "largest WebSocket frame accepted (bytes)")
	fs.IntVar(&c.maxSubs, "max-subscriptions", ad.MaxSubscriptions, "subscriptions per client connection")
	fs.IntVar(&c.outbound, "outbound-queue", td.OutboundQueue, "objects waiting for one connection before it is closed as too slow (1008)")
	fs.DurationVar(&c.ping, "ping-interval", td.PingInterval, "server ping interval; a peer that misses a pong is dropped")
	fs.DurationVar(&c.writeTimeout, "write-timeout", td.WriteTimeout, "a connection whose frame has not been taken by the peer's TCP for this long is dropped")
	fs.DurationVar(&c.commitDelay, "commit-delay", pd.CommitDelay, "Redis store: how long a group commit may wait for more appends while they arrive faster than one per this delay: less CPU, more latency (0: never wait)")
	fs.DurationVar(&c.retention, "retention", pd.Retention, "how long a finished job stays in the store")
	fs.DurationVar(&c.analyticsRetention, "analytics-retention", ad.AnalyticsRetention, "how long a day's analytics stay in the store after its last flush")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 30*time.Second, "bound on a graceful shutdown (SIGTERM)")
	fs.DurationVar(&c.reconnectMax, "drain-reconnect-max", td.DrainReconnectMax, "upper bound of the jittered afterMs a draining node gives its clients")
	fs.DurationVar(&c.jobIdle, "job-idle", ad.JobIdle, "passivate a job actor nobody watches after this long idle")
	fs.DurationVar(&c.probeInterval, "probe-interval", cd.ProbeInterval, "gossip failure detection: how often a member probes another")
	fs.DurationVar(&c.probeTimeout, "probe-timeout", cd.ProbeTimeout, "gossip failure detection: how long a probe waits for its ack")
	fs.IntVar(&c.suspicionMult, "suspicion-mult", cd.SuspicionMult, "gossip failure detection: probe intervals a suspect has to refute before it is declared dead")
	fs.IntVar(&c.suspicionMaxMult, "suspicion-max-mult", cd.SuspicionMaxTimeoutMult, "gossip failure detection: how much longer a suspicion may last when few members confirm it")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("serve takes flags only; unexpected %q", fs.Arg(0))
	}
	if err := envOverlay(fs); err != nil {
		return nil, err
	}
	for name, addr := range map[string]string{"--http": c.http, "--gossip": c.gossip, "--remote": c.remote} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%s %q: want host:port (port 0 picks a free one)", name, addr)
		}
	}
	var err error
	if c.jwtSecret, err = secretFlag("--jwt-secret", c.jwtSecret, c.jwtSecretFile); err != nil {
		return nil, err
	}
	if err := c.clusterSecurity(); err != nil {
		return nil, err
	}
	if c.nodeID == "" {
		c.nodeID = deriveNodeID(c.http, c.gossip)
	}
	return c, nil
}

// secretFlag returns a secret given as the flag name (value) or in the file
// of its -file twin, without the file's trailing newline: both given, an
// unreadable file or an empty one is an error.
func secretFlag(name, value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	if value != "" {
		return "", fmt.Errorf("%s and %s-file both given: keep one", name, name)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s-file: %w", name, err)
	}
	if value = strings.TrimRight(string(b), "\r\n"); value == "" {
		return "", fmt.Errorf("%s-file %s is empty", name, file)
	}
	return value, nil
}

// clusterSecurity loads the gossip keys and the remote port's TLS, and
// refuses cluster ports open to the network without them: whoever reaches an
// unkeyed gossip port joins the cluster, and whoever reaches a remote port
// without TLS talks to every actor. On loopback only local processes reach
// them, and the node starts (and says what protects it at start-up).
func (c *serveConfig) clusterSecurity() error {
	keys, err := secretFlag("--gossip-key", c.gossipKey, c.gossipKeyFile)
	if err != nil {
		return err
	}
	if c.gossipKeys, err = cluster.ParseGossipKeys(keys); err != nil {
		return err
	}
	if c.gossipKeyFile != "" && len(c.gossipKeys) == 0 {
		return fmt.Errorf("--gossip-key-file %s holds no key", c.gossipKeyFile)
	}
	if c.tls.Enabled() {
		if c.remoteTLS, err = cluster.LoadMutualTLS(c.tls); err != nil {
			return err
		}
	}
	if c.insecureCluster {
		return nil
	}
	if len(c.gossipKeys) == 0 && !cluster.IsLoopback(c.gossip) {
		return fmt.Errorf("--gossip %s is reachable beyond this host and has no --gossip-key: anyone who reaches it would join the cluster (actorhub certs prints a key; --insecure-cluster to run without)", c.gossip)
	}
	if c.remoteTLS == nil && !cluster.IsLoopback(c.remote) {
		return fmt.Errorf("--remote %s is reachable beyond this host without --tls-cert/--tls-key/--tls-ca: anyone who reaches it could send messages to any actor (actorhub certs makes a development CA; --insecure-cluster to run without)", c.remote)
	}
	return nil
}

// exposure lists, one sentence each, what this node leaves open.
func (c *serveConfig) exposure() []string {
	var out []string
	if c.auth != "jwt" && !cluster.IsLoopback(c.http) {
		out = append(out, "--auth none on "+c.http+", beyond loopback: anyone who reaches it may act as any user, read and cancel any job and emit into it as a worker; use --auth jwt")
	}
	if len(c.gossipKeys) == 0 && (c.join != "" || !cluster.IsLoopback(c.gossip)) {
		out = append(out, "gossip without --gossip-key: any process that reaches "+c.gossip+" can join the cluster")
	}
	if c.remoteTLS == nil && (c.join != "" || !cluster.IsLoopback(c.remote)) {
		out = append(out, "remote port without mutual TLS: any process that reaches "+c.remote+" can message this node's actors")
	}
	return out
}

// deriveNodeID names a node after its host and ports (unique per process on
// one host as long as the ports are).
func deriveNodeID(httpAddr, gossip string) string {
	host, _ := os.Hostname()
	if host == "" {
		host = "node"
	}
	_, hp, _ := net.SplitHostPort(httpAddr)
	_, gp, _ := net.SplitHostPort(gossip)
	id := host + "-" + hp + "-" + gp
	if hp == "0" || gp == "0" {
		id += "-" + strconv.Itoa(os.Getpid())
	}
	return id
}

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	c, err := parseServe(args, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(c.logLevel, stderr)
	if err != nil {
		return err
	}
	log = log.With("node", c.nodeID)
	persistence.SetRedisLogger(log.With("component", "go-redis"))
	if c.join != "" && strings.HasPrefix(c.store, "bolt:") {
		return errors.New("--join needs a shared store: a bolt: file belongs to one node; use --store redis://… on every node")
	}
	if c.pprof != "" {
		stopPprof, err := servePprof(c.pprof, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	n, err := startNode(ctx, c, log)
	if err != nil {
		return err
	}
	log.Info("serving", "http", n.server.Addr(), "admin", n.server.AdminAddr(), "gossip", n.members.Addr(), "store", n.store.String(), "demo", c.demo,
		"gossip_encrypted", len(c.gossipKeys) > 0, "remote_mtls", c.remoteTLS != nil, "auth", c.auth)
	for _, w := range c.exposure() {
		log.Warn(w)
	}
	<-ctx.Done()
	log.Info("draining", "timeout", c.drainTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), c.drainTimeout)
	defer cancel()
	err = n.shutdown(sctx)
	if err != nil {
		log.Error("shutdown", "err", err)
	} else {
		log.Info("stopped")
	}
	return err
}

// node is one running `actorhub serve`.
type node struct {
	store   persistence.Store
	hub     *actors.Hub
	server  *transport.Server
	members *cluster.Membership
	demo    *demo.Worker
	// stopStandby ends the standby loop and waits for it (nil without one)
	stopStandby func()
	standbyOn   prometheus.Gauge
	log         *slog.Logger
}

// startStandby runs the node's cluster.Standby: a node on the minority side
// of a partition, or cut from its store, holds no jobs and sends its clients
// and workers to the other nodes until that is over.
func (n *node) startStandby(w cluster.Witness, reg prometheus.Registerer, log *slog.Logger) {
	n.log = log
	n.standbyOn = prometheus.NewGauge(prometheus.GaugeOpts{Name: "actorhub_standby",
		Help: "1 while the node is on standby (it sees a minority of the cluster or cannot reach the store), else 0"})
	reg.MustRegister(n.standbyOn)
	sb := cluster.NewStandby(cluster.StandbyConfig{Witness: w, View: n.members.View, Joined: n.members.Joined,
		Enter: n.enterStandby, Leave: n.leaveStandby, StoreDown: n.storeDown, Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sb.Run(ctx) }()
	n.stopStandby = func() { cancel(); <-done }
}

func (n *node) storeDown(down bool) {
	if err := n.members.SetStoreDown(down); err != nil {
		n.log.Warn("standby: tell the others whether the store answers", "err", err)
	}
}

func (n *node) enterStandby(reason string) {
	n.standbyOn.Set(1)
	n.server.SetStandby(reason)
	if err := n.members.SetStandby(true); err != nil {
		n.log.Warn("standby: tell the others", "err", err) // they learn it when gossip reaches them
	}
	n.hub.MembershipChanged()
}

func (n *node) leaveStandby() {
	if err := n.members.SetStandby(false); err != nil {
		n.log.Warn("standby over: tell the others", "err", err)
	}
	n.hub.MembershipChanged()
	n.server.SetStandby("")
	n.standbyOn.Set(0)
}

func startNode(ctx context.Context, c *serveConfig, log *slog.Logger) (_ *node, err error) {
	n := &node{}
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = n.shutdown(sctx)
		}
	}()
	pcfg := persistence.DefaultConfig()
	pcfg.Retention, pcfg.Logger = c.retention, log.With("component", "store")
	pcfg.CommitDelay = c.commitDelay
	pcfg.WaitReplicas, pcfg.WaitAOF, pcfg.WaitTimeout = c.waitReplicas, c.waitAOF, c.waitTimeout
	pcfg.TLSCert, pcfg.TLSKey, pcfg.TLSCA = c.storeTLS.Cert, c.storeTLS.Key, c.storeTLS.CA
	pcfg.SourceAddr = c.storeSource
	if n.store, err = persistence.Open(ctx, c.store, pcfg); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	// the scheduler's metrics too: go_sched_latencies_seconds is how long goroutines waited to run, what a node
	// with too little CPU (or one P held by a wide fan-out, docs/BENCHMARKS.md C25) shows first
	reg.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsScheduler)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	acfg := actors.DefaultConfig()
	acfg.NodeID, acfg.MaxSubscriptions, acfg.JobIdle, acfg.RemoteAddr = c.nodeID, c.maxSubs, c.jobIdle, c.remote
	acfg.AnalyticsRetention, acfg.RemoteTLS = c.analyticsRetention, c.remoteTLS
	acfg.MaxJobEvents, acfg.MaxJobBytes = c.maxJobEvents, c.maxJobBytes
	var _ actors.Store = n.store
	if n.hub, err = actors.New(acfg, n.store, actors.NewMetrics(reg), log); err != nil {
		return nil, err
	}
	mcfg := cluster.DefaultConfig()
	mcfg.Gossip, mcfg.Logger, mcfg.Keys = c.gossip, log.With("component", "gossip"), c.gossipKeys
	mcfg.ProbeInterval, mcfg.ProbeTimeout, mcfg.SuspicionMult, mcfg.SuspicionMaxTimeoutMult = c.probeInterval, c.probeTimeout, c.suspicionMult, c.suspicionMaxMult
	if c.join != "" {
		mcfg.Join = strings.Split(c.join, ",")
	}
	mcfg.Meta = cluster.Meta{ID: c.nodeID, Remote: c.remote, HTTP: c.http, Version: version}
	hub := n.hub
	mcfg.OnChange = func(*cluster.View) { hub.MembershipChanged() }
	if n.members, err = cluster.New(mcfg); err != nil {
		return nil, err
	}
	n.hub.SetPlacement(n.members)
	if err = n.hub.Start(ctx); err != nil {
		return nil, err
	}
	tcfg := transport.DefaultConfig()
	tcfg.Addr, tcfg.NodeID, tcfg.FrameLimit, tcfg.OutboundQueue, tcfg.PingInterval = c.http, c.nodeID, c.frameLimit, c.outbound, c.ping
	tcfg.Auth, tcfg.JWTSecret, tcfg.DrainReconnectMax = c.auth, []byte(c.jwtSecret), c.reconnectMax
	tcfg.WriteTimeout, tcfg.AdminAddr, tcfg.Limits = c.writeTimeout, c.adminHTTP, c.limits
	tcfg.JWTAudience, tcfg.JWTIssuer, tcfg.MaxTokenLifetime = c.audience, c.issuer, c.maxTokenLife
	if c.jwks != "" {
		if tcfg.JWKS, err = loadJWKS(ctx, c.jwks, log.With("component", "jwks")); err != nil {
			return nil, err
		}
	}
	if c.origins != "" {
		tcfg.AllowedOrigins = strings.Split(c.origins, ",")
	}
	if n.server, err = transport.New(tcfg, n.hub, clusterView{n.members}, reg, log); err != nil {
		return nil, err
	}
	n.server.Handle("GET /{$}", demo.Page())
	n.server.Handle("GET /app.js", demo.Script())
	n.server.Handle("GET /client.js", demo.Client())
	demo.Analytics(n.server)
	if err = n.server.Start(ctx); err != nil {
		return nil, err
	}
	mcfg.Meta.HTTP, mcfg.Meta.Remote = n.server.Addr(), n.hub.RemoteAddress()
	if err = n.members.SetMeta(mcfg.Meta); err != nil {
		return nil, err
	}
	if err = n.members.Start(); err != nil {
		return nil, err
	}
	if w, ok := n.store.(cluster.Witness); ok && c.standby {
		n.startStandby(w, reg, log.With("component", "standby"))
	}
	switch {
	case c.demoWorkers != "":
		n.server.Handle("POST /api/demo/prompt", demo.Forward(strings.Split(c.demoWorkers, ",")))
	case c.demo:
		n.demo = demo.NewWorker([]string{"http://" + n.server.Addr()}, log.With("component", "demo"))
		n.server.Handle("POST /api/demo/prompt", n.demo)
		n.demo.Start()
	}
	return n, nil
}

// shutdown drains: /readyz turns 503, the node leaves placement and hands
// its jobs off (their feeds elsewhere re-subscribe to the new owners), tells
// its clients to reconnect elsewhere, then stops accepting, stops the actors,
// leaves the gossip and closes the store.
func (n *node) shutdown(ctx context.Context) error {
	var errs []error
	if n.stopStandby != nil {
		n.stopStandby() // it removes the node's heartbeat: the others stop counting it
	}
	if n.server != nil {
		n.server.SetDraining()
	}
	if n.members != nil && n.hub != nil && n.members.Joined() {
		if err := n.members.SetDraining(); err != nil {
			errs = append(errs, err)
		}
		n.hub.MembershipChanged()
		for n.hub.ActiveJobs() > 0 && ctx.Err() == nil { // bounded by ctx (the drain timeout)
			time.Sleep(20 * time.Millisecond)
		}
		// (a job that activates here after the loop, as a request can make
		// one, is stopped with the actors below: only the timeout is an error)
		if left := n.hub.ActiveJobs(); left > 0 && ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("%d job(s) had not handed over at the drain timeout", left))
		}
	}
	if n.server != nil {
		n.server.Drain()
		select { // let the reconnect frames go out
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	if n.demo != nil {
		n.demo.Stop()
	}
	if n.server != nil {
		if err := n.server.Stop(ctx); err != nil { // the HTTP requests still running, at the drain timeout
			errs = append(errs, fmt.Errorf("stop the HTTP server: %w", err))
		}
	}
	if n.hub != nil {
		if err := n.hub.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop the actors: %w", err))
		}
	}
	if n.members != nil {
		errs = append(errs, n.members.Stop(2*time.Second))
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
	}
	return errors.Join(errs...)
}

// clusterView adapts membership to what GET /api/cluster shows.
type clusterView struct{ m *cluster.Membership }

func (v clusterView) Joined() bool { return v.m.Joined() }

func (v clusterView) Members() (string, []transport.Member) {
	var out []transport.Member
	for _, m := range v.m.View().Members {
		out = append(out, transport.Member{ID: m.Meta.ID, HTTP: m.Meta.HTTP, State: m.State})
	}
	return v.m.Self(), out
}
