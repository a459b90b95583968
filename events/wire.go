package events

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Types of the objects that clients and workers send (WebSocket).
const (
	TypeSubscribe   = "subscribe"
	TypeUnsubscribe = "unsubscribe"
	TypeCancel      = "cancel"
	TypePing        = "ping"
	TypeEmit        = "emit"
	TypeCreate      = "create"
	TypeRefresh     = "refresh" // a fresh token for the connection (--auth jwt)
)

// Types of the objects a node sends.
const (
	TypeConnected    = "connected"
	TypeSubscribed   = "subscribed"
	TypeUnsubscribed = "unsubscribed"
	TypeEvent        = "event"
	TypeAck          = "ack"
	TypePong         = "pong"
	TypeError        = "error"
	TypeReconnect    = "reconnect"
	TypeCreated      = "created"        // answers create
	TypeCancelled    = "cancelled"      // to a worker: a job it emitted to was cancelled
	TypeRefreshed    = "refreshed"      // answers refresh
	TypeTokenExpiry  = "token_expiring" // the connection's token ends soon: send refresh
)

// Inbound is any object a client or worker sends; which fields count depends on Type.
type Inbound struct {
	Type    string          `json:"type"`
	ID      json.RawMessage `json:"id,omitempty"` // echoed back as it came (string or number)
	JobID   string          `json:"jobId,omitempty"`
	FromSeq *int64          `json:"fromSeq,omitempty"` // subscribe
	Reason  string          `json:"reason,omitempty"`  // cancel
	Offset  *int64          `json:"offset,omitempty"`  // emit
	Event   string          `json:"event,omitempty"`   // emit
	Data    json.RawMessage `json:"data,omitempty"`    // emit
	JobType string          `json:"jobType,omitempty"` // create
	Input   json.RawMessage `json:"input,omitempty"`   // create
	Token   string          `json:"token,omitempty"`   // refresh
}

// MaxJobIDLen bounds a job id.
const MaxJobIDLen = 128

// ValidateJobID checks a job id: 1–128 bytes of printable ASCII other than '/',
// '?', '#', '%', '{', '}' and space, so that it fits in a URL path and a store key.
func ValidateJobID(id string) error {
	if id == "" {
		return fmt.Errorf("jobId is required")
	}
	if len(id) > MaxJobIDLen {
		return fmt.Errorf("jobId is %d bytes; the limit is %d", len(id), MaxJobIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == '/' || c == '?' || c == '#' || c == '%' || c == '{' || c == '}' || c == '"' || c == '\\' {
			return fmt.Errorf("jobId %q has a character outside printable ASCII or one of / ? # %% { } \" \\ and space", id)
		}
	}
	return nil
}

// DecodeFrame splits a text frame into its objects ('\n'-separated; blank lines
// are skipped) and calls fn for each, in order, with either a checked message
// or the error to send back (msg then carries whatever could be read of it, for
// its id). fn may keep msg. It never panics on any input.
func DecodeFrame(frame []byte, fn func(msg *Inbound, err *CodedError)) {
	for {
		line, rest := NextLine(frame)
		if line == nil {
			return
		}
		frame = rest
		m := new(Inbound)
		fn(m, DecodeLine(line, m))
	}
}

// NextLine cuts a frame's next object off it: its next line that is not
// blank, trimmed, or nil when there is none.
func NextLine(frame []byte) (line, rest []byte) {
	for len(frame) > 0 {
		line, frame, _ = bytes.Cut(frame, []byte{'\n'})
		if line = bytes.TrimSpace(line); len(line) > 0 {
			return line, frame
		}
	}
	return nil, nil
}

// DecodeLine decodes one object into m, which it sets whole and does not
// keep, and checks it: it returns the error to send back, and m then carries
// whatever could be read (for its id). It never panics on any input. Unlike
// DecodeFrame's, the caller's m may live on its stack: a worker's reader keeps
// a few fields of an emit, not the Inbound (transport.decodeWorkerFrame).
func DecodeLine(line []byte, m *Inbound) *CodedError {
	*m = Inbound{}
	if decodeInboundFast(line, m) {
		return m.check()
	}
	var slow Inbound // encoding/json keeps what it decodes into: not m
	err := json.Unmarshal(line, &slow)
	*m = slow
	if err != nil {
		return &CodedError{Code: CodeBadFrame, Err: fmt.Errorf("not a JSON object: %v", err)}
	}
	return m.check()
}

func (m *Inbound) check() *CodedError {
	bad := func(format string, a ...any) *CodedError {
		return &CodedError{Code: CodeBadRequest, Err: fmt.Errorf(format, a...)}
	}
	switch m.Type {
	case TypePing:
		return nil
	case TypeCreate:
		if m.JobID != "" {
			if err := ValidateJobID(m.JobID); err != nil {
				return bad("create: %v", err)
			}
		}
		if m.JobType == "" || len(m.JobType) > 128 {
			return bad("create: jobType is required (at most 128 bytes)")
		}
		return nil
	case TypeRefresh:
		if m.Token == "" || len(m.Token) > 16<<10 {
			return bad("refresh: token is required (at most 16 KiB)")
		}
		return nil
	case TypeSubscribe, TypeUnsubscribe, TypeCancel, TypeEmit:
	case "":
		return bad("type is required")
	default:
		return &CodedError{Code: CodeUnknownType, Err: fmt.Errorf("unknown type %q", m.Type)}
	}
	if err := ValidateJobID(m.JobID); err != nil {
		return bad("%s: %v", m.Type, err)
	}
	switch m.Type {
	case TypeSubscribe:
		if m.FromSeq != nil && *m.FromSeq < 0 {
			return bad("subscribe: fromSeq must be ≥ 0")
		}
	case TypeEmit:
		if m.Offset != nil && *m.Offset < 0 {
			return bad("emit: offset must be ≥ 0")
		}
		if err := ValidateName(m.Event); err != nil {
			return &CodedError{Code: CodeBadEventName, Err: err}
		}
	}
	return nil
}

func appendJSON(b []byte, v any) []byte {
	out, err := json.Marshal(v)
	if err != nil { // an id echoed back that does not encode: say so instead
		return append(b, `{"type":"error","code":"bad_request","message":"the id of this request cannot be echoed back"}`...)
	}
	return append(b, out...)
}
