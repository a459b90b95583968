package actors

import (
	"encoding/json"
	"errors"

	"github.com/actorhub/actorhub/cluster"
	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
)

// wire is the one table of the messages that cross between nodes: each is
// declared here once (name, Go type, how it travels, what its sender gets
// when it cannot reach its job), and cluster encodes, decodes and routes them
// by it. A new cross-node message is a type below with exported, JSON-tagged
// fields (a Check method if it needs validating) and one line here.
var wire = cluster.MustTable(
	cluster.Message{Name: "emit", Type: (*emit)(nil), Kind: cluster.Request, Fail: failEmit, Once: emitOnce},
	cluster.Message{Name: "create", Type: (*createJob)(nil), Kind: cluster.Request, Fail: failState},
	cluster.Message{Name: "getState", Type: (*getState)(nil), Kind: cluster.Request, Fail: failState},
	cluster.Message{Name: "cancel", Type: (*cancelJob)(nil), Kind: cluster.Request, Fail: failState},
	cluster.Message{Name: "emitResult", Type: (*EmitResult)(nil), Kind: cluster.Reply},
	cluster.Message{Name: "state", Type: (*stateReply)(nil), Kind: cluster.Reply},
	cluster.Message{Name: "subscribe", Type: (*subscribeJob)(nil), Kind: cluster.Route, Fail: failSubscribe},
	cluster.Message{Name: "unsubscribe", Type: (*unsubscribeJob)(nil), Kind: cluster.Route},
	cluster.Message{Name: "subscribed", Type: (*jobSubscribed)(nil), Kind: cluster.Tell},
	cluster.Message{Name: "events", Type: (*jobEvents)(nil), Kind: cluster.Tell},
	cluster.Message{Name: "watchCancel", Type: (*watchCancel)(nil), Kind: cluster.Route},
	cluster.Message{Name: "cancelled", Type: (*jobCancelled)(nil), Kind: cluster.Tell},
)

func failEmit(jobID string, _ any, err error) (*actor.PID, any) {
	return nil, &EmitResult{JobID: jobID, Err: events.AsCoded(err, events.CodeUnavailable)}
}

func failState(_ string, _ any, err error) (*actor.PID, any) {
	return nil, &stateReply{Err: events.AsCoded(err, events.CodeUnavailable)}
}

func failSubscribe(jobID string, msg any, err error) (*actor.PID, any) {
	return msg.(*subscribeJob).Feed, &jobSubscribed{JobID: jobID, Err: events.AsCoded(err, events.CodeUnavailable)}
}

// Messages that cross between nodes (declared in wire). Fields are read-only
// once sent: a slice of events may be shared by many receivers.

// NoOffset marks an emitted event without a worker offset (appended as is).
const NoOffset = -1

// EmitItem is one event a worker emits, its data already checked and
// normalized (events.CheckData).
type EmitItem struct {
	Offset int64           `json:"o"` // NoOffset: no dedup
	Name   string          `json:"n"`
	Data   json.RawMessage `json:"d"`
	// Fold is what the job's state takes from Data, found when Data was
	// checked, so the job decodes nothing again. Not on the wire: the node
	// that receives an emit checks its data again.
	Fold events.Fold `json:"-"`
}

// emitOnce: an emit with an event without offset must not be appended twice
// (the job does not dedup it).
func emitOnce(msg any) bool {
	for _, it := range msg.(*emit).Items {
		if it.Offset == NoOffset {
			return true
		}
	}
	return false
}

// emit appends events; reply (after they are durable, or refused): *EmitResult.
type emit struct {
	Items []EmitItem `json:"items"`
}

// Check implements cluster.Checker: names and data are checked as transport
// checks a worker's, and each item's Fold is restored.
func (m *emit) Check() error {
	for i := range m.Items {
		it := &m.Items[i]
		if err := events.ValidateName(it.Name); err != nil {
			return err
		}
		data, fold, err := events.CheckData(it.Name, it.Data)
		if err != nil {
			return err
		}
		it.Data, it.Fold = data, fold
	}
	return nil
}

// EmitResult answers an emit once its events are durable (or refused).
type EmitResult struct {
	JobID        string        `json:"job"`
	NextOffset   int64         `json:"next"`
	LastSequence int64         `json:"last"`
	Status       events.Status `json:"status"`
	// Acks is how many emits of one connection this answers (0 means 1): the
	// acks of one commit to one connection collapse into one.
	Acks int `json:"acks,omitempty"`
	// Epoch is the answering incarnation's: a worker told of a newer one
	// takes a later refusal from an older one for a late answer.
	Epoch uint64             `json:"epoch,omitempty"`
	Err   *events.CodedError `json:"err,omitempty"`
	// Node is set by Hub.Emit, on the node that asked, never sent: the
	// node that holds the job when it is another one (Hub.answeredElsewhere)
	Node string `json:"-"`
}

// err returns Err as an error (nil when there is none).
func (r *EmitResult) err() error {
	if r.Err == nil {
		return nil
	}
	return r.Err
}

// createJob asks a job to exist; reply: *stateReply.
type createJob struct {
	State events.JobState `json:"state"`
	First events.Event    `json:"first"`
}

// Check implements cluster.Checker; it restores First.Raw.
func (m *createJob) Check() error {
	if m.State.JobID == "" || m.First.JobID != m.State.JobID || m.First.Seq != 1 || m.First.Name != events.Created {
		return errors.New("create: the state and the first event do not belong together")
	}
	m.First.Encode()
	return nil
}

// getState asks for the job's durable state; reply: *stateReply.
type getState struct{}

// cancelJob appends job:cancelled:v1; reply: *stateReply. The job checks
// that By may cancel it.
type cancelJob struct {
	Reason string `json:"reason"`
	By     Access `json:"by"`
}

// stateReply answers createJob, cancelJob and getState.
type stateReply struct {
	State   events.JobState    `json:"state"`
	Created bool               `json:"created,omitempty"`
	Err     *events.CodedError `json:"err,omitempty"`
}

// subscribeJob attaches a feed; reply to the feed: *jobSubscribed, then *jobEvents.
type subscribeJob struct {
	Feed *actor.PID `json:"feed"`
	// local is the feed itself when it is on the job's node (never across
	// nodes: it is not encoded): the job's actor then hands it events
	// itself when it can (JobFeed.tryEvents).
	local *JobFeed
}

// Check implements cluster.Checker.
func (m *subscribeJob) Check() error { return checkPID(m.Feed) }

// unsubscribeJob detaches a feed.
type unsubscribeJob struct {
	Feed *actor.PID `json:"feed"`
}

// Check implements cluster.Checker.
func (m *unsubscribeJob) Check() error { return checkPID(m.Feed) }

// jobSubscribed tells a feed where the job is and how far its journal goes.
type jobSubscribed struct {
	JobID   string        `json:"job"`
	Job     *actor.PID    `json:"pid,omitempty"`
	Status  events.Status `json:"status"`
	LastSeq int64         `json:"last"`
	Epoch   uint64        `json:"epoch"`
	// Owner is the job's user: each connection checks that its user may
	// read the job before it hands out any event.
	Owner string             `json:"owner,omitempty"`
	Err   *events.CodedError `json:"err,omitempty"`
}

// Check implements cluster.Checker.
func (m *jobSubscribed) Check() error {
	if m.Err == nil {
		return checkPID(m.Job)
	}
	return nil
}

// jobEvents carries durable events from a job to its feeds, and from a feed to
// its conns. Across nodes it travels in its own encoding (wire_events.go).
type jobEvents struct {
	JobID  string
	Events []events.Event
}

// watchCancel asks a job to tell a worker connection when it is cancelled:
// *jobCancelled, once the cancellation is durable (at once when it is
// already). The job forgets it when it stops.
type watchCancel struct {
	Worker *actor.PID `json:"worker"`
}

// Check implements cluster.Checker.
func (m *watchCancel) Check() error { return checkPID(m.Worker) }

// jobCancelled tells a worker connection that a job it emitted to was
// cancelled.
type jobCancelled struct {
	JobID  string `json:"job"`
	Reason string `json:"reason,omitempty"`
}

// Check implements cluster.Checker.
func (m *jobCancelled) Check() error { return events.ValidateJobID(m.JobID) }

func checkPID(p *actor.PID) error {
	if p == nil || p.Address == "" || p.Id == "" {
		return errors.New("an actor address and id are required")
	}
	return nil
}
