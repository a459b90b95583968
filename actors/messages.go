package actors

import (
	"encoding/json"

	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
)

// Messages between the actors of one node. Fields are read-only once sent: a
// slice of events may be shared by many receivers.

// NoOffset marks an emitted event without a worker offset (appended as is).
const NoOffset = -1

// EmitItem is one event a worker emits, its data already normalized
// (events.NormalizeData).
type EmitItem struct {
	Offset int64 // NoOffset: no dedup
	Name   string
	Data   json.RawMessage
}

// routed is what the job directory receives: a message for one job. hops
// counts the nodes that forwarded it: a node whose view names another owner
// forwards it again, up to maxHops; then it is served where it is (views
// converge within a second or so, and epochs keep a wrong guess safe).
type routed struct {
	jobID string
	msg   any
	hops  uint32
}

// maxHops bounds how often a job message is forwarded between nodes.
const maxHops = 2

// createJob asks a job to exist; reply: *stateReply.
type createJob struct {
	state events.JobState
	first events.Event
}

// emit appends events; reply (after they are durable, or refused): *EmitResult.
type emit struct {
	items []EmitItem
}

// cancelJob appends job:cancelled:v1; reply: *stateReply.
type cancelJob struct{ reason string }

// getState asks for the job's durable state; reply: *stateReply.
type getState struct{}

// subscribeJob attaches a feed; reply to the feed: *jobSubscribed, then *jobEvents.
type subscribeJob struct{ feed *actor.PID }

// unsubscribeJob detaches a feed.
type unsubscribeJob struct{ feed *actor.PID }

// jobSubscribed tells a feed where the job is and how far its journal goes.
type jobSubscribed struct {
	jobID   string
	job     *actor.PID
	status  events.Status
	lastSeq int64
	epoch   uint64
	err     error
}

// jobEvents carries durable events from a job to its feeds, and from a feed to
// its conns.
type jobEvents struct {
	jobID  string
	events []events.Event
}

// EmitResult answers an emit once its events are durable (or refused).
type EmitResult struct {
	JobID        string
	NextOffset   int64
	LastSequence int64
	Status       events.Status
	Err          error // nil, an *events.CodedError, or a store error
}

// stateReply answers createJob, cancelJob and getState.
type stateReply struct {
	state   events.JobState
	created bool
	err     error
}

// appendDone comes back to a job from its write goroutine.
type appendDone struct {
	err   error
	nanos int64
}

// activated comes back to a job from its activation goroutine.
type activated struct {
	state   events.JobState
	created bool
	err     error
}

// passivateRequest: a job asks its directory to stop routing to it.
type passivateRequest struct {
	jobID string
	pid   *actor.PID
}

// passivate: the directory no longer routes to the job; it stops once its
// writes are done.
type passivate struct{}

// fetched comes back from a store read for gap filling.
type fetched struct {
	jobID  string
	events []events.Event
	err    error
}

// retry is a timer tick asking an actor to try something again.
type retry struct{ jobID string }

// feedSubscribe attaches a conn to a job's feed; reply to the conn:
// *feedSubscribed, then *jobEvents.
type feedSubscribe struct {
	jobID   string
	conn    *actor.PID
	fromSeq int64
}

// feedUnsubscribe detaches a conn.
type feedUnsubscribe struct {
	jobID string
	conn  *actor.PID
}

// feedSubscribed answers feedSubscribe: the job's state as the feed knows it,
// and the recent events it still holds after the conn's fromSeq.
type feedSubscribed struct {
	jobID   string
	feed    *actor.PID
	status  events.Status
	lastSeq int64
	epoch   uint64
	recent  []events.Event
	err     error
}
