package actors

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/actorhub/actorhub/cluster"
	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
)

func TestWireRoundTrip(t *testing.T) {
	t.Parallel()
	st, first := events.NewJob("j1", "u", "t", json.RawMessage(`{"p":1}`), 5)
	ev := events.Event{JobID: "j1", Seq: 2, Name: events.Chunk, Data: json.RawMessage(`{"chunk":"x"}`), TS: 9}
	ev.Encode()
	odd := events.Event{JobID: "j1", Seq: 3, Name: events.Chunk, Data: json.RawMessage(`{"chunk":"y"}`), TS: -4,
		Raw: []byte(`{"type":"event","jobId":"j1","seq":3,"event":"job:chunk:v1","data":{"chunk":"y"},"ts":-4}`)}
	feed := actor.NewPID("127.0.0.1:9", "feed$1")
	gap := &events.CodedError{Code: events.CodeOffsetGap, Err: errors.New("resend from 3")}
	for _, msg := range []any{
		&emit{Items: []EmitItem{{Offset: 3, Name: events.Chunk, Data: json.RawMessage(`{"chunk":"a"}`)}, {Offset: NoOffset, Name: "a:b:v1", Data: json.RawMessage(`{}`)}}},
		&EmitResult{JobID: "j1", NextOffset: 4, LastSequence: 7, Status: events.StatusRunning, Acks: 2, Epoch: 5},
		&EmitResult{JobID: "j1", NextOffset: 3, Err: gap},
		&createJob{State: st, First: first},
		&stateReply{State: st, Created: true},
		&getState{}, &cancelJob{Reason: "r"},
		&subscribeJob{Feed: feed}, &unsubscribeJob{Feed: feed},
		&jobSubscribed{JobID: "j1", Job: actor.NewPID("127.0.0.1:8", "job$2"), Status: events.StatusRunning, LastSeq: 7, Epoch: 3},
		&jobSubscribed{JobID: "j1", Err: gap},
		&jobEvents{JobID: "j1", Events: []events.Event{ev, odd}},
		&watchCancel{Worker: actor.NewPID("127.0.0.1:9", "worker$3")},
		&jobCancelled{JobID: "j1", Reason: "user asked"}, &jobCancelled{JobID: "j1"},
	} {
		name, b, err := wire.Encode(msg)
		if err != nil {
			t.Fatalf("encode %T: %v", msg, err)
		}
		back, _, err := wire.Decode(name, b)
		if err != nil {
			t.Fatalf("decode %s: %v", name, err)
		}
		if reflect.TypeOf(back) != reflect.TypeOf(msg) {
			t.Fatalf("%s decoded to %T", name, back)
		}
		if !equalMsg(back, msg) {
			t.Fatalf("%s: %+v != %+v", name, back, msg)
		}
	}
}

// equalMsg compares what matters of a decoded message: errors by code and
// text, events by fields and bytes, PIDs by address and id.
func equalMsg(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if ea, ok := a.(*jobEvents); ok {
		eb := b.(*jobEvents)
		if ea.JobID != eb.JobID || len(ea.Events) != len(eb.Events) {
			return false
		}
		for i := range ea.Events {
			x, y := ea.Events[i], eb.Events[i]
			if x.JobID != y.JobID || x.Seq != y.Seq || x.Name != y.Name || x.TS != y.TS ||
				string(x.Data) != string(y.Data) || string(x.Raw) != string(y.Raw) {
				return false
			}
		}
		return true
	}
	if ca, ok := a.(*createJob); ok && string(ca.First.Raw) != string(b.(*createJob).First.Raw) {
		return false
	}
	return string(ja) == string(jb)
}

// TestWireFailures: what each request or route's sender gets when it cannot
// reach its job comes from the table.
func TestWireFailures(t *testing.T) {
	t.Parallel()
	sender, feed := actor.NewPID("a:1", "conn$1"), actor.NewPID("a:1", "feed$1")
	down := &events.CodedError{Code: events.CodeUnavailable, Err: errors.New("down")}
	to, reply := wire.Fail("j", &emit{}, sender, down)
	if r, ok := reply.(*EmitResult); to != sender || !ok || r.Err.Code != events.CodeUnavailable || r.JobID != "j" {
		t.Fatalf("emit failure: %v %+v", to, reply)
	}
	to, reply = wire.Fail("j", &subscribeJob{Feed: feed}, sender, down)
	if r, ok := reply.(*jobSubscribed); to != feed || !ok || r.Err == nil {
		t.Fatalf("subscribe failure: %v %+v", to, reply)
	}
	if to, _ := wire.Fail("j", &unsubscribeJob{Feed: feed}, sender, down); to != nil {
		t.Fatal("an unsubscribe failure told someone")
	}
	if to, _ := wire.Fail("j", &watchCancel{Worker: sender}, sender, down); to != nil {
		t.Fatal("a watchCancel failure told someone")
	}
	if _, err := cluster.NewTable(cluster.Message{Name: "x", Type: (*emit)(nil), Kind: cluster.Request},
		cluster.Message{Name: "x", Type: (*getState)(nil), Kind: cluster.Request}); err == nil {
		t.Fatal("a table with a name twice was accepted")
	}
}

// FuzzDecodeMsg: what another node sends never crashes this one, and what it
// accepts is valid.
func FuzzDecodeMsg(f *testing.F) {
	ev := events.Event{JobID: "j", Seq: 2, Name: events.Chunk, Data: json.RawMessage(`{"chunk":"x"}`), TS: 9}
	ev.Encode()
	for _, m := range []any{&emit{Items: []EmitItem{{Offset: 1, Name: events.Chunk, Data: json.RawMessage(`{"chunk":"a"}`)}}},
		&subscribeJob{Feed: actor.NewPID("a:1", "b")}, &getState{}, &jobEvents{JobID: "j", Events: []events.Event{ev}},
		&EmitResult{JobID: "j", NextOffset: 2, LastSequence: 3, Status: events.StatusRunning, Acks: 1},
		&EmitResult{JobID: "j", Err: &events.CodedError{Code: events.CodeOffsetGap, Err: errors.New("resend")}},
		&watchCancel{Worker: actor.NewPID("a:1", "w")}, &jobCancelled{JobID: "j", Reason: "r"}} {
		name, b, _ := wire.Encode(m)
		f.Add(name, b)
	}
	f.Add("events", []byte("\x01j\x01\x04\x12\x0cjob:chunk:v1\x02{}\x00\x00"))
	f.Add("create", []byte(`{"state":{},"first":null}`))
	f.Add("nope", []byte(`{}`))
	f.Add("watchCancel", []byte(`{"worker":{"address":"","id":"w"}}`))
	f.Add("cancelled", []byte(`{"job":"a/b","reason":"x"}`))
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		msg, decl, err := wire.Decode(name, b)
		if err != nil {
			return
		}
		if msg == nil || decl == nil {
			t.Fatal("nil message without an error")
		}
		switch m := msg.(type) {
		case *emit:
			for _, it := range m.Items {
				if events.ValidateName(it.Name) != nil {
					t.Fatalf("accepted a bad event name %q", it.Name)
				}
				if it.Offset < NoOffset || !json.Valid(it.Data) {
					t.Fatalf("accepted a bad item: offset %d, data %q", it.Offset, it.Data)
				}
			}
		case *jobEvents:
			for _, ev := range m.Events {
				if ev.Seq < 1 || events.ValidateName(ev.Name) != nil || ev.JobID != m.JobID {
					t.Fatalf("accepted a bad event %+v", ev)
				}
			}
		case *subscribeJob:
			if m.Feed == nil {
				t.Fatal("accepted a subscribe without a feed")
			}
		case *watchCancel:
			if checkPID(m.Worker) != nil {
				t.Fatal("accepted a watchCancel without a worker")
			}
		case *jobCancelled:
			if events.ValidateJobID(m.JobID) != nil {
				t.Fatalf("accepted a cancelled of a bad job id %q", m.JobID)
			}
		}
	})
}

// TestEmitOnce: an emit with an event without offset is declared Once (not
// rerouted when its node dies: it may be appended there yet); one whose
// events all have offsets is not (the job drops a resend).
func TestEmitOnce(t *testing.T) {
	m, ok := wire.Lookup(&emit{})
	if !ok || m.Once == nil {
		t.Fatal("emit has no Once")
	}
	if m.Once(&emit{Items: []EmitItem{{Offset: 0}, {Offset: 1}}}) {
		t.Error("an emit with offsets is Once")
	}
	if !m.Once(&emit{Items: []EmitItem{{Offset: 3}, {Offset: NoOffset}}}) {
		t.Error("an emit with an event without offset is not Once")
	}
}
