package actors

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/actorhub/actorhub/events"
)

// A worker's emit and its answer cross between nodes (worker's node → owner →
// back) on every event whose job lives elsewhere, so they have encodings of
// their own rather than JSON:
//
//	emit:       uvarint n | n × ( varint offset | bytes name | bytes data )
//	EmitResult: bytes job | varint next | varint last | bytes status | uvarint acks | uvarint epoch |
//	            byte hasErr | [ bytes code | bytes message ]
//
// where bytes is uvarint length then the bytes. The receiver checks an emit's
// names and data as it checks a worker's (emit.Check).

// MarshalWire implements cluster.WireMarshaler.
func (m *emit) MarshalWire() ([]byte, error) {
	n := 8
	for i := range m.Items {
		n += 24 + len(m.Items[i].Name) + len(m.Items[i].Data)
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(m.Items)))
	for i := range m.Items {
		it := &m.Items[i]
		b = binary.AppendVarint(b, it.Offset)
		b = appendBytes(b, it.Name)
		b = appendBytes(b, it.Data)
	}
	return b, nil
}

// UnmarshalWire implements cluster.WireUnmarshaler. The items' data share b.
func (m *emit) UnmarshalWire(b []byte) error {
	r := wireReader{b: b}
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		return fmt.Errorf("emit header: %w", errors.Join(r.err, errShortBatch))
	}
	m.Items = make([]EmitItem, 0, n)
	for range n {
		it := EmitItem{Offset: r.varint(), Name: string(r.bytes()), Data: r.bytes()}
		if r.err != nil {
			return fmt.Errorf("emit item %d: %w", len(m.Items), r.err)
		}
		if it.Offset < NoOffset {
			return fmt.Errorf("emit item %d: offset %d", len(m.Items), it.Offset)
		}
		m.Items = append(m.Items, it)
	}
	return r.end("emit")
}

// MarshalWire implements cluster.WireMarshaler.
func (m *EmitResult) MarshalWire() ([]byte, error) {
	b := make([]byte, 0, 48+len(m.JobID))
	b = appendBytes(b, m.JobID)
	b = binary.AppendVarint(b, m.NextOffset)
	b = binary.AppendVarint(b, m.LastSequence)
	b = appendBytes(b, string(m.Status))
	b = binary.AppendUvarint(b, uint64(max(m.Acks, 0)))
	b = binary.AppendUvarint(b, m.Epoch)
	if m.Err == nil {
		return append(b, 0), nil
	}
	b = append(b, 1)
	b = appendBytes(b, m.Err.Code)
	return appendBytes(b, m.Err.Error()), nil
}

// UnmarshalWire implements cluster.WireUnmarshaler.
func (m *EmitResult) UnmarshalWire(b []byte) error {
	r := wireReader{b: b}
	m.JobID = string(r.bytes())
	m.NextOffset, m.LastSequence = r.varint(), r.varint()
	m.Status = events.Status(r.bytes())
	acks := r.uvarint()
	if acks > 1<<20 {
		return fmt.Errorf("emit result: %d acks", acks)
	}
	m.Acks = int(acks)
	m.Epoch = r.uvarint()
	switch r.byte() {
	case 0:
	case 1:
		code, msg := string(r.bytes()), string(r.bytes())
		m.Err = &events.CodedError{Code: code, Err: errors.New(msg)}
	default:
		if r.err == nil {
			return errors.New("emit result: bad error flag")
		}
	}
	if r.err != nil {
		return fmt.Errorf("emit result: %w", r.err)
	}
	return r.end("emit result")
}

func (r *wireReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errShortBatch
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// end reports bytes left after a message: a reader read all of what it got.
func (r *wireReader) end(what string) error {
	if r.err != nil {
		return fmt.Errorf("%s: %w", what, r.err)
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%s: %d bytes past its end", what, len(r.b))
	}
	return nil
}
