package persistence

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/events"
)

func openBolt(t testing.TB, path string, cfg Config) *Bolt {
	t.Helper()
	s, err := OpenBolt(path, cfg)
	if err != nil {
		t.Fatalf("OpenBolt(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestBoltStore(t *testing.T) {
	t.Parallel()
	testStoreContract(t, func(t *testing.T) actors.Store {
		return openBolt(t, filepath.Join(t.TempDir(), "jobs.db"), testConfig())
	})
}

func TestBoltReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a", "b", "jobs.db") // parent directories are created
	s := openBolt(t, path, testConfig())
	j := newJob("reopen-1")
	j.create(t, s)
	j.appendN(t, s, 5)
	j.st.NextOffset = 3
	if err := s.Append(ctxT(t), j.st, "", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Append after Close", s.Append(ctxT(t), j.st, "", nil), ErrClosed)
	_, err := s.Events(ctxT(t), j.st.JobID, 0, 0)
	wantErr(t, "Events after Close", err, ErrClosed)

	s = openBolt(t, path, testConfig())
	checkJournal(t, s, j.st.JobID, 6, j.output)
	st, err := s.Acquire(ctxT(t), j.st.JobID, "node-b")
	if err != nil || st.Epoch != 2 || st.NextOffset != 3 {
		t.Fatalf("Acquire after reopen = epoch %d offset %d, %v; want 2, 3", st.Epoch, st.NextOffset, err)
	}
}

func TestBoltLocked(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "jobs.db")
	openBolt(t, path, testConfig())
	start := time.Now()
	_, err := OpenBolt(path, testConfig())
	wantErr(t, "second OpenBolt", err, ErrLocked)
	if !strings.Contains(err.Error(), "bolt:"+path) || time.Since(start) > 2*time.Second {
		t.Fatalf("second OpenBolt took %v and said %q; want the path and < 2s", time.Since(start), err)
	}
}

func TestBoltCorrupt(t *testing.T) {
	t.Parallel()
	s := openBolt(t, filepath.Join(t.TempDir(), "jobs.db"), testConfig())
	put := func(bucket []byte, id string, key, val []byte) {
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			if id != "" {
				b = b.Bucket([]byte(id))
			}
			return b.Put(key, val)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		damage func(id string)
		read   func(id string) error
	}{
		{"garbage journal entry", func(id string) { put(bucketLog, id, seqKey(2), []byte("\xff")) },
			func(id string) error { _, err := s.Events(ctxT(t), id, 0, 0); return err }},
		{"garbage record", func(id string) { put(bucketJobs, "", []byte(id), []byte("{")) },
			func(id string) error { _, err := s.Snapshot(ctxT(t), id); return err }},
		{"record without snapshot", func(id string) { put(bucketJobs, "", []byte(id), []byte(`{"epoch":1,"seq":1}`)) },
			func(id string) error { _, err := s.Acquire(ctxT(t), id, "n"); return err }},
		{"garbage snapshot", func(id string) { put(bucketJobs, "", []byte(id), []byte(`{"epoch":1,"seq":1,"snap":{"jobId":""}}`)) },
			func(id string) error {
				_, _, err := s.Create(ctxT(t), newJob(id).st, newJob(id).first, "n")
				return err
			}},
	}
	for _, c := range cases {
		j := newJob(strings.ReplaceAll(c.name, " ", "-"))
		j.create(t, s)
		c.damage(j.st.JobID)
		wantErr(t, c.name, c.read(j.st.JobID), ErrCorrupt)
	}
}

// TestBoltSweep checks the janitor against the expiry index directly.
func TestBoltSweep(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.SweepInterval = time.Hour // sweeps run by hand
	s := openBolt(t, filepath.Join(t.TempDir(), "jobs.db"), cfg)
	var ids []string
	for i := range 3 {
		j := newJob(jobID(t, string(rune('a'+i))))
		j.create(t, s)
		if i < 2 {
			_, evs := j.next(1, events.Cancelled, "")
			if err := s.Append(ctxT(t), j.st, "", evs); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, j.st.JobID)
	}
	if n, err := s.sweep(nowMs()); err != nil || n != 0 {
		t.Fatalf("sweep before the retention = %d, %v; want 0", n, err)
	}
	if n, err := s.sweep(nowMs() + 2000); err != nil || n != 2 {
		t.Fatalf("sweep after the retention = %d, %v; want 2", n, err)
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		for i, id := range ids {
			gone := tx.Bucket(bucketJobs).Get([]byte(id)) == nil && tx.Bucket(bucketLog).Bucket([]byte(id)) == nil
			if gone != (i < 2) {
				t.Errorf("job %s gone = %v", id, gone)
			}
		}
		if k, _ := tx.Bucket(bucketExpiry).Cursor().First(); k != nil {
			t.Errorf("expiry index not empty")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBoltCancelledCtx(t *testing.T) {
	t.Parallel()
	s := openBolt(t, filepath.Join(t.TempDir(), "jobs.db"), testConfig())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	j := newJob("c")
	_, _, err := s.Create(ctx, j.st, j.first, "n")
	wantErr(t, "Create with a cancelled ctx", err, context.Canceled)
}

func TestBoltBadPath(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenBolt(filepath.Join(file, "jobs.db"), testConfig()) // its "directory" is a file
	if err == nil || !strings.Contains(err.Error(), "create its directory") {
		t.Fatalf("OpenBolt under a file = %v; want an error about its directory", err)
	}
}

func BenchmarkBoltAppend(b *testing.B) {
	s := openBolt(b, filepath.Join(b.TempDir(), "jobs.db"), DefaultConfig())
	benchAppend(b, s, 100)
}

// TestBoltAcquireUnknownReadsOnly: asking for jobs that do not exist commits
// no write transaction (each would sync the file).
func TestBoltAcquireUnknownReadsOnly(t *testing.T) {
	s := openBolt(t, filepath.Join(t.TempDir(), "b.db"), DefaultConfig())
	txid := func() int {
		var id int
		_ = s.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
		return id
	}
	before := txid()
	for i := 0; i < 50; i++ {
		if _, err := s.Acquire(t.Context(), fmt.Sprintf("nope-%d", i), "n1"); !errors.Is(err, events.ErrJobNotFound) {
			t.Fatalf("acquire of an unknown job: %v", err)
		}
	}
	if after := txid(); after != before {
		t.Fatalf("%d write transactions for 50 unknown jobs", after-before)
	}
}
