//go:build !linux

package rawio

import (
	"net"
	"syscall"
)

// Conn is a *net.TCPConn with Writev; only Linux builds make its calls raw.
type Conn struct {
	*net.TCPConn
}

// Wrap returns c as a *Conn when it is a *net.TCPConn, and c itself otherwise.
func Wrap(c net.Conn) net.Conn {
	if tcp, ok := c.(*net.TCPConn); ok {
		return &Conn{tcp}
	}
	return c
}

// Writev writes a and then b, with one writev through the net package.
func (c *Conn) Writev(a, b []byte) (int, error) {
	bufs := net.Buffers{a, b}
	n, err := bufs.WriteTo(c.TCPConn)
	return int(n), err
}

// Waits is false: WaitReadable returns at once here, and the next Read waits
// instead.
const Waits = false

// WaitReadable returns at once: only Linux builds wait.
func (c *Conn) WaitReadable() error { return nil }

// PeekFirst returns rc: only Linux builds peek first.
func PeekFirst(rc syscall.RawConn) syscall.RawConn { return rc }
