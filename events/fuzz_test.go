package events

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"subscribe","id":"1","jobId":"j","fromSeq":3}`,
		"{\"type\":\"ping\"}\n{\"type\":\"emit\",\"jobId\":\"j\",\"offset\":0,\"event\":\"model:chunk:v1\",\"data\":{\"chunk\":\"x\"}}",
		`{"type":"cancel","jobId":"j","reason":"r","id":{"a":[1]}}`, "\n\n", `{"type":`, `[1,2]`, `{"id":1e999}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		DecodeFrame(frame, func(m *Inbound, err *CodedError) {
			if m == nil {
				t.Fatal("nil message")
			}
			if err == nil && m.Type == "" {
				t.Fatalf("accepted an object without type: %s", frame)
			}
			if err != nil && err.Code == "" {
				t.Fatal("error without code")
			}
			// every reply we would send for it must be valid JSON
			out := AppendError(nil, m.ID, m.JobID, "x", "y", -1, 0)
			if !json.Valid(out) {
				t.Fatalf("error reply is not JSON: %s", out)
			}
		})
	})
}

func FuzzNormalizeData(f *testing.F) {
	for _, s := range []string{`{"chunk":"a"}`, `{"progress":5}`, `{"checkpoint":{}}`, `{ "x" : [ 1 , "a b" ] }`, `null`, `{"a":"\u2028"}`} {
		f.Add(Chunk, []byte(s))
		f.Add("x:y:v1", []byte(s))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		out, err := NormalizeData(name, data)
		if err != nil {
			return
		}
		if !json.Valid(out) || !utf8.Valid(out) || out[0] != '{' || !isCompact(out) {
			t.Fatalf("normalized %q to %q", data, out)
		}
		ev := Event{JobID: "j", Seq: 1, Name: "a:b:v1", Data: out, TS: 1}
		ev.Encode()
		if _, err := DecodeEvent(ev.Raw); err != nil {
			t.Fatalf("encoded event does not decode: %s: %v", ev.Raw, err)
		}
	})
}

func FuzzDecodeEvent(f *testing.F) {
	ev := Event{JobID: "j", Seq: 3, Name: Chunk, Data: json.RawMessage(`{"chunk":"x"}`), TS: 9}
	ev.Encode()
	f.Add(ev.Raw)
	f.Add([]byte(`{"type":"event","jobId":"","seq":1}`))
	f.Add([]byte(`{"type":"event","jobId":"j","seq":1,"event":"a:b:v1","data":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEvent(b)
		if err == nil && (e.Seq < 1 || e.JobID == "" || ValidateName(e.Name) != nil) {
			t.Fatalf("accepted %s", b)
		}
	})
}
