//go:build linux

package rawio

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pair returns both ends of a loopback TCP connection, each wrapped.
func pair(t *testing.T) (*Conn, *Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ln = Listener(ln)
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	a, ok1 := Wrap(d).(*Conn)
	b, ok2 := r.c.(*Conn)
	if !ok1 || !ok2 {
		t.Fatalf("not wrapped: %T %T", Wrap(d), r.c)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestWrapLeavesOthersAlone(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Wrap(a) != a {
		t.Fatal("a net.Pipe end was wrapped")
	}
	c, _ := pair(t)
	if Wrap(c) != net.Conn(c) {
		t.Fatal("a *Conn was wrapped again")
	}
}

// TestBytesArriveInOrder writes random pieces, one or two at a time, some
// far larger than the socket's buffers (the writer parks until the reader
// catches up), while the peer reads with random buffer sizes and writes back
// on the same connection.
func TestBytesArriveInOrder(t *testing.T) {
	a, b := pair(t)
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 1<<20)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	var want bytes.Buffer
	type piece struct{ x, y []byte }
	var pieces []piece
	for i := 0; i < 300; i++ {
		mk := func() []byte {
			n := rng.IntN(200)
			switch rng.IntN(20) {
			case 0:
				n = 0
			case 1:
				n = 256 << 10 << rng.IntN(3)
			}
			at := rng.IntN(len(noise) - n + 1)
			return noise[at : at+n]
		}
		p := piece{mk(), mk()}
		pieces = append(pieces, p)
		want.Write(p.x)
		want.Write(p.y)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, w := range []*Conn{a, b} { // both ends write and read at once
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, p := range pieces {
				var n int
				var err error
				if i%3 == 0 {
					n, err = w.Write(append(append([]byte(nil), p.x...), p.y...))
				} else {
					n, err = w.Writev(p.x, p.y)
				}
				if err != nil || n != len(p.x)+len(p.y) {
					errs <- err
					return
				}
			}
			if err := w.CloseWrite(); err != nil {
				errs <- err
			}
		}()
	}
	for i, r := range []*Conn{b, a} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(3, uint64(i)))
			var got bytes.Buffer
			buf := make([]byte, 1<<16)
			for {
				n, err := r.Read(buf[:1+rng.IntN(len(buf)-1)])
				got.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					errs <- err
					return
				}
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				errs <- errors.New("the bytes read differ from the bytes written")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestReadDeadlineAndClose(t *testing.T) {
	a, _ := pair(t)
	_ = a.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := a.Read(make([]byte, 10))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v", err)
	}
	_ = a.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, err := a.Read(make([]byte, 10))
		done <- err
	}()
	// the read parks in the poller; Close must end it whenever it comes
	time.Sleep(10 * time.Millisecond)
	a.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read ended by Close: %v", err)
	}
	if _, err := a.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
}

// TestWriteDeadline fills a peer that does not read: the write parks, and
// returns at its deadline with what it wrote so far.
func TestWriteDeadline(t *testing.T) {
	a, _ := pair(t)
	big := make([]byte, 64<<20)
	_ = a.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := a.Writev(big[:1<<20], big)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past the deadline: %d, %v", n, err)
	}
	if n < 0 || n >= len(big)+1<<20 {
		t.Fatalf("wrote %d bytes before the deadline", n)
	}
}

// TestWriteToResetPeer: a peer that resets the connection makes the write
// fail (EPIPE or ECONNRESET), and does not kill the process (SIGPIPE).
func TestWriteToResetPeer(t *testing.T) {
	a, b := pair(t)
	_ = b.SetLinger(0)
	b.Close()
	var err error
	for i := 0; i < 1000 && err == nil; i++ { // the RST arrives after a write or two
		_, err = a.Write(make([]byte, 1024))
	}
	if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("write to a reset peer: %v", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("error %#v is not a write *net.OpError", err)
	}
}

// TestPeekFirst: f runs only when there is something to read.
func TestPeekFirst(t *testing.T) {
	a, b := pair(t)
	rc, err := a.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	p := PeekFirst(rc)
	calls := 0
	f := func(uintptr) bool { calls++; return true }
	if err := p.Read(f); err != nil || calls != 0 {
		t.Fatalf("idle connection: err %v, f called %d times", err, calls)
	}
	if _, err := b.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	for calls == 0 { // the byte arrives
		if err := p.Read(f); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 1)
	if n, err := a.Read(buf); n != 1 || err != nil {
		t.Fatalf("the byte peeked at was consumed: %d, %v", n, err)
	}
	b.Close()
	calls = 0
	for calls == 0 { // the close arrives
		if err := p.Read(f); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	if err := p.Read(f); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("peek on a closed connection: %v", err)
	}
}

// TestWaitReadable: it returns once there is something to read, and leaves
// it for Read; the peer's close counts; Close ends a wait.
func TestWaitReadable(t *testing.T) {
	a, b := pair(t)
	done := make(chan error, 1)
	go func() { done <- a.WaitReadable() }()
	time.Sleep(10 * time.Millisecond) // not needed for the test to pass: it only gives the wait time to park
	select {
	case err := <-done:
		t.Fatalf("returned with nothing to read: %v", err)
	default:
	}
	if _, err := b.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := a.WaitReadable(); err != nil { // still there
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := a.Read(buf); n != 3 || err != nil || string(buf[:3]) != "abc" {
		t.Fatalf("read after the wait: %d %q, %v", n, buf[:n], err)
	}
	b.Close()
	if err := a.WaitReadable(); err != nil {
		t.Fatalf("the peer's close: %v", err)
	}
	if _, err := a.Read(buf); err != io.EOF {
		t.Fatalf("read after the peer's close: %v", err)
	}

	c, _ := pair(t)
	go func() { done <- c.WaitReadable() }()
	time.Sleep(10 * time.Millisecond) // as above: Close must end the wait whenever it comes
	c.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("wait ended by Close: %v", err)
	}
}
