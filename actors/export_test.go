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

// SetFanOutHelp makes the hub's fan-outs ask for helpers after d, as on a
// node of procs Ps (Hub.lendHelpers). Call it before the hub starts.
func (h *Hub) SetFanOutHelp(procs int, d time.Duration) { h.helpProcs, h.helpAfter = procs, d }
