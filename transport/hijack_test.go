package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorhub/actorhub/internal/rawio"
	"github.com/coder/websocket"
)

// TestRebufferKeepsBytesReadPastTheRequest: what net/http had buffered past
// the upgrade request comes first from the new reader, even after
// coder/websocket re-seats it on the bare connection (as Accept does).
func TestRebufferKeepsBytesReadPastTheRequest(t *testing.T) {
	for _, left := range []string{"", "first-frame", strings.Repeat("x", 3000)} {
		client, server := net.Pipe()
		old := bufio.NewReaderSize(io.MultiReader(strings.NewReader(left), server), 4096)
		if left != "" {
			if _, err := old.Peek(len(left)); err != nil {
				t.Fatal(err)
			}
		}
		brw, _ := rebuffer(server, bufio.NewReadWriter(old, bufio.NewWriter(server)), wsClientReadBuffer) // 3000 bytes carried grow it
		if got := brw.Reader.Buffered(); got != len(left) {
			t.Fatalf("carried %d bytes into the new buffer, want %d", got, len(left))
		}
		// what coder/websocket's Accept does with the reader it is handed
		b, _ := brw.Reader.Peek(brw.Reader.Buffered())
		brw.Reader.Reset(io.MultiReader(strings.NewReader(string(b)), server))
		go func() { _, _ = client.Write([]byte("|then-the-wire")); client.Close() }()
		all, _ := io.ReadAll(brw.Reader)
		if want := left + "|then-the-wire"; string(all) != want {
			t.Fatalf("read %.40q…, want %.40q…", all, want)
		}
		if brw.Writer.Size() != wsWriteChunk {
			t.Fatalf("write buffer %d, want %d", brw.Writer.Size(), wsWriteChunk)
		}
		server.Close()
	}
}

// writeRecorder is a net.Conn that keeps each Write it gets.
type writeRecorder struct {
	net.Conn
	writes [][]byte
}

func (r *writeRecorder) Write(p []byte) (int, error) {
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

// frame makes a WebSocket frame as coder/websocket writes it: fin, opcode
// text, masked (with a key) or not, the payload as given.
func frame(payload []byte, fin, masked bool) []byte {
	b0 := byte(1) // text
	if fin {
		b0 |= 0x80
	}
	var m byte
	if masked {
		m = 0x80
	}
	h := []byte{b0}
	switch n := len(payload); {
	case n > 65535:
		h = append(h, m|127)
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	case n > 125:
		h = append(h, m|126)
		h = binary.BigEndian.AppendUint16(h, uint16(n))
	default:
		h = append(h, m|byte(n))
	}
	if masked {
		h = append(h, 1, 2, 3, 4)
	}
	return append(h, payload...)
}

// TestFrameWriterOneWritePerFrame: through the 16-byte buffer and the
// frameWriter, every frame, whatever its size, reaches the connection in
// one write, intact, and nothing is held once the buffer is flushed.
func TestFrameWriterOneWritePerFrame(t *testing.T) {
	rec := &writeRecorder{}
	fw := newFrameWriter(rec)
	bw := bufio.NewWriterSize(fw, wsWriteChunk)
	for _, masked := range []bool{false, true} {
		for _, n := range []int{0, 1, 9, 10, 11, 12, 13, 14, 15, 16, 17, 30, 31, 32, 33, 100, 125, 126, 127, 300, 2048, 65535, 65536, 70000} {
			rec.writes = nil
			f := frame(bytes.Repeat([]byte{'x'}, n), true, masked)
			// as coder/websocket does: the header's first two bytes one by
			// one, the rest of the header, the payload, a flush
			hl := frameHeaderLen(f[1])
			_ = bw.WriteByte(f[0])
			_ = bw.WriteByte(f[1])
			_, _ = bw.Write(f[2:hl])
			_, _ = bw.Write(f[hl:])
			if err := bw.Flush(); err != nil {
				t.Fatal(err)
			}
			if len(rec.writes) != 1 || !bytes.Equal(rec.writes[0], f) || fw.n != 0 {
				t.Fatalf("payload %d (masked %v): %d writes, first equal %v, %d bytes held; want the frame in one write, none held",
					n, masked, len(rec.writes), len(rec.writes) > 0 && bytes.Equal(rec.writes[0], f), fw.n)
			}
		}
	}
}

// TestFrameWriterAnySplit: frames of random sizes, written in pieces of
// random sizes, some not ending a message (no flush after them, as
// coder/websocket writes fragments), come out whole and in order, each write
// whole frames (a session writes its own between them), and nothing is held
// after a flush at a message's end.
func TestFrameWriterAnySplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		rec := &writeRecorder{}
		fw := newFrameWriter(rec)
		bw := bufio.NewWriterSize(fw, wsWriteChunk)
		var want []byte
		frames := 1 + rng.IntN(20)
		for i := 0; i < frames; i++ {
			n := rng.IntN(40)
			if rng.IntN(8) == 0 {
				n = rng.IntN(70000)
			}
			last := i == frames-1
			f := frame(bytes.Repeat([]byte{byte('a' + i)}, n), last || rng.IntN(2) == 0, rng.IntN(2) == 0)
			want = append(want, f...)
			for rest := f; len(rest) > 0; { // in pieces of random sizes
				k := 1 + rng.IntN(len(rest))
				_, _ = bw.Write(rest[:k])
				rest = rest[k:]
			}
			if f[0]&0x80 != 0 { // a message's last frame: flushed
				_ = bw.Flush()
				if fw.n != 0 {
					t.Fatalf("round %d: %d bytes held after a flush at a frame's end", round, fw.n)
				}
			}
		}
		if got := bytes.Join(rec.writes, nil); !bytes.Equal(got, want) {
			t.Fatalf("round %d: the connection got %d bytes, not the %d written in order", round, len(got), len(want))
		}
		for i, w := range rec.writes {
			if !wholeFrames(w) {
				t.Fatalf("round %d: write %d of %d (%d bytes) is not whole frames", round, i, len(rec.writes), len(w))
			}
		}
	}
}

// wholeFrames reports whether b is whole frames, one after another.
func wholeFrames(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 2 || len(b) < frameHeaderLen(b[1]) {
			return false
		}
		h := frameHeaderLen(b[1])
		n := framePayloadLen(b[:h])
		if uint64(len(b)-h) < n {
			return false
		}
		b = b[h+int(n):]
	}
	return true
}

// TestWebSocketThroughSmallBuffers: a server connection accepted through
// smallBuffers (a TCP connection: the frameWriter's writev) sends messages of
// every size class and pings while the client reads; every message arrives
// intact and in order, and every ping is answered.
func TestWebSocketThroughSmallBuffers(t *testing.T) {
	sizes := []int{0, 1, 13, 14, 15, 16, 17, 125, 126, 127, 300, 4096, 65535, 65536, 200000}
	msg := func(i, n int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, n) }
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(smallBuffers{ResponseWriter: w}, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			done <- err
			return
		}
		ctx := c.CloseRead(context.Background()) // reads the pongs
		for i, n := range sizes {
			if err := c.Write(ctx, websocket.MessageText, msg(i, n)); err != nil {
				done <- err
				return
			}
			if i%4 == 0 {
				if err := c.Ping(ctx); err != nil {
					done <- fmt.Errorf("ping after message %d: %w", i, err)
					return
				}
			}
		}
		done <- c.Close(websocket.StatusNormalClosure, "done")
	}))
	defer srv.Close()
	ctx, c := dialTest(t, srv, 20*time.Second, 1<<20)
	for i, n := range sizes {
		_, got, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("message %d (%d bytes): %v", i, n, err)
		}
		if !bytes.Equal(got, msg(i, n)) {
			t.Fatalf("message %d: got %d bytes, want %d bytes of %q", i, len(got), n, rune('a'+i%26))
		}
	}
	expectNormalClose(t, ctx, c)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// acceptTCPSession accepts r's WebSocket through smallBuffers, as a client's,
// and returns it with a session (of queue objects) that writes its data
// frames to the socket itself, as serveWS sets it up on a TCP connection.
func acceptTCPSession(w http.ResponseWriter, r *http.Request, queue int) (*websocket.Conn, *session, error) {
	var got hijacked
	c, err := websocket.Accept(smallBuffers{w, &got, true}, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return nil, nil, err
	}
	if got.tcp == nil || got.fw == nil {
		return nil, nil, errors.New("not a TCP connection with a frameWriter")
	}
	s := newSession(make(chan struct{}), c, &Config{OutboundQueue: queue, FrameLimit: 1 << 20}, true, nil)
	s.tcp, s.fw = got.tcp, got.fw
	return c, s, nil
}

// pingTimes pings c n times, one after another, from a new goroutine; the
// channel gets the first error, or nil.
func pingTimes(ctx context.Context, c *websocket.Conn, n int) <-chan error {
	pings := make(chan error, 1)
	go func() {
		for range n {
			if err := c.Ping(ctx); err != nil {
				pings <- fmt.Errorf("ping: %w", err)
				return
			}
		}
		pings <- nil
	}()
	return pings
}

// endSession waits for what errc gives (the first error of the handler's
// other goroutine, or nil), then closes s normally and waits for its writer.
// It returns the error.
func endSession(s *session, errc <-chan error) error {
	if err := <-errc; err != nil {
		return err
	}
	s.Close(int(websocket.StatusNormalClosure), "done")
	s.writers.Wait()
	return nil
}

// readMessages reads frames from c until it has had the messages numbered
// from to to-1, each equal to msg(i) (a frame joins several with '\n'), and
// returns the number of the message after the last it read.
func readMessages(t *testing.T, ctx context.Context, c *websocket.Conn, from, to int, msg func(int) []byte) int {
	t.Helper()
	i := from
	for i < to {
		_, frame, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		for m := range bytes.SplitSeq(frame, []byte("\n")) {
			if !bytes.Equal(m, msg(i)) {
				t.Fatalf("message %d: got %d bytes (%.20q), want %d", i, len(m), m, len(msg(i)))
			}
			i++
		}
	}
	return i
}

// expectNormalClose reads c's next frame, which must be the server's normal
// close.
func expectNormalClose(t *testing.T, ctx context.Context, c *websocket.Conn) {
	t.Helper()
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after the messages: %v; want the server's normal close", err)
	}
}

// dialTest dials srv's WebSocket and returns it, with a context that ends
// after timeout (or with the test), and with the read limit set.
func dialTest(t *testing.T, srv *httptest.Server, timeout time.Duration, readLimit int64) (context.Context, *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(readLimit)
	return ctx, c
}

// TestSessionFramesBetweenCoders: a session on a TCP connection writes its
// data frames to the socket itself while coder/websocket writes pings on
// the same connection, from another goroutine; the client gets every message
// intact and in order, every ping is answered, and the session's close comes
// after its last message.
func TestSessionFramesBetweenCoders(t *testing.T) {
	sizes := []int{0, 1, 13, 14, 15, 16, 17, 125, 126, 127, 300, 4096, 65535, 65536, 200000}
	const rounds = 20
	// a message is its number and a run of one letter; the session joins
	// the messages queued together into one frame with '\n'
	msg := func(i int) []byte {
		return append([]byte(strconv.Itoa(i)+":"), bytes.Repeat([]byte{byte('a' + i%26)}, sizes[i%len(sizes)])...)
	}
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, s, err := acceptTCPSession(w, r, 1<<20)
		if err != nil {
			done <- err
			return
		}
		pings := pingTimes(c.CloseRead(context.Background()), c, 50) // CloseRead reads the pongs
		for i := range rounds * len(sizes) {
			if !s.Send(msg(i)) {
				done <- fmt.Errorf("message %d refused", i)
				return
			}
		}
		done <- endSession(s, pings)
	}))
	defer srv.Close()
	ctx, c := dialTest(t, srv, 60*time.Second, 4<<20)
	readMessages(t, ctx, c, 0, rounds*len(sizes), msg)
	expectNormalClose(t, ctx, c)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSendNowHandsOver: SendNow writes a frame from the caller's goroutine
// while coder/websocket writes pings on the same connection. When the socket
// takes only part of a frame (a client that stopped reading), a writer
// goroutine writes the rest, and what is sent meanwhile (Send or SendNow)
// waits behind it. The client gets every message intact and in order.
func TestSendNowHandsOver(t *testing.T) {
	const n, slowFrom = 300, 150 // the client reads nothing from message slowFrom until the gate opens
	msg := func(i int) []byte {
		size := []int{0, 1, 125, 126, 300, 4096, 65536}[i%7]
		if i >= slowFrom && i < slowFrom+64 {
			size = 1 << 20
		}
		return append([]byte(strconv.Itoa(i)+":"), bytes.Repeat([]byte{byte('a' + i%26)}, size)...)
	}
	gate := make(chan struct{})
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, s, err := acceptTCPSession(w, r, 1<<20)
		if err != nil {
			done <- err
			return
		}
		pings := pingTimes(c.CloseRead(context.Background()), c, 50) // CloseRead reads the pongs
		// idle waits until nothing is queued or being written, so that the
		// next SendNow writes from this goroutine
		idle := func() bool {
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Microsecond) {
				s.mu.Lock()
				busy := s.writing || len(s.queue) > 0
				s.mu.Unlock()
				if !busy {
					return true
				}
			}
			return false
		}
		handedOver := false
		for i := range n {
			if !handedOver {
				if !idle() {
					done <- fmt.Errorf("message %d: the session never went idle", i)
					return
				}
			}
			ok := false
			if handedOver && i%2 == 1 {
				ok = s.Send(msg(i))
			} else {
				ok = s.SendNow(msg(i))
			}
			if !ok {
				done <- fmt.Errorf("message %d refused", i)
				return
			}
			if i >= slowFrom && !handedOver {
				s.mu.Lock()
				handedOver = s.writing // the socket took part of it: a writer goroutine has the rest
				s.mu.Unlock()
				if handedOver {
					close(gate)
				}
			}
		}
		if !handedOver {
			done <- errors.New("no SendNow was left with part of a frame, though the client read nothing")
			return
		}
		done <- endSession(s, pings)
	}))
	defer srv.Close()
	ctx, c := dialTest(t, srv, 60*time.Second, 4<<20)
	i := readMessages(t, ctx, c, 0, slowFrom, msg)
	select {
	case <-gate:
	case err := <-done:
		t.Fatal(err)
	}
	readMessages(t, ctx, c, i, n, msg)
	expectNormalClose(t, ctx, c)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSessionPingsBetweenFrames: the server's pings of a client go through
// its session's writer (sendPing) while messages flow with Send and SendNow:
// each ping reaches the client, between whole frames (from the pinger's
// goroutine when no writer runs, by the writer before its next frame when one
// does), and every message arrives intact and in order.
func TestSessionPingsBetweenFrames(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 300, 4096, 65536}
	const n, pings = 600, 40
	msg := func(i int) []byte {
		return append([]byte(strconv.Itoa(i)+":"), bytes.Repeat([]byte{byte('a' + i%26)}, sizes[i%len(sizes)])...)
	}
	var got atomic.Int64 // pings the client saw
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, s, err := acceptTCPSession(w, r, 1<<20)
		if err != nil {
			done <- err
			return
		}
		s.ownPings = true
		sent := make(chan error, 1)
		go func() {
			for i := range n {
				ok := false
				if i%3 == 0 {
					ok = s.Send(msg(i))
				} else {
					ok = s.SendNow(msg(i))
				}
				if !ok {
					sent <- fmt.Errorf("message %d refused", i)
					return
				}
				if i%20 == 0 {
					time.Sleep(time.Millisecond) // let the writer go idle now and then
				}
			}
			sent <- nil
		}()
		for i := range pings {
			s.sendPing(monoNow())
			for deadline := time.Now().Add(30 * time.Second); got.Load() <= int64(i); time.Sleep(100 * time.Microsecond) {
				if time.Now().After(deadline) {
					done <- fmt.Errorf("ping %d never reached the client", i)
					return
				}
			}
		}
		done <- endSession(s, sent)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool { got.Add(1); return true }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	readMessages(t, ctx, c, 0, n, msg)
	expectNormalClose(t, ctx, c) // the pings that come after the messages are read meanwhile
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if g := got.Load(); g != pings {
		t.Fatalf("the client saw %d pings; want %d", g, pings)
	}
}

// TestSendNowWhileCoderWaits: while coder/websocket's own write waits for a
// socket the client does not read, SendNow returns at once (the feed that
// calls it serves other clients) and its frame follows coder/websocket's.
func TestSendNowWhileCoderWaits(t *testing.T) {
	big := bytes.Repeat([]byte("b"), 32<<20)
	gate := make(chan struct{})
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, s, err := acceptTCPSession(w, r, 16)
		if err != nil {
			done <- err
			return
		}
		wrote := make(chan error, 1)
		go func() { wrote <- c.Write(context.Background(), websocket.MessageBinary, big) }()
		// wait until coder/websocket's write holds the socket (an empty
		// write finds it busy)
		for _, err := s.tcp.TryWritevUnless(nil, nil, nil); !errors.Is(err, rawio.ErrBusy); _, err = s.tcp.TryWritevUnless(nil, nil, nil) {
			select {
			case err := <-wrote:
				done <- fmt.Errorf("coder/websocket wrote 32 MiB to a client that reads nothing: %v", err)
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
		returned := make(chan bool, 1)
		go func() { returned <- s.SendNow([]byte("after")) }()
		select {
		case ok := <-returned:
			if !ok {
				done <- errors.New("SendNow refused")
				return
			}
		case <-time.After(20 * time.Second): // a hang, not a slow machine
			done <- errors.New("SendNow waited for coder/websocket's write")
			return
		}
		close(gate)
		done <- endSession(s, wrote)
	}))
	defer srv.Close()
	ctx, c := dialTest(t, srv, 60*time.Second, 64<<20)
	select {
	case <-gate:
	case err := <-done:
		t.Fatal(err)
	}
	if _, m, err := c.Read(ctx); err != nil || !bytes.Equal(m, big) {
		t.Fatalf("first message: %d bytes, %v; want coder/websocket's 32 MiB", len(m), err)
	}
	if _, m, err := c.Read(ctx); err != nil || string(m) != "after" {
		t.Fatalf("second message: %.20q, %v; want SendNow's", m, err)
	}
	expectNormalClose(t, ctx, c)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestNoFrameAfterClose: once coder/websocket's close frame went through the
// frameWriter, the session writes no frame of its own.
func TestNoFrameAfterClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	tcp := rawio.Wrap(c).(*rawio.Conn)
	defer tcp.Close()
	s := &session{tcp: tcp, fw: newFrameWriter(tcp)}
	if err := s.writeFrame([]byte("before")); err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(s.fw, wsWriteChunk)
	closeFrame := []byte{0x88, 2, 0x03, 0xE8} // 1000
	_, _ = bw.Write(closeFrame)
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.writeFrame([]byte("after")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a frame after the close: %v", err)
	}
	tcp.Close()
	got, _ := io.ReadAll(peer)
	if want := append([]byte{0x81, 6, 'b', 'e', 'f', 'o', 'r', 'e'}, closeFrame...); !bytes.Equal(got, want) {
		t.Fatalf("the peer got %x, want %x", got, want)
	}
}
