package persistence

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/actorhub/actorhub/events"
)

// replyCode returns the code of a script's array reply, or a value no code has.
func replyCode(vals []any) int64 {
	if len(vals) == 0 {
		return -100
	}
	if c, ok := vals[0].(int64); ok {
		return c
	}
	return -100
}

// replyString returns element i of a reply as a string ("" if absent).
func replyString(vals []any, i int) string {
	if i >= len(vals) {
		return ""
	}
	s, _ := vals[i].(string)
	return s
}

// readState is a job's state as a read script replied it.
type readState struct {
	st      events.JobState // at the journal's last seq, with the whole output
	snapSeq int64           // the stored snapshot's seq
	tailOut string          // the output the events after snapSeq added
}

// parseState turns {code, epoch, sseq, snap, out, tail...} into the job's
// state: the snapshot at sseq, with the tail's events folded onto it and their
// chunk texts onto out (redis_scripts.go).
func parseState(jobID string, vals []any) (readState, error) {
	if len(vals) < 5 {
		return readState{}, fmt.Errorf("%w: reply of %d elements for job %s", ErrCorrupt, len(vals), jobID)
	}
	epoch, err1 := strconv.ParseUint(replyString(vals, 1), 10, 64)
	seq, err2 := strconv.ParseInt(replyString(vals, 2), 10, 64)
	if err1 != nil || err2 != nil || seq < 1 {
		return readState{}, fmt.Errorf("%w: job %s has epoch %v and seq %v", ErrCorrupt, jobID, vals[1], vals[2])
	}
	st, err := decodeSnapshot([]byte(replyString(vals, 3)))
	if err != nil {
		return readState{}, err
	}
	if st.JobID != jobID {
		return readState{}, fmt.Errorf("%w: snapshot of job %s holds job %s", ErrCorrupt, jobID, st.JobID)
	}
	out, ok := vals[4].(string)
	if !ok {
		return readState{}, fmt.Errorf("%w: output of job %s is a %T", ErrCorrupt, jobID, vals[4])
	}
	st.Epoch, st.LastSequence = epoch, seq
	var tail strings.Builder
	for i, v := range vals[5:] {
		b, ok := v.(string)
		if !ok {
			return readState{}, fmt.Errorf("%w: journal entry of job %s of type %T", ErrCorrupt, jobID, v)
		}
		ev, next, hasOffset, err := decodeJournal(jobID, seq+1+int64(i), []byte(b))
		if err != nil {
			return readState{}, err
		}
		tail.WriteString(st.Apply(&ev))
		if hasOffset {
			st.NextOffset = next
		}
	}
	st.Output = out + tail.String()
	return readState{st: st, snapSeq: seq, tailOut: tail.String()}, nil
}

// fail wraps an error of go-redis for the caller: transient failures wrap
// events.ErrStoreUnavailable and name the server; redis.Nil never leaves.
func (r *Redis) fail(action string, err error) error {
	switch {
	case errors.Is(err, ErrClosed), errors.Is(err, redis.ErrClosed) && r.isClosed():
		return fmt.Errorf("%s: %w", action, ErrClosed)
	case errors.Is(err, context.Canceled), errors.Is(err, events.ErrStoreUnavailable):
		return fmt.Errorf("%s: %w", action, err)
	case errors.Is(err, redis.Nil):
		return fmt.Errorf("%s: %w: empty reply from redis %s", action, ErrCorrupt, r.addr)
	case transient(err):
		return fmt.Errorf("%s: %w: redis %s: %w", action, events.ErrStoreUnavailable, r.addr, err)
	default:
		return fmt.Errorf("%s: redis %s: %v", action, r.addr, err)
	}
}

// transientReplies are the error replies of a server that is loading,
// failing over, out of memory or busy: retrying later may succeed.
var transientReplies = []string{"LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN",
	"READONLY", "NOREPLICAS", "OOM", "ERR max number of clients"}

// transient reports whether err may go away by itself: every failure to talk
// to the server (refused, reset, timeout, pool exhausted) and the error
// replies above. Other error replies (a script error, WRONGPASS) are permanent.
func transient(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return true
	}
	msg := rerr.Error()
	for _, p := range transientReplies {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
