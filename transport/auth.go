package transport

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/events"
	"github.com/golang-jwt/jwt/v5"
)

// Token scopes, in a JWT's "scope" claim (space-separated, as OAuth 2.0 has
// it) or its "scp" claim (a string or an array of strings). A token without
// any is a user's: it creates, reads, subscribes to and cancels the user's own
// jobs, and nothing else.
const (
	// ScopeAdmin grants everything below.
	ScopeAdmin = "admin"
	// ScopeWorker is a worker's: emit into any job (/ws/worker, POST
	// /api/jobs/{id}/events), create jobs for any user, read and cancel any job.
	ScopeWorker = "worker"
	// ScopeReadAll reads and subscribes to every job.
	ScopeReadAll = "jobs:read:*"
	// ScopeCancelAll cancels every job.
	ScopeCancelAll = "jobs:cancel:*"
	// ScopeOps reads the operational endpoints: /metrics, /api/cluster and
	// /api/analytics/* (unless they are on the admin listener, which asks for
	// no token).
	ScopeOps = "ops"
)

// Principal is who made a request, and what it may do.
type Principal struct {
	User   string
	scopes map[string]bool
	open   bool // --auth none: everything, as anyone
}

// can reports whether p holds scope (admin holds every one; under --auth
// none everyone does).
func (p Principal) can(scope string) bool {
	return p.open || p.scopes[ScopeAdmin] || p.scopes[scope]
}

// Access is what p may do with jobs that are not its own.
func (p Principal) Access() actors.Access {
	return actors.Access{User: p.User,
		ReadAny:   p.can(ScopeReadAll) || p.can(ScopeWorker),
		CancelAny: p.can(ScopeCancelAll) || p.can(ScopeWorker)}
}

// tokenClaims are the claims actorhub reads: sub is the user.
type tokenClaims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope,omitempty"`
	Scp   any    `json:"scp,omitempty"`
}

func (c *tokenClaims) scopes() map[string]bool {
	out := map[string]bool{}
	for _, s := range strings.Fields(c.Scope) {
		out[s] = true
	}
	switch v := c.Scp.(type) {
	case string:
		for _, s := range strings.Fields(v) {
			out[s] = true
		}
	case []any:
		for _, s := range v {
			if s, ok := s.(string); ok {
				out[s] = true
			}
		}
	}
	return out
}

// authenticate returns the request's principal: with --auth none the user of
// ?user= (default "anonymous"), allowed everything; with --auth jwt the
// verified token's sub and scopes (Authorization: Bearer, or ?token= for
// browsers, which cannot set headers on a WebSocket).
func (s *Server) authenticate(r *http.Request) (Principal, error) {
	p, err := s.principal(r)
	return p, s.counted(err)
}

// counted counts a refusal in actorhub_errors_total by its code, and returns it.
func (s *Server) counted(err error) error {
	if ce, ok := err.(*events.CodedError); ok {
		s.hub.Metrics().Errors.WithLabelValues(ce.Code).Inc()
	}
	return err
}

func (s *Server) principal(r *http.Request) (Principal, error) {
	if s.cfg.Auth != "jwt" {
		user := r.URL.Query().Get("user")
		if user == "" {
			user = "anonymous"
		}
		if len(user) > 128 {
			return Principal{}, &events.CodedError{Code: events.CodeBadRequest, Err: errors.New("user is longer than 128 bytes")}
		}
		return Principal{User: user, open: true}, nil
	}
	raw := r.URL.Query().Get("token")
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		raw = strings.TrimPrefix(h, "Bearer ")
	}
	if raw == "" {
		return Principal{}, &events.CodedError{Code: events.CodeUnauthorized, Err: errors.New("a token is required: Authorization: Bearer JWT or ?token=JWT")}
	}
	var claims tokenClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return s.cfg.JWTSecret, nil },
		jwt.WithValidMethods([]string{"HS256", "HS384", "HS512"}), jwt.WithExpirationRequired())
	if err != nil {
		return Principal{}, &events.CodedError{Code: events.CodeUnauthorized, Err: fmt.Errorf("token refused: %v", err)}
	}
	if claims.Subject == "" {
		return Principal{}, &events.CodedError{Code: events.CodeUnauthorized, Err: errors.New("token refused: it has no sub (the user id)")}
	}
	return Principal{User: claims.Subject, scopes: claims.scopes()}, nil
}

// authorize authenticates r and checks that the principal holds scope ("" for
// any authenticated principal).
func (s *Server) authorize(r *http.Request, scope string) (Principal, error) {
	p, err := s.authenticate(r)
	if err == nil && scope != "" && !p.can(scope) {
		err = s.counted(&events.CodedError{Code: events.CodeForbidden, Err: fmt.Errorf("this needs a token with scope %q (or %q)", scope, ScopeAdmin)})
	}
	return p, err
}

// guarded wraps an operational handler: under --auth jwt it needs a token
// with the ops scope.
func (s *Server) guarded(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.authorize(r, ScopeOps); err != nil {
			writeError(w, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}
