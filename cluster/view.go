package cluster

import (
	"github.com/cespare/xxhash/v2"
)

// Member states, as GET /api/cluster shows them.
const (
	StateAlive   = "alive"
	StateSuspect = "suspect"
	StateDead    = "dead"
	StateLeft    = "left"
)

// Member is one node as this node sees it.
type Member struct {
	Meta   Meta
	State  string
	Gossip string // its gossip address (host:port), as memberlist knows it
}

// placeable reports whether jobs may be placed on the member: alive or
// suspect (a suspect may just be busy; it is dropped once declared dead), and
// neither draining nor on standby.
func (m *Member) placeable() bool {
	return m.up() && !m.Meta.Draining && !m.Meta.Standby
}

// up reports whether the member is alive or suspect.
func (m *Member) up() bool { return m.State == StateAlive || m.State == StateSuspect }

// View is an immutable snapshot of the membership.
type View struct {
	Self    string
	Members []Member // sorted by id; dead and left nodes included
}

// Owner returns the member that owns jobID: rendezvous (highest random weight)
// hashing of the job id over the placeable members, so that a join or a death
// moves only the jobs of the node that came or went.
func (v *View) Owner(jobID string) (Member, bool) {
	var best Member
	var bestW uint64
	found := false
	for i := range v.Members {
		m := &v.Members[i]
		if !m.placeable() {
			continue
		}
		w := weight(m.Meta.ID, jobID)
		if !found || w > bestW || (w == bestW && m.Meta.ID < best.Meta.ID) {
			best, bestW, found = *m, w, true
		}
	}
	return best, found
}

func weight(node, jobID string) uint64 {
	d := xxhash.New()
	_, _ = d.WriteString(node)
	_, _ = d.Write([]byte{0})
	_, _ = d.WriteString(jobID)
	return d.Sum64()
}

// Placeable returns the actor-remote address of the member with that id when
// jobs may live on it: alive or suspect, and not draining.
func (v *View) Placeable(nodeID string) (remote string, ok bool) {
	for i := range v.Members {
		if m := &v.Members[i]; m.Meta.ID == nodeID {
			return m.Meta.Remote, m.placeable()
		}
	}
	return "", false
}

// Up returns the ids of the members that are alive or suspect, this node
// among them.
func (v *View) Up() []string {
	var out []string
	for i := range v.Members {
		if v.Members[i].up() {
			out = append(out, v.Members[i].Meta.ID)
		}
	}
	return out
}

// OthersCanHold reports whether a member other than this node may hold jobs
// and reaches the store.
func (v *View) OthersCanHold() bool {
	for i := range v.Members {
		if m := &v.Members[i]; m.Meta.ID != v.Self && m.placeable() && !m.Meta.StoreDown {
			return true
		}
	}
	return false
}

// Known reports whether the view has a member with that id, in any state.
func (v *View) Known(nodeID string) bool {
	for i := range v.Members {
		if v.Members[i].Meta.ID == nodeID {
			return true
		}
	}
	return false
}

// Alive reports whether the member with that actor-remote address is alive or
// suspect.
func (v *View) Alive(remote string) bool {
	for i := range v.Members {
		if v.Members[i].Meta.Remote == remote {
			return v.Members[i].up()
		}
	}
	return false
}

func (v *View) equal(o *View) bool {
	if v.Self != o.Self || len(v.Members) != len(o.Members) {
		return false
	}
	for i := range v.Members {
		if v.Members[i] != o.Members[i] {
			return false
		}
	}
	return true
}
