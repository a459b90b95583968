package persistence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/actorhub/actorhub/events"
)

// Bolt is the embedded store: one bbolt file, no setup. Appends are written by
// one appender goroutine, all that is queued in one transaction (one fsync for
// the appends of many jobs); other writes are gathered by db.Batch;
// an acknowledged write survives kill -9. A janitor goroutine deletes jobs
// whose retention passed. Safe for concurrent use; one process per file.
type Bolt struct {
	cfg     Config
	db      *bolt.DB
	path    string
	closed  atomic.Bool
	mu      sync.RWMutex     // held shared while sending to appends, exclusively to close it
	appends chan *boltAppend // to the appender
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	closeE  error
}

// OpenBolt opens (creating it and its directory if needed) the store in the
// file at path and starts its janitor. A file held by another process fails
// with ErrLocked after cfg.LockTimeout.
func OpenBolt(path string, cfg Config) (*Bolt, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if p, ok := bytes.CutPrefix([]byte(path), []byte("//")); ok {
		path = string(p) // bolt:///abs/path
	}
	if path == "" {
		return nil, fmt.Errorf("open store bolt: %w: no file; use bolt:PATH, e.g. bolt:data/actorhub.db", ErrBadURL)
	}
	name := "bolt:" + path
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open store %s: create its directory: %w", name, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: cfg.LockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: %w (waited %v for its lock); stop the process that holds it or use another path",
			name, ErrLocked, cfg.LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", name, err)
	}
	db.MaxBatchDelay = cfg.BatchDelay
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketJobs, bucketLog, bucketOut, bucketExpiry} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: create buckets: %w", name, err)
	}
	s := &Bolt{cfg: cfg, db: db, path: path, stop: make(chan struct{}), appends: make(chan *boltAppend, cfg.QueueSize)}
	s.wg.Add(2)
	go s.janitor()
	go s.appender()
	return s, nil
}

// String returns bolt:PATH.
func (s *Bolt) String() string { return "bolt:" + s.path }

func nowMs() int64 { return time.Now().UnixMilli() }

// write runs fn in a batched write transaction. fn reports the outcome of the
// call through its own variables and returns only failures of bolt itself, so
// that one fenced append does not roll back the others of its batch. Batch may
// run fn more than once: fn must set all its outputs each time.
func (s *Bolt) write(ctx context.Context, action string, fn func(t *boltTx) error) error {
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	err := s.db.Batch(func(tx *bolt.Tx) error { return fn(newBoltTx(tx, nowMs())) })
	if err != nil {
		return s.fail(action, err)
	}
	return nil
}

func (s *Bolt) read(ctx context.Context, action string, fn func(t *boltTx) error) error {
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	if err := s.db.View(func(tx *bolt.Tx) error { return fn(newBoltTx(tx, nowMs())) }); err != nil {
		return s.fail(action, err)
	}
	return nil
}

func (s *Bolt) check(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// fail wraps an error of bolt: after Close it is ErrClosed, bytes that do not
// decode are ErrCorrupt, anything else (I/O, a full disk) is
// events.ErrStoreUnavailable.
func (s *Bolt) fail(action string, err error) error {
	switch {
	case errors.Is(err, berrors.ErrDatabaseNotOpen) || s.closed.Load():
		return fmt.Errorf("%s: %w", action, ErrClosed)
	case errors.Is(err, ErrCorrupt):
		return fmt.Errorf("%s: %w", action, err)
	default:
		return fmt.Errorf("%s: %w: %s: %w", action, events.ErrStoreUnavailable, s, err)
	}
}

// Create implements actors.Store.
func (s *Bolt) Create(ctx context.Context, st events.JobState, first events.Event, owner string) (events.JobState, bool, error) {
	action := "create job " + st.JobID
	if err := checkCreate(&st, &first); err != nil {
		return events.JobState{}, false, fmt.Errorf("%s: %w", action, err)
	}
	snap := encodeSnapshot(st)
	var out events.JobState
	var created bool
	var res error
	err := s.write(ctx, action, func(t *boltTx) error {
		out, created, res = events.JobState{}, false, nil
		rec, live, err := t.load(st.JobID)
		if err != nil {
			res = err
			return nil
		}
		if live {
			out, res, err = t.takeOver(st.JobID, &rec, owner)
			return err
		}
		if rec.Epoch != 0 { // expired, not swept yet
			if err := t.remove(st.JobID, &rec); err != nil {
				return err
			}
		}
		created, out = true, st
		out.Epoch, out.Output = 1, ""
		return t.create(st.JobID, snap, first.Raw, owner)
	})
	if err == nil {
		err = wrapAction(action, res)
	}
	return out, created, err
}

// Acquire implements actors.Store.
func (s *Bolt) Acquire(ctx context.Context, jobID, owner string) (events.JobState, error) {
	action := "acquire job " + jobID
	// A request about a job that does not exist costs a read, not a write
	// transaction and its fsync (whoever asks for unknown ids cannot make the
	// node sync its file for each).
	missing := false
	if err := s.read(ctx, action, func(t *boltTx) error {
		_, live, err := t.load(jobID)
		missing = err == nil && !live
		return nil
	}); err == nil && missing {
		return events.JobState{}, wrapAction(action, events.ErrJobNotFound)
	}
	var out events.JobState
	var res error
	err := s.write(ctx, action, func(t *boltTx) error {
		out, res = events.JobState{}, nil
		rec, live, err := t.load(jobID)
		switch {
		case err != nil:
			res = err
		case !live:
			res = events.ErrJobNotFound
		default:
			out, res, err = t.takeOver(jobID, &rec, owner)
		}
		return err
	})
	if err == nil {
		err = wrapAction(action, res)
	}
	return out, err
}

// Events implements actors.Store.
func (s *Bolt) Events(ctx context.Context, jobID string, after int64, limit int) ([]events.Event, error) {
	action := "read events of job " + jobID
	after, limit = max(after, 0), eventsLimit(limit)
	var evs []events.Event
	var res error
	err := s.read(ctx, action, func(t *boltTx) error {
		evs, res = t.events(jobID, after, limit)
		return nil
	})
	if err == nil {
		err = wrapAction(action, res)
	}
	if err != nil {
		return nil, err
	}
	return evs, nil
}

// Snapshot implements actors.Store.
func (s *Bolt) Snapshot(ctx context.Context, jobID string) (events.JobState, error) {
	var out events.JobState
	err := s.readLive(ctx, "read snapshot of job "+jobID, jobID, func(t *boltTx, rec *boltRecord) (err error) {
		out, err = t.state(jobID, rec)
		return err
	})
	return out, err
}

// Holder implements actors.Store.
func (s *Bolt) Holder(ctx context.Context, jobID string) (string, uint64, error) {
	var owner string
	var epoch uint64
	err := s.readLive(ctx, "read the holder of job "+jobID, jobID, func(_ *boltTx, rec *boltRecord) error {
		owner, epoch = rec.Owner, rec.Epoch
		return nil
	})
	return owner, epoch, err
}

// readLive runs fn on the record of a live job in a read transaction; the
// error wraps events.ErrJobNotFound when there is none.
func (s *Bolt) readLive(ctx context.Context, action, jobID string, fn func(t *boltTx, rec *boltRecord) error) error {
	var res error
	err := s.read(ctx, action, func(t *boltTx) error {
		rec, live, err := t.load(jobID)
		switch {
		case err != nil:
			res = err
		case !live:
			res = events.ErrJobNotFound
		default:
			res = fn(t, &rec)
		}
		return nil
	})
	if err == nil {
		err = wrapAction(action, res)
	}
	return err
}

// Release implements actors.Store.
func (s *Bolt) Release(ctx context.Context, jobID string, epoch uint64) error {
	action := "release job " + jobID
	var res error
	err := s.write(ctx, action, func(t *boltTx) error {
		res = nil
		rec, live, err := t.load(jobID)
		if err != nil || !live || rec.Epoch != epoch {
			res = err
			return nil
		}
		rec.Owner = ""
		return t.put(jobID, &rec)
	})
	if err == nil {
		err = wrapAction(action, res)
	}
	return err
}

// Ping implements actors.Store: it reports whether the store is open.
func (s *Bolt) Ping(ctx context.Context) error {
	return s.read(ctx, "ping", func(*boltTx) error { return nil })
}

// Close stops the janitor, waits for it and closes the file (after the
// transactions in progress). Idempotent.
func (s *Bolt) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		close(s.stop) // stops the janitor, wakes appends waiting for room
		s.mu.Lock()
		close(s.appends) // the appender writes what is queued, then exits
		s.mu.Unlock()
		s.wg.Wait()
		if err := s.db.Close(); err != nil {
			s.closeE = fmt.Errorf("close store %s: %w", s, err)
		}
	})
	return s.closeE
}

func wrapAction(action string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", action, err)
}
