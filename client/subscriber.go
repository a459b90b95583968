package client

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/backoff"
)

// Kinds of status a Subscriber reports through SubscriberConfig.OnStatus.
const (
	StatusConnected    = "connected"    // {"type":"connected"} received: URL, NodeID, SessionID
	StatusSubscribed   = "subscribed"   // a subscribe was confirmed: JobID, LastSeq (the job's), Message (its status)
	StatusDisconnected = "disconnected" // a dial failed or a connection ended: URL, Err
	StatusReconnect    = "reconnect"    // the node asked to reconnect elsewhere: URL, After, Message (reason)
	StatusError        = "error"        // the node sent {"type":"error"}: JobID, Code, Message; or a frame did not decode: Err
	StatusGap          = "gap"          // an event skipped seqs: JobID, Seq (received), LastSeq (processed before)
)

// StatusInfo details a status report; which fields are set depends on the kind.
type StatusInfo struct {
	URL       string
	NodeID    string
	SessionID string
	JobID     string
	Code      string
	Message   string
	Seq       int64
	LastSeq   int64
	After     time.Duration
	Err       error
}

// SubscriberConfig configures a Subscriber. Zero fields take the defaults given.
type SubscriberConfig struct {
	// URLs are the nodes' WebSocket endpoints, ws://host:port/ws (an empty
	// path means /ws; http and https are taken as ws and wss). The first
	// connection goes to URLs[0]; every reconnect goes to another one, chosen
	// at random (nextURL).
	URLs []string
	// User is sent as ?user= (a node with --auth none takes it as the user id);
	// empty leaves it out.
	User string
	// Token, when set, is sent as Authorization: Bearer (a node with --auth jwt).
	Token string
	// TokenFunc, when set, gives the token of every connection instead
	// (short-lived tokens: see TokenFunc).
	TokenFunc TokenFunc
	// Backoff paces reconnects after failures. Default DefaultBackoff.
	Backoff Backoff
	// Handler receives every event of the subscribed jobs once, in seq order per
	// job, from one goroutine at a time. ev.Data and ev.Raw point into a buffer
	// that is reused once Handler returns: copy them to keep them. Nil counts
	// events and drops them.
	Handler func(ev events.Event)
	// OnStatus, optional, is told about connections, subscriptions, server
	// errors and gaps (Status* kinds). It runs on the reading goroutine: keep it short.
	OnStatus func(kind string, info StatusInfo)
	// ReadLimit bounds one frame read from a node, in bytes. Default 1 MiB.
	ReadLimit int64
	// DialTimeout bounds the handshake plus the wait for {"type":"connected"},
	// and every write. Default 10 s.
	DialTimeout time.Duration
	// HTTPClient dials the WebSockets (TLS settings, proxies). Default http.DefaultClient.
	HTTPClient *http.Client
	// Logger receives debug logs about connections. Nil: silent.
	Logger *slog.Logger
}

// SubscriberStats counts what a Subscriber did since it was made.
type SubscriberStats struct {
	Connects          int64            // connections that reached {"type":"connected"}
	Reconnects        int64            // of those, the ones after the first
	DialFailures      int64            // dials or handshakes that failed
	Events            int64            // events handed to the Handler
	DuplicatesDropped int64            // events dropped because seq ≤ the last processed one
	OutOfOrder        int64            // of those, the ones with seq < the last processed one
	Gaps              int64            // events whose seq skipped past last+1
	MissedSeqs        int64            // seqs skipped by those gaps, in total
	DecodeErrors      int64            // objects from a node that did not decode
	Errors            map[string]int64 // {"type":"error"} objects, by code
}

// Subscriber follows jobs over one WebSocket at a time; see the package doc.
type Subscriber struct {
	cfg     SubscriberConfig
	urls    []string // dial URLs with the query
	urlErr  error
	log     *slog.Logger
	running atomic.Bool
	wake    chan struct{} // cap 1: out has lines to write

	mu   sync.Mutex
	subs map[string]*subscription
	live bool     // a connection has passed its handshake and resubscribed
	out  [][]byte // objects to write on the live connection
	errs map[string]int64

	connects, dialFails, events, dups, ooo, gaps, missed, decodeErrs atomic.Int64
}

type subscription struct {
	last atomic.Int64 // the last seq handed to the Handler (or fromSeq)
	// refusals counts the subscribes of it in a row that a node refused for a
	// while (unavailable, timeout); s.mu guards it
	refusals int
}

// NewSubscriber returns a Subscriber with cfg's zero fields set to defaults.
// It does not connect: Run does.
func NewSubscriber(cfg SubscriberConfig) *Subscriber {
	cfg.Backoff = cfg.Backoff.WithDefaults(DefaultBackoff)
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = 1 << 20
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	s := &Subscriber{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1),
		subs: map[string]*subscription{}, errs: map[string]int64{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, u := range cfg.URLs {
		d, err := dialURL(u, "/ws", "user", cfg.User)
		if err != nil {
			s.urlErr = err
			break
		}
		s.urls = append(s.urls, d)
	}
	if s.urlErr == nil && len(s.urls) == 0 {
		s.urlErr = fmt.Errorf("client: SubscriberConfig.URLs is empty; give at least one ws://host:port/ws")
	}
	return s
}

// dialURL turns a node URL into a WebSocket URL: scheme ws(s), path defPath
// when empty, and key=value in the query when value is set.
func dialURL(raw, defPath, key, value string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("client: node URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("client: node URL %q: scheme must be ws, wss, http or https", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("client: node URL %q has no host", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = defPath
	}
	if value != "" {
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// Subscribe follows jobID from the event after fromSeq (0: from its start). It
// does not block: a live connection sends the subscribe at once, a later one
// when it connects. Subscribing to a job already followed changes nothing.
func (s *Subscriber) Subscribe(jobID string, fromSeq int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subs[jobID]; ok {
		return
	}
	sub := &subscription{}
	sub.last.Store(max(fromSeq, 0))
	s.subs[jobID] = sub
	if s.live {
		s.out = append(s.out, subscribeObj(jobID, sub.last.Load()))
		poke(s.wake)
	}
}

// Unsubscribe stops following jobID; events of it that are already on their
// way are dropped. It does not block.
func (s *Subscriber) Unsubscribe(jobID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subs[jobID]; !ok {
		return
	}
	delete(s.subs, jobID)
	if s.live {
		b := append([]byte(`{"type":"unsubscribe","jobId":`), events.AppendString(nil, jobID)...)
		s.out = append(s.out, append(b, '}'))
		poke(s.wake)
	}
}

// LastSeq returns the last seq of jobID handed to the Handler (or the fromSeq
// it was subscribed from), 0 for a job not followed.
func (s *Subscriber) LastSeq(jobID string) int64 {
	s.mu.Lock()
	sub := s.subs[jobID]
	s.mu.Unlock()
	if sub == nil {
		return 0
	}
	return sub.last.Load()
}

// Stats returns the counters so far.
func (s *Subscriber) Stats() SubscriberStats {
	st := SubscriberStats{Connects: s.connects.Load(), DialFailures: s.dialFails.Load(),
		Events: s.events.Load(), DuplicatesDropped: s.dups.Load(), OutOfOrder: s.ooo.Load(),
		Gaps: s.gaps.Load(), MissedSeqs: s.missed.Load(), DecodeErrors: s.decodeErrs.Load()}
	st.Reconnects = max(st.Connects-1, 0)
	s.mu.Lock()
	st.Errors = make(map[string]int64, len(s.errs))
	for k, v := range s.errs {
		st.Errors[k] = v
	}
	s.mu.Unlock()
	return st
}

func subscribeObj(jobID string, fromSeq int64) []byte {
	b := append([]byte(`{"type":"subscribe","jobId":`), events.AppendString(nil, jobID)...)
	b = fmt.Appendf(b, `,"fromSeq":%d}`, fromSeq)
	return b
}

func (s *Subscriber) status(kind string, info StatusInfo) {
	if s.cfg.OnStatus != nil {
		s.cfg.OnStatus(kind, info)
	}
}

// poke wakes whoever waits on ch (cap 1) without blocking.
func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run connects and follows the subscribed jobs until ctx ends, reconnecting
// after every failure; it returns ctx.Err() then. It returns at once with an
// error when the config has no usable URL, or ErrRunning when another Run of
// this Subscriber is running.
func (s *Subscriber) Run(ctx context.Context) error {
	if s.urlErr != nil {
		return s.urlErr
	}
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer s.running.Store(false)
	var buf []byte
	attempt := 0
	for i := 0; ; i = nextURL(i, len(s.urls)) {
		u := s.urls[i]
		start := time.Now()
		res := s.session(ctx, u, &buf)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var d time.Duration
		switch {
		case res.reconnect:
			d, attempt = res.after, 0
		default:
			if res.connected && time.Since(start) >= time.Second {
				attempt = 0
			}
			d = s.cfg.Backoff.Delay(attempt)
			attempt++
		}
		s.log.Debug("client: reconnecting", "url", u, "after", d, "err", res.err)
		if !backoff.Sleep(ctx, d) {
			return ctx.Err()
		}
	}
}

// nextURL returns the index of the URL to dial after URL i of n: another one,
// at random. The clients of a node that goes away (or sends them away) thus
// spread over the others; they all went to the next one in their lists
// before, and after a few faults a chaos soak had every client on one node.
func nextURL(i, n int) int {
	if n <= 2 {
		return (i + 1) % n
	}
	return (i + 1 + rand.IntN(n-1)) % n
}
