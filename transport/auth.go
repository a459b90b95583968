package transport

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/actorhub/actorhub/events"
	"github.com/golang-jwt/jwt/v5"
)

// authenticate returns the request's user: ?user= (default "anonymous") with
// --auth none; the verified token's sub with --auth jwt (Authorization: Bearer,
// or ?token= for browsers, which cannot set headers on a WebSocket).
func (s *Server) authenticate(r *http.Request) (string, error) {
	if s.cfg.Auth != "jwt" {
		user := r.URL.Query().Get("user")
		if user == "" {
			user = "anonymous"
		}
		if len(user) > 128 {
			return "", &events.CodedError{Code: events.CodeBadRequest, Err: errors.New("user is longer than 128 bytes")}
		}
		return user, nil
	}
	raw := r.URL.Query().Get("token")
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		raw = strings.TrimPrefix(h, "Bearer ")
	}
	if raw == "" {
		return "", &events.CodedError{Code: events.CodeUnauthorized, Err: errors.New("a token is required: Authorization: Bearer JWT or ?token=JWT")}
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return s.cfg.JWTSecret, nil },
		jwt.WithValidMethods([]string{"HS256", "HS384", "HS512"}), jwt.WithExpirationRequired())
	if err != nil {
		return "", &events.CodedError{Code: events.CodeUnauthorized, Err: fmt.Errorf("token refused: %v", err)}
	}
	if claims.Subject == "" {
		return "", &events.CodedError{Code: events.CodeUnauthorized, Err: errors.New("token refused: it has no sub (the user id)")}
	}
	return claims.Subject, nil
}
