package cluster

import (
	"encoding/binary"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/actorhub/actorhub/cluster/clusterpb"
)

func batchOf(t testing.TB, envs ...*clusterpb.Envelope) []byte {
	var payload []byte
	for _, env := range envs {
		b, err := proto.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		payload = binary.AppendUvarint(payload, uint64(len(b)))
		payload = append(payload, b...)
	}
	return payload
}

func TestDecodeBatch(t *testing.T) {
	in := []*clusterpb.Envelope{
		{Version: codecVersion, Kind: kindTell, Target: "feed$1", From: "127.0.0.1:1", Msg: "events", Payload: []byte{1, 2}},
		{Version: codecVersion, Kind: kindRep, ReqId: 9, JobId: "j", From: "127.0.0.1:1", Msg: "emitResult"},
		{},
	}
	out, err := decodeBatch(batchOf(t, in...))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d envelopes back; want %d", len(out), len(in))
	}
	for i := range in {
		if !proto.Equal(in[i], out[i]) {
			t.Fatalf("envelope %d: %v != %v", i, out[i], in[i])
		}
	}
	for name, payload := range map[string][]byte{
		"nested":    batchOf(t, &clusterpb.Envelope{Kind: kindBatch}),
		"truncated": batchOf(t, in[0])[:5],
		"oversize":  binary.AppendUvarint(nil, 1<<40),
	} {
		if _, err := decodeBatch(payload); err == nil {
			t.Errorf("%s: a bad batch decoded", name)
		}
	}
}

// FuzzDecodeBatch: a batch from another node never crashes this one, and
// never smuggles a batch inside a batch.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(batchOf(f, &clusterpb.Envelope{Version: codecVersion, Kind: kindTell, Target: "a", Msg: "events", Payload: []byte("x")}))
	f.Add(batchOf(f, &clusterpb.Envelope{Kind: kindBatch}))
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, payload []byte) {
		envs, err := decodeBatch(payload)
		if err != nil {
			return
		}
		for _, env := range envs {
			if env == nil || env.Kind == kindBatch {
				t.Fatalf("decoded %v", env)
			}
		}
	})
}
