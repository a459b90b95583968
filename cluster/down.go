package cluster

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
)

// Direct failure signals. memberlist declares a killed member dead only after
// its probes fail and a suspicion times out: about a second on three nodes,
// and longer as the cluster grows (the suspicion timeout scales with log10 of
// the members, and the members' awareness stretches it on busy cores). A
// member whose process is gone says so sooner: its kernel resets the
// connections it had and refuses new ones. So:
//   - when a connection to a member's remote port breaks (protoactor's
//     EndpointTerminatedEvent) or a dial to it is refused, this node dials the
//     member's gossip port (TCP);
//   - refused: the member is down. The view shows it dead at once, so its
//     jobs move and the feeds that watched them subscribe again, and this
//     node gossips "down <name>" so that members with no connection to it
//     check it too. Each member checks for itself: no member can talk
//     another out of the placement.
//   - It stays down until memberlist hears from it again (a join or an
//     update) or declares it dead or gone, or until a later dial is not refused
//     (every downRecheck): a node restarted at once on its ports is alive to
//     memberlist all along, which tells of it by no event.
//
// A stopped (SIGSTOP), busy or cut-off member does not refuse: its kernel
// still completes the handshake, or nothing answers at all. Those are
// memberlist's to judge, as before.

// downPrefix starts the gossip message that says a member refuses connections.
const downPrefix = "down "

// downDialTimeout bounds one dial of a member's gossip port. A check dials
// up to downChecks times, the first gap downCheckGap and each next one twice
// the last (10 … 160 ms, ~300 ms in all): a process being killed still
// accepts on its listeners until the kernel has closed them (measured: the
// dial right after the connection broke at a kill connected in about half
// of the kills; the next, 100 ms later, was refused).
const (
	downDialTimeout = 300 * time.Millisecond
	downChecks      = 6
	downCheckGap    = 10 * time.Millisecond
)

// PeerLost tells the membership that a connection to the member at the
// actor-remote address broke or was refused; it checks whether the member
// is down (see above). It does not block.
func (m *Membership) PeerLost(remote string) {
	m.mu.Lock()
	name := ""
	for n, mem := range m.members {
		if mem.Meta.Remote == remote {
			name = n
			break
		}
	}
	m.mu.Unlock()
	if name != "" {
		m.checkDown(name)
	}
}

// checkDown dials the gossip port of an alive member that is not down yet,
// unless a check of it runs, and marks it down when the dial is refused.
func (m *Membership) checkDown(name string) {
	m.mu.Lock()
	mem, ok := m.members[name]
	_, down := m.downs[name]
	if !ok || mem.State != StateAlive || down || m.checking[name] || name == m.self || mem.Gossip == "" || m.stopped {
		m.mu.Unlock()
		return
	}
	m.checking[name] = true
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		refused := false
		gap := downCheckGap
		for i := range downChecks { // a dying process may still accept for an instant
			if refused = refuses(mem.Gossip); refused || i == downChecks-1 {
				break
			}
			select {
			case <-m.stop:
				return
			case <-time.After(gap):
			}
			gap *= 2
		}
		m.mu.Lock()
		delete(m.checking, name)
		now, ok := m.members[name]
		mark := refused && ok && now.State == StateAlive && now.Gossip == mem.Gossip
		if mark {
			m.downs[name] = time.Now()
			delete(m.suspects, name)
		}
		m.mu.Unlock()
		if mark {
			m.cfg.Logger.Info("member down: its gossip port refuses connections", "member", name, "gossip", mem.Gossip)
			m.broadcasts.QueueBroadcast(downBroadcast(name))
			m.signal()
		}
	}()
}

// downRecheck is how often members marked down are dialed again.
const downRecheck = 100 * time.Millisecond

// recheckDowns dials the members marked down again: one that no longer
// refuses is taken back (it came back, or was never gone; a dial that times
// out leaves it to memberlist's judgement).
func (m *Membership) recheckDowns() {
	m.mu.Lock()
	var check []string
	for name := range m.downs {
		if !m.checking[name] && !m.stopped {
			m.checking[name] = true
			check = append(check, name)
		}
	}
	m.wg.Add(len(check))
	m.mu.Unlock()
	for _, name := range check {
		go func() {
			defer m.wg.Done()
			m.mu.Lock()
			addr := m.members[name].Gossip
			m.mu.Unlock()
			back := !refuses(addr)
			m.mu.Lock()
			delete(m.checking, name)
			_, was := m.downs[name]
			if back {
				delete(m.downs, name)
			}
			m.mu.Unlock()
			if back && was {
				m.cfg.Logger.Info("member reachable again", "member", name)
				m.signal()
			}
		}()
	}
}

// refuses reports whether a TCP dial to addr is refused: nothing listens
// there, while the host answers.
func refuses(addr string) bool { return errors.Is(dial(addr), syscall.ECONNREFUSED) }

// dial connects to addr within downDialTimeout, closes the connection at
// once and returns the dial's error.
func dial(addr string) error {
	c, err := net.DialTimeout("tcp", addr, downDialTimeout)
	if err == nil {
		c.Close()
	}
	return err
}

// gossipAddr is a memberlist node's gossip address.
func gossipAddr(n *memberlist.Node) string {
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// downBroadcast is the gossip message "down <name>"; a newer one for the same
// member replaces an older one still queued.
type downBroadcast string

func (b downBroadcast) Invalidates(o memberlist.Broadcast) bool {
	other, ok := o.(downBroadcast)
	return ok && other == b
}
func (b downBroadcast) Message() []byte { return []byte(downPrefix + string(b)) }
func (b downBroadcast) Finished()       {}

// onDownMessage checks a member another member says is down.
func (m *Membership) onDownMessage(msg []byte) {
	if name, ok := strings.CutPrefix(string(msg), downPrefix); ok && name != "" {
		m.checkDown(name)
	}
}

// Reconnecting after a partition. memberlist probes only the members it
// holds alive or suspect, and gossips to the dead only what it has to tell
// at the time: once both sides of a partition declared the other dead, a
// healed network does not bring them together again (measured: two nodes
// cut apart for 6 s each still saw the other dead long after). So every
// second this node joins again the members memberlist declared dead (not
// those that left), for reconnectFor after their death: a join that reaches
// one merges the two views, and the member refutes its death. A member whose
// process is gone refuses the dial at once; one still cut off costs a join
// that waits for its timeout, one round at a time.

// reconnectFor is how long after its death a member is joined again.
const reconnectFor = 10 * time.Minute

// reconnectDead starts a round of joins to the dead members, unless one runs.
func (m *Membership) reconnectDead() {
	m.mu.Lock()
	ml := m.ml
	var addrs []string
	for name, since := range m.deadSince {
		mem := m.members[name]
		if time.Since(since) > reconnectFor || mem.State != StateDead {
			delete(m.deadSince, name)
			continue
		}
		if mem.Gossip != "" {
			addrs = append(addrs, mem.Gossip)
		}
	}
	start := len(addrs) > 0 && ml != nil && !m.rejoining && !m.stopped
	if start {
		m.rejoining = true
		m.wg.Add(1)
	}
	m.mu.Unlock()
	if !start {
		return
	}
	go func() {
		defer m.wg.Done()
		for _, a := range addrs {
			// a short dial first: memberlist's own join would wait out its
			// TCP timeout (10 s) for a member still cut off, and hold Stop
			if dial(a) != nil {
				continue
			}
			if n, _ := ml.Join([]string{a}); n > 0 {
				m.cfg.Logger.Info("joined a member declared dead again", "gossip", a)
			}
		}
		m.mu.Lock()
		m.rejoining = false
		m.mu.Unlock()
	}()
}
