package persistence

import (
	"bytes"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sweepBatch bounds the jobs one sweep transaction deletes, so that the
// janitor never holds the writer lock for long.
const sweepBatch = 1000

// janitor deletes expired jobs every SweepInterval until Close.
func (s *Bolt) janitor() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		for {
			n, err := s.sweep(nowMs())
			if err != nil {
				if !s.closed.Load() {
					s.cfg.Logger.Warn("persistence: retention sweep failed; retrying at the next interval", "store", s.String(), "err", err)
				}
				break
			}
			if n < sweepBatch {
				break
			}
		}
	}
}

// sweep deletes up to sweepBatch jobs whose expiry is at or before now and
// returns how many entries of the expiry index it removed.
func (s *Bolt) sweep(now int64) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		t := newBoltTx(tx, now)
		var due [][]byte
		c := t.expiry.Cursor()
		for k, _ := c.First(); k != nil && len(due) < sweepBatch; k, _ = c.Next() {
			if len(k) >= 8 && int64(binary.BigEndian.Uint64(k)) > now {
				break
			}
			due = append(due, bytes.Clone(k)) // a malformed key (< 8 bytes) goes too
		}
		n = len(due)
		for _, k := range due {
			if err := t.expiry.Delete(k); err != nil {
				return err
			}
			if len(k) < 8 {
				continue
			}
			jobID := string(k[8:])
			rec, live, err := t.load(jobID)
			if err != nil || live || rec.Epoch == 0 || rec.Expires != int64(binary.BigEndian.Uint64(k)) {
				continue // a corrupt record is kept for inspection; a job re-created since has its own entry
			}
			rec.Expires = 0 // its index entry is gone already
			if err := t.remove(jobID, &rec); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}
