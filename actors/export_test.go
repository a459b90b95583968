package actors

import (
	"time"

	"github.com/actorhub/actorhub/cluster"
	"github.com/asynkron/protoactor-go/actor"
)

// SubscribeEndedLine sends jobID's feed the subscribe of a conn that is gone
// and whose line ended: one that reached the feed after the conn's
// unsubscribe.
func (h *Hub) SubscribeEndedLine(jobID string, sink Sink) {
	line := newSubLine(sink, 0)
	line.end()
	gone := actor.NewPID(h.system.Address(), "a-conn-that-stopped")
	h.system.Root.Send(h.feeds, &cluster.JobMsg{JobID: jobID, Msg: &feedSubscribe{jobID: jobID, conn: gone, line: line}})
}

// SetNowBudget sets how long a feed's fan-out writes with Sink.SendNow
// before it leaves the rest to Send (Hub.nowBudget; 0: no bound). Call it
// before the hub starts.
func (h *Hub) SetNowBudget(d time.Duration) { h.nowBudget = d }
