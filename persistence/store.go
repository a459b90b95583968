package persistence

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/actorhub/actorhub/actors"
)

// Store is what Open returns: an actors.Store and an actors.AsyncAppender (the
// consumer declares the methods and their contract: blocking, fencing,
// errors) plus the store's lifecycle. *Redis and *Bolt implement it.
type Store interface {
	actors.Store
	actors.AsyncAppender
	// Close waits for the store's goroutines and releases its connections or
	// file. Calls after Close fail with ErrClosed. Idempotent.
	Close() error
	// String names the store for logs, without credentials
	// (bolt:/var/lib/actorhub/jobs.db, redis://10.0.0.5:6379/0).
	String() string
}

var (
	_ Store = (*Redis)(nil)
	_ Store = (*Bolt)(nil)
)

// Open opens the store that rawURL names:
//
//	bolt:PATH                          the embedded store in file PATH (parent directories are created)
//	redis://[user:pass@]host:port/db   one Redis server; rediss:// for TLS
//	redis://host:port?addr=h2:p2&...   Redis Cluster, seeded with every address given
//	redis+sentinel://host:port/db?master_name=NAME&addr=h2:p2&...
//	                                   a primary with replicas under Redis Sentinel: the
//	                                   addresses are the sentinels'; user:pass@ are the
//	                                   sentinels' credentials, password= (and username=)
//	                                   the master's; rediss+sentinel:// for TLS
//
// go-redis query parameters (dial_timeout=3s, pool_size=20, ...) are honoured
// and win over cfg. Open checks that the store answers before it returns.
func Open(ctx context.Context, rawURL string, cfg Config) (Store, error) {
	scheme, rest, ok := strings.Cut(rawURL, ":")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("open store %q: %w: no scheme; use bolt:PATH, redis://host:port/db or rediss://host:port/db", redact(rawURL), ErrBadURL)
	}
	// a failed open returns a nil Store, not a nil *Bolt or *Redis in one
	// (which a caller's `store != nil` would take for an open store)
	switch strings.ToLower(scheme) {
	case "bolt":
		s, err := OpenBolt(rest, cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	case "redis", "rediss", "redis+sentinel", "rediss+sentinel":
		s, err := OpenRedis(ctx, rawURL, cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("open store %q: %w: unknown scheme %q; use bolt:PATH, redis://host:port/db, rediss://host:port/db or redis+sentinel://host:port/db?master_name=NAME", redact(rawURL), ErrBadURL, scheme)
	}
}

// redact hides the password of a URL for messages and logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return "…" + raw[i:] // unparsable, but may hold credentials
		}
		return raw
	}
	if q := u.Query(); q.Has("password") { // a sentinel URL's master password
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
		return u.Redacted()
	}
	if u.User == nil {
		return raw
	}
	return u.Redacted()
}
