//go:build !linux

package rawio

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// Conn is a *net.TCPConn with Writev; only Linux builds make its calls raw.
type Conn struct {
	*net.TCPConn
	wmu sync.Mutex // one Writev at a time
}

// Wrap returns c as a *Conn when it is a *net.TCPConn, and c itself otherwise.
func Wrap(c net.Conn) net.Conn {
	if tcp, ok := c.(*net.TCPConn); ok {
		return &Conn{TCPConn: tcp}
	}
	return c
}

// Write implements io.Writer under the same lock as Writev, so that a
// WritevUnless's check of stop comes before or after a whole Write.
func (c *Conn) Write(p []byte) (int, error) { return c.Writev(p, nil) }

// Writev writes a and then b, with one writev through the net package.
func (c *Conn) Writev(a, b []byte) (int, error) {
	return c.WritevUnless(nil, a, b)
}

// WritevUnless is Writev, unless stop (if not nil) is set once no other
// write is in progress: then it writes nothing and returns net.ErrClosed.
func (c *Conn) WritevUnless(stop *atomic.Bool, a, b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if stop != nil && stop.Load() {
		return 0, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: net.ErrClosed}
	}
	bufs := net.Buffers{a, b}
	n, err := bufs.WriteTo(c.TCPConn)
	return int(n), err
}

// TryWritevUnless writes nothing on other systems (their writes wait in the
// net package): it returns ErrBusy, and the caller writes another way.
func (c *Conn) TryWritevUnless(stop *atomic.Bool, a, b []byte) (done bool, err error) {
	return false, ErrBusy
}

// FinishWrite has nothing to finish on other systems.
func (c *Conn) FinishWrite() error { return nil }

// Polls is false: only Linux builds wait for many sockets in one place.
func Polls() bool { return false }

// WhenReadable fails: only Linux builds wait for many sockets in one place.
func (c *Conn) WhenReadable(f func()) error { return errors.New("rawio: WhenReadable needs Linux") }

// PeekFirst returns rc: only Linux builds peek first.
func PeekFirst(rc syscall.RawConn) syscall.RawConn { return rc }
