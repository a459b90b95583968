package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"
	"time"

	"github.com/actorhub/actorhub/cluster/clusterpb"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/group"
	"github.com/actorhub/actorhub/internal/rawio"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Placement tells which node a job hashes to and which nodes may hold jobs;
// Membership implements it. Its methods do not block.
type Placement interface {
	// Owner returns the id and actor-remote address of the node that jobID
	// hashes to (the job's directory: it finds the job where it lives, or
	// makes it live there); ok is false when no node can hold jobs now.
	Owner(jobID string) (nodeID, remote string, ok bool)
	// Placeable returns the actor-remote address of the node with that id
	// when jobs may live on it (alive or suspect, not draining).
	Placeable(nodeID string) (remote string, ok bool)
	// Known reports whether the node with that id is a member this node
	// heard of, in any state (dead and left included).
	Known(nodeID string) bool
	// Settled reports whether this node holds the membership the cluster had
	// when it joined (a node that just started may not know every member
	// yet).
	Settled() bool
	// Alive reports whether the node at that actor-remote address is a member
	// that is alive (or only suspected).
	Alive(remote string) bool
}

// NetworkConfig tunes the data plane between nodes.
type NetworkConfig struct {
	// NodeID names this node, as Placement names owners.
	NodeID string
	// Addr is the actor-remote (gRPC) bind address, host:port; port 0 picks a
	// free one (see Address).
	Addr string
	// Table declares the messages that cross between nodes.
	Table *Table
	// Placement names each job's owner.
	Placement Placement
	// RequestTimeout bounds a request forwarded to another node.
	RequestTimeout time.Duration
	// Log receives what the router drops; nil discards.
	Log *slog.Logger
	// TLS, when set, makes the remote port mutual TLS: a peer without a
	// certificate from the cluster's CA fails the handshake (counted as
	// cluster_tls) before any byte of it is decoded.
	TLS *MutualTLS
	// Dropped, when set, counts what the router and the remote's guard drop,
	// by reason (cluster_version, cluster_decode, cluster_kind, cluster_batch,
	// cluster_panic).
	Dropped func(reason string)
}

// Network carries actor messages between nodes: a job message to the node
// that owns the job (and its answer back), a message to an actor on any node.
// It runs protoactor's remote and a router actor on the node's actor system,
// and owns the router's timers. Its methods are safe for concurrent use and do
// not block.
type Network struct {
	cfg    NetworkConfig
	system *actor.ActorSystem
	remote *remote.Remote
	router *actor.PID
	timers *group.Group
	out    outbox
	locs   locations
}

// NewNetwork validates cfg.
func NewNetwork(cfg NetworkConfig) (*Network, error) {
	switch {
	case cfg.Table == nil:
		return nil, errNoTable
	case cfg.Placement == nil || cfg.NodeID == "":
		return nil, errors.New("cluster: NetworkConfig needs NodeID and Placement")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("cluster: remote address %q: want host:port (port 0 picks one)", cfg.Addr)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Network{cfg: cfg, timers: group.New()}, nil
}

// peerWindow is the HTTP/2 flow-control window of the gRPC streams between
// nodes, per stream and per connection, both ways. A fixed window turns off
// gRPC's bandwidth estimation, which sends a PING (and gets its ack) whenever
// data arrives with none out: at a few thousand small messages a second that
// was a frame each way per message or two, each a write(2) and a wakeup.
const peerWindow = 1 << 20

// endpointQueue is the initial size of the queue of messages to each other
// node (protoactor's endpoint writer mailbox, a ring that doubles when full
// and never drops). protoactor's default, a million slots, is a 16 MB array
// of pointers per peer that every GC cycle scans: on three nodes that was two
// thirds of each node's heap, 18 KB of the 45 KB per connection the peer
// harness measured at 5,000 connections.
const endpointQueue = 1024

// MaxRemoteMessage bounds what one gRPC message from a peer may carry. The
// sender's endpoint writer batches up to 1,000 envelopes into one message
// whatever their size, and a job's state carries its whole output: gRPC's
// default of 4 MB refused the state of a job with 6 MB of output, and with it
// broke the connection and every message on it (TestClusterLargeState).
const MaxRemoteMessage = 256 << 20

// Start binds the remote address on system and spawns the router. Call it
// before spawning any actor whose PID crosses nodes: a PID takes the system's
// address when it is made. protoactor's remote panics on a port in use, so
// the port is checked first.
func (n *Network) Start(system *actor.ActorSystem) error {
	host, _, _ := net.SplitHostPort(n.cfg.Addr)
	ln, err := net.Listen("tcp", n.cfg.Addr)
	if err != nil {
		return fmt.Errorf("remote address %s: %w", n.cfg.Addr, err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	n.system = system
	dialCreds, serverCreds := insecure.NewCredentials(), credentials.TransportCredentials(rawAccept{insecure.NewCredentials()})
	if n.cfg.TLS != nil {
		dialCreds = credentials.NewTLS(n.cfg.TLS.Client)
		serverCreds = rawAccept{countRefused{credentials.NewTLS(n.cfg.TLS.Server), n}}
	}
	serverOpts := []grpc.ServerOption{grpc.ChainStreamInterceptor(n.guardStreams), grpc.ChainUnaryInterceptor(n.guardCalls),
		grpc.MaxRecvMsgSize(MaxRemoteMessage), grpc.InitialWindowSize(peerWindow), grpc.InitialConnWindowSize(peerWindow),
		grpc.Creds(serverCreds)}
	// A broken connection or a refused dial to a member is a reason to check
	// whether it is down (Membership.PeerLost, down.go).
	var lost func(string)
	if w, ok := n.cfg.Placement.(interface{ PeerLost(remote string) }); ok {
		lost = w.PeerLost
		system.EventStream.Subscribe(func(evt any) {
			if e, ok := evt.(*remote.EndpointTerminatedEvent); ok {
				lost(e.Address)
			}
		})
	}
	local := sourceAddr(host) // dial from the bind address (source.go)
	dial := func(ctx context.Context, addr string) (net.Conn, error) { return dialPeer(ctx, addr, local, lost) }
	n.remote = remote.NewRemote(system, remote.Configure(host, port,
		remote.WithDialOptions(grpc.WithTransportCredentials(dialCreds), grpc.WithContextDialer(dial),
			grpc.WithInitialWindowSize(peerWindow), grpc.WithInitialConnWindowSize(peerWindow)),
		remote.WithServerOptions(serverOpts...), remote.WithEndpointWriterQueueSize(endpointQueue)))
	n.remote.Start()
	n.router, err = system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &router{n: n} }), routerName)
	if err != nil {
		n.remote.Shutdown(false)
		return fmt.Errorf("start router: %w", err)
	}
	return nil
}

// rawAccept hands the server's handshake an accepted connection whose reads
// and writes are raw system calls (internal/rawio), as dialPeer's are.
type rawAccept struct {
	credentials.TransportCredentials
}

func (c rawAccept) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.TransportCredentials.ServerHandshake(rawio.Wrap(conn))
}

func (c rawAccept) Clone() credentials.TransportCredentials {
	return rawAccept{c.TransportCredentials.Clone()}
}

// countRefused counts the handshakes the remote port's TLS refuses.
type countRefused struct {
	credentials.TransportCredentials
	n *Network
}

func (c countRefused) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ServerHandshake(raw)
	if err != nil {
		// debug, not warn: whoever scans the port would fill the log
		c.n.cfg.Log.Debug("remote: TLS handshake refused", "peer", raw.RemoteAddr().String(), "err", err)
		if c.n.cfg.Dropped != nil {
			c.n.cfg.Dropped("cluster_tls")
		}
	}
	return conn, info, err
}

func (c countRefused) Clone() credentials.TransportCredentials {
	return countRefused{c.TransportCredentials.Clone(), c.n}
}

// Stop stops the router and its timers and shuts the remote down (the node
// has left the gossip by then). It is idempotent.
func (n *Network) Stop(ctx context.Context) error {
	if n.router == nil {
		return nil
	}
	err := n.timers.Stop(ctx)
	_ = n.system.Root.StopFuture(n.router).Wait()
	// not Shutdown(true): in this protoactor version its suspend of the
	// endpoint reader races with the reader (DESIGN.md, library hazards)
	n.remote.Shutdown(false)
	n.router = nil
	return err
}

// Address returns this node's actor-remote address, as PIDs carry it.
func (n *Network) Address() string {
	if n.system == nil {
		return n.cfg.Addr
	}
	return n.system.Address()
}

// Alive reports whether the node at an actor-remote address is alive (this
// node always is).
func (n *Network) Alive(addr string) bool {
	return addr == n.Address() || n.cfg.Placement.Alive(addr)
}

// Route takes m, sent by sender, to the node that holds its job (or answers
// sender with the table's failure when no node can hold it) and reports true;
// it reports false when this node is to serve m itself: activate the job,
// which then checks with the store whether another node holds it. The job
// directory calls it for a job it has no child for.
//
// A message goes to the node known to hold its job; else it is served here
// when it came from another node (this node is the job's directory or was
// named as its holder), when it may place its job here (a create), or when
// the job hashes here; else it goes to the node the job hashes to. A node
// that cannot hold jobs (draining) serves nothing it can pass on.
func (n *Network) Route(ctx actor.SenderContext, m *JobMsg, sender *actor.PID) bool {
	if m.Hops >= MaxHops {
		return false
	}
	if nodeID, remote, ok := n.located(m.JobID); ok {
		ctx.Send(n.router, &forward{msg: m, sender: sender, remote: remote})
		if m.From != "" && m.From != remote {
			n.tellWhere(m.From, m.JobID, nodeID)
		}
		return true
	}
	if (m.From != "" || m.Place) && n.SelfPlaceable() {
		return false
	}
	nodeID, remote, ok := n.cfg.Placement.Owner(m.JobID)
	switch {
	case ok && nodeID == n.cfg.NodeID:
		return false
	case ok:
		ctx.Send(n.router, &forward{msg: m, sender: sender, remote: remote})
		return true
	}
	err := &events.CodedError{Code: events.CodeUnavailable,
		Err: fmt.Errorf("job %s: no node can hold jobs now (all draining or gone); retry", m.JobID)}
	if to, reply := n.cfg.Table.Fail(m.JobID, m.Msg, sender, err); to != nil {
		n.Tell(ctx, reply, to)
	}
	return true
}

// Tell sends msg to every pid, each on whichever node it lives: the message is
// encoded once for all the pids on other nodes.
func (n *Network) Tell(ctx actor.SenderContext, msg any, to ...*actor.PID) {
	var name string
	var payload []byte
	encoded := false
	self := n.Address()
	for _, pid := range to {
		if pid == nil {
			continue
		}
		if pid.Address == self {
			ctx.Send(pid, msg)
			continue
		}
		if !encoded {
			var err error
			if name, payload, err = n.cfg.Table.Encode(msg); err != nil {
				n.cfg.Log.Error("cannot encode a message for another node", "to", pid.String(), "err", err)
				return
			}
			encoded = true
		}
		n.send(pid.Address, &clusterpb.Envelope{Version: codecVersion, Kind: kindTell, Target: pid.Id,
			From: self, Msg: name, Payload: payload})
	}
}

// MembersChanged makes the router reroute what it forwarded to nodes that
// died.
func (n *Network) MembersChanged() {
	if n.router != nil {
		n.system.Root.Send(n.router, &membersChanged{})
	}
}

func (n *Network) jobs() *actor.PID { return actor.NewPID(n.Address(), JobsName) }

func (n *Network) after(d time.Duration, pid *actor.PID, msg any) {
	n.timers.After(d, func() { n.system.Root.Send(pid, msg) })
}

func (n *Network) dropped(reason, logMsg string, args ...any) {
	n.cfg.Log.Warn(logMsg, args...)
	if n.cfg.Dropped != nil {
		n.cfg.Dropped(reason)
	}
}

// Dialing another node's remote port: how often a refused dial is tried
// again, and for how long.
const (
	dialRetry    = 50 * time.Millisecond
	dialPatience = 10 * time.Second
)

// dialPeer connects to another node's remote port for protoactor's endpoint
// writer. A node that is down (restarting) refuses at once, and the endpoint
// writer of the pinned protoactor then sleeps a fixed 2 s before it dials
// again, while everything sent to that node waits behind it: a node that came
// back 30 ms after such a refusal got its jobs' messages 2 s late (measured
// with `actorhub chaos --faults kill`, the rejoin gaps). So the dial itself
// tries again every dialRetry, for up to dialPatience (and while grpc's
// connect deadline, ctx, allows): a node that comes back is reached within
// dialRetry. gRPC keeps the connection "connecting" meanwhile, so the
// writer's stream waits instead of failing.
//
// The first refusal is told to refused (when set): a node whose port refuses
// may be down (PeerLost).
func dialPeer(ctx context.Context, addr string, local *net.TCPAddr, refused func(string)) (net.Conn, error) {
	d := net.Dialer{}
	if local != nil {
		d.LocalAddr = local
	}
	deadline := time.Now().Add(dialPatience)
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return rawio.Wrap(c), nil
		}
		if refused != nil && errors.Is(err, syscall.ECONNREFUSED) {
			refused(addr)
			refused = nil
		}
		if time.Now().Add(dialRetry).After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(dialRetry):
		}
	}
}
