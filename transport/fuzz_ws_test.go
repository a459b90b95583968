package transport_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// FuzzWebSocketFrames sends arbitrary frames to a real node's /ws and
// /ws/worker: whatever comes in, the node answers (or closes the connection
// with a status) and keeps serving; a panic anywhere on the read path fails
// the fuzzer, since the node runs in this process.
func FuzzWebSocketFrames(f *testing.F) {
	for _, seed := range []string{
		`{"type":"subscribe","jobId":"j"}`, `{"type":"refresh","token":"x"}`, `{"type":"create","jobType":"t"}`,
		`{"type":"emit","jobId":"j","offset":0,"event":"model:chunk:v1","data":{"chunk":"a"}}`,
		`{"type":"cancel","jobId":"j","reason":"r"}` + "\n" + `{bad`, "\xff\xfe", `{"type":"ping","id":{"a":[1]}}`,
		`{"type":"emit","jobId":"j","offset":-1,"event":"x:y:v1","data":{}}`, "",
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	n := startNode(f, nil)
	f.Fuzz(func(t *testing.T, frame []byte, worker bool) {
		path := "/ws"
		if worker {
			path = "/ws/worker"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, "ws://"+n.addr+path, nil)
		if err != nil {
			t.Fatalf("the node does not take a connection: %v", err)
		}
		defer c.CloseNow()
		c.SetReadLimit(8 << 20)
		if err := c.Write(ctx, websocket.MessageText, frame); err != nil {
			return // closed already: a status was given
		}
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping","id":"fuzz-end"}`)); err != nil {
			return
		}
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("no pong and no close within 10 s after %q", frame)
				}
				return // closed with a status (too many errors, a frame too large…)
			}
			if bytes.Contains(b, []byte(`{"type":"pong","id":"fuzz-end"}`)) { // objects share frames
				return
			}
		}
	})
}
