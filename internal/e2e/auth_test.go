package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/actorhub/actorhub/internal/nodetest"
	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

func TestJWTAuth(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-for-tests"
	n := nodetest.Start(t, nodetest.Options{Env: []string{"ACTORHUB_AUTH=jwt", "ACTORHUB_JWT_SECRET=" + secret}})
	sign := func(key, sub string, exp time.Time) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: sub, ExpiresAt: jwt.NewNumericDate(exp)}).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := sign(secret, "carol", time.Now().Add(time.Hour))
	for name, tok := range map[string]string{
		"none": "", "wrong key": sign("other", "carol", time.Now().Add(time.Hour)),
		"expired": sign(secret, "carol", time.Now().Add(-time.Minute)), "garbage": "a.b.c",
	} {
		_, resp, err := websocket.Dial(context.Background(), n.WS("/ws?token="+tok), nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s token: %v %v, want 401", name, err, resp)
		}
	}
	c := dial(t, n.WS("/ws?token="+good))
	if hello := c.next(5 * time.Second); hello.str("userId") != "carol" {
		t.Fatalf("connected: %v", hello)
	}
	// the header works too, for HTTP and WebSocket
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, n.WS("/ws"), &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + good}}})
	if err != nil {
		t.Fatalf("bearer header: %v", err)
	}
	conn.CloseNow()
	if code, o := api(t, "POST", n.URL("/api/jobs"), `{"jobId":"a1","type":"t"}`); code != 401 || o.str("error") != "unauthorized" {
		t.Fatalf("create without token: %d %v", code, o)
	}
}
