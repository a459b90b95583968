package actors

import (
	"encoding/json"

	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
)

// Messages between the actors of one node (never encoded).

// Request is one object a client or worker sent, as transport decoded it: Msg
// is checked unless Err says why it was refused. A worker's emits come as
// Emits: Msg is nil, and JobID, ID and Items carry what of their Inbounds an
// emit uses (an Inbound, with fields for every type, is most of a small
// emit's garbage).
type Request struct {
	Msg *events.Inbound
	Err *events.CodedError
	// JobID and ID are the job and the first id of a request of emits.
	JobID string
	ID    json.RawMessage
	// Items are the normalized events of an emit (a worker's consecutive emits
	// for one job in one frame come as one Request).
	Items []EmitItem
	one   [1]EmitItem // Items' array while it holds one item (AddItem)
}

// Emits makes the request of a worker's emits to jobID; id is the first's
// (echoed in an error). AddItem adds their events.
func Emits(jobID string, id json.RawMessage) *Request {
	return &Request{JobID: jobID, ID: id}
}

// Type is the request's type.
func (r *Request) Type() string {
	if r.Msg == nil {
		return events.TypeEmit
	}
	return r.Msg.Type
}

// Head is the request's message: Msg, or for a request of emits one made of
// its job and id.
func (r *Request) Head() *events.Inbound {
	if r.Msg == nil {
		return &events.Inbound{Type: events.TypeEmit, JobID: r.JobID, ID: r.ID}
	}
	return r.Msg
}

// AddItem appends it to Items. The first item lives in the Request itself,
// so that the common emit (one event per job per frame) is one allocation.
func (r *Request) AddItem(it EmitItem) {
	if r.Items == nil {
		r.one[0] = it
		r.Items = r.one[:1:1]
		return
	}
	r.Items = append(r.Items, it)
}

// appendDone comes back to a job from its write.
type appendDone struct {
	err   error
	nanos int64
}

// activated comes back to a job from its activation.
type activated struct {
	state   events.JobState
	created bool
	err     error
	holder  string // another node that holds the job (nothing else is set)
}

// epochChecked comes back from the store read that verifies ownership.
type epochChecked struct {
	epoch uint64
	err   error
}

// cancelRead comes back to a cancelled job from the journal read of its
// cancellation's reason, for the worker connection to tell.
type cancelRead struct {
	reason string
	ok     bool // the read found the event (else the reason is unknown: "")
	to     *actor.PID
}

// passivateRequest: a job or feed asks its directory to stop routing to it.
type passivateRequest struct {
	jobID string
	pid   *actor.PID
}

// passivate: the directory no longer routes to the child; it stops once its
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
	line    *subLine // the subscription's, through which the feed may write to the client itself
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
	owner   string
	recent  []events.Event
	err     error
}

// membersChanged tells the directories that the view changed.
type membersChanged struct{}

// countChildren asks a directory how many children it routes to.
type countChildren struct{}

// ownershipTick makes the job directory check, every second, that it still
// owns its children.
type ownershipTick struct{}
