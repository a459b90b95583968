package persistence

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/actorhub/actorhub/events"
)

func TestDecodeSnapshot(t *testing.T) {
	t.Parallel()
	valid, _ := events.NewJob("j1", "u", "t", json.RawMessage(`{"a":1}`), 5)
	good := encodeSnapshot(valid)
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"valid", string(good), true},
		{"empty", "", false},
		{"null", "null", false},
		{"array", "[]", false},
		{"truncated", string(good[:len(good)-3]), false},
		{"trailing data", string(good) + "{}", false},
		{"no job id", `{"status":"created","lastSequence":1}`, false},
		{"bad job id", `{"jobId":"a b","status":"created","lastSequence":1}`, false},
		{"unknown status", `{"jobId":"a","status":"weird","lastSequence":1}`, false},
		{"seq 0", `{"jobId":"a","status":"running","lastSequence":0}`, false},
		{"negative offset", `{"jobId":"a","status":"running","lastSequence":3,"nextOffset":-1}`, false},
		{"wrong type", `{"jobId":"a","status":"running","lastSequence":"3"}`, false},
		{"minimal", `{"jobId":"a","status":"completed","lastSequence":3}`, true},
	}
	for _, c := range cases {
		st, err := decodeSnapshot([]byte(c.in))
		if (err == nil) != c.ok {
			t.Errorf("%s: decodeSnapshot = %+v, %v; want ok=%v", c.name, st, err, c.ok)
		}
		if !c.ok {
			wantErr(t, c.name, err, ErrCorrupt)
		}
	}
	st, _ := decodeSnapshot(good)
	if !sameState(st, valid) {
		t.Fatalf("round trip = %+v; want %+v", st, valid)
	}
}

func TestEncodeSnapshotDropsOutput(t *testing.T) {
	t.Parallel()
	st, _ := events.NewJob("j1", "u", "t", nil, 5)
	st.Output = "a long output"
	b := encodeSnapshot(st)
	if bytes.Contains(b, []byte("a long output")) {
		t.Fatalf("encodeSnapshot = %s; want no output", b)
	}
}

// FuzzDecodeSnapshot: decodeSnapshot never panics, and what it accepts
// survives an encode/decode round trip unchanged.
func FuzzDecodeSnapshot(f *testing.F) {
	st, _ := events.NewJob("job-1", "user", "llm", json.RawMessage(`{"prompt":"x"}`), 1)
	good := encodeSnapshot(st)
	f.Add(good)
	f.Add([]byte(`{"jobId":"a","status":"completed","lastSequence":3,"result":{"x":[1,2]},"error":"e","completedAt":5}`))
	f.Add([]byte(`{"jobId":"a","status":"running","lastSequence":1e3}`))
	f.Add([]byte(`{"jobId":"a\u0000","status":"running","lastSequence":1}`))
	f.Add([]byte(`{"jobId":"a","input":"\xff","status":"running","lastSequence":1}`))
	f.Add([]byte(`[`))
	f.Add([]byte(``))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeSnapshot(b)
		if err != nil {
			return
		}
		enc := encodeSnapshot(st)
		st2, err := decodeSnapshot(enc)
		if err != nil {
			t.Fatalf("accepted %q but not its encoding %q: %v", b, enc, err)
		}
		enc2 := encodeSnapshot(st2)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed the snapshot:\n%s\n%s", enc, enc2)
		}
	})
}

// FuzzDecodeRecord: the embedded store's row decoder never panics.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"epoch":1,"owner":"n","seq":1,"snap":{"jobId":"a","status":"created","lastSequence":1}}`))
	f.Add([]byte(`{"epoch":0}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeRecord("a", b)
		if err == nil && (rec.Epoch < 1 || rec.Seq < 1 || len(rec.Snap) == 0) {
			t.Fatalf("accepted %q as %+v", b, rec)
		}
	})
}

func TestCheckAppend(t *testing.T) {
	t.Parallel()
	j := newJob("j")
	_, evs := j.chunks(2)
	if err := checkAppend(&j.st, "x", evs); err != nil {
		t.Fatalf("checkAppend of a good append: %v", err)
	}
	if err := checkAppend(&j.st, "", nil); err != nil {
		t.Fatalf("checkAppend of a snapshot-only append: %v", err)
	}
	zero := evs[0]
	zero.Seq = 0
	st := j.st
	st.LastSequence = 0
	wantErr(t, "seq 0", checkAppend(&st, "", []events.Event{zero}), ErrInvalid)
}

// FuzzDecodeJournal: a Redis journal entry never makes the decoder panic; an
// entry it accepts holds the seq and job asked for, and an offset entry made
// of an accepted event decodes back to the same event and offset.
func FuzzDecodeJournal(f *testing.F) {
	ev := events.Event{JobID: "job-1", Seq: 3, Name: events.Chunk, Data: json.RawMessage(`{"chunk":"hi"}`), TS: 5}
	ev.Encode()
	f.Add(ev.Raw)
	f.Add(offsetEntry(nil, 7, ev.Raw))
	f.Add([]byte("+12"))
	f.Add([]byte("+ {}"))
	f.Add([]byte("+99999999999999999999 {}"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, next, hasOffset, err := decodeJournal("job-1", 3, b)
		if err != nil {
			return
		}
		if got.JobID != "job-1" || got.Seq != 3 || next < 0 || (!hasOffset && next != 0) {
			t.Fatalf("accepted %q as %+v offset %d (%v)", b, got, next, hasOffset)
		}
		again, next2, has2, err := decodeJournal("job-1", 3, offsetEntry(nil, 42, got.Raw))
		if err != nil || !has2 || next2 != 42 || !bytes.Equal(again.Raw, got.Raw) {
			t.Fatalf("offset entry of %q = %+v offset %d (%v), %v", got.Raw, again, next2, has2, err)
		}
	})
}
