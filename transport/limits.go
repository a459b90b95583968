package transport

import (
	"errors"
	"fmt"
	"sync"

	"github.com/actorhub/actorhub/events"
	"golang.org/x/time/rate"
)

// Limits bound what one client can take of a node. Zero turns a limit off.
type Limits struct {
	// MaxConnections caps the WebSockets of this node (clients and workers);
	// one more is refused 503 (it should go to another node).
	MaxConnections int
	// MaxConnectionsPerUser caps one authenticated user's WebSockets on this
	// node (--auth jwt; with --auth none the user is only a claim); one more
	// is refused 429.
	MaxConnectionsPerUser int
	// ClientRate and ClientBurst bound the requests of one client connection
	// per second (a worker's emits are bounded by the store instead: its
	// connection stops being read while its requests wait); over it a request
	// gets rate_limited.
	ClientRate  float64
	ClientBurst int
	// UserRate and UserBurst bound the requests of all of one authenticated
	// user's client connections on this node together.
	UserRate  float64
	UserBurst int
	// ErrorsPerFrame caps the error objects answered for one frame; the rest
	// of the frame is dropped with one more error saying so.
	ErrorsPerFrame int
	// ErrorsPerSecond closes (1008) a connection that earns more errors than
	// this in a second.
	ErrorsPerSecond float64
}

// DefaultLimits are a node's limits unless flags say otherwise.
func DefaultLimits() Limits {
	return Limits{MaxConnectionsPerUser: 100, ClientRate: 100, ClientBurst: 200, UserRate: 500, UserBurst: 1000,
		ErrorsPerFrame: 16, ErrorsPerSecond: 100}
}

// users counts each authenticated user's connections on this node and holds
// their shared request limiter while they have one.
type users struct {
	mu   sync.Mutex
	byID map[string]*userState
}

type userState struct {
	conns int
	lim   *rate.Limiter
}

// admission is what opening a connection took: give it back with release.
type admission struct {
	s    *Server
	user *userState // nil when the user is not counted
	id   string
	// lim bounds this connection's requests (nil: none), userLim those of all
	// of its user's connections.
	lim, userLim *rate.Limiter
}

// admit checks the node's and the user's connection caps for a new
// WebSocket of who and takes a place.
func (s *Server) admit(who Principal, worker bool) (*admission, error) {
	l := s.cfg.Limits
	// The place is taken here, before the handshake answers: a client whose
	// upgrade succeeded must already be counted when the next one asks.
	if n := s.admitted.Add(1); l.MaxConnections > 0 && n > int64(l.MaxConnections) {
		s.admitted.Add(-1)
		return nil, s.counted(&events.CodedError{Code: events.CodeUnavailable,
			Err: fmt.Errorf("this node holds its limit of %d connections; connect to another node", l.MaxConnections)})
	}
	a := &admission{s: s}
	if !worker && l.ClientRate > 0 {
		a.lim = rate.NewLimiter(rate.Limit(l.ClientRate), max(1, l.ClientBurst))
	}
	if who.open {
		return a, nil
	}
	s.users.mu.Lock()
	defer s.users.mu.Unlock()
	if s.users.byID == nil {
		s.users.byID = map[string]*userState{}
	}
	u := s.users.byID[who.User]
	if u == nil {
		u = &userState{}
		if l.UserRate > 0 {
			u.lim = rate.NewLimiter(rate.Limit(l.UserRate), max(1, l.UserBurst))
		}
		s.users.byID[who.User] = u
	}
	if l.MaxConnectionsPerUser > 0 && u.conns >= l.MaxConnectionsPerUser {
		s.admitted.Add(-1)
		return nil, s.counted(&events.CodedError{Code: events.CodeRateLimited,
			Err: fmt.Errorf("user %s holds %d connections to this node, its limit; close one first", who.User, u.conns)})
	}
	u.conns++
	a.user, a.id = u, who.User
	if !worker {
		a.userLim = u.lim
	}
	return a, nil
}

// release gives the connection's place back.
func (a *admission) release() {
	if a == nil {
		return
	}
	a.s.admitted.Add(-1)
	if a.user == nil {
		return
	}
	us := &a.s.users
	us.mu.Lock()
	defer us.mu.Unlock()
	if a.user.conns--; a.user.conns == 0 {
		delete(us.byID, a.id)
	}
}

var errRateLimited = errors.New("too many requests: slow down (the limit is per connection and per user)")

// allow takes one request from the connection's and its user's budgets.
func (a *admission) allow() bool {
	if a.lim != nil && !a.lim.Allow() {
		return false
	}
	return a.userLim == nil || a.userLim.Allow()
}
