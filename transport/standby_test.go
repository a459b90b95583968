package transport_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestStandby: a node on standby answers /readyz 503 with its reason,
// refuses new WebSockets, tells its clients to reconnect elsewhere and closes
// them and its workers with 1012; off standby it takes connections again.
func TestStandby(t *testing.T) {
	n := startNode(t, nil)
	client, worker := n.dial(t, "/ws"), n.dial(t, "/ws/worker")
	client.expect("connected") // both are the node's now
	worker.send(`{"type":"ping"}`)
	worker.expect("pong")
	n.srv.SetStandby("minority: it reaches 1 of the 3 nodes that use the store")

	if o, _ := client.expect("reconnect"); o.num("afterMs") < 1 || o.str("reason") != "node on standby" {
		t.Fatalf("reconnect = %v", o)
	}
	for name, c := range map[string]*wsClient{"client": client, "worker": worker} {
		for open := true; open; { // until the node closes it
			select {
			case _, open = <-c.objs:
			case <-time.After(10 * time.Second):
				t.Fatalf("the node did not close the %s's connection within 10 s", name)
			}
		}
		if got := websocket.CloseStatus(c.end); got != websocket.StatusServiceRestart {
			t.Errorf("%s closed with %v (%v), want 1012", name, got, c.end)
		}
	}

	resp, err := http.Get("http://" + n.addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if resp.StatusCode != 503 || st["status"] != "standby" || st["reason"] == "" {
		t.Fatalf("/readyz on standby: %d %v", resp.StatusCode, st)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, hr, err := websocket.Dial(ctx, "ws://"+n.addr+"/ws", nil)
	if err == nil || hr == nil || hr.StatusCode != 503 {
		t.Fatalf("a WebSocket on standby: %v, %v; want 503", hr, err)
	}

	n.srv.SetStandby("")
	if resp, err = http.Get("http://" + n.addr + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz off standby: %v %v", resp, err)
	}
	resp.Body.Close()
	c, _, err := websocket.Dial(ctx, "ws://"+n.addr+"/ws", nil)
	if err != nil {
		t.Fatalf("a WebSocket off standby: %v", err)
	}
	c.CloseNow()
}
