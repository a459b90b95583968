package events

import (
	"math"
	"strconv"
)

// AppendJSON appends the state as the JSON object json.Marshal writes for it,
// field for field, without reflection (a store snapshots a job at every
// commit; json.Marshal cost that commit ~5 µs and a stack growth on the
// actor's goroutine). Strings are escaped by AppendString, which leaves '<',
// '>' and '&' as they are (json.Marshal writes \u003c…); both decode the same.
// Input and Result must be valid JSON, as everything that sets them makes
// them (checked or compacted data).
func (s *JobState) AppendJSON(b []byte) []byte {
	b = append(b, `{"jobId":`...)
	b = AppendString(b, s.JobID)
	b = append(b, `,"userId":`...)
	b = AppendString(b, s.UserID)
	b = append(b, `,"type":`...)
	b = AppendString(b, s.Type)
	if len(s.Input) > 0 {
		b = append(b, `,"input":`...)
		b = append(b, s.Input...)
	}
	b = append(b, `,"status":`...)
	b = AppendString(b, string(s.Status))
	b = append(b, `,"progress":`...)
	b = appendFloat(b, s.Progress)
	b = append(b, `,"lastSequence":`...)
	b = strconv.AppendInt(b, s.LastSequence, 10)
	b = append(b, `,"nextOffset":`...)
	b = strconv.AppendInt(b, s.NextOffset, 10)
	b = append(b, `,"epoch":`...)
	b = strconv.AppendUint(b, s.Epoch, 10)
	b = append(b, `,"output":`...)
	b = AppendString(b, s.Output)
	b = append(b, `,"result":`...)
	b = appendRaw(b, s.Result)
	b = append(b, `,"error":`...)
	if s.Error == nil {
		b = append(b, "null"...)
	} else {
		b = AppendString(b, *s.Error)
	}
	b = append(b, `,"createdAt":`...)
	b = strconv.AppendInt(b, s.CreatedAt, 10)
	b = append(b, `,"updatedAt":`...)
	b = strconv.AppendInt(b, s.UpdatedAt, 10)
	b = append(b, `,"completedAt":`...)
	b = appendIntPtr(b, s.CompletedAt)
	b = append(b, `,"failedAt":`...)
	b = appendIntPtr(b, s.FailedAt)
	if s.DataBytes != 0 {
		b = append(b, `,"dataBytes":`...)
		b = strconv.AppendInt(b, s.DataBytes, 10)
	}
	return append(b, '}')
}

func appendRaw(b, raw []byte) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

func appendIntPtr(b []byte, v *int64) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, *v, 10)
}

// appendFloat writes f as encoding/json does (ES6 number formatting); NaN and
// infinities, which JSON cannot carry, become 0.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, '0')
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		// whole numbers (progress mostly is) the way encoding/json writes them,
		// without strconv's float path and its large stack frame
		return strconv.AppendInt(b, int64(f), 10)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 → e-9, as encoding/json
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
