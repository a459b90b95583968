package persistence

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/actorhub/actorhub/events"
)

// Buckets of the embedded store.
var (
	bucketJobs   = []byte("jobs")   // job id → boltRecord (JSON)
	bucketLog    = []byte("log")    // job id → bucket: 8-byte big-endian seq → raw event
	bucketOut    = []byte("out")    // job id → bucket: 8-byte big-endian seq → output added by the append that ended at seq
	bucketExpiry = []byte("expiry") // 8-byte big-endian expiry (Unix ms) + job id → nothing
)

// boltRecord is a job's row in bucketJobs.
type boltRecord struct {
	Epoch   uint64          `json:"epoch"`
	Owner   string          `json:"owner"`
	Seq     int64           `json:"seq"`
	Expires int64           `json:"expires,omitempty"` // Unix ms; 0 while the job runs
	Snap    json.RawMessage `json:"snap"`
}

// decodeRecord parses a row of bucketJobs (not its snapshot). It never panics.
func decodeRecord(jobID string, b []byte) (boltRecord, error) {
	var rec boltRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return boltRecord{}, fmt.Errorf("%w: record of job %s: %v", ErrCorrupt, jobID, err)
	}
	if rec.Epoch < 1 || rec.Seq < 1 || rec.Expires < 0 || len(rec.Snap) == 0 {
		return boltRecord{}, fmt.Errorf("%w: record of job %s: epoch %d, seq %d, expires %d, %d bytes of snapshot",
			ErrCorrupt, jobID, rec.Epoch, rec.Seq, rec.Expires, len(rec.Snap))
	}
	return rec, nil
}

func seqKey(seq int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(seq))
}

func expiryKey(expires int64, jobID string) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(jobID)), uint64(expires))
	return append(k, jobID...)
}

// boltTx wraps a transaction with the store's buckets.
type boltTx struct {
	tx                     *bolt.Tx
	jobs, log, out, expiry *bolt.Bucket
	now                    int64 // Unix ms
}

func newBoltTx(tx *bolt.Tx, now int64) *boltTx {
	return &boltTx{tx: tx, jobs: tx.Bucket(bucketJobs), log: tx.Bucket(bucketLog),
		out: tx.Bucket(bucketOut), expiry: tx.Bucket(bucketExpiry), now: now}
}

// load returns the job's record, or ok=false if there is no such job or its
// retention passed (the janitor may not have deleted it yet).
func (t *boltTx) load(jobID string) (rec boltRecord, ok bool, err error) {
	b := t.jobs.Get([]byte(jobID))
	if b == nil {
		return boltRecord{}, false, nil
	}
	rec, err = decodeRecord(jobID, b)
	if err != nil {
		return boltRecord{}, false, err
	}
	if rec.Expires != 0 && rec.Expires <= t.now {
		return rec, false, nil
	}
	return rec, true, nil
}

func (t *boltTx) put(jobID string, rec *boltRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode record of job %s: %w", jobID, err)
	}
	return t.jobs.Put([]byte(jobID), b)
}

// state returns the job's state: its snapshot with epoch, seq and output.
func (t *boltTx) state(jobID string, rec *boltRecord) (events.JobState, error) {
	st, err := decodeSnapshot(rec.Snap)
	if err != nil {
		return events.JobState{}, err
	}
	if st.JobID != jobID {
		return events.JobState{}, fmt.Errorf("%w: snapshot of job %s holds job %s", ErrCorrupt, jobID, st.JobID)
	}
	st.Epoch, st.LastSequence = rec.Epoch, rec.Seq
	if out := t.out.Bucket([]byte(jobID)); out != nil {
		var sb bytes.Buffer
		_ = out.ForEach(func(_, v []byte) error { sb.Write(v); return nil })
		st.Output = sb.String()
	}
	return st, nil
}

// setExpiry moves the job's entry in the expiry index to expires.
func (t *boltTx) setExpiry(jobID string, rec *boltRecord, expires int64) error {
	if rec.Expires != 0 {
		if err := t.expiry.Delete(expiryKey(rec.Expires, jobID)); err != nil {
			return err
		}
	}
	rec.Expires = expires
	return t.expiry.Put(expiryKey(expires, jobID), nil)
}

// remove deletes everything of the job.
func (t *boltTx) remove(jobID string, rec *boltRecord) error {
	id := []byte(jobID)
	for _, b := range []*bolt.Bucket{t.log, t.out} {
		if err := b.DeleteBucket(id); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
			return err
		}
	}
	if rec.Expires != 0 {
		if err := t.expiry.Delete(expiryKey(rec.Expires, jobID)); err != nil {
			return err
		}
	}
	return t.jobs.Delete(id)
}
