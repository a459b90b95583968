package actors

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/actorhub/actorhub/events"
	"github.com/asynkron/protoactor-go/actor"
)

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	st, first := events.NewJob("j1", "u", "t", json.RawMessage(`{"p":1}`), 5)
	ev := events.Event{JobID: "j1", Seq: 2, Name: events.Chunk, Data: json.RawMessage(`{"chunk":"x"}`), TS: 9}
	ev.Encode()
	feed := actor.NewPID("127.0.0.1:9", "feed$1")
	gap := &events.CodedError{Code: events.CodeOffsetGap, Err: errors.New("resend from 3")}
	for _, msg := range []any{
		&emit{items: []EmitItem{{Offset: 3, Name: events.Chunk, Data: json.RawMessage(`{"chunk":"a"}`)}, {Offset: NoOffset, Name: "a:b:v1", Data: json.RawMessage(`{}`)}}},
		&EmitResult{JobID: "j1", NextOffset: 4, LastSequence: 7, Status: events.StatusRunning},
		&EmitResult{JobID: "j1", NextOffset: 3, Err: gap},
		&createJob{state: st, first: first},
		&stateReply{state: st, created: true},
		&getState{}, &cancelJob{reason: "r"},
		&subscribeJob{feed: feed}, &unsubscribeJob{feed: feed},
		&jobSubscribed{jobID: "j1", job: actor.NewPID("127.0.0.1:8", "job$2"), status: events.StatusRunning, lastSeq: 7, epoch: 3},
		&jobEvents{jobID: "j1", events: []events.Event{ev}},
	} {
		name, b, err := encodeMsg(msg)
		if err != nil {
			t.Fatalf("encode %T: %v", msg, err)
		}
		back, err := decodeMsg(name, b)
		if err != nil {
			t.Fatalf("decode %s: %v", name, err)
		}
		if reflect.TypeOf(back) != reflect.TypeOf(msg) {
			t.Fatalf("%s decoded to %T", name, back)
		}
		if r, ok := back.(*EmitResult); ok && msg.(*EmitResult).Err != nil {
			if codeOf(r.Err, "") != events.CodeOffsetGap || r.NextOffset != 3 {
				t.Fatalf("error lost its code: %+v", r)
			}
			continue
		}
		if c, ok := back.(*createJob); ok {
			if c.first.Seq != 1 || c.state.JobID != "j1" || string(c.first.Raw) != string(first.Raw) {
				t.Fatalf("create: %+v", c)
			}
			continue
		}
		if e, ok := back.(*jobEvents); ok {
			if len(e.events) != 1 || string(e.events[0].Raw) != string(ev.Raw) || e.events[0].Seq != 2 {
				t.Fatalf("events: %+v", e)
			}
			continue
		}
		if !reflect.DeepEqual(back, msg) {
			t.Fatalf("%s: %+v != %+v", name, back, msg)
		}
	}
}

// FuzzDecodeMsg: what another node sends never crashes this one.
func FuzzDecodeMsg(f *testing.F) {
	for _, m := range []any{&emit{items: []EmitItem{{Offset: 1, Name: events.Chunk, Data: json.RawMessage(`{"chunk":"a"}`)}}},
		&subscribeJob{feed: actor.NewPID("a:1", "b")}, &getState{}} {
		name, b, _ := encodeMsg(m)
		f.Add(name, b)
	}
	f.Add("events", []byte(`{"job":"j","events":[{"type":"event"}]}`))
	f.Add("create", []byte(`{"state":{},"first":null}`))
	f.Add("nope", []byte(`{}`))
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		msg, err := decodeMsg(name, b)
		if err == nil && msg == nil {
			t.Fatal("nil message without an error")
		}
		if e, ok := msg.(*emit); ok {
			for _, it := range e.items {
				if events.ValidateName(it.Name) != nil {
					t.Fatalf("accepted a bad event name %q", it.Name)
				}
			}
		}
	})
}
