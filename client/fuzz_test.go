package client

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzClientDecode feeds arbitrary frames to the client's frame decoder: it
// must never panic, must accept only valid JSON, must give the same result in
// a reused message as in a fresh one, and packing the lines back into frames
// must give the same lines in the same order.
func FuzzClientDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"connected","sessionId":"s1","nodeId":"n1","userId":"bench"}`,
		`{"type":"event","jobId":"j1","seq":1,"event":"job:created:v1","data":{"userId":"u","type":"t"},"ts":1}` + "\n" +
			`{"type":"event","jobId":"j1","seq":2,"event":"model:chunk:v1","data":{"chunk":"a\nb","ts":7},"ts":2}`,
		`{"type":"subscribed","id":"1","jobId":"j1","status":"running","lastSequence":9,"epoch":2}`,
		`{"type":"ack","jobId":"j1","nextOffset":12,"lastSequence":14}` + "\r\n\r\n" + `{"type":"pong"}`,
		`{"type":"error","jobId":"j1","code":"offset_gap","message":"expected 3","nextOffset":3}`,
		`{"type":"reconnect","afterMs":1500,"reason":"draining"}`,
		`{"type":"cancelled","jobId":"j1","reason":"user \u00e9"}` + "\n" + `{"type":"cancelled","jobId":"j2"}`,
		`{"type":"event","seq":-1,"data":null}`,
		`{"seq":1e3}`, `{"nextOffset":null}`, `[]`, `{`, "\n\n", `{"data":{"a":[1,2,{"b":"\u00e9"}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		var reused serverMsg
		var lines [][]byte
		forEachLine(frame, func(line []byte) bool {
			lines = append(lines, line)
			var fresh serverMsg
			errFresh := fresh.decode(line)
			errReused := reused.decode(line)
			if (errFresh == nil) != (errReused == nil) {
				t.Fatalf("fresh and reused decode disagree on %q: %v / %v", line, errFresh, errReused)
			}
			if errFresh != nil {
				return true
			}
			if !json.Valid(line) {
				t.Fatalf("decoded invalid JSON %q", line)
			}
			if len(fresh.Data) > 0 && !json.Valid(fresh.Data) {
				t.Fatalf("data %q of %q is not valid JSON", fresh.Data, line)
			}
			// a nil and an empty RawMessage are the same absence
			if len(fresh.Data) == 0 {
				fresh.Data = reused.Data[:0]
			}
			if !reflect.DeepEqual(fresh, reused) {
				t.Fatalf("reused decode of %q = %+v, fresh = %+v", line, reused, fresh)
			}
			return true
		})
		var back [][]byte
		for _, fr := range packFrames(lines, 64) {
			forEachLine(fr, func(l []byte) bool { back = append(back, l); return true })
		}
		if len(back) != len(lines) {
			t.Fatalf("packFrames: %d lines back, want %d", len(back), len(lines))
		}
		for i := range back {
			if !bytes.Equal(back[i], lines[i]) {
				t.Fatalf("packFrames: line %d = %q, want %q", i, back[i], lines[i])
			}
		}
	})
}
