package events

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

var fastSeeds = []string{
	`{"type":"emit","jobId":"j1","offset":3,"event":"model:chunk:v1","data":{"chunk":"a b","ts":12}}`,
	` { "type" : "subscribe" , "id" : 7 , "jobId" : "j-2" , "fromSeq" : 0 } `,
	`{"type":"cancel","id":"c1","jobId":"j","reason":"user"}`,
	`{"type":"ping"}`, `{}`,
	`{"type":"emit","jobId":"j","event":"job:chunk:v1","data":{"chunk":"\u00e9\n","x":[1,{"y":"}"}]}}`,
	// the full decoder's cases
	`{"type":"emit","type":"ping"}`, `{"Type":"ping"}`, `{"type":"emit","offset":1.0}`, `{"type":"emit","offset":-0}`,
	`{"type":"emit","offset":01}`, `{"type":"emit","offset":99999999999999999999}`, `{"type":"emit","data":null}`,
	`{"type":"emit","data":{"a":}}`, `{"type":"emit","data":[]}`, `{"type":"caf\u00e9"}`, "{\"type\":\"caf\xc3\xa9\"}",
	`{"type":"emit","id":{"a":1}}`, `{"type":"emit","id":"x\"y"}`, `{"type":"emit"} x`, `{"type":"emit",}`, `[1]`,
	`{"type":"emit","data":{"a":"]"}}`, `{"type":"emit","data":{"a":[}]}}`, `{"type":"emit","offset":-}`,
}

// TestDecodeInboundFast: the fast path takes the usual objects, and gives what
// encoding/json gives.
func TestDecodeInboundFast(t *testing.T) {
	for i, line := range fastSeeds[:6] {
		var m Inbound
		if !decodeInboundFast([]byte(line), &m) {
			t.Errorf("seed %d: the fast path refused %s", i, line)
		}
	}
	for _, line := range fastSeeds {
		checkFastSameAsJSON(t, []byte(line))
	}
}

func FuzzDecodeInboundFast(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkFastSameAsJSON(t, line) })
}

// checkFastSameAsJSON fails when the fast path takes a line that encoding/json
// refuses or reads differently.
func checkFastSameAsJSON(t *testing.T, line []byte) {
	t.Helper()
	var fast, slow Inbound
	if !decodeInboundFast(line, &fast) {
		return
	}
	if err := json.Unmarshal(line, &slow); err != nil {
		t.Fatalf("the fast path took %q, which encoding/json refuses: %v", line, err)
	}
	if !reflect.DeepEqual(normalized(fast), normalized(slow)) {
		t.Fatalf("%q: fast path %+v, encoding/json %+v", line, fast, slow)
	}
}

func normalized(m Inbound) Inbound {
	if len(m.ID) == 0 {
		m.ID = nil
	}
	if len(m.Data) == 0 {
		m.Data = nil
	}
	return m
}

// The fast path must not share the frame's buffer: the reader reuses it.
func TestDecodeInboundFastCopies(t *testing.T) {
	line := []byte(`{"type":"emit","id":"a","jobId":"j","event":"e:f:v1","data":{"k":1}}`)
	var m Inbound
	if !decodeInboundFast(line, &m) {
		t.Fatal("refused")
	}
	for i := range line {
		line[i] = 'x'
	}
	if !bytes.Equal(m.Data, []byte(`{"k":1}`)) || string(m.ID) != `"a"` || m.JobID != "j" {
		t.Fatalf("decoded values changed with the buffer: %+v", m)
	}
}

func BenchmarkDecodeFrameEmit(b *testing.B) {
	frame := []byte(`{"type":"emit","jobId":"lg1796239223087-12099-867","offset":123,"event":"model:chunk:v1","data":{"chunk":" the quick brown fox jumps over ","ts":1495415652}}`)
	b.ReportAllocs()
	for b.Loop() {
		DecodeFrame(frame, func(*Inbound, *CodedError) {})
	}
}

func FuzzChunkFoldFast(f *testing.F) {
	for _, s := range []string{`{"chunk":"hello","ts":1733}`, `{"chunk":"a b","index":3,"total":-4,"x":{"y":[1,"}"]}}`,
		`{"chunk":"é"}`, `{"chunk":"a\nb"}`, `{"chunk":"a","CHUNK":"b"}`, `{"index":1}`, `{"chunk":"a","index":1.5}`,
		`{"chunk":"a","chunk":"b"}`, `{"chunk":null}`, `{"chunk":"x","t":true,"n":null,"f":-1.5e3}`, `{}`, `{"chunk":"a",}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := chunkFoldFast(data)
		if !ok {
			return
		}
		var slow struct {
			Chunk *string `json:"chunk"`
			Index *int64  `json:"index"`
			Total *int64  `json:"total"`
		}
		if err := json.Unmarshal(data, &slow); err != nil || slow.Chunk == nil {
			t.Fatalf("the fast path took %q (chunk %q), which encoding/json refuses or finds no chunk in: %v", data, fast, err)
		}
		if *slow.Chunk != fast {
			t.Fatalf("%q: fast path chunk %q, encoding/json %q", data, fast, *slow.Chunk)
		}
	})
}

func TestChunkFoldFastTakesTheUsualShape(t *testing.T) {
	for in, want := range map[string]string{`{"chunk":"hello","ts":1733}`: "hello", ` { "index" : 2 , "chunk" : "é b" } `: "é b",
		`{"chunk":"x","meta":{"a":["}",1]},"n":null}`: "x"} {
		if got, ok := chunkFoldFast([]byte(in)); !ok || got != want {
			t.Errorf("%s: %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{`{"chunk":"a\nb"}`, `{"chunk":"a","CHUNK":"b"}`, `{"chunk":"a","index":1.5}`, `{"chunk":"a","chunk":"b"}`, `{}`, `{"index":1}`} {
		if got, ok := chunkFoldFast([]byte(in)); ok {
			t.Errorf("%s: taken (%q); encoding/json should decide", in, got)
		}
	}
}
