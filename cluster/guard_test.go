package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/actorhub/actorhub/cluster/clusterpb"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// placeableB places like onePlacement, but node b may hold jobs (so a where
// envelope naming b is learned).
type placeableB struct{ onePlacement }

func (placeableB) Placeable(node string) (string, bool) { return "127.0.0.1:1", node == "b" }

// TestRemotePortSurvivesBadBatches sends, through the real gRPC listener,
// every message batch that used to panic protoactor's reader (and so end the
// process): an unknown type, type, target and sender indexes out of the
// batch, an unknown serializer, an empty envelope. Each is dropped and
// counted; a good envelope sent after them on the same stream still arrives.
func TestRemotePortSurvivesBadBatches(t *testing.T) {
	var mu sync.Mutex
	drops := map[string]int{}
	n, err := NewNetwork(NetworkConfig{NodeID: "a", Addr: "127.0.0.1:0", Table: MustTable(), Placement: placeableB{},
		RequestTimeout: time.Second, Dropped: func(reason string) { mu.Lock(); drops[reason]++; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	system := actor.NewActorSystem()
	defer system.Shutdown()
	if err := n.Start(system); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = n.Stop(t.Context()) }()

	conn, err := grpc.Dial(n.Address(), grpc.WithTransportCredentials(insecure.NewCredentials())) // grpc v1.6x here has no NewClient yet
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := remote.NewRemotingClient(conn).Receive(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	send := func(b *remote.MessageBatch) {
		t.Helper()
		if err := stream.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: b}}); err != nil {
			t.Fatal(err)
		}
	}
	router := []*actor.PID{actor.NewPID(n.Address(), routerName)}
	envName := string(proto.MessageName(&clusterpb.Envelope{}))
	where, _ := proto.Marshal(&clusterpb.Envelope{Version: codecVersion, Kind: kindWhere, JobId: "job-guard", Payload: []byte("b")})
	bad := []*remote.MessageBatch{
		{TypeNames: []string{"no.such.Type"}, Targets: router, Envelopes: []*remote.MessageEnvelope{{TypeId: 0, MessageData: []byte{1}}}},
		{TypeNames: []string{envName}, Targets: router, Envelopes: []*remote.MessageEnvelope{{TypeId: 3}}},
		{TypeNames: []string{envName}, Targets: router, Envelopes: []*remote.MessageEnvelope{{TypeId: -1}}},
		{TypeNames: []string{envName}, Targets: router, Envelopes: []*remote.MessageEnvelope{{Target: 5}}},
		{TypeNames: []string{envName}, Targets: router, Envelopes: []*remote.MessageEnvelope{{Sender: 2}}},
		{TypeNames: []string{envName}, Targets: router, Envelopes: []*remote.MessageEnvelope{{SerializerId: 7}}},
		// a nil target arrives as an empty PID (protobuf has no nil element): not an actor of this node
		{TypeNames: []string{envName}, Targets: []*actor.PID{nil}, Envelopes: []*remote.MessageEnvelope{{}}},
		// an actor of another node: the node would dial it
		{TypeNames: []string{envName}, Targets: []*actor.PID{actor.NewPID("10.0.0.1:1", routerName)}, Envelopes: []*remote.MessageEnvelope{{}}},
	}
	for _, b := range bad {
		send(b)
	}
	// a nil envelope arrives as an empty one: it decodes, and the router drops the empty envelope it carries
	send(&remote.MessageBatch{TypeNames: []string{envName}, Targets: router, Envelopes: []*remote.MessageEnvelope{nil}})
	// the stream still works: a where envelope reaches the router, which learns from it
	send(&remote.MessageBatch{TypeNames: []string{envName}, Targets: router,
		Envelopes: []*remote.MessageEnvelope{{MessageData: where}}})
	deadline := time.Now().Add(10 * time.Second) // a bound for a hung test, not a timing assertion
	for {
		mu.Lock()
		got := drops["cluster_batch"]
		mu.Unlock()
		if _, _, ok := n.located("job-guard"); ok && got == len(bad) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d bad batches: %d dropped, the good one learned=%v", len(bad), got, func() bool { _, _, ok := n.located("job-guard"); return ok }())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fuzzNode is one node's remote listener and a stream to it, for FuzzRemotePort.
var fuzzNode struct {
	once   sync.Once
	n      *Network
	system *actor.ActorSystem
	conn   *grpc.ClientConn
	client remote.RemotingClient
	stream remote.Remoting_ReceiveClient
	err    error
}

// FuzzRemotePort sends whatever decodes as a RemoteMessage through the real
// gRPC listener of a node: the node must never crash (a panic ends the fuzz
// process) and never dial an address a peer wrote.
func FuzzRemotePort(f *testing.F) {
	envName := string(proto.MessageName(&clusterpb.Envelope{}))
	for _, b := range []*remote.MessageBatch{
		{TypeNames: []string{"no.such.Type"}, Targets: []*actor.PID{{Id: routerName}}, Envelopes: []*remote.MessageEnvelope{{MessageData: []byte{1}}}},
		{TypeNames: []string{envName}, Targets: []*actor.PID{{Id: routerName}}, Envelopes: []*remote.MessageEnvelope{{TypeId: 3, Target: 2, Sender: 9}}},
		{TypeNames: []string{"actor.Terminated", "actor.Stop"}, Targets: []*actor.PID{{Id: routerName}}, Envelopes: []*remote.MessageEnvelope{{TypeId: 1}}},
	} {
		data, _ := proto.Marshal(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: b}})
		f.Add(data)
	}
	connect, _ := proto.Marshal(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: &remote.ConnectRequest{}}})
	f.Add(connect)
	f.Cleanup(func() { // the node lives for the whole fuzz run of this process
		fz := &fuzzNode
		if fz.conn != nil {
			fz.conn.Close()
		}
		if fz.n != nil {
			_ = fz.n.Stop(context.Background())
		}
		if fz.system != nil {
			fz.system.Shutdown()
		}
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		var rm remote.RemoteMessage
		if proto.Unmarshal(data, &rm) != nil {
			return
		}
		fz := &fuzzNode
		fz.once.Do(func() {
			fz.n, fz.err = NewNetwork(NetworkConfig{NodeID: "a", Addr: "127.0.0.1:0", Table: MustTable(), Placement: placeableB{}, RequestTimeout: time.Second})
			if fz.err != nil {
				return
			}
			fz.system = actor.NewActorSystem()
			if fz.err = fz.n.Start(fz.system); fz.err != nil {
				return
			}
			if fz.conn, fz.err = grpc.Dial(fz.n.Address(), grpc.WithTransportCredentials(insecure.NewCredentials())); fz.err != nil {
				return
			}
			fz.client = remote.NewRemotingClient(fz.conn)
		})
		if fz.err != nil {
			t.Fatal(fz.err)
		}
		// targets named by id only are this node's actors
		if b := rm.GetMessageBatch(); b != nil {
			for _, p := range b.Targets {
				if p != nil && p.Address == "" {
					p.Address = fz.n.Address()
				}
			}
		}
		for attempt := 0; attempt < 2; attempt++ {
			if fz.stream == nil {
				s, err := fz.client.Receive(context.Background())
				if err != nil {
					t.Fatalf("the node's remote port stopped taking streams: %v", err)
				}
				fz.stream = s
			}
			// then a connect request: its answer comes once the node's reader got past rm
			ping := &remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: &remote.ConnectRequest{
				ConnectionType: &remote.ConnectRequest_ServerConnection{ServerConnection: &remote.ServerConnection{SystemId: "fuzz"}}}}}
			if fz.stream.Send(&rm) == nil && fz.stream.Send(ping) == nil {
				if _, err := fz.stream.Recv(); err == nil {
					return
				}
			}
			fz.stream = nil // the node ended the stream (a message it refused): open another
		}
	})
}
