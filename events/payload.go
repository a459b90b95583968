package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// CreatedData is the payload of job:created:v1, the hub's own first event of
// every job (NewJob writes it).
type CreatedData struct {
	UserID string `json:"userId"`
	Type   string `json:"type"`
}

// Payloads names the payload type of each event the hub knows, for
// internal/tsgen (job:running:v1, job:paused:v1 and job:resumed:v1 carry any
// object).
var Payloads = []struct {
	Event string
	Name  string // the TypeScript name
	Go    any
}{
	{Created, "CreatedData", CreatedData{}},
	{Progress, "ProgressData", ProgressData{}},
	{Chunk, "ChunkData", ChunkData{}},
	{Checkpointed, "CheckpointedData", CheckpointedData{}},
	{Completed, "CompletedData", CompletedData{}},
	{Failed, "FailedData", FailedData{}},
	{Cancelled, "CancelledData", CancelledData{}},
}

// ProgressData is the payload of job:progress:v1.
type ProgressData struct {
	Progress *float64 `json:"progress,omitempty"` // 0–100
	Step     string   `json:"step,omitempty"`
	Message  string   `json:"message,omitempty"`
}

// ChunkData is the payload of model:chunk:v1. Extra fields (a worker's ts, say)
// are carried along untouched.
type ChunkData struct {
	Chunk string `json:"chunk"`
	Index *int64 `json:"index,omitempty"`
	Total *int64 `json:"total,omitempty"`
}

// CheckpointedData is the payload of job:checkpointed:v1.
type CheckpointedData struct {
	Checkpoint json.RawMessage `json:"checkpoint" ts:"Record<string, unknown>"`
}

// CompletedData is the payload of job:completed:v1.
type CompletedData struct {
	Result   json.RawMessage `json:"result,omitempty" ts:"unknown"`
	Tokens   *int64          `json:"tokens,omitempty"`
	Duration *float64        `json:"duration,omitempty"`
}

// FailedData is the payload of job:failed:v1.
type FailedData struct {
	Error       string `json:"error,omitempty"`
	Code        string `json:"code,omitempty"`
	Recoverable bool   `json:"recoverable,omitempty"`
}

// CancelledData is the payload of job:cancelled:v1.
type CancelledData struct {
	Reason string `json:"reason,omitempty"`
}

// MaxDataLen bounds one event's payload.
const MaxDataLen = 64 << 10

// NormalizeData validates an event payload and returns it compact: it must be a
// JSON object (absent or null become {}), and a known event's fields must have
// the types PROTOCOL.md gives them.
func NormalizeData(name string, data json.RawMessage) (json.RawMessage, error) {
	norm, _, err := CheckData(name, data)
	return norm, err
}

// Fold is what a job's state takes from an event's data (JobState.ApplyFold):
// the data is decoded once, when CheckData checks it, and that serves both.
type Fold struct {
	Chunk    string          // model:chunk:v1: the text the output grows by
	Progress *float64        // job:progress:v1
	Result   json.RawMessage // job:completed:v1
	Error    string          // job:failed:v1
}

// CheckData is NormalizeData that also returns what the state takes from the
// data.
func CheckData(name string, data json.RawMessage) (json.RawMessage, Fold, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || string(data) == "null" {
		return json.RawMessage(`{}`), Fold{}, nil
	}
	if len(data) > MaxDataLen {
		return nil, Fold{}, fmt.Errorf("data of %s is %d bytes; the limit is %d", name, len(data), MaxDataLen)
	}
	if data[0] != '{' {
		return nil, Fold{}, fmt.Errorf("data of %s must be a JSON object", name)
	}
	if !utf8.Valid(data) { // a browser fails a connection whose text frame is not UTF-8, and would at every resume
		return nil, Fold{}, fmt.Errorf("data of %s is not valid UTF-8", name)
	}
	f, err := validatePayload(name, data)
	if err != nil {
		return nil, Fold{}, err
	}
	if isCompact(data) {
		return data, f, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, Fold{}, fmt.Errorf("data of %s is not valid JSON: %v", name, err)
	}
	return buf.Bytes(), f, nil
}

// FoldOf returns what the state takes from data that was checked before (the
// hub's own events, a journal read back).
func FoldOf(name string, data json.RawMessage) Fold {
	f, _ := validatePayload(name, data)
	return f
}

// isCompact reports whether data has no whitespace outside strings, so that it
// can be embedded in a line of a frame as it is.
func isCompact(data []byte) bool {
	inStr, esc := false, false
	for _, c := range data {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == ' ' || c == '\n' || c == '\r' || c == '\t'):
			return false
		}
	}
	return true
}

// validatePayload checks data against name's schema and returns what the state
// takes from it.
func validatePayload(name string, data json.RawMessage) (Fold, error) {
	var f Fold
	var err error
	switch name {
	case Progress:
		var p ProgressData
		if err = json.Unmarshal(data, &p); err == nil && p.Progress != nil && (*p.Progress < 0 || *p.Progress > 100) {
			return f, fmt.Errorf("%s: progress must be within 0–100, got %v", name, *p.Progress)
		}
		f.Progress = p.Progress
	case Chunk:
		if chunk, ok := chunkFoldFast(data); ok {
			f.Chunk = chunk
			return f, nil
		}
		var c struct {
			Chunk *string `json:"chunk"`
			Index *int64  `json:"index"`
			Total *int64  `json:"total"`
		}
		if err = json.Unmarshal(data, &c); err == nil && c.Chunk == nil {
			return f, fmt.Errorf("%s: data.chunk (a string) is required", name)
		}
		if c.Chunk != nil {
			f.Chunk = *c.Chunk
		}
	case Checkpointed:
		var c CheckpointedData
		if err = json.Unmarshal(data, &c); err == nil && (len(c.Checkpoint) == 0 || c.Checkpoint[0] != '{') {
			return f, fmt.Errorf("%s: data.checkpoint must be an object", name)
		}
	case Completed:
		var c CompletedData
		err = json.Unmarshal(data, &c)
		f.Result = c.Result
	case Failed:
		var e FailedData
		err = json.Unmarshal(data, &e)
		f.Error = e.Error
	case Cancelled:
		var c CancelledData
		err = json.Unmarshal(data, &c)
	default:
		if !json.Valid(data) {
			return f, fmt.Errorf("data of %s is not valid JSON", name)
		}
	}
	if err != nil {
		return Fold{}, fmt.Errorf("data of %s does not fit its schema: %v", name, err)
	}
	return f, nil
}
