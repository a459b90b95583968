package actors

import (
	"sync"

	"github.com/actorhub/actorhub/cluster"
	"github.com/asynkron/protoactor-go/actor"
)

// directory activates children by id on demand and routes messages to them. A
// child that wants to stop asks first (passivateRequest); from then on the
// directory routes that id to a fresh child, so no message is sent to a child
// that is about to stop without it seeing the message: what reaches it after
// its request it either serves or routes back here.
type directory struct {
	kind  string
	spawn func(ctx actor.Context, m *cluster.JobMsg, sender *actor.PID) (pid *actor.PID, forward bool)
	// mu is held for writing while children changes, and for reading by
	// tellChild, which other goroutines call; the directory's own turn
	// reads children without it
	mu       sync.RWMutex
	children map[string]*actor.PID
	ids      map[string]string // child pid id → routing id
	// route, when set, may take a message for an id without a child here
	// elsewhere (another node); it reports whether it did.
	route func(ctx actor.SenderContext, m *cluster.JobMsg, sender *actor.PID) bool
	// keep, when set, tells whether children stay after a membership change;
	// when it says no (the node drains) they are all passivated (handed off:
	// the next message for them goes to the node that takes them).
	keep func() bool
}

func newDirectory(kind string, spawn func(ctx actor.Context, m *cluster.JobMsg, sender *actor.PID) (*actor.PID, bool)) *directory {
	return &directory{kind: kind, spawn: spawn, children: map[string]*actor.PID{}, ids: map[string]string{}}
}

// Receive implements actor.Actor.
func (d *directory) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *cluster.JobMsg:
		pid := d.children[m.JobID]
		if pid == nil {
			if d.route != nil && d.route(ctx, m, ctx.Sender()) {
				return
			}
			var forward bool
			pid, forward = d.spawn(ctx, m, ctx.Sender())
			if pid == nil {
				return
			}
			d.setChild(m.JobID, pid)
			d.ids[pid.Id] = m.JobID
			if !forward {
				return
			}
		}
		ctx.RequestWithCustomSender(pid, m.Msg, ctx.Sender())
	case *passivateRequest:
		if d.children[m.jobID] == m.pid || (d.children[m.jobID] != nil && d.children[m.jobID].Id == m.pid.Id) {
			d.setChild(m.jobID, nil)
		}
		ctx.Send(m.pid, &passivate{}) // after what tellChild sent it
	case *actor.Terminated:
		if id, ok := d.ids[m.Who.Id]; ok {
			delete(d.ids, m.Who.Id)
			if p := d.children[id]; p != nil && p.Id == m.Who.Id {
				d.setChild(id, nil)
			}
		}
	case *ownershipTick: // the jobs of a node that drains leave even if no membership change told it
		ctx.Send(ctx.Self(), &membersChanged{})
	case *membersChanged:
		if d.keep != nil && d.keep() {
			return
		}
		for id, pid := range d.children {
			if d.keep != nil {
				d.setChild(id, nil)
				ctx.Send(pid, &passivate{})
			} else {
				ctx.Send(pid, m)
			}
		}
	case *countChildren:
		ctx.Respond(len(d.children))
	}
}

// setChild records (pid) or forgets (nil) the child for id.
func (d *directory) setChild(id string, pid *actor.PID) {
	d.mu.Lock()
	if pid == nil {
		delete(d.children, id)
	} else {
		d.children[id] = pid
	}
	d.mu.Unlock()
}

// has reports whether the directory has a child for id (from any goroutine).
func (d *directory) has(id string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.children[id] != nil
}

// tellChild sends msg, from sender, straight to the child for id, when it
// has one (and it is only, unless only is nil), and returns the child; else
// it sends nothing and returns nil. It sends under the read lock: a child
// the directory forgets (setChild) gets what tellChild sent it before its
// passivate, which it serves or routes back here, as what the directory
// forwarded it.
func (d *directory) tellChild(ctx actor.SenderContext, id string, msg any, sender, only *actor.PID) *actor.PID {
	d.mu.RLock()
	defer d.mu.RUnlock()
	pid := d.children[id]
	if pid == nil || (only != nil && pid != only) {
		return nil
	}
	ctx.RequestWithCustomSender(pid, msg, sender)
	return pid
}
