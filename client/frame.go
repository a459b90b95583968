package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/coder/websocket"
)

// DefaultMaxFrameBytes bounds the frames (and HTTP batches) this package
// writes; a node refuses frames over 64 KiB.
const DefaultMaxFrameBytes = 60 << 10

// serverMsg is what the client reads of any object a node sends: the fields of
// the types it handles and nothing else. One is reused from object to object
// (decode resets it), so that Data keeps its buffer.
type serverMsg struct {
	Type         string          `json:"type"`
	JobID        string          `json:"jobId"`
	Seq          int64           `json:"seq"`
	Event        string          `json:"event"`
	Data         json.RawMessage `json:"data"`
	TS           int64           `json:"ts"`
	Code         string          `json:"code"`
	Message      string          `json:"message"`
	NextOffset   int64           `json:"nextOffset"` // -1 when absent
	Epoch        uint64          `json:"epoch"`      // of the incarnation that answered an emit; 0 when absent
	LastSequence int64           `json:"lastSequence"`
	Status       string          `json:"status"`
	AfterMs      int64           `json:"afterMs"`
	Reason       string          `json:"reason"` // of a cancelled job, or a reconnect
	NodeID       string          `json:"nodeId"`
	Node         string          `json:"node"` // of an ack: the node that holds the job, when not the connection's
	SessionID    string          `json:"sessionId"`
}

// errNotObject: a line that is valid JSON but not an object.
var errNotObject = errors.New("not a JSON object")

// decode parses one object into m, reusing m.Data's buffer. Fields the object
// lacks are zero (NextOffset -1).
func (m *serverMsg) decode(line []byte) error {
	*m = serverMsg{Data: m.Data[:0], NextOffset: -1}
	if len(line) == 0 || line[0] != '{' {
		return errNotObject
	}
	return json.Unmarshal(line, m)
}

// forEachLine calls fn with every non-blank line of a frame ('\n'-separated, a
// trailing '\r' and surrounding spaces trimmed), in order, until fn returns false.
func forEachLine(frame []byte, fn func(line []byte) bool) {
	for len(frame) > 0 {
		var line []byte
		line, frame, _ = bytes.Cut(frame, []byte{'\n'})
		line = bytes.TrimSpace(line)
		if len(line) > 0 && !fn(line) {
			return
		}
	}
}

// appendLine appends obj to the frame buf when the result stays within limit
// (objects separated by '\n'); an empty buf takes any obj. It reports whether
// obj was added.
func appendLine(buf, obj []byte, limit int) ([]byte, bool) {
	if len(buf) == 0 {
		return append(buf, obj...), true
	}
	if len(buf)+1+len(obj) > limit {
		return buf, false
	}
	buf = append(buf, '\n')
	return append(buf, obj...), true
}

// packFrames joins objs, in order, into as few frames of at most limit bytes as
// it can; an object longer than limit gets a frame of its own.
func packFrames(objs [][]byte, limit int) [][]byte {
	var frames [][]byte
	var cur []byte
	for _, o := range objs {
		var ok bool
		if cur, ok = appendLine(cur, o, limit); !ok {
			frames = append(frames, cur)
			cur, _ = appendLine(nil, o, limit)
		}
	}
	if len(cur) > 0 {
		frames = append(frames, cur)
	}
	return frames
}

// readFrame reads the next message of conn into buf (reused, grown as needed).
// Cancelling ctx closes the connection (coder/websocket); a ctx without Done
// costs nothing per read, so long-lived readers pass context.Background() and
// close the connection to stop.
func readFrame(ctx context.Context, conn *websocket.Conn, buf []byte) ([]byte, error) {
	_, r, err := conn.Reader(ctx)
	if err != nil {
		return buf[:0], err
	}
	return readAll(r, buf[:0])
}

// readAll appends everything r has to b, growing it as bytes.Buffer would.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
