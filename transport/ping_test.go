package transport_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorhub/actorhub/transport"
	"github.com/coder/websocket"
)

// TestPingIdleClient: an idle client answers the server's pings and stays
// connected, and between frames no goroutine reads its connection: its socket
// waits in rawio's poller (connReader.resume), and the reader took the pongs
// off the wire. A reader that coder/websocket had handed a pong would be
// parked in its frame reader until the client next sent something.
func TestPingIdleClient(t *testing.T) {
	n := startNodeWith(t, nil, func(c *transport.Config) {
		c.PingInterval, c.PingTimeout = 400*time.Millisecond, 400*time.Millisecond
	})
	var pings atomic.Int64
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+n.addr+"/ws", &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool { pings.Add(1); return true }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	got := make(chan []byte, 16)
	go func() {
		defer close(got)
		for { // reading answers the pings
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			got <- b
		}
	}()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping","id":"a"}`)); err != nil {
		t.Fatal(err)
	}
	waitPong(t, got, "a")
	for pings.Load() < 4 {
		if ctx.Err() != nil {
			t.Fatalf("%d pings in 30 s", pings.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitNoReader(ctx, t)
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping","id":"b"}`)); err != nil {
		t.Fatal(err)
	}
	waitPong(t, got, "b")
}

// TestPingerParksWithoutSessions: while no session is live the pinger parks
// (an idle node is not woken for it), and the first session to come wakes it:
// that client is pinged, and so is one that comes after the pinger parked
// again.
func TestPingerParksWithoutSessions(t *testing.T) {
	n := startNodeWith(t, nil, func(c *transport.Config) {
		c.PingInterval, c.PingTimeout = 200*time.Millisecond, 200*time.Millisecond
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	parked := func() {
		t.Helper()
		for !n.srv.PingerIdle() {
			if ctx.Err() != nil {
				t.Fatal("the pinger did not park in 30 s with no session")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for round := range 2 {
		parked()
		var pings atomic.Int64
		c, _, err := websocket.Dial(ctx, "ws://"+n.addr+"/ws", &websocket.DialOptions{
			OnPingReceived: func(context.Context, []byte) bool { pings.Add(1); return true }})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		read := make(chan struct{})
		go func() {
			defer close(read)
			for { // reading answers the pings
				if _, _, err := c.Read(ctx); err != nil {
					return
				}
			}
		}()
		for pings.Load() < 2 {
			if ctx.Err() != nil {
				t.Fatalf("round %d: %d pings in 30 s (parked: %v)", round, pings.Load(), n.srv.PingerIdle())
			}
			time.Sleep(5 * time.Millisecond)
		}
		c.Close(websocket.StatusNormalClosure, "")
		<-read
	}
	parked()
}

// TestPingDropsSilentPeer: a client that does not answer pings (coder/websocket
// answers only while it reads) is dropped once a ping times out.
func TestPingDropsSilentPeer(t *testing.T) {
	n := startNodeWith(t, nil, func(c *transport.Config) {
		c.PingInterval, c.PingTimeout = 200*time.Millisecond, 200*time.Millisecond
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+n.addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for !strings.Contains(metrics(t, n), `actorhub_connections_open{kind="client"} 0`) {
		if ctx.Err() != nil {
			t.Fatal("the silent client is still connected after 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for { // what the node sent before it dropped the client, then the end
		if _, _, err := c.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("the dropped client's connection is still open")
			}
			break
		}
	}
}

// TestFirstFrameBehindUpgrade: a client whose first frame comes in the same
// write as its upgrade request (net/http may read it before the hijack) is
// served, and its socket then waits in the poller like any other client's.
func TestFirstFrameBehindUpgrade(t *testing.T) {
	n := startNode(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c := dialUpgrade(t, n.addr, maskedText(`{"type":"ping","id":"c"}`))
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var seen []byte
	readUntil := func(want string) {
		t.Helper()
		buf := make([]byte, 4096)
		for !bytes.Contains(seen, []byte(want)) {
			k, err := c.Read(buf)
			if err != nil {
				t.Fatalf("before %s came: %v (read %q)", want, err, seen)
			}
			seen = append(seen, buf[:k]...)
		}
	}
	readUntil(`{"type":"pong","id":"c"}`)
	waitNoReader(ctx, t)
	if _, err := c.Write(maskedText(`{"type":"ping","id":"d"}`)); err != nil {
		t.Fatal(err)
	}
	readUntil(`{"type":"pong","id":"d"}`)
}

// TestPongBetweenFragments: a client's pong that comes between the fragments
// of one of its messages (RFC 6455 5.4 lets control frames come there, and
// coder/websocket, not the session's reader, reads it) answers the server's
// ping: the client is not dropped, and gets the next ping.
func TestPongBetweenFragments(t *testing.T) {
	n := startNodeWith(t, nil, func(c *transport.Config) {
		c.PingInterval, c.PingTimeout = 300*time.Millisecond, 300*time.Millisecond
	})
	c := dialUpgrade(t, n.addr, nil)
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	for { // the response's header
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	pings, texts := 0, ""
	// next reads the server's frames until it has seen want pings; a close
	// or the connection's end fails the test
	next := func(want int) {
		t.Helper()
		for pings < want {
			h := make([]byte, 2)
			if _, err := io.ReadFull(br, h); err != nil {
				t.Fatalf("after %d pings and %q: %v", pings, texts, err)
			}
			size := int(h[1] & 0x7F)
			if size == 126 {
				var l [2]byte
				if _, err := io.ReadFull(br, l[:]); err != nil {
					t.Fatal(err)
				}
				size = int(l[0])<<8 | int(l[1])
			}
			payload := make([]byte, size)
			if _, err := io.ReadFull(br, payload); err != nil {
				t.Fatal(err)
			}
			switch h[0] & 0x0F {
			case 0x9:
				pings++
			case 0x1:
				texts += string(payload)
			case 0x8:
				t.Fatalf("the server closed the connection after %d pings: %q", pings, payload)
			}
		}
	}
	next(1)
	var msg []byte
	msg = append(msg, maskedFrame(0x01, `{"type":"ping",`)...) // text, not the last fragment
	msg = append(msg, maskedFrame(0x8A, "")...)                // the pong, between the fragments
	msg = append(msg, maskedFrame(0x80, `"id":"f"}`)...)       // the last fragment
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	next(2) // the ping after the one answered: the client was not dropped
	for !strings.Contains(texts, `{"type":"pong","id":"f"}`) {
		next(pings + 1)
	}
}

// maskedText is a client's text frame (RFC 6455 5.2) of a short payload.
func maskedText(payload string) []byte { return maskedFrame(0x81, payload) }

// maskedFrame is a client's frame of a short payload (at most 125 bytes)
// whose first byte (FIN, opcode) is first.
func maskedFrame(first byte, payload string) []byte {
	key := [4]byte{7, 1, 9, 3}
	f := append([]byte{first, 0x80 | byte(len(payload))}, key[:]...)
	for i := range len(payload) {
		f = append(f, payload[i]^key[i%4])
	}
	return f
}

// dialUpgrade connects to a node at addr and writes the upgrade request of
// a client's WebSocket (/ws), with then in the same write; the connection is
// closed when the test ends.
func dialUpgrade(t *testing.T, addr string, then []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(append([]byte(upgradeRequest(addr, "u")), then...)); err != nil {
		t.Fatal(err)
	}
	return c
}

// upgradeRequest is the HTTP request that opens a client's WebSocket (/ws)
// of user at addr.
func upgradeRequest(addr, user string) string {
	return "GET /ws?user=" + user + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
}

func waitPong(t *testing.T, got <-chan []byte, id string) {
	t.Helper()
	for b := range got {
		if bytes.Contains(b, []byte(`{"type":"pong","id":"`+id+`"}`)) {
			return
		}
	}
	t.Fatalf("the connection closed before the pong %q", id)
}

// waitNoReader waits until no goroutine reads a client connection: each
// waits in rawio's poller. A goroutine parked in coder/websocket's frame
// reader would be there until its client next sent something.
func waitNoReader(ctx context.Context, t *testing.T) {
	t.Helper()
	for {
		var b bytes.Buffer
		if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
			t.Fatal(err)
		}
		var readers []string
		for g := range strings.SplitSeq(b.String(), "\n\n") {
			if strings.Contains(g, "transport.(*connReader).") {
				readers = append(readers, g)
			}
		}
		if len(readers) == 0 {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%d goroutines read a client connection; the first:\n%s", len(readers), readers[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func metrics(t *testing.T, n *node) string {
	t.Helper()
	resp, err := http.Get("http://" + n.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
