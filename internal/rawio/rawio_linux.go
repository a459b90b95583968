//go:build linux

package rawio

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Conn is a *net.TCPConn whose Read, Write and Writev make raw system calls.
// Everything else (Close, deadlines, addresses, SyscallConn, ReadFrom) is the
// TCPConn's.
type Conn struct {
	*net.TCPConn
	rc syscall.RawConn

	rmu    sync.Mutex // one Read at a time: rbuf, rn and rerr are its
	rbuf   []byte
	rn     int
	rerr   syscall.Errno
	readFn func(fd uintptr) bool

	// WhenReadable's (poll_linux.go)
	amu        sync.Mutex // one WhenReadable at a time: the fields below but pstate are its
	pstate     atomic.Int32
	pkey       uint64 // the poller's key for c, 0 until WhenReadable's first call
	inEpoll    bool   // in the poller's epoll instance: arm modifies rather than adds
	onReadable func()
	armFn      func(fd uintptr)
	armErr     syscall.Errno

	wmu     sync.Mutex // one Write at a time: iov, next, end, wn and werr are its
	iov     [2]syscall.Iovec
	next    int // iov[next:end] is still to write
	end     int
	wn      int
	werr    syscall.Errno
	wdone   bool // TryWritevUnless's: writeRaw wrote all
	writeFn func(fd uintptr) bool
	tryFn   func(fd uintptr)
}

// Wrap returns c as a *Conn when it is a *net.TCPConn, and c itself otherwise
// (a *Conn already, a TLS or a Unix connection).
func Wrap(c net.Conn) net.Conn {
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tcp.SyscallConn()
	if err != nil {
		return c
	}
	w := &Conn{TCPConn: tcp, rc: rc}
	w.readFn = w.readRaw
	w.writeFn = w.writeRaw
	w.tryFn = func(fd uintptr) { w.wdone = w.writeRaw(fd) }
	return w
}

// Read implements io.Reader as net.Conn's Read does: io.EOF once the peer
// has closed its side, a *net.OpError for anything else.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rbuf, c.rn, c.rerr = p, 0, 0
	err := c.rc.Read(c.readFn)
	c.rbuf = nil
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case c.rerr != 0:
		return 0, c.opError("read", os.NewSyscallError("read", c.rerr))
	case c.rn == 0:
		return 0, io.EOF
	}
	return c.rn, nil
}

// readRaw is the RawConn's read callback; false asks the poller to park the
// goroutine until the socket is readable.
func (c *Conn) readRaw(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rbuf[0])), uintptr(len(c.rbuf)))
		switch e {
		case 0:
			c.rn = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			c.rerr = e
			return true
		}
	}
}

// peek is a one-byte non-blocking recvfrom with MSG_PEEK into b: EAGAIN when
// the socket has nothing to read, and it reads nothing either way.
func peek(fd uintptr, b *[1]byte) syscall.Errno {
	for {
		_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		if e != syscall.EINTR {
			return e
		}
	}
}

// Write implements io.Writer: it writes all of p or returns an error.
func (c *Conn) Write(p []byte) (int, error) {
	return c.Writev(p, nil)
}

// Writev writes a and then b, with one system call when the socket's buffer
// takes both. It returns the bytes written, len(a)+len(b) unless err is set.
func (c *Conn) Writev(a, b []byte) (int, error) {
	return c.WritevUnless(nil, a, b)
}

// WritevUnless is Writev, unless stop (if not nil) is set once no other
// write is in progress: then it writes nothing and returns net.ErrClosed. Two
// writes never interleave, so a caller whose writes are each a whole message
// can stop writing at another writer's message that sets stop first.
func (c *Conn) WritevUnless(stop *atomic.Bool, a, b []byte) (int, error) {
	c.wmu.Lock()
	if stop != nil && stop.Load() {
		c.wmu.Unlock()
		return 0, c.opError("write", net.ErrClosed)
	}
	c.setIov(a, b)
	var err error
	if c.end > 0 {
		err = c.rc.Write(c.writeFn)
	}
	n := c.wn
	return n, c.endWrite(err)
}

// TryWritevUnless is WritevUnless without the wait: it writes what the
// socket's buffer takes at once, on the caller's goroutine, and says whether
// that was all of a and b. When it was not (the buffer is full; err is nil),
// the write is still in progress: the caller must call FinishWrite, on any
// goroutine, which writes the rest and only then lets another write begin.
// Until then a and b must not change. When another write is in progress
// (which may be waiting for the socket), it writes nothing and returns
// ErrBusy. On an error or a stop, nothing is in progress.
func (c *Conn) TryWritevUnless(stop *atomic.Bool, a, b []byte) (done bool, err error) {
	if !c.wmu.TryLock() {
		return false, ErrBusy
	}
	if stop != nil && stop.Load() {
		c.wmu.Unlock()
		return false, c.opError("write", net.ErrClosed)
	}
	c.setIov(a, b)
	c.wdone = true
	if c.end > 0 {
		err = c.rc.Control(c.tryFn)
	}
	if err == nil && !c.wdone {
		return false, nil // the write lock stays held: FinishWrite's
	}
	if err = c.endWrite(err); err != nil {
		return false, err
	}
	return true, nil
}

// FinishWrite writes what TryWritevUnless left, waiting until the socket
// takes it, and ends the write.
func (c *Conn) FinishWrite() error {
	return c.endWrite(c.rc.Write(c.writeFn))
}

// endWrite ends a write that holds c.wmu: it drops the iovecs and releases
// the lock.
func (c *Conn) endWrite(err error) error {
	c.iov[0].Base, c.iov[1].Base = nil, nil
	werr := c.werr
	c.wmu.Unlock()
	switch {
	case err != nil:
		return c.opError("write", err)
	case werr != 0:
		return c.opError("write", os.NewSyscallError("write", werr))
	}
	return nil
}

// setIov makes a and b the write's iovecs (caller holds c.wmu).
func (c *Conn) setIov(a, b []byte) {
	c.next, c.end, c.wn, c.werr = 0, 0, 0, 0
	for _, p := range [2][]byte{a, b} {
		if len(p) > 0 {
			c.iov[c.end].Base = &p[0]
			c.iov[c.end].SetLen(len(p))
			c.end++
		}
	}
}

// writeRaw is the RawConn's write callback: it writes until iov is empty,
// and returns false (park until writable) when the socket's buffer is full.
func (c *Conn) writeRaw(fd uintptr) bool {
	for c.next < c.end {
		var n uintptr
		var e syscall.Errno
		if v := &c.iov[c.next]; c.end-c.next == 1 {
			n, _, e = syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(v.Base)), uintptr(v.Len))
		} else {
			n, _, e = syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(v)), uintptr(c.end-c.next))
		}
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			c.werr = e
			return true
		}
		c.wn += int(n)
		for rest := uint64(n); c.next < c.end && rest > 0; {
			v := &c.iov[c.next]
			if rest < v.Len {
				v.Base = (*byte)(unsafe.Add(unsafe.Pointer(v.Base), rest))
				v.Len -= rest
				break
			}
			rest -= v.Len
			v.Base, v.Len = nil, 0
			c.next++
		}
	}
	return true
}

// opError names the operation as net.Conn's errors do (RawConn's say
// "raw-read", "raw-write").
func (c *Conn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		e := *oe
		e.Op = op
		return &e
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// PeekFirst returns rc with a Read that calls f only when the socket has
// something to read (data, the peer's close or an error), which it learns
// from a raw peek; when there is nothing, Read returns nil at once without
// calling f.
//
// It is for a caller whose f only checks that an idle connection is still
// open: go-redis's check of a pooled connection before each command is a
// non-blocking recvfrom with MSG_PEEK that concludes "healthy" on EAGAIN, the
// common answer, which then costs one raw system call. It is not a RawConn
// for a caller that waits for data.
func PeekFirst(rc syscall.RawConn) syscall.RawConn { return peekFirst{rc} }

type peekFirst struct{ syscall.RawConn }

func (p peekFirst) Read(f func(fd uintptr) bool) error {
	var empty bool
	err := p.RawConn.Control(func(fd uintptr) {
		var b [1]byte
		empty = peek(fd, &b) == syscall.EAGAIN
	})
	if err != nil || empty {
		return err
	}
	return p.RawConn.Read(f)
}
