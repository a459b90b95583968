package events

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Status of a job: created → running → completed | failed | cancelled.
type Status string

// The statuses of PROTOCOL.md.
const (
	StatusCreated   Status = "created"
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// Terminal reports whether no event may follow.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCancelled
}

// JobState is what the state endpoint shows and what a store snapshots: the job's
// identity, status, counters and everything its events accumulated.
type JobState struct {
	JobID        string          `json:"jobId"`
	UserID       string          `json:"userId"`
	Type         string          `json:"type"`
	Input        json.RawMessage `json:"input,omitempty" ts:"unknown"`
	Status       Status          `json:"status"`
	Progress     float64         `json:"progress"`
	LastSequence int64           `json:"lastSequence"`
	NextOffset   int64           `json:"nextOffset"`
	Epoch        uint64          `json:"epoch"`
	Output       string          `json:"output"`
	Result       json.RawMessage `json:"result" ts:"unknown"`
	Error        *string         `json:"error"`
	CreatedAt    int64           `json:"createdAt"`
	UpdatedAt    int64           `json:"updatedAt"`
	CompletedAt  *int64          `json:"completedAt"`
	FailedAt     *int64          `json:"failedAt"`
	// DataBytes is the size of the data of every event after job:created:v1,
	// the measure of a job's journal that --max-job-bytes bounds.
	DataBytes int64 `json:"dataBytes,omitempty"`
}

// NewJob returns the state of a job that was just created, and its first event
// (job:created:v1, seq 1).
func NewJob(jobID, userID, typ string, input json.RawMessage, now int64) (JobState, Event) {
	st := JobState{JobID: jobID, UserID: userID, Type: typ, Input: input, Status: StatusCreated,
		CreatedAt: now, UpdatedAt: now, Result: json.RawMessage("null")}
	data := AppendJSONObject(nil, "userId", userID, "type", typ)
	ev := Event{JobID: jobID, Seq: 1, Name: Created, Data: data, TS: now}
	ev.Encode()
	st.LastSequence = 1
	return st, ev
}

// CheckAppend tells whether an event named name may follow the job's state: the
// name must be valid, job:created:v1 is the hub's own, and nothing follows a
// terminal event (ErrJobFinished).
func (s *JobState) CheckAppend(name string) error {
	if err := ValidateName(name); err != nil {
		return &CodedError{Code: CodeBadEventName, Err: err}
	}
	if s.Status.Terminal() {
		return &CodedError{Code: CodeJobFinished, Err: fmt.Errorf("job %s is %s: no event may follow its terminal event", s.JobID, s.Status)}
	}
	if name == Created {
		return &CodedError{Code: CodeInvalidEvent, Err: fmt.Errorf("%s is appended by the hub when the job is created; a worker cannot emit it", Created)}
	}
	return nil
}

// Apply folds one event (already checked with CheckAppend) into the state: seq,
// status, progress, result, error and times. It leaves Output alone and returns
// the text the event adds to it (a chunk's text), so that a long output can grow
// in a buffer of the caller's instead of being copied at every chunk. It
// decodes the event's data; ApplyFold takes what CheckData found instead.
func (s *JobState) Apply(ev *Event) (output string) {
	return s.ApplyFold(ev, FoldOf(ev.Name, ev.Data))
}

// ApplyFold is Apply with the event's data already decoded into f.
func (s *JobState) ApplyFold(ev *Event, f Fold) (output string) {
	s.LastSequence = ev.Seq
	s.UpdatedAt = ev.TS
	if ev.Name == Created {
		return ""
	}
	s.DataBytes += int64(len(ev.Data))
	switch ev.Name {
	case Progress:
		if f.Progress != nil {
			s.Progress = *f.Progress
		}
	case Chunk:
		output = f.Chunk
	case Completed:
		if len(f.Result) > 0 {
			s.Result = f.Result
		}
		// a copy of the time: a pointer into ev would move every event an
		// actor appends to the heap
		ts := ev.TS
		s.Status, s.Progress = StatusCompleted, 100
		s.CompletedAt = &ts
		return ""
	case Failed:
		msg := f.Error
		if msg == "" {
			msg = "failed"
		}
		ts := ev.TS
		s.Status, s.Error, s.FailedAt = StatusFailed, &msg, &ts
		return ""
	case Cancelled:
		s.Status = StatusCancelled
		return ""
	}
	if s.Status == StatusCreated {
		s.Status = StatusRunning
	}
	return output
}

// CodedError is an error with the code a client sees.
type CodedError struct {
	Code string
	Err  error
}

func (e *CodedError) Error() string {
	if e.Err == nil {
		return e.Code
	}
	return e.Err.Error()
}

func (e *CodedError) Unwrap() error { return e.Err }

// codedWire is a CodedError as it crosses between nodes.
type codedWire struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// MarshalJSON writes {"code","message"}: a CodedError crosses between nodes
// as its code and text (the wrapped error's type stays behind).
func (e *CodedError) MarshalJSON() ([]byte, error) {
	return json.Marshal(codedWire{Code: e.Code, Message: e.Error()})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (e *CodedError) UnmarshalJSON(b []byte) error {
	var w codedWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	e.Code, e.Err = w.Code, errors.New(w.Message)
	return nil
}

// AsCoded returns err as a *CodedError: itself or the one it wraps, else a
// new one with code def. It returns nil for a nil err.
func AsCoded(err error, def string) *CodedError {
	if err == nil {
		return nil
	}
	var ce *CodedError
	if errors.As(err, &ce) {
		return ce
	}
	return &CodedError{Code: def, Err: err}
}
