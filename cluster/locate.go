package cluster

import (
	"sync"
	"time"

	"github.com/actorhub/actorhub/cluster/clusterpb"
)

// Where a job lives. A job lives on the node that made it, where its
// creator's clients and worker most likely are, or, when no node holds it
// (its node died, drained, or let it go idle), on the first node that
// activates it: the node the job id hashes to, which is the job's directory.
// The store names the node that holds a job (the owner of its lease); a node
// that would activate a job another placeable node holds passes the message
// there instead and remembers where the job is. A node that passes on a
// message for a job it knows lives elsewhere tells the message's previous
// node (a kindWhere envelope), so that its next messages go straight there.
// What a node remembers is only a guess, kept while it is used: a guess that
// names a node that died or drains is dropped, a wrong one costs one more hop
// (the node named activates the job or passes it on), and epochs keep the
// job's writes safe whatever the guesses.

// locationIdle is how long a job's location is remembered without use.
const locationIdle = time.Minute

type locations struct {
	mu    sync.Mutex
	byJob map[string]location
}

type location struct {
	node string // the holder's node id
	used time.Time
}

func (l *locations) set(jobID, node string, now time.Time) {
	l.mu.Lock()
	if l.byJob == nil {
		l.byJob = map[string]location{}
	}
	l.byJob[jobID] = location{node: node, used: now}
	l.mu.Unlock()
}

func (l *locations) get(jobID string, now time.Time) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	loc, ok := l.byJob[jobID]
	if ok && now.Sub(loc.used) > time.Second {
		loc.used = now // a coarse clock is enough for forgetIdle
		l.byJob[jobID] = loc
	}
	return loc.node, ok
}

func (l *locations) forget(jobID string) {
	l.mu.Lock()
	delete(l.byJob, jobID)
	l.mu.Unlock()
}

// forgetIdle drops the locations not used for locationIdle.
func (l *locations) forgetIdle(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, loc := range l.byJob {
		if now.Sub(loc.used) > locationIdle {
			delete(l.byJob, id)
		}
	}
}

// Learn records that node nodeID holds job jobID (the store said so, or
// another node did). It is ignored for this node and for nodes that cannot
// hold jobs.
func (n *Network) Learn(jobID, nodeID string) {
	if jobID == "" || nodeID == n.cfg.NodeID {
		return
	}
	if _, ok := n.cfg.Placement.Placeable(nodeID); !ok {
		return
	}
	n.locs.set(jobID, nodeID, time.Now())
}

// located returns where job jobID lives, if this node knows and that node may
// hold jobs; a location that names a node that died or drains is forgotten.
func (n *Network) located(jobID string) (nodeID, remote string, ok bool) {
	nodeID, ok = n.locs.get(jobID, time.Now())
	if !ok {
		return "", "", false
	}
	if remote, ok = n.cfg.Placement.Placeable(nodeID); !ok {
		n.locs.forget(jobID)
		return "", "", false
	}
	return nodeID, remote, true
}

// Destination returns the node this node sends job jobID's messages to when
// it does not hold the job: the node known to hold it, else the node its id
// hashes to; ok is false when that is this node or there is none.
func (n *Network) Destination(jobID string) (nodeID string, ok bool) {
	if nodeID, _, ok = n.located(jobID); ok {
		return nodeID, true
	}
	nodeID, _, ok = n.cfg.Placement.Owner(jobID)
	return nodeID, ok && nodeID != n.cfg.NodeID
}

// SelfPlaceable reports whether jobs may live on this node (it is not
// draining).
func (n *Network) SelfPlaceable() bool {
	_, ok := n.cfg.Placement.Placeable(n.cfg.NodeID)
	return ok
}

// tellWhere tells the node at addr that job jobID lives on node nodeID.
func (n *Network) tellWhere(addr, jobID, nodeID string) {
	n.send(addr, &clusterpb.Envelope{Version: codecVersion, Kind: kindWhere, JobId: jobID, From: n.Address(),
		Payload: []byte(nodeID)})
}

// Placeable returns the actor-remote address of node nodeID when jobs may
// live on it.
func (n *Network) Placeable(nodeID string) (remote string, ok bool) {
	return n.cfg.Placement.Placeable(nodeID)
}

// Unheard reports whether node nodeID may hold jobs for all this node can
// tell: it is no member this node heard of, and this node has not yet got the
// membership of the cluster it is joining. A job such a node holds is not to
// be taken over (it may well be alive); once this node has joined, a holder it
// never heard of left the cluster long ago.
func (n *Network) Unheard(nodeID string) bool {
	return !n.cfg.Placement.Settled() && !n.cfg.Placement.Known(nodeID)
}
