package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// jwksRefresh is how often a JWKS URL is read again; a token whose kid is
// unknown also triggers a read, at most once a minute.
const jwksRefresh = 15 * time.Minute

// loadJWKS returns the key finder of --jwt-jwks: a JSON Web Key Set from a
// file (read once) or an http(s) URL (read now, then refreshed in the
// background until ctx ends). A URL that does not answer at start-up is an
// error, so that a node never runs unable to verify anyone.
func loadJWKS(ctx context.Context, src string, log *slog.Logger) (jwt.Keyfunc, error) {
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		fail := false
		kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{src}, keyfunc.Override{
			RefreshInterval:           jwksRefresh,
			HTTPTimeout:               10 * time.Second,
			NoErrorReturnFirstHTTPReq: &fail,
			RefreshUnknownKID:         rateEvery(time.Minute),
			RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
				return func(_ context.Context, err error) {
					log.Warn("jwks: refresh failed; the keys read before stay", "url", u, "err", err)
				}
			},
		})
		if err != nil {
			return nil, fmt.Errorf("--jwt-jwks %s: %w", src, err)
		}
		return kf.Keyfunc, nil
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return nil, fmt.Errorf("--jwt-jwks: %w", err)
	}
	kf, err := keyfunc.NewJWKSetJSON(b)
	if err != nil {
		return nil, fmt.Errorf("--jwt-jwks %s is not a JSON Web Key Set: %w", src, err)
	}
	if keys, err := kf.Storage().KeyReadAll(ctx); err != nil || len(keys) == 0 {
		return nil, fmt.Errorf("--jwt-jwks %s holds no key", src)
	}
	return kf.Keyfunc, nil
}

func rateEvery(d time.Duration) *rate.Limiter { return rate.NewLimiter(rate.Every(d), 1) }
