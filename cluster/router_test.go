package cluster

import (
	"testing"
	"time"

	"github.com/actorhub/actorhub/cluster/clusterpb"
	"github.com/asynkron/protoactor-go/actor"
)

type (
	testPing struct{ N int }
	testPong struct {
		N   int
		Err string
	}
)

// onePlacement places every job on this node.
type onePlacement struct{}

func (onePlacement) Owner(string) (string, string, bool) { return "a", "nonhost", true }
func (onePlacement) Alive(string) bool                   { return false }
func (onePlacement) Placeable(string) (string, bool)     { return "", false }
func (onePlacement) Known(string) bool                   { return false }
func (onePlacement) Settled() bool                       { return true }

// TestServeAnswersOnce: a request from another node gets exactly one answer:
// the job's first one, the table's failure when the job does not answer in
// time, or the same failure at once when no job directory takes it.
func TestServeAnswersOnce(t *testing.T) {
	const peer = "127.0.0.1:1" // another node; with no remote here, what goes there is a dead letter
	table := MustTable(
		Message{Name: "ping", Type: (*testPing)(nil), Kind: Request, Fail: func(_ string, msg any, err error) (*actor.PID, any) {
			return nil, &testPong{N: msg.(*testPing).N, Err: err.Error()}
		}},
		Message{Name: "pong", Type: (*testPong)(nil), Kind: Reply},
	)
	n, err := NewNetwork(NetworkConfig{NodeID: "a", Addr: "127.0.0.1:0", Table: table, Placement: onePlacement{},
		RequestTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	system := actor.NewActorSystem()
	defer system.Shutdown()
	n.system = system
	answers := make(chan *clusterpb.Envelope, 16)
	system.EventStream.Subscribe(func(evt any) {
		if dl, ok := evt.(*actor.DeadLetterEvent); ok && dl.PID.Address == peer {
			if env, ok := dl.Message.(*clusterpb.Envelope); ok {
				answers <- env
			}
		}
	})
	if n.router, err = system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &router{n: n} }), routerName); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = n.timers.Stop(t.Context()) }()

	request := func(reqID uint64, ping int) {
		name, payload, err := table.Encode(&testPing{N: ping})
		if err != nil {
			t.Fatal(err)
		}
		system.Root.Send(n.router, &clusterpb.Envelope{Version: codecVersion, Kind: kindReq, ReqId: reqID, JobId: "j",
			From: peer, Msg: name, Payload: payload})
	}
	answer := func(reqID uint64) *testPong {
		t.Helper()
		select {
		case env := <-answers:
			if env.Kind != kindRep || env.ReqId != reqID || env.JobId != "j" {
				t.Fatalf("answer %v; want a reply to request %d", env, reqID)
			}
			msg, _, err := table.Decode(env.Msg, env.Payload)
			if err != nil {
				t.Fatal(err)
			}
			return msg.(*testPong)
		case <-time.After(10 * time.Second): // a bound for a hung test, not a timing assertion
			t.Fatalf("no answer to request %d", reqID)
			return nil
		}
	}
	// no job directory yet: protoactor's dead letter answer fails the request
	request(1, 1)
	if p := answer(1); p.Err == "" {
		t.Fatalf("answer %+v; want the table's failure", p)
	}

	// a directory that answers twice, and ignores ping 2
	if _, err := system.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if m, ok := ctx.Message().(*JobMsg); ok && m.Msg.(*testPing).N != 2 {
			ctx.Respond(&testPong{N: m.Msg.(*testPing).N})
			ctx.Respond(&testPong{N: -1})
		}
	}), JobsName); err != nil {
		t.Fatal(err)
	}
	request(2, 1)
	if p := answer(2); p.N != 1 || p.Err != "" {
		t.Fatalf("answer %+v; want the job's first", p)
	}
	request(3, 2)
	if p := answer(3); p.N != 2 || p.Err == "" { // after the deadline, from the router's sweep
		t.Fatalf("answer %+v; want the table's failure", p)
	}
	// nothing else came back for requests 1 to 3: the next answer is request 4's
	request(4, 4)
	if p := answer(4); p.N != 4 || p.Err != "" {
		t.Fatalf("answer %+v; want the job's first", p)
	}
}
