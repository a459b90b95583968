package transport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/persistence"
	"github.com/actorhub/actorhub/transport"
	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

// node is one node in this process: a hub on the embedded store behind a
// server on a free loopback port.
type node struct {
	hub  *actors.Hub
	srv  *transport.Server
	addr string
}

// single is the cluster view of a node alone.
type single struct{}

func (single) Members() (string, []transport.Member) { return "n1", nil }
func (single) Joined() bool                          { return true }

// startNode runs a node; tune, if not nil, adjusts the hub's config.
func startNode(t testing.TB, tune func(*actors.Config)) *node {
	t.Helper()
	return startNodeWith(t, tune, nil)
}

// startNodeWith runs a node whose server's config ttune, if not nil, adjusts.
func startNodeWith(t testing.TB, tune func(*actors.Config), ttune func(*transport.Config)) *node {
	t.Helper()
	store, err := persistence.OpenBolt(filepath.Join(t.TempDir(), "node.db"), persistence.DefaultLocalConfig())
	if err != nil {
		t.Fatal(err)
	}
	acfg := actors.DefaultLocalConfig()
	acfg.NodeID = "n1"
	if tune != nil {
		tune(&acfg)
	}
	reg := prometheus.NewRegistry()
	hub, err := actors.New(acfg, store, actors.NewMetrics(reg), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	tcfg := transport.DefaultConfig()
	tcfg.Addr, tcfg.NodeID = "127.0.0.1:0", "n1"
	if ttune != nil {
		ttune(&tcfg)
	}
	srv, err := transport.New(tcfg, hub, single{}, reg, nil)
	if err == nil {
		err = srv.Start(t.Context())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Error(err)
		}
		if err := hub.Stop(ctx); err != nil {
			t.Error(err)
		}
		store.Close()
	})
	return &node{hub: hub, srv: srv, addr: srv.Addr()}
}

// obj is one JSON object a node sent.
type obj map[string]any

func (o obj) str(k string) string { s, _ := o[k].(string); return s }
func (o obj) num(k string) int64  { f, _ := o[k].(float64); return int64(f) }

// wsClient is a raw WebSocket: a reader queues every object the node sends.
type wsClient struct {
	t    *testing.T
	c    *websocket.Conn
	objs chan obj
	end  error // why the reader stopped; read it once objs is closed
}

func (n *node) dial(t *testing.T, path string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+n.addr+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	w := &wsClient{t: t, c: c, objs: make(chan obj, 1024)}
	go func() {
		defer close(w.objs)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				w.end = err
				return
			}
			for line := range bytes.SplitSeq(b, []byte("\n")) {
				var o obj
				if err := json.Unmarshal(line, &o); err != nil {
					t.Errorf("the node sent a line that is not a JSON object: %q", line)
					continue
				}
				w.objs <- o
			}
		}
	}()
	t.Cleanup(func() {
		c.CloseNow()
		for range w.objs { // the reader ends
		}
	})
	return w
}

func (w *wsClient) send(s string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// next returns the next object, failing after 10 s or when the connection
// closed.
func (w *wsClient) next() obj {
	w.t.Helper()
	select {
	case o, ok := <-w.objs:
		if !ok {
			w.t.Fatal("the connection closed")
		}
		return o
	case <-time.After(10 * time.Second):
		w.t.Fatal("nothing came within 10 s")
	}
	return nil
}

// expect reads objects until one of type typ comes and returns it and the
// ones before it.
func (w *wsClient) expect(typ string) (obj, []obj) {
	w.t.Helper()
	var skipped []obj
	for {
		o := w.next()
		if o.str("type") == typ {
			return o, skipped
		}
		skipped = append(skipped, o)
	}
}

// post calls the HTTP API and returns the status and the decoded answer.
func (n *node) post(t testing.TB, path, body string) (int, obj) {
	t.Helper()
	resp, err := http.Post("http://"+n.addr+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var o obj
	_ = json.Unmarshal(b, &o)
	return resp.StatusCode, o
}

// journal returns the names of a job's events, in seq order.
func (n *node) journal(t *testing.T, jobID string) []string {
	t.Helper()
	evs, err := n.hub.Events(t.Context(), jobID, 0, 1000)
	if err != nil {
		t.Fatalf("events of %s: %v", jobID, err)
	}
	var names []string
	for _, ev := range evs {
		names = append(names, ev.Name)
	}
	return names
}

func count(names []string, name string) int {
	n := 0
	for _, s := range names {
		if s == name {
			n++
		}
	}
	return n
}

func chunkEmit(jobID string, off int, text string) string {
	return fmt.Sprintf(`{"type":"emit","jobId":%q,"offset":%d,"event":"model:chunk:v1","data":{"chunk":%q}}`, jobID, off, text)
}
