package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// obj is one JSON object a node sent.
type obj map[string]any

func (o obj) str(k string) string { s, _ := o[k].(string); return s }
func (o obj) num(k string) int64  { f, _ := o[k].(float64); return int64(f) }

// wsc is a raw WebSocket client: every object it reads is split out of frames
// and queued, so tests can wait for the one they expect.
type wsc struct {
	t    testing.TB
	c    *websocket.Conn
	objs chan obj
	done chan error
}

func dial(t testing.TB, url string) *wsc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c.SetReadLimit(8 << 20)
	w := &wsc{t: t, c: c, objs: make(chan obj, 100000), done: make(chan error, 1)}
	go func() {
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				w.done <- err
				close(w.objs)
				return
			}
			for _, line := range bytes.Split(b, []byte("\n")) {
				var o obj
				if err := json.Unmarshal(line, &o); err != nil {
					t.Errorf("node sent a line that is not a JSON object: %q", line)
					continue
				}
				w.objs <- o
			}
		}
	}()
	t.Cleanup(func() { c.CloseNow() })
	return w
}

func (w *wsc) send(s string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// next returns the next object, failing after d.
func (w *wsc) next(d time.Duration) obj {
	w.t.Helper()
	select {
	case o, ok := <-w.objs:
		if !ok {
			w.t.Fatalf("connection closed: %v", <-w.done)
		}
		return o
	case <-time.After(d):
		w.t.Fatalf("no object within %s", d)
	}
	return nil
}

// objectWait bounds the wait for an expected object: longer than a node's own
// RequestTimeout (10 s), so that on a busy machine a test sees the answer, or
// the error the node gives when a request got none, instead of giving up first.
const objectWait = 30 * time.Second

// expect reads objects until one of type typ arrives (others are returned too).
func (w *wsc) expect(typ string) (obj, []obj) {
	w.t.Helper()
	var skipped []obj
	for {
		o := w.next(objectWait)
		if o.str("type") == typ {
			return o, skipped
		}
		skipped = append(skipped, o)
	}
}

// closed waits for the connection to end and returns its close status.
func (w *wsc) closed(d time.Duration) websocket.StatusCode {
	w.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case _, ok := <-w.objs:
			if !ok {
				return websocket.CloseStatus(<-w.done)
			}
		case <-deadline:
			w.t.Fatalf("connection still open after %s", d)
		}
	}
}

// events reads event objects until the one with seq `last`, checking that
// seqs run from `after`+1 without gap or duplicate.
func (w *wsc) events(jobID string, after, last int64) []obj {
	w.t.Helper()
	var out []obj
	want := after + 1
	for want <= last {
		o := w.next(objectWait)
		if o.str("type") != "event" || o.str("jobId") != jobID {
			continue
		}
		if got := o.num("seq"); got != want {
			w.t.Fatalf("job %s: seq %d, want %d (contract: no gap, no duplicate)", jobID, got, want)
		}
		out = append(out, o)
		want++
	}
	return out
}

// api calls the HTTP API and decodes the answer.
func api(t testing.TB, method, url, body string) (int, obj) {
	t.Helper()
	return apiAs(t, "", method, url, body)
}

// apiAs is api with Authorization: Bearer token (none when token is "").
func apiAs(t testing.TB, token, method, url, body string) (int, obj) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var o obj
	if len(bytes.TrimSpace(b)) > 0 && json.Unmarshal(b, &o) != nil {
		t.Fatalf("%s %s: %d answer is not a JSON object: %s", method, url, resp.StatusCode, b)
	}
	return resp.StatusCode, o
}

func mustAPI(t testing.TB, status int, method, url, body string) obj {
	t.Helper()
	got, o := api(t, method, url, body)
	if got != status {
		t.Fatalf("%s %s %s: %d %v, want %d", method, url, body, got, o, status)
	}
	return o
}

func chunkEmit(jobID string, off int64, text string) string {
	return fmt.Sprintf(`{"type":"emit","jobId":%q,"offset":%d,"event":"model:chunk:v1","data":{"chunk":%q}}`, jobID, off, text)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
