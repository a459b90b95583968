package transport

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
)

// Buffer sizes a WebSocket keeps for its whole life. net/http hands a hijacked
// connection its 4 KiB read buffer and a new 4 KiB write buffer, and
// coder/websocket keeps both: 8 KiB of a connection's ~10 KiB of live heap at
// 10k connections (heap profile in docs/BENCHMARKS.md). Reads of a frame larger
// than the read buffer bypass it, so a small one costs no extra syscalls; a
// frame whose payload exceeds the write buffer goes out in two writes instead
// of one, and event frames are a few hundred bytes.
const (
	wsReadBuffer  = 512
	wsWriteBuffer = 2048
)

// smallBuffers wraps the ResponseWriter of an upgrade so that Hijack hands
// coder/websocket smaller buffers than net/http's.
type smallBuffers struct {
	http.ResponseWriter
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
	return conn, rebuffer(conn, brw), nil
}

// rebuffer returns a ReadWriter on conn with the small buffers, carrying over
// what brw's reader had buffered and flushing what its writer held.
func rebuffer(conn net.Conn, brw *bufio.ReadWriter) *bufio.ReadWriter {
	var src io.Reader = conn
	size := wsReadBuffer
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
	if wr.Buffered() == 0 {
		wr = bufio.NewWriterSize(conn, wsWriteBuffer)
	}
	return bufio.NewReadWriter(r, wr)
}
