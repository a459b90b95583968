package persistence

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/actorhub/actorhub/events"
)

// Store is what Open returns: the methods of actors.Store (declared again here
// so that persistence does not import actors) plus the store's lifecycle.
// *Redis and *Bolt implement it.
type Store interface {
	// Create makes the job unless it exists (snapshot st, journal [first],
	// epoch 1, owner); an existing job is acquired instead. It returns the
	// stored state and whether this call created the job. Blocks.
	Create(ctx context.Context, st events.JobState, first events.Event, owner string) (events.JobState, bool, error)
	// Acquire bumps the job's epoch and makes owner its owner. Blocks.
	Acquire(ctx context.Context, jobID, owner string) (events.JobState, error)
	// Append journals evs, appends outputDelta and stores st if the job is
	// still at st.Epoch and at seq evs[0].Seq-1 (else events.ErrFenced). Blocks.
	Append(ctx context.Context, st events.JobState, outputDelta string, evs []events.Event) error
	// Events returns up to limit events with seq > after. Blocks.
	Events(ctx context.Context, jobID string, after int64, limit int) ([]events.Event, error)
	// Snapshot returns the job's state with its output. Blocks.
	Snapshot(ctx context.Context, jobID string) (events.JobState, error)
	// Release clears the owner if the job is still at epoch. Blocks.
	Release(ctx context.Context, jobID string, epoch uint64) error
	// Ping tells whether the store answers. Blocks.
	Ping(ctx context.Context) error
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
//
// go-redis query parameters (dial_timeout=3s, pool_size=20, ...) are honoured
// and win over cfg. Open checks that the store answers before it returns.
func Open(ctx context.Context, rawURL string, cfg Config) (Store, error) {
	scheme, rest, ok := strings.Cut(rawURL, ":")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("open store %q: %w: no scheme; use bolt:PATH, redis://host:port/db or rediss://host:port/db", redact(rawURL), ErrBadURL)
	}
	switch strings.ToLower(scheme) {
	case "bolt":
		return OpenBolt(rest, cfg)
	case "redis", "rediss":
		return OpenRedis(ctx, rawURL, cfg)
	default:
		return nil, fmt.Errorf("open store %q: %w: unknown scheme %q; use bolt:PATH, redis://host:port/db or rediss://host:port/db", redact(rawURL), ErrBadURL, scheme)
	}
}

// redact hides the password of a URL for messages and logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(raw, "@"); err != nil && i >= 0 {
			return "…" + raw[i:] // unparsable, but may hold credentials
		}
		return raw
	}
	return u.Redacted()
}
