package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorhub/actorhub/client"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/nodetest"
	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

// TestJWTKeysAndLifetime: tokens signed with public-key algorithms verify
// against a JWKS file by kid, aud and iss are checked, a lifetime bound and
// alg confusion are refused, and a connection ends with its token unless it
// is refreshed.
func TestJWTKeysAndLifetime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	b64 := base64.RawURLEncoding.EncodeToString
	jwks := fmt.Sprintf(`{"keys":[
		{"kty":"EC","crv":"P-256","x":%q,"y":%q,"kid":"ec1","alg":"ES256","use":"sig"},
		{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"ed1","alg":"EdDSA","use":"sig"}]}`,
		b64(ec.X.FillBytes(make([]byte, 32))), b64(ec.Y.FillBytes(make([]byte, 32))), b64(edPub))
	jwksFile, secretFile := filepath.Join(dir, "jwks.json"), filepath.Join(dir, "secret")
	_ = os.WriteFile(jwksFile, []byte(jwks), 0o600)
	_ = os.WriteFile(secretFile, []byte("hmac-secret-for-tests"), 0o600)
	n := nodetest.Start(t, nodetest.Options{Args: []string{"--auth", "jwt", "--jwt-jwks", jwksFile, "--jwt-secret-file", secretFile,
		"--jwt-audience", "actorhub", "--jwt-issuer", "https://issuer.test", "--jwt-max-lifetime", "1h"}})

	type tok struct {
		method jwt.SigningMethod
		key    any
		kid    string
		claims jwt.MapClaims
	}
	claims := func(sub string, life time.Duration, edit func(jwt.MapClaims)) jwt.MapClaims {
		now := time.Now()
		c := jwt.MapClaims{"sub": sub, "aud": "actorhub", "iss": "https://issuer.test", "iat": now.Unix(), "exp": now.Add(life).Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	sign := func(k tok) string {
		tk := jwt.NewWithClaims(k.method, k.claims)
		if k.kid != "" {
			tk.Header["kid"] = k.kid
		}
		s, err := tk.SignedString(k.key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	status := func(token string) int {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, n.WS("/ws?token="+token), nil)
		if err == nil {
			c.CloseNow()
			return 101
		}
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return resp.StatusCode
	}
	hour := time.Hour - time.Minute
	for name, c := range map[string]struct {
		k    tok
		want int
	}{
		"ES256 by kid":       {tok{jwt.SigningMethodES256, ec, "ec1", claims("u", hour, nil)}, 101},
		"EdDSA by kid":       {tok{jwt.SigningMethodEdDSA, edKey, "ed1", claims("u", hour, nil)}, 101},
		"HS256 (secret)":     {tok{jwt.SigningMethodHS256, []byte("hmac-secret-for-tests"), "", claims("u", hour, nil)}, 101},
		"unknown kid":        {tok{jwt.SigningMethodES256, ec, "nope", claims("u", hour, nil)}, 401},
		"kid of another key": {tok{jwt.SigningMethodES256, ec, "ed1", claims("u", hour, nil)}, 401},
		"wrong audience":     {tok{jwt.SigningMethodES256, ec, "ec1", claims("u", hour, func(c jwt.MapClaims) { c["aud"] = "other" })}, 401},
		"wrong issuer":       {tok{jwt.SigningMethodES256, ec, "ec1", claims("u", hour, func(c jwt.MapClaims) { c["iss"] = "https://evil.test" })}, 401},
		"no exp":             {tok{jwt.SigningMethodES256, ec, "ec1", claims("u", hour, func(c jwt.MapClaims) { delete(c, "exp") })}, 401},
		"lives too long":     {tok{jwt.SigningMethodES256, ec, "ec1", claims("u", 3*time.Hour, nil)}, 401},
		"too long, no iat":   {tok{jwt.SigningMethodES256, ec, "ec1", claims("u", 3*time.Hour, func(c jwt.MapClaims) { delete(c, "iat") })}, 401},
		// alg confusion: an HMAC token keyed with the public key's bytes
		"HS256 keyed with the public key": {tok{jwt.SigningMethodHS256, []byte(edPub), "ed1", claims("u", hour, nil)}, 401},
		"alg none":                        {tok{jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims("u", hour, nil)}, 401},
	} {
		if got := status(sign(c.k)); got != c.want {
			t.Errorf("%s: %d, want %d", name, got, c.want)
		}
	}

	// A connection lasts as long as its token: warned, then closed 1008 ...
	short := sign(tok{jwt.SigningMethodES256, ec, "ec1", claims("u", 6*time.Second, nil)})
	lapsing := dial(t, n.WS("/ws?token="+short))
	lapsing.expect("connected")
	if o, _ := lapsing.expect("token_expiring"); o.num("expiresAt") <= 0 {
		t.Fatalf("token_expiring: %v", o)
	}
	if code := lapsing.closed(30 * time.Second); code != websocket.StatusPolicyViolation {
		t.Fatalf("a connection whose token expired: close %d, want 1008", code)
	}
	// ... unless refreshed with a token of the same user and scopes.
	firstEnd := time.Now().Add(8 * time.Second)
	kept := dial(t, n.WS("/ws?token="+sign(tok{jwt.SigningMethodES256, ec, "ec1", claims("u", 8*time.Second, nil)})))
	kept.expect("connected")
	kept.send(fmt.Sprintf(`{"type":"refresh","id":1,"token":%q}`, sign(tok{jwt.SigningMethodEdDSA, edKey, "ed1", claims("other", hour, nil)})))
	if o, _ := kept.expect("error"); o.str("code") != "forbidden" {
		t.Fatalf("a refresh naming another user: %v", o)
	}
	kept.send(`{"type":"refresh","id":2,"token":"garbage"}`)
	if o, _ := kept.expect("error"); o.str("code") != "unauthorized" {
		t.Fatalf("a refresh with a bad token: %v", o)
	}
	fresh := sign(tok{jwt.SigningMethodEdDSA, edKey, "ed1", claims("u", hour, nil)})
	kept.send(fmt.Sprintf(`{"type":"refresh","id":3,"token":%q}`, fresh))
	if o, _ := kept.expect("refreshed"); time.UnixMilli(o.num("expiresAt")).Before(time.Now().Add(30 * time.Minute)) {
		t.Fatalf("refreshed: %v", o)
	}
	// past the first token's end, the connection still answers
	time.Sleep(time.Until(firstEnd.Add(time.Second)))
	kept.send(`{"type":"ping","id":4}`)
	kept.expect("pong")
	if got := metricValue(metricsAs(t, sign(tok{jwt.SigningMethodHS256, []byte("hmac-secret-for-tests"), "", claims("ops", hour, func(c jwt.MapClaims) { c["scope"] = "ops" })}), n),
		`actorhub_errors_total{code="token_expired"}`); got != 1 {
		t.Errorf("token_expired counted %v times, want 1", got)
	}
}

// TestSDKShortLivedTokens: the Go SDK's TokenFunc gives each connection a
// fresh token; a node closes a connection whose token expired, and the
// subscriber and the worker connect again with a new one and go on with no
// gap or repeat.
func TestSDKShortLivedTokens(t *testing.T) {
	t.Parallel()
	const secret = "sdk-secret-for-tests"
	n := nodetest.Start(t, nodetest.Options{Args: []string{"--auth", "jwt", "--jwt-secret-file", jwtSecretFile(t, secret)}})
	var calls atomic.Int64
	tokens := func(sub, scope string) client.TokenFunc {
		return func(context.Context) (string, error) {
			calls.Add(1)
			return hsToken(secret, sub, scope, 2*time.Second)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bo := client.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}
	w := client.NewWorker(client.WorkerConfig{BaseURLs: []string{n.URL("")}, TokenFunc: tokens("svc", "worker"), Backoff: bo})
	defer w.Close()
	if _, err := w.CreateJob(ctx, "short-1", "ann", "llm", nil); err != nil {
		t.Fatal(err)
	}
	col := &collector{t: t}
	sub := client.NewSubscriber(client.SubscriberConfig{URLs: []string{n.WS("/ws")}, TokenFunc: tokens("ann", ""), Handler: col.handle, Backoff: bo})
	sub.Subscribe("short-1", 0)
	subDone := make(chan error, 1)
	go func() { subDone <- sub.Run(ctx) }()
	var want strings.Builder
	for i := 0; sub.Stats().Reconnects < 2 || i < 50; i++ { // until the subscriber's tokens ran out twice
		if i > 5000 {
			t.Fatalf("no second reconnect after %d chunks: %+v", i, sub.Stats())
		}
		chunk := fmt.Sprintf("t%d ", i)
		want.WriteString(chunk)
		if _, err := w.Emit(ctx, "short-1", events.Chunk, map[string]any{"chunk": chunk}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	st := endAndCheck(ctx, t, w, "short-1", nil, col, sub, cancel, subDone, want.String())
	if st.Gaps != 0 || st.OutOfOrder != 0 || calls.Load() < 4 {
		t.Fatalf("stats %+v, %d tokens: want no gap and fresh tokens for every connection", st, calls.Load())
	}
}
