package client

import (
	"errors"
	"fmt"

	"github.com/actorhub/actorhub/events"
)

// Sentinels that an *EmitError matches with errors.Is, by its Code.
var (
	// ErrJobFinished: the job already has its terminal event; a new event was refused.
	ErrJobFinished = errors.New("client: job finished")
	// ErrOffsetGap: the node expects an offset this worker can no longer send
	// (it was acked before, or the node did not say which one it expects).
	ErrOffsetGap = errors.New("client: offset gap that cannot be resolved")
	// ErrJobNotFound: no job with that id exists.
	ErrJobNotFound = errors.New("client: job not found")
	// ErrClosed: the Worker was closed; its unacked events were abandoned.
	ErrClosed = errors.New("client: worker closed")
	// ErrRunning: Run was called while another Run of the same Subscriber runs.
	ErrRunning = errors.New("client: subscriber already running")
)

// EmitError is a refusal that retrying cannot fix: the job's events from
// NextOffset on were not accepted, and the Worker stopped sending them.
type EmitError struct {
	JobID string
	// Code is the node's error code (events.Code*), or one of this package's
	// own checks (events.CodeBadEventName, events.CodeInvalidEvent,
	// events.CodeTooLarge) when Emit refused the event before sending it.
	Code    string
	Message string
	// NextOffset is the offset the node expects next, -1 when unknown.
	NextOffset int64
	// HTTPStatus is the status of the HTTP answer that carried the refusal; 0 on WebSocket.
	HTTPStatus int
}

func (e *EmitError) Error() string {
	s := fmt.Sprintf("job %s: %s", e.JobID, e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.NextOffset >= 0 {
		s += fmt.Sprintf(" (node expects offset %d)", e.NextOffset)
	}
	return s
}

// Unwrap returns the sentinel of the error's code, if it has one.
func (e *EmitError) Unwrap() error {
	switch e.Code {
	case events.CodeJobFinished:
		return ErrJobFinished
	case events.CodeOffsetGap:
		return ErrOffsetGap
	case events.CodeNotFound:
		return ErrJobNotFound
	}
	return nil
}

// retryable reports whether a refusal with this code may succeed when sent again
// later. Unknown codes count as retryable: the node may be newer than this SDK.
func retryable(code string) bool {
	switch code {
	case events.CodeJobFinished, events.CodeNotFound, events.CodeBadEventName, events.CodeInvalidEvent,
		events.CodeBadRequest, events.CodeBadFrame, events.CodeTooLarge, events.CodeUnauthorized,
		events.CodeForbidden, events.CodeJobExists, events.CodeUnknownType:
		return false
	}
	return true
}
