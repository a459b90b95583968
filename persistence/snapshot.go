package persistence

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/actorhub/actorhub/events"
)

// Page sizes of Events: DefaultEventsLimit when the caller gives none (limit
// <= 0), and at most MaxEventsLimit whatever the caller asks (page on from
// the last seq returned).
const (
	DefaultEventsLimit = 1000
	MaxEventsLimit     = 100_000
)

// encodeSnapshot returns the stored form of st: its JSON without the output,
// which each store keeps apart so that an append costs O(chunk), not O(output).
func encodeSnapshot(st events.JobState) []byte {
	st.Output = ""
	return st.AppendJSON(make([]byte, 0, 320+len(st.Input)+len(st.Result)))
}

// decodeSnapshot parses a stored snapshot. It never panics and rejects
// anything that is not the JSON object of a job state with a valid job id,
// a known status and sane counters. The caller fills Output and Epoch.
func decodeSnapshot(b []byte) (events.JobState, error) {
	var st events.JobState
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return events.JobState{}, fmt.Errorf("%w: snapshot is not a JSON object", ErrCorrupt)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return events.JobState{}, fmt.Errorf("%w: snapshot: %v", ErrCorrupt, err)
	}
	if err := events.ValidateJobID(st.JobID); err != nil {
		return events.JobState{}, fmt.Errorf("%w: snapshot: %v", ErrCorrupt, err)
	}
	switch st.Status {
	case events.StatusCreated, events.StatusRunning, events.StatusCompleted, events.StatusFailed, events.StatusCancelled:
	default:
		return events.JobState{}, fmt.Errorf("%w: snapshot of job %s: unknown status %q", ErrCorrupt, st.JobID, st.Status)
	}
	if st.LastSequence < 1 || st.NextOffset < 0 {
		return events.JobState{}, fmt.Errorf("%w: snapshot of job %s: lastSequence %d, nextOffset %d", ErrCorrupt, st.JobID, st.LastSequence, st.NextOffset)
	}
	return st, nil
}

// decodeEntry decodes the journal entry that must hold seq of job jobID.
func decodeEntry(jobID string, seq int64, raw []byte) (events.Event, error) {
	ev, err := events.DecodeEvent(raw)
	if err != nil {
		return events.Event{}, fmt.Errorf("%w: journal of job %s at seq %d: %v", ErrCorrupt, jobID, seq, err)
	}
	if ev.Seq != seq || ev.JobID != jobID {
		return events.Event{}, fmt.Errorf("%w: journal of job %s at seq %d holds job %s seq %d", ErrCorrupt, jobID, seq, ev.JobID, ev.Seq)
	}
	return ev, nil
}

// checkAppend validates the arguments of Append: events of st's job, each with
// Raw, with contiguous seqs ending at st.LastSequence. An append of no event
// (a snapshot-only write) may not carry output: output grows with events, and
// only an append of events can be recognised when retried.
func checkAppend(st *events.JobState, outputDelta string, evs []events.Event) error {
	if st.JobID == "" {
		return fmt.Errorf("%w: state has no job id", ErrInvalid)
	}
	if len(evs) == 0 {
		if outputDelta != "" {
			return fmt.Errorf("%w: output without events", ErrInvalid)
		}
		return nil
	}
	for i := range evs {
		ev := &evs[i]
		if ev.JobID != st.JobID {
			return fmt.Errorf("%w: event %d is of job %q", ErrInvalid, ev.Seq, ev.JobID)
		}
		if len(ev.Raw) == 0 {
			return fmt.Errorf("%w: event %d has no Raw (call Encode)", ErrInvalid, ev.Seq)
		}
		if ev.Seq < 1 || i > 0 && ev.Seq != evs[i-1].Seq+1 {
			return fmt.Errorf("%w: seqs are not contiguous at %d", ErrInvalid, ev.Seq)
		}
	}
	if last := evs[len(evs)-1].Seq; st.LastSequence != last {
		return fmt.Errorf("%w: state is at seq %d but the last event is %d", ErrInvalid, st.LastSequence, last)
	}
	return nil
}

// eventsLimit applies the default and the largest page size.
func eventsLimit(limit int) int {
	if limit <= 0 {
		return DefaultEventsLimit
	}
	return min(limit, MaxEventsLimit)
}

// checkCreate validates the arguments of Create.
func checkCreate(st *events.JobState, first *events.Event) error {
	if err := events.ValidateJobID(st.JobID); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if first.JobID != st.JobID || first.Seq != 1 || st.LastSequence != 1 || len(first.Raw) == 0 {
		return fmt.Errorf("%w: the first event must be seq 1 of the job, with Raw, and the state at seq 1 (got event %q seq %d, state seq %d)",
			ErrInvalid, first.JobID, first.Seq, st.LastSequence)
	}
	return nil
}
