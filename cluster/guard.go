package cluster

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// What arrives on the remote port is outside bytes. protoactor's reader
// trusts them: an envelope whose type or serializer is unknown, or whose
// target or sender index is out of its batch, panics in its goroutine, and
// gRPC does not recover a handler's panic, so one message ended the node. The
// remote's server runs with these interceptors: each message batch is checked
// before protoactor's reader sees it and dropped (and counted, cluster_batch)
// when it would not decode, and a panic left in a handler ends that stream or
// call (counted, cluster_panic) instead of the process.

// protoSerializers is how many serializers protoactor registers (proto, json):
// a serializer id past them indexes out of its table.
const protoSerializers = 2

// checkBatch reports why protoactor's reader could not take b, or nil. Every
// target must be an actor of this node (self, its remote address): a target
// elsewhere would have this node dial whatever address a peer wrote.
func checkBatch(b *remote.MessageBatch, self string) error {
	for i, e := range b.Envelopes {
		if e == nil {
			return fmt.Errorf("envelope %d is empty", i)
		}
		if e.TypeId < 0 || int(e.TypeId) >= len(b.TypeNames) {
			return fmt.Errorf("envelope %d: type %d of %d", i, e.TypeId, len(b.TypeNames))
		}
		if e.SerializerId < 0 || e.SerializerId >= protoSerializers {
			return fmt.Errorf("envelope %d: serializer %d", i, e.SerializerId)
		}
		if e.SerializerId == 0 {
			if _, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(b.TypeNames[e.TypeId])); err != nil {
				return fmt.Errorf("envelope %d: type %q is not known here", i, b.TypeNames[e.TypeId])
			}
		}
		if e.Target < 0 || int(e.Target) >= len(b.Targets) || b.Targets[e.Target] == nil {
			return fmt.Errorf("envelope %d: target %d of %d", i, e.Target, len(b.Targets))
		}
		if a := b.Targets[e.Target].Address; a != self {
			return fmt.Errorf("envelope %d: target on %q, not on this node (%s)", i, a, self)
		}
		if e.Sender < 0 || int(e.Sender) > len(b.Senders) || (e.Sender > 0 && b.Senders[e.Sender-1] == nil) {
			return fmt.Errorf("envelope %d: sender %d of %d", i, e.Sender, len(b.Senders))
		}
	}
	return nil
}

// guardedStream passes protoactor's reader only the messages it can take.
type guardedStream struct {
	grpc.ServerStream
	n *Network
}

// RecvMsg implements grpc.ServerStream: a batch that would not decode is
// dropped and the next message read.
func (g *guardedStream) RecvMsg(m any) error {
	for {
		if err := g.ServerStream.RecvMsg(m); err != nil {
			return err
		}
		rm, ok := m.(*remote.RemoteMessage)
		if !ok {
			return nil
		}
		b := rm.GetMessageBatch()
		if b == nil {
			return nil
		}
		if err := checkBatch(b, g.n.Address()); err != nil {
			g.n.dropped("cluster_batch", "remote: dropped a message batch that does not decode", "err", err)
			continue
		}
		return nil
	}
}

// guardStreams is the remote server's stream interceptor.
func (n *Network) guardStreams(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			n.dropped("cluster_panic", "remote: a stream's handler panicked; the stream ends, the node goes on",
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = status.Error(codes.InvalidArgument, "refused")
		}
	}()
	return handler(srv, &guardedStream{ServerStream: ss, n: n})
}

// guardCalls is the remote server's unary interceptor.
func (n *Network) guardCalls(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			n.dropped("cluster_panic", "remote: a call's handler panicked; the node goes on", "panic", fmt.Sprint(r))
			resp, err = nil, status.Error(codes.InvalidArgument, "refused")
		}
	}()
	return handler(ctx, req)
}
