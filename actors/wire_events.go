package actors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/actorhub/actorhub/events"
)

// A batch of events crosses between nodes as the journal bytes of each event
// with the fields a receiver needs beside them, so that the batch is encoded
// once for every node it goes to and decoded without parsing JSON:
//
//	uvarint len(jobID) | jobID | uvarint n |
//	n × ( varint seq | varint ts | uvarint len(name) | name | uvarint len(raw) | raw | uvarint dataAt | uvarint len(data) )
//
// where data is raw[dataAt-1 : dataAt-1+len(data)]; dataAt 0 means the data
// could not be located in raw, and the receiver parses raw instead.

// MarshalWire implements cluster.WireMarshaler.
func (m *jobEvents) MarshalWire() ([]byte, error) {
	n := 16 + len(m.JobID)
	for i := range m.Events {
		n += 40 + len(m.Events[i].Name) + len(m.Events[i].Raw)
	}
	b := make([]byte, 0, n)
	b = appendBytes(b, m.JobID)
	b = binary.AppendUvarint(b, uint64(len(m.Events)))
	for i := range m.Events {
		ev := &m.Events[i]
		if len(ev.Raw) == 0 {
			return nil, fmt.Errorf("event %d of job %s has no wire bytes", ev.Seq, m.JobID)
		}
		b = binary.AppendVarint(b, ev.Seq)
		b = binary.AppendVarint(b, ev.TS)
		b = appendBytes(b, ev.Name)
		b = appendBytes(b, ev.Raw)
		at := dataAt(ev)
		b = binary.AppendUvarint(b, uint64(at))
		b = binary.AppendUvarint(b, uint64(len(ev.Data)))
	}
	return b, nil
}

// dataAt locates ev.Data in ev.Raw (1-based; 0: not found). events.Encode
// writes the data right before `,"ts":<ts>}`.
func dataAt(ev *events.Event) int {
	tail := len(`,"ts":}`) + len(strconv.FormatInt(ev.TS, 10))
	end := len(ev.Raw) - tail
	start := end - len(ev.Data)
	if start < 0 || !bytes.Equal(ev.Raw[start:end], ev.Data) {
		return 0
	}
	return start + 1
}

func appendBytes[T ~string | ~[]byte](b []byte, s T) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errShortBatch = errors.New("event batch ends early")

// UnmarshalWire implements cluster.WireUnmarshaler. The events share b.
func (m *jobEvents) UnmarshalWire(b []byte) error {
	r := wireReader{b: b}
	m.JobID = string(r.bytes())
	n := r.uvarint()
	if r.err != nil || m.JobID == "" || n > uint64(len(r.b)) {
		return fmt.Errorf("event batch header: %w", errors.Join(r.err, errShortBatch))
	}
	m.Events = make([]events.Event, 0, n)
	for range n {
		ev := events.Event{JobID: m.JobID, Seq: r.varint(), TS: r.varint(), Name: string(r.bytes()), Raw: r.bytes()}
		at, size := r.uvarint(), r.uvarint()
		if r.err != nil {
			return r.err
		}
		switch {
		case at == 0:
			parsed, err := events.DecodeEvent(ev.Raw)
			if err != nil {
				return err
			}
			if parsed.JobID != m.JobID || parsed.Seq != ev.Seq {
				return fmt.Errorf("event %d: its bytes say job %s seq %d", ev.Seq, parsed.JobID, parsed.Seq)
			}
			ev = parsed
		case at-1 > uint64(len(ev.Raw)) || size > uint64(len(ev.Raw))-(at-1):
			return fmt.Errorf("event %d: data outside its bytes", ev.Seq)
		default:
			ev.Data = ev.Raw[at-1 : at-1+size : at-1+size]
		}
		if ev.Seq < 1 {
			return fmt.Errorf("event seq %d: must be ≥ 1", ev.Seq)
		}
		if err := events.ValidateName(ev.Name); err != nil {
			return err
		}
		m.Events = append(m.Events, ev)
	}
	return r.end("event batch")
}

// wireReader reads what MarshalWire wrote; after the first error every read
// returns zero and err says what failed.
type wireReader struct {
	b   []byte
	err error
}

func (r *wireReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShortBatch
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wireReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShortBatch
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wireReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errShortBatch
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}
