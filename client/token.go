package client

import (
	"context"
	"net/http"
)

// TokenFunc returns a token for the next connection or request (a node with
// --auth jwt). A node closes a WebSocket when its token expires (1008); the
// SDK then connects again with a fresh token and resumes where it was, so a
// TokenFunc that hands out short-lived tokens keeps a long stream going.
type TokenFunc func(ctx context.Context) (string, error)

// authHeader is the Authorization header for the next connection: from fn
// when set, else the fixed token ("" and nil: none).
func authHeader(ctx context.Context, token string, fn TokenFunc) (http.Header, error) {
	if fn != nil {
		t, err := fn(ctx)
		if err != nil {
			return nil, err
		}
		token = t
	}
	if token == "" {
		return nil, nil
	}
	return http.Header{"Authorization": {"Bearer " + token}}, nil
}

// setAuth sets req's Authorization from a fixed token or fn.
func setAuth(req *http.Request, token string, fn TokenFunc) error {
	h, err := authHeader(req.Context(), token, fn)
	if err == nil && h != nil {
		req.Header.Set("Authorization", h.Get("Authorization"))
	}
	return err
}
