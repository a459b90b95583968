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
	"sync/atomic"
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
				switch i % 3 {
				case 0:
					n, err = w.Write(append(append([]byte(nil), p.x...), p.y...))
				case 1: // what the socket does not take at once, another goroutine finishes
					var done bool
					if done, err = w.TryWritevUnless(nil, p.x, p.y); err == nil && !done {
						fin := make(chan error)
						go func() { fin <- w.FinishWrite() }()
						err = <-fin
					}
					n = len(p.x) + len(p.y)
				default:
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
// TestTryWriteHandsOver: a write the socket does not take at once stays in
// progress until FinishWrite, called on another goroutine: no other write
// begins before it (TryWritevUnless says ErrBusy), so the bytes of the two
// never interleave. A stop that is
// set writes nothing and leaves no write in progress.
func TestTryWriteHandsOver(t *testing.T) {
	a, b := pair(t)
	big := bytes.Repeat([]byte("x"), 32<<20) // more than any socket buffer takes at once
	done, err := a.TryWritevUnless(nil, []byte("head"), big)
	if err != nil || done {
		t.Fatalf("TryWritevUnless of 32 MiB to a peer that reads nothing: done %v, err %v", done, err)
	}
	if done, err := a.TryWritevUnless(nil, []byte("busy"), nil); done || !errors.Is(err, ErrBusy) {
		t.Fatalf("TryWritevUnless while a write is in progress: done %v, err %v; want ErrBusy", done, err)
	}
	second := make(chan error, 1)
	go func() { // waits for the write lock that the first write still holds
		_, err := a.Writev([]byte("tail"), nil)
		second <- err
	}()
	finished := make(chan error, 1)
	go func() { finished <- a.FinishWrite() }()
	got := make(chan []byte, 1)
	go func() {
		all, _ := io.ReadAll(b)
		got <- all
	}()
	if err := <-finished; err != nil {
		t.Fatalf("FinishWrite: %v", err)
	}
	if err := <-second; err != nil {
		t.Fatalf("the second write: %v", err)
	}
	if err := a.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	all := <-got
	if want := 4 + len(big) + 4; len(all) != want || string(all[:4]) != "head" || string(all[len(all)-4:]) != "tail" ||
		bytes.Count(all[4:len(all)-4], []byte("x")) != len(big) {
		t.Fatalf("read %d bytes, want head, 32 MiB of x, tail (%d bytes)", len(all), want)
	}

	c, d := pair(t)
	var stop atomic.Bool
	stop.Store(true)
	if done, err := c.TryWritevUnless(&stop, []byte("no"), nil); done || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("TryWritevUnless with stop set: done %v, err %v", done, err)
	}
	if done, err := c.TryWritevUnless(nil, []byte("yes"), nil); !done || err != nil { // the lock was let go
		t.Fatalf("TryWritevUnless after a stop: done %v, err %v", done, err)
	}
	buf := make([]byte, 8)
	if n, err := io.ReadAtLeast(d, buf, 3); err != nil || string(buf[:n]) != "yes" {
		t.Fatalf("read %q, %v; want yes", buf[:n], err)
	}
}

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

// woken returns a function for WhenReadable that counts its calls on ch.
func woken(ch chan<- struct{}) func() { return func() { ch <- struct{}{} } }

// TestWhenReadable: f comes once there is something to read, and it is left
// for Read; something already there calls f at once; the peer's close
// counts; Close calls f of a connection that waits, and WhenReadable after
// Close fails.
func TestWhenReadable(t *testing.T) {
	if !Polls() {
		t.Fatal("no poller")
	}
	a, b := pair(t)
	c, d := pair(t)
	aw, cw := make(chan struct{}, 4), make(chan struct{}, 4)
	if err := a.WhenReadable(woken(aw)); err != nil {
		t.Fatal(err)
	}
	if err := c.WhenReadable(woken(cw)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	<-cw
	select { // a's socket has nothing: its f has not come, and c's did
	case <-aw:
		t.Fatal("called with nothing to read")
	default:
	}
	if _, err := b.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	<-aw
	if err := a.WhenReadable(woken(aw)); err != nil { // still there: at once
		t.Fatal(err)
	}
	<-aw
	buf := make([]byte, 8)
	if n, err := a.Read(buf); n != 3 || err != nil || string(buf[:3]) != "abc" {
		t.Fatalf("read after the wait: %d %q, %v", n, buf[:n], err)
	}
	if err := a.WhenReadable(woken(aw)); err != nil {
		t.Fatal(err)
	}
	b.Close()
	<-aw
	if _, err := a.Read(buf); err != io.EOF {
		t.Fatalf("read after the peer's close: %v", err)
	}

	if _, err := c.Read(buf); err != nil { // the "x"
		t.Fatal(err)
	}
	if err := c.WhenReadable(woken(cw)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	<-cw
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v", err)
	}
	if err := c.WhenReadable(woken(cw)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WhenReadable after Close: %v", err)
	}
	e, _ := pair(t)
	e.Close()
	if err := e.WhenReadable(woken(cw)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("first WhenReadable after Close: %v", err)
	}
	select {
	case <-aw:
		t.Fatal("a's f came twice")
	case <-cw:
		t.Fatal("c's f came twice")
	default:
	}
}

// TestWhenReadableRaces: connections that wait, read what came and wait
// again, while their peers write and close and they are closed at random.
// Each wait ends exactly once, in f, and every byte written before a peer's
// close is read by its connection unless that one was closed first.
func TestWhenReadableRaces(t *testing.T) {
	const conns, writes = 40, 50
	var wg sync.WaitGroup
	for i := range conns {
		a, b := pair(t)
		rng := rand.New(rand.NewPCG(uint64(i), 9))
		closeOwn := rng.IntN(3) == 0
		var read int
		done := make(chan struct{})
		var wait func()
		var calls int
		wait = func() {
			calls++
			buf := make([]byte, 64)
			n, err := a.Read(buf)
			read += n
			if err != nil {
				if err != io.EOF && !errors.Is(err, net.ErrClosed) {
					t.Errorf("conn %d: %v", i, err)
				}
				close(done)
				return
			}
			if err := a.WhenReadable(wait); err != nil {
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("conn %d: %v", i, err)
				}
				close(done)
			}
		}
		if err := a.WhenReadable(wait); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := 0
			for k := range writes {
				n, err := b.Write(bytes.Repeat([]byte{byte(k)}, 1+rng.IntN(200)))
				sent += n
				if err != nil {
					break
				}
				if closeOwn && k == writes/2 {
					a.Close()
				}
			}
			b.Close()
			<-done
			if !closeOwn && read != sent {
				t.Errorf("conn %d: read %d of %d bytes", i, read, sent)
			}
			if calls == 0 {
				t.Errorf("conn %d: f never called", i)
			}
		}()
	}
	wg.Wait()
}
