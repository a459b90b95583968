package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/actorhub/actorhub/internal/rawio"
)

// Buffer sizes a WebSocket keeps for its whole life. net/http hands a hijacked
// connection its 4 KiB read buffer and a new 4 KiB write buffer, and
// coder/websocket keeps both: 8 KiB of a connection's ~10 KiB of live heap at
// 10k connections (heap profile in docs/BENCHMARKS.md). Reads of a frame larger
// than the read buffer bypass it.
//
// A worker's connection carries the emits of every job it serves, many to a
// frame (the Go SDK packs up to 60 KiB): its 16 KiB buffer takes a frame up to
// that size, or several queued frames, in one system call, where a 512-byte
// one read each frame's header and the start of its payload, then the rest
// with a second call (a fifth of a node's reads at one job per user on three
// nodes, docs/BENCHMARKS.md C28). Workers are few, so the size costs little.
//
// A client's holds a pong (6 bytes and the ping's payload, which is at most 20
// digits: coder/websocket's ping counter) so that its reader can take it off
// the wire whole (session.takePong); a client sends little else (its
// subscribes), which costs a second read when larger, and the GC's headroom
// doubles what every idle connection keeps (docs/BENCHMARKS.md C15).
//
// Writes go through a 16-byte bufio.Writer onto a frameWriter, which sends
// each frame with one system call whatever its size (a 2 KiB write buffer
// was another 2.4 KiB per connection, a quarter of its live heap, at 10k).
const (
	wsWorkerReadBuffer = 16 << 10
	wsClientReadBuffer = 32
	wsWriteChunk       = 16
)

// smallBuffers wraps the ResponseWriter of an upgrade so that Hijack hands
// coder/websocket smaller buffers than net/http's.
type smallBuffers struct {
	http.ResponseWriter
	got    *hijacked // what Hijack handed over, if not nil
	client bool      // a client's connection: the read buffer is wsClientReadBuffer
}

// hijacked is what an upgrade's Hijack handed coder/websocket.
type hijacked struct {
	br      *bufio.Reader // the read buffer coder/websocket reads frames through
	tcp     *rawio.Conn   // the connection, when it is TCP
	fw      *frameWriter  // what coder/websocket writes through, unless it kept net/http's writer
	carried bool          // bytes read past the request sit in front of br
}

// Unwrap lets http.ResponseController reach the original writer.
func (w smallBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack implements http.Hijacker. Bytes net/http read past the request (a
// client may send its first frame right behind the upgrade request) stay in
// front of the connection, in the new read buffer.
func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the response writer cannot be hijacked")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	conn = rawio.Wrap(conn) // the listener's already are (Server.Start); an httptest server's are not
	carried := brw.Reader.Buffered() > 0
	size := wsWorkerReadBuffer
	if w.client {
		size = wsClientReadBuffer
	}
	brw, fw := rebuffer(conn, brw, size)
	if w.got != nil {
		w.got.br, w.got.fw, w.got.carried = brw.Reader, fw, carried
		w.got.tcp, _ = conn.(*rawio.Conn)
	}
	return conn, brw, nil
}

// rebuffer returns a ReadWriter on conn with the small buffers (a read buffer
// of size bytes), carrying over what brw's reader had buffered and flushing
// what its writer held; and the frameWriter under its writer, nil when brw's
// writer held something (it is kept then).
func rebuffer(conn net.Conn, brw *bufio.ReadWriter, size int) (*bufio.ReadWriter, *frameWriter) {
	var src io.Reader = conn
	if n := brw.Reader.Buffered(); n > 0 {
		left, _ := brw.Reader.Peek(n)
		src = io.MultiReader(bytes.NewReader(bytes.Clone(left)), conn)
		size = max(size, n)
	}
	r := bufio.NewReaderSize(src, size)
	if n := brw.Reader.Buffered(); n > 0 {
		// pull the carried bytes into r's buffer: coder/websocket re-seats the
		// reader on the bare connection plus whatever r has buffered
		_, _ = r.Peek(n)
	}
	wr := brw.Writer
	var fw *frameWriter
	if wr.Buffered() == 0 {
		fw = newFrameWriter(conn)
		wr = bufio.NewWriterSize(fw, wsWriteChunk)
	}
	return bufio.NewReadWriter(r, wr), fw
}

// frameWriter is the io.Writer under a WebSocket's small bufio.Writer. A
// frame reaches it in one piece when it fits the buffer, else as the buffer's
// first 16 bytes (the header and the start of the payload) and then the rest
// of the payload; it holds a piece that ends inside a frame and writes it
// together with the piece that ends the frame: one writev on a TCP
// connection (rawio.Conn.Writev), one write of the two copied into a pooled
// buffer on any other net.Conn (a wrapped or TLS one). A frame larger than 2 KiB, which the old
// 2 KiB buffer sent in two writes, goes out in one too. It follows the
// frames' headers (RFC 6455 5.2) to know where each ends; coder/websocket
// writes a whole frame at a time under its write lock, and flushes its buffer
// after every frame that ends a message, so nothing is held between messages.
//
// It writes whole frames only (a frame that comes in more pieces than it can
// hold is gathered in a pooled buffer first), so that the session can write
// its data frames to the socket itself (session.writeFrame) between
// coder/websocket's: each write to a rawio.Conn is one system call's worth,
// under its write lock. closeSent is set before a close frame goes out:
// after it, the session writes nothing (RFC 6455 5.5.1).
type frameWriter struct {
	conn      net.Conn
	tcp       *rawio.Conn // conn, when it is a TCP connection: it writes a vector (writev)
	held      [48]byte
	n         int      // bytes held
	big       *[]byte  // a frame gathered that did not fit held, nil if none
	left      uint64   // payload bytes of the current frame still to come
	hdr       [14]byte // the current frame's header, while it is incomplete
	hn        int      // bytes of it seen
	closeSent atomic.Bool
}

func newFrameWriter(conn net.Conn) *frameWriter {
	tcp, _ := conn.(*rawio.Conn)
	return &frameWriter{conn: conn, tcp: tcp}
}

// Write implements io.Writer.
func (w *frameWriter) Write(p []byte) (int, error) {
	ends := w.scan(p)
	switch {
	case w.big != nil:
		*w.big = append(*w.big, p...)
		if !ends {
			return len(p), nil
		}
		b := w.big
		w.big = nil
		_, err := w.conn.Write(*b)
		putFrame(b)
		if err != nil {
			return 0, err
		}
		return len(p), nil
	case !ends && w.n+len(p) <= len(w.held):
		w.n += copy(w.held[w.n:], p)
		return len(p), nil
	case !ends:
		w.big = joined(w.held[:w.n], p)
		w.n = 0
		return len(p), nil
	case w.n == 0:
		return w.conn.Write(p)
	}
	held := w.held[:w.n]
	w.n = 0
	var err error
	if w.tcp != nil {
		_, err = w.tcp.Writev(held, p)
	} else {
		b := joined(held, p)
		_, err = w.conn.Write(*b)
		putFrame(b)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// joined returns a buffer from framePool holding a and then b.
func joined(a, b []byte) *[]byte {
	f := framePool.Get().(*[]byte)
	*f = append(append((*f)[:0], a...), b...)
	return f
}

// putFrame returns a frame buffer to framePool, unless it grew large.
func putFrame(b *[]byte) {
	if cap(*b) <= 64<<10 {
		framePool.Put(b)
	}
}

var framePool = sync.Pool{New: func() any { return new([]byte) }}

// scan follows the frames through p and reports whether p ends where a frame
// does.
func (w *frameWriter) scan(p []byte) bool {
	for len(p) > 0 {
		if w.hn == 0 && w.left > 0 { // inside a payload
			k := uint64(len(p))
			if k > w.left {
				k = w.left
			}
			w.left -= k
			p = p[k:]
			continue
		}
		w.hdr[w.hn] = p[0]
		w.hn++
		p = p[1:]
		if w.hn >= 2 && w.hn == frameHeaderLen(w.hdr[1]) {
			w.left = framePayloadLen(w.hdr[:w.hn])
			w.hn = 0
			if w.hdr[0]&0x0F == 0x8 { // a close
				w.closeSent.Store(true)
			}
		}
	}
	return w.hn == 0 && w.left == 0
}

// frameHeaderLen is the length of a frame header whose second byte is b1.
func frameHeaderLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 { // masked
		n += 4
	}
	return n
}

// framePayloadLen is the payload length that the complete header h gives.
func framePayloadLen(h []byte) uint64 {
	switch l := h[1] & 0x7f; l {
	case 126:
		return uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		return binary.BigEndian.Uint64(h[2:10])
	default:
		return uint64(l)
	}
}
