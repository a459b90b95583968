package persistence

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/actorhub/actorhub/events"
)

// snapshotEvery is how far a job's journal may run ahead of its stored
// snapshot on Redis: an append stores the snapshot (and the output since the
// last one) once it brings the journal this many events past it, and always
// at the terminal event. Between two snapshots an append journals its events
// and nothing else, which is what an event costs Redis (docs/BENCHMARKS.md);
// a read folds at most about this many events onto the snapshot.
const snapshotEvery = 32

// tailIdle is how long a job's tail stays without an append before sweep
// forgets it (a job actor that stopped without Release or a terminal event
// leaves its tail behind). A job whose tail was forgotten keeps working: its
// appends journal without snapshots until its next takeover, and reads fold
// the longer tail.
const tailIdle = time.Hour

// jobTail is what this store knows of a job it writes (it created or took
// over the job), so that an append can store a snapshot without reading
// anything back: the output since the stored snapshot.
type jobTail struct {
	epoch   uint64
	last    int64  // the job's last seq, as of the appends sent
	snapSeq int64  // the stored snapshot's seq, as of the appends answered
	out     []byte // the output after snapSeq up to last
	touched time.Time
	keys    []any // appendKeys of the job at epoch, made once
}

// tails holds the jobTail of every job this store writes, by job id.
type tails struct {
	mu    sync.Mutex
	m     map[string]*jobTail
	swept time.Time
}

// appendPlan is what an append promised its job's tail: settle keeps the
// tail in step with what Redis answered.
type appendPlan struct {
	tracked  bool  // the append continues this store's tail of the job
	snapshot bool  // it stores the snapshot at its last seq
	sent     int   // bytes of the tail's output the snapshot carries
	last     int64 // its last seq
}

// set records the tail of a job this store just created or took over:
// snapshot at snapSeq, then events up to last that added out.
func (t *tails) set(jobID string, epoch uint64, snapSeq, last int64, out string) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*jobTail{}
	}
	t.m[jobID] = &jobTail{epoch: epoch, last: last, snapSeq: snapSeq, out: append([]byte(nil), out...), touched: now, keys: appendKeys(jobID, epoch)}
	if now.Sub(t.swept) > tailIdle/4 {
		t.swept = now
		for id, jt := range t.m {
			if now.Sub(jt.touched) > tailIdle {
				delete(t.m, id)
			}
		}
	}
}

// plan decides what an append of st (events first..st.LastSequence adding
// delta) stores: when it continues the tail this store has of the job at
// st's epoch, the tail grows by delta, and the snapshot is due at the
// terminal event, for a snapshot-only append, or once the journal would be
// snapshotEvery past it; snapOut is then the output since the stored snapshot.
// An append that does not continue the tail (another writer's, a retry, a job
// this store did not take over) stores no snapshot unless it is snapshot-only.
// keys are the job's appendKeys when this store knows the job at st's epoch
// (nil if not).
func (t *tails) plan(st *events.JobState, delta string, first int64) (p appendPlan, snapOut string, keys []any) {
	p.last = st.LastSequence
	t.mu.Lock()
	defer t.mu.Unlock()
	jt := t.m[st.JobID]
	if jt != nil && jt.epoch == st.Epoch {
		keys = jt.keys
	}
	if jt == nil || jt.epoch != st.Epoch || jt.last != first-1 {
		return p, "", keys
	}
	p.tracked = true
	jt.out = append(jt.out, delta...)
	jt.last = st.LastSequence
	jt.touched = time.Now()
	if st.Status.Terminal() || first > st.LastSequence || st.LastSequence-jt.snapSeq >= snapshotEvery {
		p.snapshot, p.sent = true, len(jt.out)
		snapOut = string(jt.out)
	}
	return p, snapOut, keys
}

// settle applies an append's outcome to the job's tail. A tracked append that
// failed, or whose outcome is unknown, drops the tail: the job actor that sent
// it stops and the next one takes the job over anew. A stored snapshot
// starts the tail over (a terminal one ends it).
func (t *tails) settle(st *events.JobState, p appendPlan, err error) {
	if !p.tracked {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	jt := t.m[st.JobID]
	if jt == nil || jt.epoch != st.Epoch {
		return
	}
	switch {
	case err != nil, p.snapshot && st.Status.Terminal():
		delete(t.m, st.JobID)
	case p.snapshot:
		jt.snapSeq = p.last
		jt.out = append(jt.out[:0], jt.out[p.sent:]...)
	}
}

// drop forgets the tail of a job released at epoch.
func (t *tails) drop(jobID string, epoch uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if jt := t.m[jobID]; jt != nil && jt.epoch == epoch {
		delete(t.m, jobID)
	}
}

// offsetEntry appends to b the journal entry of an append's last event:
// "+<nextOffset> " and then the event's wire object.
func offsetEntry(b []byte, nextOffset int64, raw []byte) []byte {
	b = slices.Grow(b, len(raw)+21)
	b = append(b, '+')
	b = strconv.AppendInt(b, nextOffset, 10)
	b = append(b, ' ')
	return append(b, raw...)
}

// splitEntry takes the offset prefix off a journal entry: it returns the
// event's wire object and, when the entry has the prefix, the offset.
func splitEntry(b []byte) (raw []byte, nextOffset int64, hasOffset bool, err error) {
	if len(b) == 0 || b[0] != '+' {
		return b, 0, false, nil
	}
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return nil, 0, false, fmt.Errorf("%w: journal entry with an offset and no event", ErrCorrupt)
	}
	n, err := strconv.ParseInt(string(b[1:i]), 10, 64)
	if err != nil || n < 0 {
		return nil, 0, false, fmt.Errorf("%w: journal entry with offset %q", ErrCorrupt, b[1:i])
	}
	return b[i+1:], n, true, nil
}

// decodeJournal decodes a Redis journal entry that must hold seq of job jobID.
func decodeJournal(jobID string, seq int64, b []byte) (ev events.Event, nextOffset int64, hasOffset bool, err error) {
	raw, nextOffset, hasOffset, err := splitEntry(b)
	if err != nil {
		return events.Event{}, 0, false, fmt.Errorf("journal of job %s at seq %d: %w", jobID, seq, err)
	}
	ev, err = decodeEntry(jobID, seq, raw)
	return ev, nextOffset, hasOffset, err
}
