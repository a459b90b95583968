package events

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Event is one entry of a job's journal, as clients see it:
// {"type":"event","jobId","seq","event","data","ts"}.
type Event struct {
	JobID string          `json:"jobId"`
	Seq   int64           `json:"seq"`
	Name  string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	TS    int64           `json:"ts"` // ms since the Unix epoch, set by the hub when it accepted the event
	// Raw is the wire object, encoded once by Encode and then shared: the journal
	// stores it, fan-out sends it, replay reads it back. Not part of the JSON.
	Raw []byte `json:"-"`
}

// The fixed text of an encoded event, piece by piece: Encode writes these and
// sizes its buffer from them.
const (
	encHead  = `{"type":"event","jobId":`
	encSeq   = `,"seq":`
	encName  = `,"event":`
	encData  = `,"data":`
	encTS    = `,"ts":`
	encTail  = `}`
	encFixed = len(encHead+encSeq+encName+encData+encTS+encTail) + 4 // and the quotes of the id and the name
)

// emptyData is what an event without data encodes as its data.
var emptyData = []byte("{}")

// intLen is the length of n in decimal.
func intLen(n int64) int {
	l, u := 1, uint64(n)
	if n < 0 {
		l, u = 2, -u
	}
	for ; u >= 10; u /= 10 {
		l++
	}
	return l
}

// Encode sets Raw to the event's wire object, and Data to its copy in Raw.
// Data must be compact JSON (NormalizeData returns it so).
func (e *Event) Encode() {
	data := e.Data
	if len(data) == 0 {
		data = emptyData
	}
	// the exact size unless a string needs escapes: the buffer is kept by
	// every event a feed's ring or a pending batch holds
	b := make([]byte, 0, encFixed+len(e.JobID)+len(e.Name)+len(data)+intLen(e.Seq)+intLen(e.TS))
	b = append(b, encHead...)
	b = AppendString(b, e.JobID)
	b = append(b, encSeq...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, encName...)
	b = AppendString(b, e.Name)
	b = append(b, encData...)
	at := len(b)
	b = append(b, data...)
	end := len(b)
	b = append(b, encTS...)
	b = strconv.AppendInt(b, e.TS, 10)
	e.Raw = append(b, encTail...)
	if len(e.Data) > 0 {
		// Data from here on is the copy inside Raw: an event that a feed's
		// ring or a pending batch holds keeps one buffer, not two
		e.Data = e.Raw[at:end:end]
	}
}

// DecodeEvent parses a wire object (a journal entry) back into an Event whose
// Raw is b. It fails on anything that is not an event object with a job id, a
// positive seq and a valid name.
func DecodeEvent(b []byte) (Event, error) {
	var w struct {
		Type string `json:"type"`
		Event
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	e := w.Event
	if w.Type != "event" || e.JobID == "" || e.Seq < 1 {
		return Event{}, fmt.Errorf("decode event: not an event object (type %q, jobId %q, seq %d)", w.Type, e.JobID, e.Seq)
	}
	if err := ValidateName(e.Name); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	e.Raw = b
	return e, nil
}

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does; '<', '>' and '&' are left as they are.
func AppendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendJSONObject appends a flat object of string fields given as key, value pairs.
func AppendJSONObject(b []byte, kv ...string) []byte {
	b = append(b, '{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, kv[i])
		b = append(b, ':')
		b = AppendString(b, kv[i+1])
	}
	return append(b, '}')
}
