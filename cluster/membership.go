package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Meta is what a node tells the others about itself (memberlist node meta, at
// most 512 bytes encoded).
type Meta struct {
	ID       string `json:"id"`
	Remote   string `json:"remote"`
	HTTP     string `json:"http"`
	Version  string `json:"v"`
	Draining bool   `json:"d,omitempty"`
}

// Config tunes membership.
type Config struct {
	// Meta describes this node; Meta.ID is its unique memberlist name.
	Meta Meta
	// Gossip is the memberlist bind address; port 0 picks a free one.
	Gossip string
	// ProbeInterval and ProbeTimeout drive failure detection; SuspicionMult
	// scales how long a suspect node has to refute before it is declared dead.
	ProbeInterval, ProbeTimeout time.Duration
	SuspicionMult               int
	// Logger receives memberlist's logs at debug level.
	Logger *slog.Logger
}

// DefaultConfig returns fast LAN timings (a killed node is declared dead in
// about a second).
func DefaultConfig() Config {
	return Config{Gossip: "127.0.0.1:7946", ProbeInterval: 200 * time.Millisecond,
		ProbeTimeout: 100 * time.Millisecond, SuspicionMult: 2}
}

// Membership is this node's memberlist member.
type Membership struct {
	cfg  Config
	ml   *memberlist.Memberlist
	mu   sync.Mutex
	meta []byte
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
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = d.ProbeInterval
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = d.ProbeTimeout
	}
	if cfg.SuspicionMult <= 0 {
		cfg.SuspicionMult = d.SuspicionMult
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Membership{cfg: cfg}
	if err := m.SetMeta(cfg.Meta); err != nil {
		return nil, err
	}
	return m, nil
}

// SetMeta replaces the node meta (before Start, or to flag draining).
func (m *Membership) SetMeta(meta Meta) error {
	b, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("encode node meta: %w", err)
	}
	if len(b) > memberlist.MetaMaxSize {
		return fmt.Errorf("node meta is %d bytes; memberlist allows %d (shorten --node-id or the addresses)", len(b), memberlist.MetaMaxSize)
	}
	m.mu.Lock()
	m.cfg.Meta, m.meta = meta, b
	m.mu.Unlock()
	return nil
}

// Start binds the gossip address and starts the member.
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
	c.Name = m.cfg.Meta.ID
	c.BindAddr, c.BindPort = host, port
	c.AdvertiseAddr, c.AdvertisePort = host, port
	c.ProbeInterval, c.ProbeTimeout, c.SuspicionMult = m.cfg.ProbeInterval, m.cfg.ProbeTimeout, m.cfg.SuspicionMult
	c.Delegate = (*delegate)(m)
	c.LogOutput = nil
	c.Logger = log.New(io.Discard, "", 0)
	if m.cfg.Logger != nil {
		c.Logger = slog.NewLogLogger(m.cfg.Logger.Handler(), slog.LevelDebug)
	}
	ml, err := memberlist.Create(c)
	if err != nil {
		return fmt.Errorf("start gossip on %s: %w", m.cfg.Gossip, err)
	}
	m.ml = ml
	return nil
}

// Addr returns the gossip address in use.
func (m *Membership) Addr() string {
	if m.ml == nil {
		return m.cfg.Gossip
	}
	n := m.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// Stop leaves the gossip (bounded by timeout) and shuts the member down.
func (m *Membership) Stop(timeout time.Duration) error {
	if m.ml == nil {
		return nil
	}
	err := m.ml.Leave(timeout)
	if e := m.ml.Shutdown(); e != nil {
		err = errors.Join(err, e)
	}
	m.ml = nil
	return err
}

// Member is one node as this node sees it.
type Member struct {
	Meta  Meta
	State string // alive, suspect, dead, left
}

// Members returns every member memberlist knows, this node included.
func (m *Membership) Members() []Member {
	if m.ml == nil {
		return []Member{{Meta: m.cfg.Meta, State: "alive"}}
	}
	var out []Member
	for _, n := range m.ml.Members() {
		var meta Meta
		if json.Unmarshal(n.Meta, &meta) != nil || meta.ID == "" {
			meta.ID = n.Name
		}
		out = append(out, Member{Meta: meta, State: stateName(n.State)})
	}
	return out
}

// Self returns this node's id.
func (m *Membership) Self() string { return m.cfg.Meta.ID }

func stateName(s memberlist.NodeStateType) string {
	switch s {
	case memberlist.StateAlive:
		return "alive"
	case memberlist.StateSuspect:
		return "suspect"
	case memberlist.StateLeft:
		return "left"
	default:
		return "dead"
	}
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
func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}
