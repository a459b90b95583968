package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/actorhub/actorhub/client"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/nodetest"
	"github.com/actorhub/actorhub/internal/redistest"
)

// TestClusterLargeState: a job's state crosses nodes whole, however long its
// output. A job with 6 MB of output, written and read through a node that does
// not hold it: its state comes from the holder in one message, past gRPC's default
// 4 MB limit on what a server receives, which broke the connection between the
// two nodes and every message on it (seen once in a soak, as a ResourceExhausted
// error of protoactor's endpoint writer).
func TestClusterLargeState(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	nodes := nodetest.StartCluster(t, 2, rs.URL())
	id := heldBy(t, rs, nodes[0], "big", 1)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// the worker writes through the other node: its emits cross to the holder,
	// and that node learns where the job lives, so that the reads below go
	// there too (a node that does not know may answer a read from the store)
	w := client.NewWorker(client.WorkerConfig{BaseURLs: []string{nodes[1].URL("")}})
	defer w.Close()
	const n, size = 100, 60_000 // 6 MB, of text that does not compress
	rng := rand.New(rand.NewPCG(1, 2))
	raw := make([]byte, size*3/4)
	for range n {
		for k := range raw {
			raw[k] = byte(rng.Uint32())
		}
		chunk := base64.StdEncoding.EncodeToString(raw)
		if _, err := w.Emit(ctx, id, events.Chunk, map[string]any{"chunk": chunk}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, node := range []*nodetest.Node{nodes[1], nodes[0]} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, node.URL("/api/job/"+id+"/state"), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var st events.JobState
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || len(st.Output) != n*size {
			t.Fatalf("GET through %s: %d, %v, output %d bytes; want 200 and %d bytes\n%s", node.ID, resp.StatusCode, err,
				len(st.Output), n*size, nodes[1].Logs())
		}
	}
	// a read that came back anyway (a request whose connection broke may be
	// answered from the store) must not have cost the connection either
	for _, node := range nodes {
		if logs := node.Logs(); strings.Contains(logs, "lost connection") {
			t.Fatalf("%s lost its connection to the other node:\n%s", node.ID, logs)
		}
	}
}
