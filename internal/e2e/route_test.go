package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/actorhub/actorhub/client"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/nodetest"
	"github.com/actorhub/actorhub/internal/redistest"
)

// elsewhere sums actorhub_worker_emits_elsewhere_total over nodes: emits that
// crossed from their worker's node to the job's and back.
func elsewhere(t *testing.T, nodes []*nodetest.Node) float64 {
	t.Helper()
	var sum float64
	for _, n := range nodes {
		sum += metricValue(metrics(t, n), "actorhub_worker_emits_elsewhere_total")
	}
	return sum
}

// TestWorkerFollowsTheJobsNode: a node names, in the acks of a worker's emits,
// the node that holds their job when it is another one (their emits cross to
// it and back), and its own id in the upgrade's Actorhub-Node header; the Go
// SDK's Worker, with a connection to each node, then sends each job's events
// to the node that holds it, so that no node passes them on any more; on
// HTTP, the answer names the node, and the Worker posts there.
func TestWorkerFollowsTheJobsNode(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	nodes := nodetest.StartCluster(t, 3, rs.URL())
	var jobs []string
	for i, n := range nodes { // jobs live where they are made: four on each node
		jobs = append(jobs, heldBy(t, rs, n, fmt.Sprintf("route%d", i), 4)...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// the wire: node 0 names itself, and node 1 in the acks of node 1's job
	c, resp, err := websocket.Dial(ctx, nodes[0].WS("/ws/worker"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.CloseNow()
	if got := resp.Header.Get("Actorhub-Node"); got != nodes[0].ID {
		t.Fatalf("Actorhub-Node: %q, want %q", got, nodes[0].ID)
	}
	raw := dial(t, nodes[0].WS("/ws/worker"))
	// an ack names the node a job's emits go to, which is where the node
	// knows the job lives, or at first (before the job's directory node has
	// said where it lives) the directory node: a worker then moves twice at
	// most. So emit until an ack names the node that holds the job.
	const tries = 20
	offsets := map[string]int64{}
	for _, tc := range []struct {
		job, node string
	}{{jobs[0], ""}, {jobs[4], nodes[1].ID}, {jobs[8], nodes[2].ID}} {
		for k := 0; ; k++ {
			raw.send(chunkEmit(tc.job, offsets[tc.job], "a"))
			offsets[tc.job]++
			ack, _ := raw.expect("ack")
			if ack.str("jobId") != tc.job {
				t.Fatalf("ack: %v", ack)
			}
			if tc.node == "" && ack.str("node") != "" {
				t.Fatalf("an ack of an emit to %s, which node %s holds, names node %s", tc.job, nodes[0].ID, ack.str("node"))
			}
			if ack.str("node") == tc.node && (tc.node != "" || k == tries) {
				break
			}
			if k == tries {
				t.Fatalf("after %d emits to %s (on node %s) through %s, the ack names %q", tries, tc.job, tc.node, nodes[0].ID, ack.str("node"))
			}
		}
	}
	if got, want := elsewhere(t, nodes), float64(offsets[jobs[4]]+offsets[jobs[8]]); got != want {
		t.Fatalf("actorhub_worker_emits_elsewhere_total: %v, want %v (the emits to node 1's and node 2's jobs)", got, want)
	}

	// the SDK: after a job's first acks, its events go to its node
	urls := []string{nodes[0].URL(""), nodes[1].URL(""), nodes[2].URL("")}
	w := client.NewWorker(client.WorkerConfig{BaseURLs: urls}) // a lane on each node
	defer w.Close()
	sdkJobs := make([]string, 0, len(jobs))
	for _, j := range jobs {
		if j != jobs[0] && j != jobs[4] && j != jobs[8] { // the raw worker's
			sdkJobs = append(sdkJobs, j)
		}
	}
	emitAll := func(rounds int) {
		t.Helper()
		for r := 0; r < rounds; r++ {
			for _, j := range sdkJobs {
				if _, err := w.Emit(ctx, j, events.Chunk, map[string]any{"chunk": "x"}); err != nil {
					t.Fatal(err)
				}
			}
			for _, j := range sdkJobs {
				if err := w.Flush(ctx, j); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// each job's first acks name its node (or first its directory node),
	// and it moves there between two rounds
	settled := false
	for r := 0; r < 10 && !settled; r++ {
		before := elsewhere(t, nodes)
		emitAll(1)
		settled = elsewhere(t, nodes) == before
	}
	moved := w.Stats().Moved
	if !settled || moved == 0 {
		t.Fatalf("after 10 rounds the emits still cross nodes, or no job moved (stats %+v)", w.Stats())
	}
	before := elsewhere(t, nodes)
	emitAll(10)
	if got := elsewhere(t, nodes) - before; got != 0 {
		t.Fatalf("%v emits crossed nodes after the jobs moved (%d moves); want none", got, moved)
	}
	if st := w.Stats(); st.Moved != moved || st.Acked != st.Emitted {
		t.Fatalf("stats %+v: moved %d before", st, moved)
	}

	// the same on HTTP: an answer names the job's node, and the Worker posts
	// the job's next batches there (it finds which base that node is by
	// trying the bases it has not heard from)
	var hjobs []string
	for i, n := range nodes {
		hjobs = append(hjobs, heldBy(t, rs, n, fmt.Sprintf("hroute%d", i), 2)...)
	}
	hw := client.NewWorker(client.WorkerConfig{BaseURLs: urls, Transport: client.TransportHTTP, Conns: 1})
	defer hw.Close()
	hround := func() {
		t.Helper()
		for _, j := range hjobs {
			if _, err := hw.EmitSync(ctx, j, events.Chunk, map[string]any{"chunk": "h"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	settled = false
	for r := 0; r < 10 && !settled; r++ {
		before := elsewhere(t, nodes)
		hround()
		settled = elsewhere(t, nodes) == before
	}
	if !settled || hw.Stats().Moved == 0 {
		t.Fatalf("on HTTP, after 10 rounds the emits still cross nodes, or no job moved (stats %+v)", hw.Stats())
	}
	before = elsewhere(t, nodes)
	hround()
	hround()
	if got := elsewhere(t, nodes) - before; got != 0 {
		t.Fatalf("on HTTP, %v emits crossed nodes after the jobs moved; want none", got)
	}
}
