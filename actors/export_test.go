package actors

import (
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
