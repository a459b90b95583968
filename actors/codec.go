package actors

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
)

// codecVersion is the payload encoding of cluster envelopes this node writes
// and reads. A node drops (and counts) payloads of another version.
const codecVersion = 1

// Wire forms of the messages that cross between nodes (JSON inside the
// envelope). Field names are short and fixed: they are part of the cluster
// protocol between versions.
type (
	wirePID struct {
		A string `json:"a"`
		I string `json:"i"`
	}
	wireErr struct {
		Code string `json:"code"`
		Msg  string `json:"msg"`
	}
	wireItem struct {
		O int64           `json:"o"`
		N string          `json:"n"`
		D json.RawMessage `json:"d"`
	}
	wireEmit struct {
		Items []wireItem `json:"items"`
	}
	wireEmitResult struct {
		JobID  string        `json:"job"`
		Next   int64         `json:"next"`
		Last   int64         `json:"last"`
		Status events.Status `json:"status"`
		Err    *wireErr      `json:"err,omitempty"`
	}
	wireCreate struct {
		State events.JobState `json:"state"`
		First json.RawMessage `json:"first"`
	}
	wireState struct {
		State   events.JobState `json:"state"`
		Created bool            `json:"created"`
		Err     *wireErr        `json:"err,omitempty"`
	}
	wireCancel struct {
		Reason string `json:"reason"`
	}
	wireFeed struct {
		Feed wirePID `json:"feed"`
	}
	wireSubscribed struct {
		JobID  string        `json:"job"`
		Job    *wirePID      `json:"pid,omitempty"`
		Status events.Status `json:"status"`
		Last   int64         `json:"last"`
		Epoch  uint64        `json:"epoch"`
		Err    *wireErr      `json:"err,omitempty"`
	}
	wireEvents struct {
		JobID  string            `json:"job"`
		Events []json.RawMessage `json:"events"`
	}
)

func toWirePID(p *actor.PID) wirePID { return wirePID{A: p.Address, I: p.Id} }
func (w wirePID) pid() *actor.PID    { return actor.NewPID(w.A, w.I) }

func toWireErr(err error) *wireErr {
	if err == nil {
		return nil
	}
	return &wireErr{Code: codeOf(err, events.CodeUnavailable), Msg: err.Error()}
}

func (w *wireErr) err() error {
	if w == nil {
		return nil
	}
	return &events.CodedError{Code: w.Code, Err: errors.New(w.Msg)}
}

// encodeMsg turns a message that may cross nodes into its name and payload.
func encodeMsg(msg any) (string, []byte, error) {
	var name string
	var v any
	switch m := msg.(type) {
	case *emit:
		w := wireEmit{Items: make([]wireItem, len(m.items))}
		for i, it := range m.items {
			w.Items[i] = wireItem{O: it.Offset, N: it.Name, D: it.Data}
		}
		name, v = "emit", w
	case *EmitResult:
		name, v = "emitResult", wireEmitResult{JobID: m.JobID, Next: m.NextOffset, Last: m.LastSequence, Status: m.Status, Err: toWireErr(m.Err)}
	case *createJob:
		name, v = "create", wireCreate{State: m.state, First: m.first.Raw}
	case *stateReply:
		name, v = "state", wireState{State: m.state, Created: m.created, Err: toWireErr(m.err)}
	case *getState:
		name, v = "getState", struct{}{}
	case *cancelJob:
		name, v = "cancel", wireCancel{Reason: m.reason}
	case *subscribeJob:
		name, v = "subscribe", wireFeed{Feed: toWirePID(m.feed)}
	case *unsubscribeJob:
		name, v = "unsubscribe", wireFeed{Feed: toWirePID(m.feed)}
	case *jobSubscribed:
		w := wireSubscribed{JobID: m.jobID, Status: m.status, Last: m.lastSeq, Epoch: m.epoch, Err: toWireErr(m.err)}
		if m.job != nil {
			p := toWirePID(m.job)
			w.Job = &p
		}
		name, v = "subscribed", w
	case *jobEvents:
		w := wireEvents{JobID: m.jobID, Events: make([]json.RawMessage, len(m.events))}
		for i := range m.events {
			w.Events[i] = m.events[i].Raw
		}
		name, v = "events", w
	default:
		return "", nil, fmt.Errorf("encode %T: not a cluster message", msg)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", nil, fmt.Errorf("encode %s: %w", name, err)
	}
	return name, b, nil
}

// decodeMsg is encodeMsg's inverse. It never panics on any input.
func decodeMsg(name string, b []byte) (any, error) {
	var err error
	dec := func(v any) {
		if e := json.Unmarshal(b, v); e != nil {
			err = fmt.Errorf("decode %s: %w", name, e)
		}
	}
	var out any
	switch name {
	case "emit":
		var w wireEmit
		dec(&w)
		m := &emit{items: make([]EmitItem, len(w.Items))}
		for i, it := range w.Items {
			if e := events.ValidateName(it.N); e != nil && err == nil {
				err = fmt.Errorf("decode emit: %w", e)
			}
			m.items[i] = EmitItem{Offset: it.O, Name: it.N, Data: it.D}
		}
		out = m
	case "emitResult":
		var w wireEmitResult
		dec(&w)
		out = &EmitResult{JobID: w.JobID, NextOffset: w.Next, LastSequence: w.Last, Status: w.Status, Err: w.Err.err()}
	case "create":
		var w wireCreate
		dec(&w)
		first, e := events.DecodeEvent(w.First)
		if e != nil && err == nil {
			err = e
		}
		out = &createJob{state: w.State, first: first}
	case "state":
		var w wireState
		dec(&w)
		out = &stateReply{state: w.State, created: w.Created, err: w.Err.err()}
	case "getState":
		out = &getState{}
	case "cancel":
		var w wireCancel
		dec(&w)
		out = &cancelJob{reason: w.Reason}
	case "subscribe", "unsubscribe":
		var w wireFeed
		dec(&w)
		if name == "subscribe" {
			out = &subscribeJob{feed: w.Feed.pid()}
		} else {
			out = &unsubscribeJob{feed: w.Feed.pid()}
		}
	case "subscribed":
		var w wireSubscribed
		dec(&w)
		m := &jobSubscribed{jobID: w.JobID, status: w.Status, lastSeq: w.Last, epoch: w.Epoch, err: w.Err.err()}
		if w.Job != nil {
			m.job = w.Job.pid()
		}
		out = m
	case "events":
		var w wireEvents
		dec(&w)
		m := &jobEvents{jobID: w.JobID, events: make([]events.Event, 0, len(w.Events))}
		for _, raw := range w.Events {
			ev, e := events.DecodeEvent(raw)
			if e != nil {
				if err == nil {
					err = e
				}
				break
			}
			m.events = append(m.events, ev)
		}
		out = m
	default:
		return nil, fmt.Errorf("decode: unknown message %q", name)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
