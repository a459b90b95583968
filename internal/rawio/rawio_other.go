//go:build !linux

package rawio

import (
	"net"
	"syscall"
)

// Conn is a *net.TCPConn; only Linux builds make raw calls, and Wrap makes
// none elsewhere.
type Conn struct {
	*net.TCPConn
}

// Wrap returns c: only Linux builds make raw calls.
func Wrap(c net.Conn) net.Conn { return c }

// Writev writes a and then b.
func (c *Conn) Writev(a, b []byte) (int, error) {
	bufs := net.Buffers{a, b}
	n, err := bufs.WriteTo(c.TCPConn)
	return int(n), err
}

// PeekFirst returns rc: only Linux builds peek first.
func PeekFirst(rc syscall.RawConn) syscall.RawConn { return rc }
