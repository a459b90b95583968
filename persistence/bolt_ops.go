package persistence

import (
	"bytes"
	"fmt"

	"github.com/actorhub/actorhub/events"
)

// The operations of the embedded store inside one transaction. Each returns
// the outcome for the caller (ErrJobNotFound, ErrFenced, ErrCorrupt) apart
// from failures of bolt itself, which abort the transaction.

// create writes a new job at epoch 1 with its first event.
func (t *boltTx) create(jobID string, snap, first []byte, owner string) error {
	rec := boltRecord{Epoch: 1, Owner: owner, Seq: 1, Snap: snap}
	if err := t.put(jobID, &rec); err != nil {
		return err
	}
	log, err := t.log.CreateBucketIfNotExists([]byte(jobID))
	if err != nil {
		return err
	}
	return log.Put(seqKey(1), first)
}

// takeOver bumps the epoch of a live job and sets its owner. A job whose
// snapshot does not decode is left as it is.
func (t *boltTx) takeOver(jobID string, rec *boltRecord, owner string) (events.JobState, error, error) {
	st, err := t.state(jobID, rec)
	if err != nil {
		return events.JobState{}, err, nil
	}
	rec.Epoch++
	rec.Owner = owner
	st.Epoch = rec.Epoch
	return st, nil, t.put(jobID, rec)
}

// append writes evs, the output delta and the snapshot if the job is at
// st.Epoch and its journal ends just before evs. An append already written
// (a retry: its last event is in the journal) succeeds without writing.
// expires > 0 starts the job's retention.
func (t *boltTx) append(st *events.JobState, snap []byte, outputDelta string, evs []events.Event, expires int64) (res, err error) {
	rec, live, err := t.load(st.JobID)
	if err != nil {
		return err, nil
	}
	if !live {
		return events.ErrJobNotFound, nil
	}
	if rec.Epoch != st.Epoch {
		return fmt.Errorf("%w: the job is at epoch %d, this writer holds epoch %d", events.ErrFenced, rec.Epoch, st.Epoch), nil
	}
	first, last := st.LastSequence+1, st.LastSequence
	if len(evs) > 0 {
		first = evs[0].Seq
	}
	log := t.log.Bucket([]byte(st.JobID))
	if log == nil {
		return fmt.Errorf("%w: job %s has no journal", ErrCorrupt, st.JobID), nil
	}
	if rec.Seq != first-1 {
		if len(evs) > 0 && rec.Seq >= last && bytes.Equal(log.Get(seqKey(last)), evs[len(evs)-1].Raw) {
			return nil, nil
		}
		return fmt.Errorf("%w: the journal ends at seq %d, this append starts at %d (another writer got in)", events.ErrFenced, rec.Seq, first), nil
	}
	for i := range evs {
		if err := log.Put(seqKey(evs[i].Seq), evs[i].Raw); err != nil {
			return nil, err
		}
	}
	if outputDelta != "" {
		out, err := t.out.CreateBucketIfNotExists([]byte(st.JobID))
		if err != nil {
			return nil, err
		}
		if err := out.Put(seqKey(last), []byte(outputDelta)); err != nil {
			return nil, err
		}
	}
	rec.Seq, rec.Snap = last, snap
	if expires > 0 {
		if err := t.setExpiry(st.JobID, &rec, expires); err != nil {
			return nil, err
		}
	}
	return nil, t.put(st.JobID, &rec)
}

// events reads up to limit events after seq after.
func (t *boltTx) events(jobID string, after int64, limit int) ([]events.Event, error) {
	if _, live, err := t.load(jobID); err != nil || !live {
		if err == nil {
			err = events.ErrJobNotFound
		}
		return nil, err
	}
	evs := []events.Event{}
	log := t.log.Bucket([]byte(jobID))
	if log == nil {
		return evs, nil
	}
	c := log.Cursor()
	seq := after + 1
	for k, v := c.Seek(seqKey(seq)); k != nil && len(evs) < limit; k, v = c.Next() {
		ev, err := decodeEntry(jobID, seq, bytes.Clone(v))
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
		seq++
	}
	return evs, nil
}
