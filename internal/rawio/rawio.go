// Package rawio reads and writes a non-blocking TCP socket without telling
// the Go scheduler that a system call is in progress.
//
// A read or write made through net.Conn enters the runtime's syscall state
// (entersyscall): when every P had been idle, that wakes the sysmon thread
// (a futex wake and a context switch), which then polls every 20 µs until the
// process is idle again, and a call that outlasts a sysmon tick has its P
// handed to another thread. On a socket in non-blocking mode (every socket the
// net package opens) the call never blocks: it copies what fits and returns
// EAGAIN otherwise, so none of that is needed. A node whose load comes as
// events spread in time (one job per user: one event every few hundred
// microseconds) goes idle between events, and paid those wakeups once per
// event: docs/BENCHMARKS.md C10 measures them.
//
// Conn makes the same calls through syscall.RawConn, which keeps the net
// package's locking, deadlines and poller: when the socket is not ready the
// goroutine parks in the poller as it would in net.Conn.
//
// On Linux a Conn can also wait for its socket without a goroutine
// (WhenReadable): the process's idle connections wait in one epoll instance,
// which itself waits in the runtime's poller, and a connection's function
// runs on a new goroutine when something comes.
package rawio

import (
	"errors"
	"net"
)

// ErrBusy is TryWritevUnless's answer when it cannot write at once: another
// write is in progress (it may be waiting for the socket), or the system
// has no raw writes.
var ErrBusy = errors.New("rawio: another write is in progress")

// Listener returns ln with Accept wrapping each connection (Wrap).
func Listener(ln net.Listener) net.Listener { return listener{ln} }

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}
