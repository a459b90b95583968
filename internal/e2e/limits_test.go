package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/actorhub/actorhub/internal/nodetest"
	"github.com/coder/websocket"
)

// TestLimits: connection caps per node and per user, a request rate per
// connection, and bounded answers to floods of bad requests, each refused
// clearly and counted, the node staying up.
func TestLimits(t *testing.T) {
	t.Parallel()
	const secret = "limits-secret-for-tests"
	n := nodetest.Start(t, nodetest.Options{Args: []string{"--auth", "jwt", "--jwt-secret-file", jwtSecretFile(t, secret),
		"--max-connections", "3", "--max-connections-per-user", "2", "--client-rate", "5", "--client-burst", "5",
		"--errors-per-frame", "4", "--errors-per-second", "20"}})
	tok := func(sub string) string { return token(t, secret, sub, "") }
	open := func(user string) (*websocket.Conn, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, n.WS("/ws?token="+tok(user)), nil)
		if err != nil {
			if resp == nil {
				t.Fatalf("dial: %v", err)
			}
			return nil, resp.StatusCode
		}
		return c, 101
	}
	var held []*websocket.Conn
	for i, c := range []struct {
		user string
		want int
	}{{"alice", 101}, {"alice", 101}, {"alice", http.StatusTooManyRequests}, {"bob", 101}, {"carol", http.StatusServiceUnavailable}} {
		conn, got := open(c.user)
		if got != c.want {
			t.Fatalf("connection %d of %s: %d, want %d", i, c.user, got, c.want)
		}
		if conn != nil {
			held = append(held, conn)
		}
	}
	for _, c := range held {
		c.Close(websocket.StatusNormalClosure, "")
	}
	nodetest.WaitFor(t, 10*time.Second, func() error { // the places come back once the connections ended
		c, got := open("carol")
		if c == nil {
			return fmt.Errorf("carol after the others left: %d", got)
		}
		c.CloseNow()
		return nil
	})

	// One frame of 100 bad lines: 4 errors, then one saying the rest was dropped.
	w := dial(t, n.WS("/ws?token="+tok("dave")))
	w.expect("connected")
	w.send(strings.Repeat("{not json}\n", 100))
	w.send(`{"type":"ping","id":"after"}`)
	pong, skipped := w.expect("pong")
	if pong.str("id") != "after" || len(skipped) != 5 || !strings.Contains(skipped[4].str("message"), "rest of it was dropped") {
		t.Fatalf("answers to a frame of 100 bad lines: %v", skipped)
	}

	// A burst over the request rate: 5 go through, the rest get rate_limited.
	w2 := dial(t, n.WS("/ws?token="+tok("erin")))
	w2.expect("connected")
	w2.send(strings.TrimSpace(strings.Repeat(`{"type":"ping"}`+"\n", 8)))
	pongs, limited := 0, 0
	for pongs+limited < 8 {
		o := w2.next(objectWait)
		switch {
		case o.str("type") == "pong":
			pongs++
		case o.str("code") == "rate_limited":
			limited++
		default:
			t.Fatalf("unexpected %v", o)
		}
	}
	if pongs < 5 || limited < 1 {
		t.Fatalf("8 pings at once with a burst of 5: %d pongs, %d rate_limited", pongs, limited)
	}

	// A connection that keeps earning errors is closed 1008.
	for i := 0; i < 20; i++ {
		if err := w.c.Write(context.Background(), websocket.MessageText, []byte(strings.Repeat("{bad}\n", 10))); err != nil {
			break // closed already
		}
	}
	if code := w.closed(10 * time.Second); code != websocket.StatusPolicyViolation {
		t.Fatalf("an error flood: close %d, want 1008", code)
	}
	m := metricsAs(t, token(t, secret, "prom", "ops"), n)
	for _, code := range []string{"rate_limited", "unavailable", "error_flood"} {
		if metricValue(m, `actorhub_errors_total{code="`+code+`"}`) < 1 {
			t.Errorf("%s is not counted", code)
		}
	}
}

// TestBrowserGuards: a page of another site cannot drive a default node on
// loopback: a Host that is not the node's (DNS rebinding) is refused, and so
// is a POST whose body is not declared JSON (what a page may send without a
// CORS preflight).
func TestBrowserGuards(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t, nodetest.Options{})
	_, port, _ := strings.Cut(n.HTTP, ":")
	do := func(method, host, ctype, body, path string) int {
		req, _ := http.NewRequest(method, n.URL(path), strings.NewReader(body))
		req.Host = host
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		method, host, ctype, body, path string
		want                            int
	}{
		{"GET", "evil.test:" + port, "", "", "/readyz", 403},
		{"GET", "localhost:" + port, "", "", "/readyz", 200},
		{"GET", "127.0.0.1:" + port, "", "", "/readyz", 200},
		{"POST", n.HTTP, "text/plain", `{"jobId":"bg-1","userId":"u","type":"t"}`, "/api/jobs", 400},
		{"POST", n.HTTP, "application/x-www-form-urlencoded", `{"jobId":"bg-1","userId":"u","type":"t"}`, "/api/jobs", 400},
		{"POST", n.HTTP, "application/json; charset=utf-8", `{"jobId":"bg-1","userId":"u","type":"t"}`, "/api/jobs", 201},
		{"POST", n.HTTP, "text/plain", `{}`, "/api/jobs/bg-1/cancel", 400},
		{"POST", n.HTTP, "", "", "/api/jobs/bg-1/cancel", 200},
	} {
		if got := do(c.method, c.host, c.ctype, c.body, c.path); got != c.want {
			t.Errorf("%s %s (Host %s, %s): %d, want %d", c.method, c.path, c.host, c.ctype, got, c.want)
		}
	}
	// a refresh where there is no token (--auth none) is refused, on both sockets, and the node stays up
	for _, path := range []string{"/ws", "/ws/worker"} {
		c := dial(t, n.WS(path))
		if path == "/ws" {
			c.expect("connected")
		}
		c.send(`{"type":"refresh","id":1,"token":"x"}`)
		if o, _ := c.expect("error"); o.str("code") != "bad_request" {
			t.Fatalf("%s: refresh without --auth jwt: %v", path, o)
		}
		c.send(`{"type":"ping","id":2}`)
		c.expect("pong")
	}
	// the WebSocket of a rebound page: Origin and Host both the page's name
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, n.WS("/ws"), &websocket.DialOptions{Host: "evil.test:" + port,
		HTTPHeader: http.Header{"Origin": {"http://evil.test:" + port}}})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("a rebound page's WebSocket: %v %v, want 403", err, resp)
	}
}

// TestJobSizeLimits: a job holds at most --max-job-events events and
// --max-job-bytes bytes of event data; past them emits get too_large, while
// the terminal event still ends the job.
func TestJobSizeLimits(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t, nodetest.Options{Args: []string{"--max-job-events", "5", "--max-job-bytes", "64"}})
	chunk := func(off int, text string) string {
		return fmt.Sprintf(`{"events":[{"offset":%d,"event":"model:chunk:v1","data":{"chunk":%q}}]}`, off, text)
	}
	mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"big-1","userId":"u","type":"t"}`)
	for off := 0; off < 4; off++ { // created + 4 chunks = 5 events
		mustAPI(t, 200, "POST", n.URL("/api/jobs/big-1/events"), chunk(off, "ab"))
	}
	if o := mustAPI(t, 413, "POST", n.URL("/api/jobs/big-1/events"), chunk(4, "ab")); o.str("error") != "too_large" {
		t.Fatalf("an event past --max-job-events: %v", o)
	}
	mustAPI(t, 200, "POST", n.URL("/api/jobs/big-1/events"), `{"events":[{"offset":4,"event":"job:completed:v1","data":{}}]}`)
	if o := mustAPI(t, 200, "GET", n.URL("/api/job/big-1/state"), ""); o.str("status") != "completed" || o.num("lastSequence") != 6 {
		t.Fatalf("the full job after its terminal event: %v", o)
	}

	mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"big-2","userId":"u","type":"t"}`)
	mustAPI(t, 200, "POST", n.URL("/api/jobs/big-2/events"), chunk(0, "0123456789012345678901234")) // {"chunk":"…"}: 37 bytes
	if o := mustAPI(t, 200, "GET", n.URL("/api/job/big-2/state"), ""); o.num("dataBytes") != 37 {
		t.Fatalf("dataBytes: %v", o)
	}
	mustAPI(t, 413, "POST", n.URL("/api/jobs/big-2/events"), chunk(1, strings.Repeat("x", 20))) // 37 + 32 > 64
	mustAPI(t, 200, "POST", n.URL("/api/jobs/big-2/events"), `{"events":[{"offset":1,"event":"job:failed:v1","data":{}}]}`)
}
