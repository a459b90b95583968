package transport

import (
	"errors"
	"sync"
	"time"

	"github.com/actorhub/actorhub/events"
	"github.com/coder/websocket"
)

// tokenLife ends a connection when its token expires (--auth jwt): the peer
// is warned ahead (token_expiring), may hand over a fresh token of the same
// user and scopes (refresh → refreshed), and is closed 1008 at expiry
// without one. A session outliving its token would keep a revoked user
// reading for as long as the socket stays up.
type tokenLife struct {
	s    *Server
	sess *session
	who  Principal

	mu        sync.Mutex
	warn, end *time.Timer
	stopped   bool
}

// expiryWarning is how long before expiry the peer is warned: 30 s, or a
// fifth of what is left when that is shorter.
func expiryWarning(left time.Duration) time.Duration { return min(30*time.Second, left/5) }

// watchToken starts the clock of who's token on sess (none when the token
// has no end: --auth none).
func (s *Server) watchToken(sess *session, who Principal) *tokenLife {
	l := &tokenLife{s: s, sess: sess, who: who}
	if !who.Expires.IsZero() {
		l.mu.Lock()
		l.scheduleLocked()
		l.mu.Unlock()
	}
	return l
}

func (l *tokenLife) scheduleLocked() {
	if l.warn != nil {
		l.warn.Stop()
		l.end.Stop()
	}
	exp := l.who.Expires
	left := time.Until(exp)
	l.warn = time.AfterFunc(left-expiryWarning(left), func() {
		l.sess.Send(events.AppendTokenExpiring(nil, exp.UnixMilli()))
	})
	l.end = time.AfterFunc(left, func() {
		l.s.hub.Metrics().Errors.WithLabelValues("token_expired").Inc()
		l.sess.Close(int(websocket.StatusPolicyViolation), "token expired; connect again with a fresh token (or send refresh before it expires)")
	})
}

// refresh takes a refresh frame: a valid token of the same user and scopes
// that lives longer moves the connection's end; anything else is refused
// and the connection keeps its current end.
func (l *tokenLife) refresh(m *events.Inbound) {
	fail := func(code string, err error) {
		l.s.hub.Metrics().Errors.WithLabelValues(code).Inc()
		l.sess.Send(events.AppendError(nil, m.ID, "", code, err.Error(), -1, 0))
	}
	if l.who.Expires.IsZero() {
		fail(events.CodeBadRequest, errors.New("refresh: this connection has no token to refresh (--auth none)"))
		return
	}
	who, err := l.s.verify(m.Token)
	if err != nil {
		fail(events.CodeUnauthorized, err)
		return
	}
	if !who.sameGrant(l.who) {
		fail(events.CodeForbidden, errors.New("refresh: the token names another user or other scopes; connect again with it"))
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	if who.Expires.After(l.who.Expires) {
		l.who = who
		l.scheduleLocked()
	}
	l.sess.Send(events.AppendRefreshed(nil, m.ID, l.who.Expires.UnixMilli()))
}

// stop ends the clock (the connection ended).
func (l *tokenLife) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
	if l.warn != nil {
		l.warn.Stop()
		l.end.Stop()
	}
}
