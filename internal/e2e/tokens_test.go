package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwtSecretFile writes secret where a node's --jwt-secret-file reads it.
func jwtSecretFile(t testing.TB, secret string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "jwt")
	if err := os.WriteFile(f, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// hsToken signs an HS256 token of user sub with scope (none when "") that
// expires after life. It does not touch a testing.T, so that an SDK's token
// function may call it from its own goroutine.
func hsToken(secret, sub, scope string, life time.Duration) (string, error) {
	claims := jwt.MapClaims{"sub": sub, "exp": time.Now().Add(life).Unix()}
	if scope != "" {
		claims["scope"] = scope
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
}

// token is hsToken for an hour, failing the test on error.
func token(t testing.TB, secret, sub, scope string) string {
	t.Helper()
	s, err := hsToken(secret, sub, scope, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
