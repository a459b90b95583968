package transport

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/cluster"
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
	User    string
	Expires time.Time // the token's exp (zero with --auth none)
	scopes  map[string]bool
	open    bool // --auth none: everything, as anyone
}

// sameGrant reports whether p and q are the same user with the same scopes.
func (p Principal) sameGrant(q Principal) bool {
	if p.User != q.User || p.open != q.open || len(p.scopes) != len(q.scopes) {
		return false
	}
	for s := range p.scopes {
		if !q.scopes[s] {
			return false
		}
	}
	return true
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
	return s.verify(raw)
}

// Algorithms a token may be signed with: HMAC with --jwt-secret, the others
// with a key of --jwt-jwks. A token's alg picks the kind of key, never the
// other way: an HMAC token is never checked against a public key.
var (
	hmacAlgs       = []string{"HS256", "HS384", "HS512"}
	asymmetricAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

// verify checks a token and returns its principal.
// newTokenParser builds, once, the parser of cfg's tokens: the algorithms
// its keys verify, exp required, aud and iss when set.
func newTokenParser(cfg *Config) *jwt.Parser {
	var algs []string
	if len(cfg.JWTSecret) > 0 {
		algs = append(algs, hmacAlgs...)
	}
	if cfg.JWKS != nil {
		algs = append(algs, asymmetricAlgs...)
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithExpirationRequired(), jwt.WithLeeway(5 * time.Second)}
	if cfg.JWTAudience != "" {
		opts = append(opts, jwt.WithAudience(cfg.JWTAudience))
	}
	if cfg.JWTIssuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.JWTIssuer))
	}
	return jwt.NewParser(opts...)
}

// tokenKey finds the key of a token the parser let through: the secret for
// HMAC, a JWKS key by kid for the others.
func (s *Server) tokenKey(t *jwt.Token) (any, error) {
	if _, ok := t.Method.(*jwt.SigningMethodHMAC); ok {
		return s.cfg.JWTSecret, nil
	}
	return s.cfg.JWKS(t)
}

func (s *Server) verify(raw string) (Principal, error) {
	refuse := func(err error) (Principal, error) {
		return Principal{}, &events.CodedError{Code: events.CodeUnauthorized, Err: fmt.Errorf("token refused: %v", err)}
	}
	var claims tokenClaims
	if _, err := s.tokens.ParseWithClaims(raw, &claims, s.tokenKey); err != nil {
		return refuse(err)
	}
	if claims.Subject == "" {
		return refuse(errors.New("it has no sub (the user id)"))
	}
	exp := claims.ExpiresAt.Time
	if max := s.cfg.MaxTokenLifetime; max > 0 {
		from := time.Now()
		if claims.IssuedAt != nil {
			from = claims.IssuedAt.Time
		}
		if exp.Sub(from) > max+5*time.Second {
			return refuse(fmt.Errorf("it lives %s, longer than this node accepts (%s)", exp.Sub(from).Round(time.Second), max))
		}
	}
	return Principal{User: claims.Subject, Expires: exp, scopes: claims.scopes()}, nil
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

// hostGuard refuses, on a node that listens on loopback only, a request
// whose Host is not a loopback name: a web page whose own name a DNS
// rebinding pointed at 127.0.0.1 would otherwise pass the WebSocket Origin
// check (Origin and Host both its own name) and drive the node. Names in
// --allowed-origins are accepted too (a local proxy's).
func (s *Server) hostGuard(h http.Handler) http.Handler {
	if !cluster.IsLoopback(s.cfg.Addr) {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		if !cluster.IsLoopback(host) && !matchesAny(s.cfg.AllowedOrigins, host) {
			writeError(w, s.counted(&events.CodedError{Code: events.CodeForbidden,
				Err: fmt.Errorf("the Host header %q does not name this node, which listens on loopback only (a DNS rebinding?); add it to --allowed-origins if a local proxy uses it", r.Host)}))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// jsonOnly refuses a POST whose body is not declared JSON: a web page of
// another origin can send text/plain or a form without asking, never
// application/json.
func (s *Server) jsonOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ct := r.Header.Get("Content-Type")
		if ct == "" && r.ContentLength == 0 {
			h(w, r) // no body at all (a cancel without a reason)
			return
		}
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			w.Header().Set("Accept", "application/json")
			writeError(w, s.counted(&events.CodedError{Code: events.CodeBadRequest,
				Err: fmt.Errorf("the Content-Type %q is not JSON: send the body as application/json", ct)}))
			return
		}
		h(w, r)
	}
}

// matchesAny reports whether host matches one of the path.Match patterns.
func matchesAny(patterns []string, host string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(host)); ok {
			return true
		}
	}
	return false
}
