//go:build linux

package rawio

import (
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// A connection's WhenReadable state (Conn.pstate).
const (
	pollNever  int32 = iota // WhenReadable was never called
	pollIdle                // its owner reads (or will arm again)
	pollArmed               // the poller waits for the socket on its behalf
	pollClosed              // Close was called
)

// poller is the process's one epoll instance for WhenReadable: sockets wait
// in it instead of each on a goroutine of its own. Its own descriptor waits
// in the runtime's poller (an epoll instance is itself readable while it has
// events), so it costs no thread: one goroutine drains it when the runtime
// says it has something, and parks when it is empty.
type poller struct {
	file *os.File        // the epoll instance: never closed, and kept here from its finalizer
	ep   int             // its descriptor
	rc   syscall.RawConn // file's, for run

	mu    sync.Mutex
	conns map[uint64]*Conn // by the key its events carry
	last  uint64

	evs [128]syscall.EpollEvent // drain's
}

var (
	pollOnce    sync.Once
	thePoller   *poller
	thePollFail error
)

// getPoller returns the process's poller, made and started by its first
// caller.
func getPoller() (*poller, error) {
	pollOnce.Do(func() {
		thePoller, thePollFail = newPoller()
		if thePollFail == nil {
			go thePoller.run()
		}
	})
	return thePoller, thePollFail
}

// Polls reports whether WhenReadable works here: on Linux, unless the
// process could not make its epoll instance (out of descriptors, say).
func Polls() bool {
	_, err := getPoller()
	return err == nil
}

func newPoller() (*poller, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(ep, true); err != nil {
		syscall.Close(ep)
		return nil, os.NewSyscallError("fcntl", err)
	}
	// os.NewFile puts a non-blocking descriptor in the runtime's poller
	f := os.NewFile(uintptr(ep), "rawio-epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &poller{file: f, ep: ep, rc: rc, conns: map[uint64]*Conn{}}, nil
}

// run drains the epoll instance for as long as the process lives: drain
// returns false (park until the instance is readable again) every time.
func (p *poller) run() {
	for p.rc.Read(p.drain) == nil {
	}
}

// drain takes the ready sockets' events, without blocking, until there are
// none, and calls each socket's function on a new goroutine.
func (p *poller) drain(ep uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, ep, uintptr(unsafe.Pointer(&p.evs[0])), uintptr(len(p.evs)), 0, 0, 0)
		switch {
		case e == syscall.EINTR:
			continue
		case e != 0 || n == 0:
			return false
		}
		p.mu.Lock()
		for i := range p.evs[:n] {
			c := p.conns[eventKey(&p.evs[i])]
			if c != nil && c.pstate.CompareAndSwap(pollArmed, pollIdle) {
				go c.onReadable()
			}
		}
		p.mu.Unlock()
		if int(n) < len(p.evs) {
			return false
		}
	}
}

// add gives c its key, unless c was closed (Close calls forget after it
// marked c closed).
func (p *poller) add(c *Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.pstate.Load() == pollClosed {
		return false
	}
	p.last++
	c.pkey = p.last
	p.conns[c.pkey] = c
	return true
}

func (p *poller) forget(c *Conn) {
	p.mu.Lock()
	if c.pkey != 0 {
		delete(p.conns, c.pkey)
	}
	p.mu.Unlock()
}

func eventKey(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// WhenReadable calls f on a new goroutine, once, when the socket has
// something to read (data, the peer's close or an error) or when c is
// closed, whichever comes first; it returns at once. Meanwhile no goroutine
// waits for c: an idle connection costs no stack (docs/BENCHMARKS.md C15).
// It reads nothing: the next Read gets it all. Something already in the
// socket calls f at once. It returns an error, and will not call f, when c
// is closed already or the poller cannot take it.
//
// One call at a time: call it again (from f, say) after f was called.
func (c *Conn) WhenReadable(f func()) error {
	p, err := getPoller()
	if err != nil {
		return err
	}
	// amu: the f of this call can run, and call WhenReadable, as soon as
	// the epoll_ctl below is made
	c.amu.Lock()
	defer c.amu.Unlock()
	c.onReadable = f // before the arming store below, which the poller's CAS sees
	if c.pstate.Load() == pollNever {
		if !c.pstate.CompareAndSwap(pollNever, pollIdle) || !p.add(c) {
			return c.opError("read", net.ErrClosed)
		}
		c.armFn = c.arm
	}
	if !c.pstate.CompareAndSwap(pollIdle, pollArmed) {
		return c.opError("read", net.ErrClosed)
	}
	c.armErr = 0
	err = c.rc.Control(c.armFn)
	if err == nil && c.armErr != 0 {
		err = os.NewSyscallError("epoll_ctl", c.armErr)
	}
	if err != nil && c.pstate.CompareAndSwap(pollArmed, pollIdle) {
		return c.opError("read", err)
	}
	return nil // armed; or Close took the arming over, and calls f
}

// arm is WhenReadable's Control callback: while it runs the descriptor is
// c's and open, so an epoll_ctl on a number that a closed connection left to
// a new one cannot happen.
func (c *Conn) arm(fd uintptr) {
	op := syscall.EPOLL_CTL_MOD
	if !c.inEpoll {
		op = syscall.EPOLL_CTL_ADD
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd: int32(uint32(c.pkey)), Pad: int32(uint32(c.pkey >> 32))}
	_, _, c.armErr = syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(thePoller.ep), uintptr(op), fd, uintptr(unsafe.Pointer(&ev)), 0, 0)
	c.inEpoll = c.inEpoll || c.armErr == 0
}

// Close closes the connection; a WhenReadable waiting for it calls its
// function (whose next Read fails).
func (c *Conn) Close() error {
	err := c.TCPConn.Close()
	switch c.pstate.Swap(pollClosed) {
	case pollNever, pollClosed:
		return err
	case pollArmed:
		go c.onReadable()
	}
	thePoller.forget(c) // closing the descriptor took it out of the epoll instance
	return err
}
