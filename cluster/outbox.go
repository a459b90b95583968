package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/actorhub/actorhub/cluster/clusterpb"
)

// kindBatch is an envelope that carries other envelopes to one node: its
// payload is, for each, uvarint length then the envelope's protobuf bytes.
const kindBatch = "batch"

// maxBatchBytes bounds one batch envelope's payload (gRPC refuses messages
// past 4 MiB); an envelope larger than this goes alone.
const maxBatchBytes = 1 << 20

// outbox gathers the envelopes this node sends to other nodes and sends what
// gathered for one node as one batch envelope. At one event per job, where
// every event, ack and emit is its own envelope, protoactor's cost per
// message (its envelope, the gRPC stream's bookkeeping, a mailbox hop into
// the receiving router) is paid once per batch instead. A flush runs on a
// goroutine of the Network's group as soon as the sender yields, so a batch
// holds whatever the node produced meanwhile; nothing waits on a timer.
// Envelopes to one node keep the order they were put in.
type outbox struct {
	mu        sync.Mutex
	queued    map[string][]*clusterpb.Envelope // by node address, in order
	spare     map[string][]*clusterpb.Envelope
	scheduled bool
	sending   sync.Mutex // held by the flush that sends: one at a time keeps the order
}

// send queues env for the router of the node at addr.
func (n *Network) send(addr string, env *clusterpb.Envelope) {
	o := &n.out
	o.mu.Lock()
	if o.queued == nil {
		o.queued, o.spare = map[string][]*clusterpb.Envelope{}, map[string][]*clusterpb.Envelope{}
	}
	o.queued[addr] = append(o.queued[addr], env)
	start := !o.scheduled
	o.scheduled = true
	o.mu.Unlock()
	if start && !n.timers.Go(n.flush) {
		o.mu.Lock() // stopped: nothing leaves any more
		clear(o.queued)
		o.scheduled = false
		o.mu.Unlock()
	}
}

// flush sends what is queued, one batch per node.
func (n *Network) flush() {
	o := &n.out
	o.sending.Lock()
	defer o.sending.Unlock()
	o.mu.Lock()
	q := o.queued
	o.queued, o.spare = o.spare, nil
	o.scheduled = false
	o.mu.Unlock()
	for addr, envs := range q {
		n.sendBatch(addr, envs)
		clear(envs)
	}
	clear(q)
	o.mu.Lock()
	o.spare = q
	o.mu.Unlock()
}

// sendBatch sends envs to the router at addr: alone when there is one, else
// in batches of at most maxBatchBytes.
func (n *Network) sendBatch(addr string, envs []*clusterpb.Envelope) {
	to := routerOf(addr)
	if len(envs) == 1 {
		n.system.Root.Send(to, envs[0])
		return
	}
	var payload []byte // every envelope in it adds at least its length byte
	send := func() {
		if len(payload) > 0 {
			n.system.Root.Send(to, &clusterpb.Envelope{Version: codecVersion, Kind: kindBatch, From: n.Address(), Payload: payload})
		}
		payload = nil
	}
	for _, env := range envs {
		b, err := proto.Marshal(env)
		if err != nil {
			n.cfg.Log.Error("cannot encode an envelope for another node", "to", addr, "err", err)
			continue
		}
		if len(b) > maxBatchBytes {
			n.system.Root.Send(to, env)
			continue
		}
		if len(payload)+len(b)+binary.MaxVarintLen64 > maxBatchBytes {
			send()
		}
		payload = binary.AppendUvarint(payload, uint64(len(b)))
		payload = append(payload, b...)
	}
	send()
}

var errBadBatch = errors.New("batch envelope ends early")

// decodeBatch returns the envelopes a batch's payload carries. It never
// panics, on any input; a batch inside a batch is refused.
func decodeBatch(payload []byte) ([]*clusterpb.Envelope, error) {
	var out []*clusterpb.Envelope
	for len(payload) > 0 {
		size, k := binary.Uvarint(payload)
		if k <= 0 || size > uint64(len(payload)-k) {
			return nil, errBadBatch
		}
		env := &clusterpb.Envelope{}
		if err := proto.Unmarshal(payload[k:k+int(size)], env); err != nil {
			return nil, fmt.Errorf("envelope %d of a batch: %w", len(out), err)
		}
		if env.Kind == kindBatch {
			return nil, fmt.Errorf("envelope %d of a batch is a batch", len(out))
		}
		out = append(out, env)
		payload = payload[k+int(size):]
	}
	return out, nil
}
