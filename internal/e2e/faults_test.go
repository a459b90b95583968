package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/actorhub/actorhub/internal/nodetest"
	"github.com/actorhub/actorhub/internal/redistest"
	"github.com/coder/websocket"
)

// journalText reads the job's whole journal and returns its chunk texts in seq
// order, failing on a gap or a duplicate seq.
func journalText(t testing.TB, n *nodetest.Node, jobID string) (chunks []string, last obj) {
	t.Helper()
	after := int64(0)
	for {
		page := mustAPI(t, 200, "GET", n.URL(fmt.Sprintf("/api/job/%s/events?fromSeq=%d&limit=500", jobID, after)), "")
		list, _ := page["events"].([]any)
		if len(list) == 0 {
			return chunks, last
		}
		for _, e := range list {
			o := obj(e.(map[string]any))
			if o.num("seq") != after+1 {
				t.Fatalf("journal of %s: seq %d after %d", jobID, o.num("seq"), after)
			}
			after = o.num("seq")
			if o.str("event") == "model:chunk:v1" {
				chunks = append(chunks, o["data"].(map[string]any)["chunk"].(string))
			}
			last = o
		}
	}
}

func wantChunks(t testing.TB, got []string, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("journal has %d chunks, want %d", len(got), n)
	}
	for i, c := range got {
		if c != fmt.Sprintf("c%d ", i) {
			t.Fatalf("chunk %d is %q: the journal must equal what the worker emitted, in order", i, c)
		}
	}
}

// TestKillNineLosesNothing: kill -9 mid-stream, restart on the same store; every
// acked event is there, the worker resends from its last ack, the journal ends
// up exactly what it emitted and a client resuming from its last seq sees no gap.
func TestKillNineLosesNothing(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, store string) {
		n := nodetest.Start(t, nodetest.Options{Store: store})
		mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"k9","userId":"u","type":"t"}`)
		c := dial(t, n.WS("/ws"))
		c.expect("connected")
		c.send(`{"type":"subscribe","jobId":"k9"}`)
		c.expect("subscribed")

		const total = 400
		w := dial(t, n.WS("/ws/worker"))
		acked := int64(0)
		for off := 0; off < 200; off += 10 {
			var lines []string
			for k := off; k < off+10; k++ {
				lines = append(lines, chunkEmit("k9", int64(k), fmt.Sprintf("c%d ", k)))
			}
			w.send(strings.Join(lines, "\n"))
		}
		for acked < 100 { // mid-stream: some acked, maybe more in flight
			a, _ := w.expect("ack")
			acked = max(acked, a.num("nextOffset"))
		}
		seen := c.events("k9", 0, 20)
		n.Kill()
		n.Restart(t)

		st := mustAPI(t, 200, "GET", n.URL("/api/job/k9/state"), "")
		if st.num("nextOffset") < acked {
			t.Fatalf("acked up to offset %d before kill -9, the store has %d", acked, st.num("nextOffset"))
		}
		// the worker reconnects and resends everything from its last ack
		w = dial(t, n.WS("/ws/worker"))
		var lines []string
		for k := acked; k < total; k++ {
			lines = append(lines, chunkEmit("k9", k, fmt.Sprintf("c%d ", k)))
			if len(lines) == 25 {
				w.send(strings.Join(lines, "\n"))
				lines = nil
			}
		}
		lines = append(lines, `{"type":"emit","jobId":"k9","offset":400,"event":"job:completed:v1","data":{}}`)
		w.send(strings.Join(lines, "\n"))
		for acked < total+1 {
			a, other := w.expect("ack")
			if len(other) > 0 {
				t.Fatalf("worker got %v", other)
			}
			acked = max(acked, a.num("nextOffset"))
		}
		chunks, last := journalText(t, n, "k9")
		wantChunks(t, chunks, total)
		if last.str("event") != "job:completed:v1" {
			t.Fatalf("terminal event is not last: %v", last)
		}
		// the client resumes from the last seq it processed
		c2 := dial(t, n.WS("/ws"))
		c2.expect("connected")
		from := seen[len(seen)-1].num("seq")
		c2.send(fmt.Sprintf(`{"type":"subscribe","jobId":"k9","fromSeq":%d}`, from))
		c2.expect("subscribed")
		c2.events("k9", from, last.num("seq"))
	})
}

// TestRedisOutage: Redis dies while a worker streams over HTTP. Appends fail
// with 503 and a clear message, /readyz says so, the worker retries, nothing
// acked is lost, and a client that stayed connected continues without a gap
// once Redis is back.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t, redistest.AOF())
	n := nodetest.Start(t, nodetest.Options{Store: rs.URL()})
	mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"ro","userId":"u","type":"t"}`)
	c := dial(t, n.WS("/ws"))
	c.expect("connected")
	c.send(`{"type":"subscribe","jobId":"ro"}`)
	c.expect("subscribed")

	const total = 120
	var saw503 atomic.Int64
	var message atomic.Value
	post := func(off int) {
		body := fmt.Sprintf(`{"events":[{"offset":%d,"event":"model:chunk:v1","data":{"chunk":"c%d "}}]}`, off, off)
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			code, o := api(t, "POST", n.URL("/api/jobs/ro/events"), body)
			switch {
			case code == 200:
				return
			case code == 503:
				saw503.Add(1)
				message.Store(o.str("message"))
			case code == 409 && o.str("error") == "offset_gap" && o.num("nextOffset") > int64(off):
				return // a timed-out earlier try was in fact written
			default:
				t.Errorf("offset %d: %d %v", off, code, o)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("offset %d not acked within 60s", off)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for off := 0; off < total; off++ {
			post(off)
			if off == 40 {
				rs.Kill()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	nodetest.WaitFor(t, 20*time.Second, func() error {
		if saw503.Load() == 0 {
			return fmt.Errorf("no 503 yet")
		}
		return nil
	})
	if resp, err := http.Get(n.URL("/readyz")); err != nil || resp.StatusCode != 503 {
		t.Errorf("/readyz during the outage: %v %v, want 503", resp.StatusCode, err)
	}
	if m, _ := message.Load().(string); !strings.Contains(m, "retry") || !strings.Contains(strings.ToLower(m), "unavailable") {
		t.Errorf("the 503 should say what failed and to retry: %q", m)
	}
	time.Sleep(1 * time.Second)
	rs.Restart(t)
	<-done
	chunks, _ := journalText(t, n, "ro")
	wantChunks(t, chunks, total)
	c.events("ro", 0, int64(total)+1) // the connected client continues without a gap
	n.WaitReady(t, 10*time.Second)
}

// TestSlowConsumerIsClosed: a client that stops reading is closed with 1008
// once its queue is full; other clients get everything.
func TestSlowConsumerIsClosed(t *testing.T) {
	t.Parallel()
	// a write timeout far off: what closes the slow client here is its full queue
	n := nodetest.Start(t, nodetest.Options{Args: []string{"--outbound-queue", "64", "--write-timeout", "10m", "--max-job-bytes", "0"}})
	mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"sc","userId":"u","type":"t"}`)
	ctx := context.Background()
	slow := nonReader(t, n, "sc")
	slow.SetReadLimit(1 << 20)
	fast := dial(t, n.WS("/ws"))
	fast.expect("connected")
	fast.send(`{"type":"subscribe","jobId":"sc"}`)
	fast.expect("subscribed")

	const total = 1500
	for off := 0; off < total; off += 50 {
		emitBig(t, n, "sc", off, 50)
	}
	fast.events("sc", 0, total+1)
	// the slow one: read what it was sent until the close. The close frame
	// (1008) queues behind the frames the client never read; when the node's
	// send buffer is still full as its close handshake times out, the client
	// sees the connection end without it. Either way the node closed it as a
	// slow consumer, which the metric below says.
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		_, r, err := slow.Reader(rctx)
		if err != nil {
			if code := websocket.CloseStatus(err); code != websocket.StatusPolicyViolation && rctx.Err() != nil {
				t.Fatalf("slow consumer still open: %v", err)
			}
			break
		}
		io.Copy(io.Discard, r)
	}
	body := metrics(t, n)
	if !strings.Contains(body, "actorhub_slow_consumers_closed_total 1") {
		t.Errorf("metric actorhub_slow_consumers_closed_total should be 1")
	}
}

// TestWorkerDisconnectMidBatch: a worker that drops its connection in the
// middle of a frame of emits resends from 0 on a new one; each offset lands once.
func TestWorkerDisconnectMidBatch(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, store string) {
		n := nodetest.Start(t, nodetest.Options{Store: store})
		mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"dm","userId":"u","type":"t"}`)
		var lines []string
		for k := 0; k < 60; k++ {
			lines = append(lines, chunkEmit("dm", int64(k), fmt.Sprintf("c%d ", k)))
		}
		w := dial(t, n.WS("/ws/worker"))
		w.send(strings.Join(lines[:30], "\n"))
		w.c.CloseNow()
		w = dial(t, n.WS("/ws/worker"))
		w.send(strings.Join(lines[:45], "\n"))
		w.send(strings.Join(lines, "\n"))
		for acked := int64(0); acked < 60; {
			a, _ := w.expect("ack")
			acked = a.num("nextOffset")
		}
		chunks, _ := journalText(t, n, "dm")
		wantChunks(t, chunks, 60)
	})
}

// TestDrainOnSIGTERM: SIGTERM tells clients to reconnect elsewhere, turns
// /readyz to 503 and exits 0.
func TestDrainOnSIGTERM(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t, nodetest.Options{})
	c := dial(t, n.WS("/ws"))
	c.expect("connected")
	n.Signal(syscall.SIGTERM)
	r, _ := c.expect("reconnect")
	if r.num("afterMs") <= 0 || r.str("reason") == "" {
		t.Fatalf("reconnect: %v", r)
	}
	if code := c.closed(5 * time.Second); code != websocket.StatusServiceRestart {
		t.Errorf("close %v, want 1012", code)
	}
	if code, ok := n.Wait(30 * time.Second); !ok || code != 0 {
		t.Fatalf("exit %d (exited %v), want 0", code, ok)
	}
}

// TestPassivationAndReactivation: an idle job stops its actor; the next request
// brings it back from the store with a higher epoch and its state intact.
func TestPassivationAndReactivation(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, store string) {
		n := nodetest.Start(t, nodetest.Options{Store: store, Args: []string{"--job-idle", "300ms"}})
		mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"pv","userId":"u","type":"t"}`)
		mustAPI(t, 200, "POST", n.URL("/api/jobs/pv/events"), `{"events":[{"offset":0,"event":"model:chunk:v1","data":{"chunk":"c0 "}}]}`)
		nodetest.WaitFor(t, 10*time.Second, func() error {
			if !strings.Contains(metrics(t, n), "actorhub_job_actors_active 0") {
				return fmt.Errorf("job actor still active")
			}
			return nil
		})
		r := mustAPI(t, 200, "POST", n.URL("/api/jobs/pv/events"), `{"events":[{"offset":0,"event":"model:chunk:v1","data":{"chunk":"c0 "}},{"offset":1,"event":"model:chunk:v1","data":{"chunk":"c1 "}}]}`)
		if r.num("nextOffset") != 2 || r.num("lastSequence") != 3 {
			t.Fatalf("after reactivation: %v", r)
		}
		st := mustAPI(t, 200, "GET", n.URL("/api/job/pv/state"), "")
		if st.num("epoch") < 2 || st.str("output") != "c0 c1 " {
			t.Fatalf("state: %v", st)
		}
	})
}

func TestMetricsExposed(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t, nodetest.Options{})
	mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"m1","userId":"u","type":"t"}`)
	c := dial(t, n.WS("/ws"))
	c.expect("connected")
	c.send(`{"type":"subscribe","jobId":"m1"}`)
	c.events("m1", 0, 1)
	c.send(`garbage`)
	c.expect("error")
	body := metrics(t, n)
	for _, want := range []string{"actorhub_connections_open{kind=\"client\"} 1", "actorhub_job_actors_active 1",
		"actorhub_events_appended_total", "actorhub_events_delivered_total 1", "actorhub_store_write_seconds_bucket",
		"actorhub_errors_total{code=\"bad_frame\"} 1", "actorhub_stale_writes_refused_total 0",
		"go_sched_latencies_seconds_bucket"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func metrics(t testing.TB, n *nodetest.Node) string {
	t.Helper()
	return metricsAs(t, "", n)
}

// TestDeadPeerDropped: a client that stops answering pings (it never reads, so
// its pongs never go out) is dropped after a ping interval and timeout.
func TestDeadPeerDropped(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t, nodetest.Options{Args: []string{"--ping-interval", "300ms"}})
	ctx := context.Background()
	dead, _, err := websocket.Dial(ctx, n.WS("/ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.CloseNow()
	live := dial(t, n.WS("/ws"))
	live.expect("connected")
	nodetest.WaitFor(t, 10*time.Second, func() error {
		if !strings.Contains(metrics(t, n), `actorhub_connections_open{kind="client"} 1`) {
			return fmt.Errorf("the silent client is still connected")
		}
		return nil
	})
	live.send(`{"type":"ping"}`) // the one that answers pings stays
	live.expect("pong")
}

// TestStuckWriteDropped: a client whose TCP window stays shut (it never reads)
// is dropped once a frame has waited --write-timeout, even with room left in
// its outbound queue and no ping due; the node serves others meanwhile.
func TestStuckWriteDropped(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t, nodetest.Options{Args: []string{"--write-timeout", "1s", "--outbound-queue", "1000000", "--ping-interval", "1h", "--max-job-bytes", "0"}})
	mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"sw","userId":"u","type":"t"}`)
	nonReader(t, n, "sw")
	off := 0
	nodetest.WaitFor(t, 60*time.Second, func() error {
		if strings.Contains(metrics(t, n), `actorhub_connections_open{kind="client"} 0`) {
			return nil
		}
		emitBig(t, n, "sw", off, 50) // until loopback's socket buffers are full
		off += 50
		return fmt.Errorf("the client that never reads is still connected after %d events", off)
	})
	// the queue (a million objects) cannot have overflowed: the write timeout
	// dropped the client, and counted it
	if !strings.Contains(metrics(t, n), "actorhub_slow_consumers_closed_total 1") {
		t.Error("metric actorhub_slow_consumers_closed_total should be 1")
	}
	live := dial(t, n.WS("/ws"))
	live.expect("connected")
	live.send(`{"type":"subscribe","jobId":"sw","fromSeq":100}`)
	live.expect("subscribed")
}

// nonReader dials a client that subscribes to jobID and then never reads.
func nonReader(t *testing.T, n *nodetest.Node, jobID string) *websocket.Conn {
	t.Helper()
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, n.WS("/ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","jobId":"`+jobID+`"}`)); err != nil {
		t.Fatal(err)
	}
	return c
}

// emitBig posts count 8 KB chunks to jobID from offset from.
func emitBig(t *testing.T, n *nodetest.Node, jobID string, from, count int) {
	t.Helper()
	big := strings.Repeat("x", 8000)
	var evs []string
	for k := from; k < from+count; k++ {
		evs = append(evs, fmt.Sprintf(`{"offset":%d,"event":"model:chunk:v1","data":{"chunk":%q}}`, k, big))
	}
	mustAPI(t, 200, "POST", n.URL("/api/jobs/"+jobID+"/events"), `{"events":[`+strings.Join(evs, ",")+`]}`)
}

// metricValue returns the value of the sample named exactly series (name and
// labels as the text format writes them) in a /metrics body, 0 when absent.
func metricValue(body, series string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			_, _ = fmt.Sscan(rest, &v)
			return v
		}
	}
	return 0
}
