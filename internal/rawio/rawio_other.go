//go:build !linux

package rawio

import (
	"errors"
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

// Polls is false: only Linux builds wait for many sockets in one place.
func Polls() bool { return false }

// WhenReadable fails: only Linux builds wait for many sockets in one place.
func (c *Conn) WhenReadable(f func()) error { return errors.New("rawio: WhenReadable needs Linux") }

// PeekFirst returns rc: only Linux builds peek first.
func PeekFirst(rc syscall.RawConn) syscall.RawConn { return rc }
