package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// A node that cannot tell whether the members it lost are dead or only cut
// off from it asks a witness both sides reach: the store. Every node writes a
// heartbeat there and reads who else did lately. A node that sees fewer than
// half of the nodes the store heard from is on the minority side of a
// partition: its clients are better served by the others, and the jobs it
// would take over are the others' to hold. A node that cannot reach the store
// cannot write a job's events: its jobs are better held by the others, if
// they reach the store (each node tells the others whether it does). Either
// way it goes on standby (Standby): it holds no jobs, tells its clients and
// workers to go to another node and answers /readyz with 503, until the
// reason has been gone for a while. Fencing keeps the store right without
// this (a stale owner's write is refused); standby is what moves the streams
// to where they can flow, and stops a cut node from taking jobs the others
// hold.
//
// Two nodes cut apart, or four split in two halves, are no minority either
// side (strictly fewer than half): both go on serving what they can, and
// fencing settles each job. The dead are not counted: a node killed stops
// heartbeating and is out of the count after Fresh, sooner than Hold, so that
// two of three nodes dying leave the third serving, not on standby.

// Witness is what both sides of a partition reach: the store.
type Witness interface {
	// Heartbeat records that node is up and returns the nodes heard from
	// within fresh, node among them.
	Heartbeat(ctx context.Context, node string, fresh time.Duration) ([]string, error)
	// Leave removes node's heartbeat (the node stops).
	Leave(ctx context.Context, node string) error
}

// StandbyConfig tunes a Standby.
type StandbyConfig struct {
	Witness Witness
	// View returns the node's current membership view; Joined whether the
	// node joined its cluster yet (before, it heartbeats but decides nothing:
	// its view is itself alone).
	View   func() *View
	Joined func() bool
	// Enter is called when the node goes on standby, with the reason; Leave
	// when it comes back. Both from Run's goroutine.
	Enter func(reason string)
	Leave func()
	// StoreDown, when set, is told whether the heartbeats fail, each time
	// that changes (the node tells the others: Meta.StoreDown).
	StoreDown func(down bool)
	// Interval between heartbeats (default 250ms); Fresh, the age past which a
	// node's heartbeat no longer counts (default 1.5s); Hold, how long a
	// reason must last before the node goes on standby, and be gone before
	// it comes back (default 2s; more than Fresh, see above).
	Interval, Fresh, Hold time.Duration
	Logger                *slog.Logger
}

// Standby decides when its node goes on standby and back.
type Standby struct {
	cfg StandbyConfig
	// since the current reason (or its absence) began; on: on standby now
	since     time.Time
	reason    string
	on        bool
	storeDown bool
}

// NewStandby returns a Standby; Run drives it.
func NewStandby(cfg StandbyConfig) *Standby {
	if cfg.Interval <= 0 {
		cfg.Interval = 250 * time.Millisecond
	}
	if cfg.Fresh <= 0 {
		cfg.Fresh = 1500 * time.Millisecond
	}
	if cfg.Hold <= 0 {
		cfg.Hold = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Standby{cfg: cfg}
}

// Run heartbeats and decides until ctx ends; then it removes the node's
// heartbeat (best effort, bounded by a second).
func (s *Standby) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		s.step(ctx, time.Now())
		select {
		case <-ctx.Done():
			lctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = s.cfg.Witness.Leave(lctx, s.cfg.View().Self)
			cancel()
			return
		case <-t.C:
		}
	}
}

// step heartbeats once and acts on what it finds.
func (s *Standby) step(ctx context.Context, now time.Time) {
	v := s.cfg.View()
	hctx, cancel := context.WithTimeout(ctx, s.cfg.Interval+s.cfg.Fresh/2)
	live, err := s.cfg.Witness.Heartbeat(hctx, v.Self, s.cfg.Fresh)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if down := err != nil; down != s.storeDown && s.cfg.StoreDown != nil {
		s.storeDown = down
		s.cfg.StoreDown(down)
	}
	if s.cfg.Joined != nil && !s.cfg.Joined() {
		return
	}
	s.decide(now, reasonFor(v, live, err))
}

// reasonFor returns why the node should be on standby ("" when it should
// not): live is the witness's answer, err its failure.
func reasonFor(v *View, live []string, err error) string {
	if err != nil {
		if v.OthersCanHold() { // its jobs are better held by the others (the store is not down for all)
			return fmt.Sprintf("the store does not answer (%v)", err)
		}
		return ""
	}
	return minority(v, live)
}

// minority returns the reason when the node sees, up, strictly fewer than
// half of the nodes the witness heard from lately (itself counted on both
// sides); "" otherwise.
func minority(v *View, live []string) string {
	heard := map[string]bool{v.Self: true}
	for _, id := range live {
		heard[id] = true
	}
	seen := 1 // itself
	for _, id := range v.Up() {
		if id != v.Self && heard[id] {
			seen++
		}
	}
	if 2*seen < len(heard) {
		return fmt.Sprintf("minority: it reaches %d of the %d nodes that use the store", seen, len(heard))
	}
	return ""
}

// decide goes on standby once a reason lasted Hold, and back once none did.
func (s *Standby) decide(now time.Time, reason string) {
	if (reason != "") != (s.reason != "") || s.since.IsZero() {
		s.since = now
	}
	s.reason = reason
	switch held := now.Sub(s.since) >= s.cfg.Hold; {
	case !s.on && reason != "" && held:
		s.on = true
		s.cfg.Logger.Warn("standby: this node holds no jobs and sends its clients elsewhere", "reason", reason)
		s.cfg.Enter(reason)
	case s.on && reason == "" && held:
		s.on = false
		s.cfg.Logger.Info("standby over: this node holds jobs again")
		s.cfg.Leave()
	}
}
