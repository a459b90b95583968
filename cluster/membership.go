package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/actorhub/actorhub/internal/backoff"
)

// Meta is what a node tells the others about itself (memberlist node meta, at
// most 512 bytes encoded).
type Meta struct {
	ID       string `json:"id"`
	Remote   string `json:"remote"`
	HTTP     string `json:"http"`
	Version  string `json:"v"`
	Draining bool   `json:"d,omitempty"`
	// Standby: the node holds no jobs for now (it sees only a minority of the
	// cluster, or cannot reach the store; see Standby). Unlike Draining it
	// ends, and a node that dies on standby died (it did not leave).
	Standby bool `json:"s,omitempty"`
	// StoreDown: the node's last heartbeat to the store failed. A node that
	// cannot reach the store goes on standby only when another node can
	// (when none can, the store is down, not the node cut off).
	StoreDown bool `json:"sd,omitempty"`
}

// Config tunes membership.
type Config struct {
	// Meta describes this node; Meta.ID is its unique memberlist name.
	Meta Meta
	// Gossip is the memberlist bind address; port 0 picks a free one.
	Gossip string
	// Keys encrypt and authenticate gossip (memberlist's keyring, AES-GCM):
	// the first encrypts, every one decrypts, and a message under no key is
	// dropped. None: gossip in the clear, open to anyone who reaches the port.
	Keys [][]byte
	// Join lists gossip addresses of existing members; Start keeps trying them
	// (in the background) until one answers.
	Join []string
	// ProbeInterval and ProbeTimeout drive failure detection; SuspicionMult
	// scales how long a suspect node has to refute before it is declared dead.
	ProbeInterval, ProbeTimeout time.Duration
	SuspicionMult               int
	// SuspicionMaxTimeoutMult bounds how much longer a suspicion may last
	// when few peers confirm it.
	SuspicionMaxTimeoutMult int
	// PushPullInterval is the period of full state syncs (they speed up
	// convergence after a join).
	PushPullInterval time.Duration
	// OnChange is called (from the membership's own goroutine, never from a
	// memberlist callback) after the view changed.
	OnChange func(*View)
	// Logger receives memberlist's logs at debug level.
	Logger *slog.Logger
}

// DefaultConfig returns fast LAN timings: probes every 200 ms, so a killed
// node is declared dead in about a second, with memberlist's awareness
// stretching the timeouts of a node that is merely busy.
func DefaultConfig() Config {
	return Config{Gossip: "127.0.0.1:7946", ProbeInterval: 200 * time.Millisecond,
		ProbeTimeout: 400 * time.Millisecond, SuspicionMult: 3, SuspicionMaxTimeoutMult: 2, PushPullInterval: 5 * time.Second}
}

// Membership is this node's memberlist member and its view of the cluster.
type Membership struct {
	cfg    Config // cfg.Meta changes (under mu); the rest does not
	self   string // cfg.Meta.ID, which never changes
	ml     *memberlist.Memberlist
	view   atomic.Pointer[View]
	joined atomic.Bool

	refreshMu sync.Mutex // one view rebuild at a time, so that OnChange sees views in order

	mu      sync.Mutex // meta, members
	meta    []byte
	members map[string]Member // by memberlist name, kept from memberlist's events (alive, dead, left)
	// suspects holds when each alive member became suspect to this node (see
	// setSuspect); the view shows those members as suspect
	suspects map[string]time.Time
	// downs holds when each alive member was found down (down.go): its
	// gossip port refused a dial; the view shows it dead. checking holds the
	// members being dialed.
	downs    map[string]time.Time
	checking map[string]bool
	stopped  bool // Stop began: no check starts any more
	// deadSince holds when each member memberlist declared dead died, for
	// reconnectDead; rejoining says whether a reconnect round runs
	deadSince map[string]time.Time
	rejoining bool

	broadcasts *memberlist.TransmitLimitedQueue // this node's "down" messages

	changed chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
}

// New validates cfg.
func New(cfg Config) (*Membership, error) {
	if cfg.Meta.ID == "" {
		return nil, errors.New("cluster: Meta.ID is required")
	}
	d := DefaultConfig()
	if cfg.Gossip == "" {
		cfg.Gossip = d.Gossip
	}
	for _, p := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&cfg.ProbeInterval, d.ProbeInterval}, {&cfg.ProbeTimeout, d.ProbeTimeout}, {&cfg.PushPullInterval, d.PushPullInterval}} {
		if *p.v <= 0 {
			*p.v = p.def
		}
	}
	if cfg.SuspicionMult <= 0 {
		cfg.SuspicionMult = d.SuspicionMult
	}
	if cfg.SuspicionMaxTimeoutMult <= 0 {
		cfg.SuspicionMaxTimeoutMult = d.SuspicionMaxTimeoutMult
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Membership{cfg: cfg, self: cfg.Meta.ID, members: map[string]Member{}, suspects: map[string]time.Time{},
		downs: map[string]time.Time{}, checking: map[string]bool{}, deadSince: map[string]time.Time{},
		changed: make(chan struct{}, 1), stop: make(chan struct{})}
	m.broadcasts = &memberlist.TransmitLimitedQueue{RetransmitMult: 3, NumNodes: func() int {
		m.mu.Lock()
		defer m.mu.Unlock()
		return max(1, len(m.members))
	}}
	if err := m.SetMeta(cfg.Meta); err != nil {
		return nil, err
	}
	m.view.Store(&View{Self: cfg.Meta.ID, Members: []Member{{Meta: cfg.Meta, State: StateAlive}}})
	return m, nil
}

// SetMeta replaces the node meta (before Start, or to flag draining) and
// gossips it.
func (m *Membership) SetMeta(meta Meta) error {
	b, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("encode node meta: %w", err)
	}
	if len(b) > memberlist.MetaMaxSize {
		return fmt.Errorf("node meta is %d bytes; memberlist allows %d (shorten --node-id or the addresses)", len(b), memberlist.MetaMaxSize)
	}
	m.mu.Lock()
	if meta.ID != m.self {
		m.mu.Unlock()
		return fmt.Errorf("node meta: the id %q cannot change to %q", m.self, meta.ID)
	}
	m.cfg.Meta, m.meta = meta, b
	ml := m.ml
	m.mu.Unlock()
	if ml != nil {
		err := ml.UpdateNode(2 * time.Second) // the meta is ours at once; err: no peer took the news yet
		m.signal()
		if err != nil {
			return fmt.Errorf("gossip node meta: %w", err)
		}
	}
	return nil
}

// SetDraining flags this node as draining: placement leaves it out everywhere.
func (m *Membership) SetDraining() error {
	return m.updateMeta(func(meta *Meta) { meta.Draining = true })
}

// SetStandby flags this node as on standby, or no longer: placement leaves a
// node on standby out everywhere.
func (m *Membership) SetStandby(on bool) error {
	return m.updateMeta(func(meta *Meta) { meta.Standby = on })
}

// SetStoreDown tells the others whether this node reaches the store.
func (m *Membership) SetStoreDown(down bool) error {
	return m.updateMeta(func(meta *Meta) { meta.StoreDown = down })
}

func (m *Membership) updateMeta(change func(*Meta)) error {
	m.mu.Lock()
	meta := m.cfg.Meta
	m.mu.Unlock()
	change(&meta)
	return m.SetMeta(meta)
}

// Start binds the gossip address, starts the member and, with Join, keeps
// trying to join in the background.
func (m *Membership) Start() error {
	host, portS, err := net.SplitHostPort(m.cfg.Gossip)
	if err != nil {
		return fmt.Errorf("gossip address %q: %w", m.cfg.Gossip, err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return fmt.Errorf("gossip address %q: bad port", m.cfg.Gossip)
	}
	c := memberlist.DefaultLANConfig()
	c.Name = m.self
	c.Logger = log.New((*logSink)(m), "", 0)
	st, port, err := newGossipTransport(host, port, c.Logger)
	if err != nil {
		return fmt.Errorf("start gossip on %s: %w", m.cfg.Gossip, err)
	}
	c.Transport = st
	c.BindAddr, c.BindPort = host, port
	c.AdvertiseAddr, c.AdvertisePort = host, port
	c.ProbeInterval, c.ProbeTimeout, c.SuspicionMult = m.cfg.ProbeInterval, m.cfg.ProbeTimeout, m.cfg.SuspicionMult
	// A suspicion lasts SuspicionMult probe intervals once enough peers
	// confirm it, and up to SuspicionMaxTimeoutMult times that with fewer
	// confirmations: in a small cluster (3 nodes, 1 possible confirmation)
	// memberlist's default 6 stretches a death to ~4 s.
	c.SuspicionMaxTimeoutMult = m.cfg.SuspicionMaxTimeoutMult
	c.GossipInterval = 100 * time.Millisecond
	c.PushPullInterval = m.cfg.PushPullInterval
	// No LZW: memberlist compresses every message it sends (and keeps the
	// result only when smaller) with a new 64 KB compressor each time. A
	// probe is a few dozen bytes and a push/pull a few KB of names and
	// addresses; the compressors were 7 % of a loaded node's garbage.
	// Members read compressed messages whatever this says, so nodes with
	// and without it gossip together.
	c.EnableCompression = false
	c.Delegate = (*delegate)(m)
	c.Events = (*eventDelegate)(m)
	c.Ping = (*pings)(m)
	if len(m.cfg.Keys) > 0 {
		if c.Keyring, err = memberlist.NewKeyring(m.cfg.Keys, m.cfg.Keys[0]); err != nil {
			return fmt.Errorf("gossip keys: %w", err)
		}
	}
	ml, err := memberlist.Create(c)
	if err != nil {
		_ = st.Shutdown()
		return fmt.Errorf("start gossip on %s: %w", m.cfg.Gossip, err)
	}
	m.mu.Lock()
	m.ml = ml
	m.mu.Unlock()
	m.wg.Add(1)
	go m.watch()
	if len(m.cfg.Join) == 0 {
		m.joined.Store(true)
	} else {
		m.wg.Add(1)
		go m.join(ml)
	}
	m.signal()
	return nil
}

// joinBackoff paces the retries of a join that found no one.
var joinBackoff = backoff.Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second}

// join tries the join addresses until one answers or Stop.
func (m *Membership) join(ml *memberlist.Memberlist) {
	defer m.wg.Done()
	for attempt := 0; ; attempt++ {
		n, err := ml.Join(m.cfg.Join)
		if n > 0 {
			// the members the join brought are in the view before this node
			// says it joined (Settled)
			m.refresh()
			m.joined.Store(true)
			m.cfg.Logger.Info("joined the cluster", "via", m.cfg.Join, "contacted", n)
			m.signal()
			return
		}
		m.cfg.Logger.Warn("join failed; retrying", "addrs", m.cfg.Join, "attempt", attempt, "err", err)
		d := joinBackoff.Delay(attempt) + 50*time.Millisecond
		select {
		case <-m.stop:
			return
		case <-time.After(d):
		}
	}
}

// Joined reports whether this node is part of a cluster (always, without Join).
func (m *Membership) Joined() bool { return m.joined.Load() }

// watch rebuilds the view after memberlist events, outside memberlist's locks.
func (m *Membership) watch() {
	defer m.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	// Members found down are dialed again often: one that restarted at once
	// is alive to memberlist all along (no event tells of it) and must not
	// stay out of the placement for long. The ticker runs only while some
	// member is down (a member found down signals changed).
	recheck := time.NewTicker(downRecheck)
	recheck.Stop()
	defer recheck.Stop()
	rechecking := false
	for {
		refresh := true
		select {
		case <-m.stop:
			return
		case <-m.changed:
		case <-tick.C:
			m.reconnectDead()
		case <-recheck.C:
			m.recheckDowns()
			refresh = false // a member back signals changed
		}
		if refresh {
			m.refresh()
		}
		m.mu.Lock()
		downs := len(m.downs) > 0
		m.mu.Unlock()
		if downs != rechecking {
			if rechecking = downs; downs {
				recheck.Reset(downRecheck)
			} else {
				recheck.Stop()
			}
		}
	}
}

// refresh rebuilds the view and tells OnChange when it changed.
func (m *Membership) refresh() {
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	v := m.build()
	if old := m.view.Load(); old != nil && old.equal(v) {
		return
	}
	m.view.Store(v)
	if m.cfg.OnChange != nil {
		m.cfg.OnChange(v)
	}
}

// build makes a view from the members recorded by the event callbacks (the
// *Node that memberlist's Members() returns is memberlist's own and changes
// under it: reading it outside its callbacks is a data race).
func (m *Membership) build() *View {
	v := &View{Self: m.self}
	m.mu.Lock()
	m.expireSuspects(time.Now())
	for name, mem := range m.members {
		if _, ok := m.suspects[name]; ok {
			mem.State = StateSuspect
		}
		if _, ok := m.downs[name]; ok {
			mem.State = StateDead
		}
		v.Members = append(v.Members, mem)
	}
	m.mu.Unlock()
	sort.Slice(v.Members, func(i, j int) bool { return v.Members[i].Meta.ID < v.Members[j].Meta.ID })
	return v
}

func (m *Membership) signal() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// Addr returns the gossip address in use.
func (m *Membership) Addr() string {
	if m.ml == nil {
		return m.cfg.Gossip
	}
	n := m.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// Stop leaves the gossip (bounded by timeout), shuts the member down and waits
// for its goroutines. It is idempotent.
func (m *Membership) Stop(timeout time.Duration) error {
	m.mu.Lock()
	ml := m.ml
	m.ml = nil
	m.stopped = true
	m.mu.Unlock()
	if ml == nil {
		return nil
	}
	close(m.stop)
	err := ml.Leave(timeout)
	m.wg.Wait()
	if e := ml.Shutdown(); e != nil {
		err = errors.Join(err, e)
	}
	return err
}

// View returns the current view (never nil; do not modify it).
func (m *Membership) View() *View { return m.view.Load() }

// Self returns this node's id.
func (m *Membership) Self() string { return m.self }

func decodeMeta(n *memberlist.Node) Meta {
	var meta Meta
	if json.Unmarshal(n.Meta, &meta) != nil || meta.ID == "" {
		meta = Meta{ID: n.Name}
	}
	return meta
}

// delegate gives memberlist the node meta; it never calls back into memberlist.
type delegate Membership

func (d *delegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.meta) > limit {
		return nil
	}
	return d.meta
}
func (d *delegate) NotifyMsg(msg []byte) { (*Membership)(d).onDownMessage(msg) }
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.broadcasts.GetBroadcasts(overhead, limit)
}
func (d *delegate) LocalState(join bool) []byte            { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool) {}

// eventDelegate records joins, updates and departures and wakes the watcher;
// memberlist calls it under its own lock, so it only copies and signals.
type eventDelegate Membership

func (e *eventDelegate) NotifyJoin(n *memberlist.Node) { e.alive(n) }

func (e *eventDelegate) NotifyUpdate(n *memberlist.Node) { e.alive(n) }

func (e *eventDelegate) alive(n *memberlist.Node) {
	mem := Member{Meta: decodeMeta(n), State: StateAlive, Gossip: gossipAddr(n)}
	e.mu.Lock()
	e.members[n.Name] = mem
	delete(e.suspects, n.Name)
	delete(e.downs, n.Name)
	delete(e.deadSince, n.Name)
	e.mu.Unlock()
	(*Membership)(e).signal()
}

func (e *eventDelegate) NotifyLeave(n *memberlist.Node) {
	// memberlist (v0.7.0) does not update the Node.State it hands out, so it
	// cannot tell a death from a leave here: a node that drained before it
	// went (its meta says so) left, any other died.
	meta := decodeMeta(n)
	state := StateDead
	if meta.Draining {
		state = StateLeft
	}
	e.mu.Lock()
	e.members[n.Name] = Member{Meta: meta, State: state, Gossip: gossipAddr(n)}
	delete(e.suspects, n.Name)
	delete(e.downs, n.Name)
	if state == StateDead {
		e.deadSince[n.Name] = time.Now()
	}
	e.mu.Unlock()
	(*Membership)(e).signal()
}

// Owner returns the id and actor-remote address of the node that owns jobID
// (actors.Placement).
func (m *Membership) Owner(jobID string) (nodeID, remote string, ok bool) {
	mem, ok := m.View().Owner(jobID)
	return mem.Meta.ID, mem.Meta.Remote, ok
}

// Known reports whether the view has a member with that id, in any state
// (cluster.Placement).
func (m *Membership) Known(nodeID string) bool { return m.View().Known(nodeID) }

// Settled reports whether the view holds the members the cluster knew when
// this node joined it (cluster.Placement).
func (m *Membership) Settled() bool { return m.joined.Load() }

// Placeable returns the actor-remote address of the member with that id when
// jobs may live on it (cluster.Placement).
func (m *Membership) Placeable(nodeID string) (remote string, ok bool) {
	return m.View().Placeable(nodeID)
}

// Alive reports whether the member at an actor-remote address is alive or
// suspect (actors.Placement).
func (m *Membership) Alive(remote string) bool { return m.View().Alive(remote) }

// Suspicion. memberlist (v0.7.0) has no supported API that reports it, so
// this node parses the one log line it writes and tracks the suspicions it
// raises itself:
//   - Members() returns every member that is not dead or left, suspects
//     included, and the State of the *Node it hands out is always StateAlive:
//     memberlist keeps the real state in nodeState.State, which shadows the
//     embedded Node.State and is never copied into it (state.go).
//   - No delegate hears of a suspicion: suspectNode (state.go) calls none;
//     EventDelegate only hears joins, leaves and updates, PingDelegate only
//     acked probes, MergeDelegate only a joiner's push-pull.
//   - The suspicion timer and its timeout are private (nodeTimers,
//     suspicionTimeout in util.go), hence the formula copied in expireSuspects.
//
// A probe of a member that got no ack, direct or indirect, is logged (the line
// below, state.go) just before memberlist marks the member suspect; the next
// probe that gets an ack, or an update, clears it; death or leave ends it. A
// suspicion raised only by other members shows here once this node's own
// probe of that member fails too (within a probe round). If a memberlist
// upgrade changes the line, TestMembershipCrashIsSuspectThenDead fails.
const suspectLine = "memberlist: Suspect "

// logSink receives memberlist's log lines: it notes suspicions, then passes
// each line on to the configured logger at debug level.
type logSink Membership

func (l *logSink) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	if i := strings.Index(line, suspectLine); i >= 0 {
		rest := line[i+len(suspectLine):]
		if j := strings.Index(rest, " has failed"); j > 0 {
			(*Membership)(l).setSuspect(rest[:j], true)
		}
	}
	l.cfg.Logger.Debug(line)
	return len(p), nil
}

// pings clears a suspicion when a probe of the member is acked.
type pings Membership

func (p *pings) AckPayload() []byte { return nil }

func (p *pings) NotifyPingComplete(other *memberlist.Node, _ time.Duration, _ []byte) {
	(*Membership)(p).setSuspect(other.Name, false)
}

// setSuspect marks an alive member suspect, or clears its suspicion; a dead
// or left member stays as it is (memberlist's events decide those).
func (m *Membership) setSuspect(name string, suspect bool) {
	m.mu.Lock()
	_, was := m.suspects[name]
	if mem, ok := m.members[name]; suspect && ok && mem.State == StateAlive {
		m.suspects[name] = time.Now()
	} else if !suspect {
		delete(m.suspects, name)
	}
	_, is := m.suspects[name]
	m.mu.Unlock()
	if was != is {
		if is {
			m.cfg.Logger.Info("member suspect: a probe got no ack", "member", name)
		}
		m.signal()
	}
}

// expireSuspects (under mu) clears suspicions older than memberlist's longest
// suspicion timeout: the member was not declared dead by then, so it refuted
// the suspicion even though this node's own direct probes have not been
// acked since (indirect probes may have been). The timeout is memberlist's
// own (v0.7.0 suspectNode: SuspicionMaxTimeoutMult × suspicionTimeout, which
// is SuspicionMult × max(1, log10(n members)) × ProbeInterval), plus a probe
// timeout and a second of slack.
func (m *Membership) expireSuspects(now time.Time) {
	if len(m.suspects) == 0 {
		return
	}
	scale := max(1, math.Log10(float64(max(1, len(m.members)))))
	limit := time.Duration(float64(m.cfg.SuspicionMaxTimeoutMult*m.cfg.SuspicionMult)*scale*float64(m.cfg.ProbeInterval)) +
		m.cfg.ProbeTimeout + time.Second
	for name, since := range m.suspects {
		if now.Sub(since) >= limit {
			delete(m.suspects, name)
		}
	}
}
