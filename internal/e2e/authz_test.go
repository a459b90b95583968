package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/actorhub/actorhub/internal/nodetest"
	"github.com/actorhub/actorhub/internal/redistest"
	"github.com/coder/websocket"
)

// TestJobAuthorization: with --auth jwt a job is its creator's. Two nodes,
// so that the subscribe check runs where the job does not live. Every
// refusal is clear, and the owner's stream loses nothing by them.
func TestJobAuthorization(t *testing.T) {
	t.Parallel()
	const secret = "authz-secret-for-tests"
	rs := redistest.Start(t)
	nodes := nodetest.StartCluster(t, 2, rs.URL(), "--auth", "jwt", "--jwt-secret-file", jwtSecretFile(t, secret))
	a, b := nodes[0], nodes[1]
	tok := func(sub, scope string) string { return token(t, secret, sub, scope) }
	alice, bob, worker, reader, ops := tok("alice", ""), tok("bob", ""), tok("svc", "worker"), tok("audit", "jobs:read:*"), tok("prom", "ops")
	want := func(code int, token, method, url, body, errCode string) obj {
		t.Helper()
		got, o := apiAs(t, token, method, url, body)
		if got != code || errCode != "" && o.str("error") != errCode {
			t.Fatalf("%s %s %s: %d %v, want %d %s", method, url, body, got, o, code, errCode)
		}
		return o
	}

	// Creating: the owner comes from the token; only a worker names another user.
	want(403, alice, "POST", a.URL("/api/jobs"), `{"jobId":"az-1","type":"t","userId":"bob"}`, "forbidden")
	want(201, alice, "POST", a.URL("/api/jobs"), `{"jobId":"az-1","type":"t"}`, "")
	want(201, worker, "POST", a.URL("/api/jobs"), `{"jobId":"az-2","type":"t","userId":"bob"}`, "")
	if o := want(200, alice, "GET", b.URL("/api/job/az-1/state"), "", ""); o.str("userId") != "alice" {
		t.Fatalf("az-1 belongs to %q, want alice", o.str("userId"))
	}

	// Emitting is for workers only.
	want(403, alice, "POST", a.URL("/api/jobs/az-1/events"), `{"events":[{"offset":0,"event":"model:chunk:v1","data":{"chunk":"forged"}}]}`, "forbidden")
	_, resp, err := websocket.Dial(context.Background(), b.WS("/ws/worker?token="+alice), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("/ws/worker with a user's token: %v %v, want 403", err, resp)
	}
	want(200, worker, "POST", a.URL("/api/jobs/az-1/events"), `{"events":[{"offset":0,"event":"model:chunk:v1","data":{"chunk":"one "}},{"offset":1,"event":"model:chunk:v1","data":{"chunk":"two"}}]}`, "")

	// Reading: the owner, a reader, a worker; not another user, not without a token.
	for _, path := range []string{"/api/job/az-1/state", "/api/job/az-1/status", "/api/job/az-1/events"} {
		want(401, "", "GET", b.URL(path), "", "unauthorized")
		want(403, bob, "GET", b.URL(path), "", "forbidden")
		for _, who := range []string{alice, reader, worker} {
			want(200, who, "GET", b.URL(path), "", "")
		}
	}
	want(403, alice, "GET", b.URL("/api/job/az-2/events"), "", "forbidden")

	// Subscribing on the node that does not hold the job.
	intruder := dial(t, b.WS("/ws?token="+bob))
	intruder.expect("connected")
	intruder.send(`{"type":"subscribe","id":1,"jobId":"az-1"}`)
	if o, _ := intruder.expect("error"); o.str("code") != "forbidden" || o.str("jobId") != "az-1" {
		t.Fatalf("bob's subscribe to alice's job: %v, want forbidden", o)
	}
	intruder.send(`{"type":"cancel","id":2,"jobId":"az-1","reason":"mine now"}`)
	if o, _ := intruder.expect("error"); o.str("code") != "forbidden" {
		t.Fatalf("bob's cancel of alice's job: %v, want forbidden", o)
	}
	intruder.send(`{"type":"ping","id":3}`)
	if _, skipped := intruder.expect("pong"); len(skipped) > 0 {
		t.Fatalf("bob got %v of alice's job", skipped)
	}
	want(403, bob, "POST", b.URL("/api/jobs/az-1/cancel"), `{"reason":"mine"}`, "forbidden")

	owner := dial(t, b.WS("/ws?token="+alice))
	owner.expect("connected")
	owner.send(`{"type":"subscribe","id":1,"jobId":"az-1"}`)
	owner.expect("subscribed")
	if evs := owner.events("az-1", 0, 3); evs[2].str("event") != "model:chunk:v1" {
		t.Fatalf("alice's events: %v", evs)
	}
	if o := want(200, alice, "GET", a.URL("/api/job/az-1/state"), "", ""); o.str("status") != "running" || o.str("output") != "one two" {
		t.Fatalf("alice's job after the refusals: %v", o)
	}
	audit := dial(t, a.WS("/ws?token="+reader))
	audit.expect("connected")
	audit.send(`{"type":"subscribe","id":1,"jobId":"az-1"}`)
	audit.expect("subscribed")
	audit.events("az-1", 0, 3)
	owner.send(`{"type":"cancel","id":2,"jobId":"az-1"}`)
	if o, _ := owner.expect("ack"); o.str("jobId") != "az-1" {
		t.Fatalf("alice's cancel: %v", o)
	}

	// Operations need the ops scope.
	for _, path := range []string{"/metrics", "/api/cluster", "/api/analytics/dau"} {
		want(401, "", "GET", a.URL(path), "", "unauthorized")
		want(403, alice, "GET", a.URL(path), "", "forbidden")
		if code, _ := getAs(t, ops, a.URL(path)); code != 200 {
			t.Fatalf("GET %s with the ops scope: %d", path, code)
		}
	}
	if body := metricsAs(t, ops, a); !strings.Contains(body, `actorhub_errors_total{code="forbidden"}`) {
		t.Errorf("refusals are not counted:\n%s", grepLines(body, "actorhub_errors_total"))
	}
}

// getAs GETs url with a bearer token (none when "") and returns the status
// and body.
func getAs(t testing.TB, token, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	_, _ = io.Copy(&sb, resp.Body)
	return resp.StatusCode, sb.String()
}

func metricsAs(t testing.TB, token string, n *nodetest.Node) string {
	t.Helper()
	_, body := getAs(t, token, n.URL("/metrics"))
	return body
}
