package persistence

import (
	"net"
	"testing"
	"time"

	"github.com/actorhub/actorhub/internal/rawio"
)

// TestRedisConnCheck: go-redis's check of a pooled connection (a Read of
// its SyscallConn, whose f it calls only when the socket has something to
// read) is skipped for freshRead after a reply, and made otherwise: the
// peer's close shows once the last reply is older than that.
func TestRedisConnCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := rawio.Wrap(d).(*rawio.Conn)
	if !ok {
		t.Skip("rawio does not wrap TCP connections on this platform")
	}
	c := &redisConn{Conn: raw}
	defer c.Close()
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	defer peer.Close()

	// check reports whether go-redis's check would find something on the
	// connection (data, or the peer's close): it calls f then
	check := func() bool {
		t.Helper()
		rc, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		called := false
		if err := rc.Read(func(uintptr) bool { called = true; return true }); err != nil {
			t.Fatal(err)
		}
		return called
	}
	if check() {
		t.Fatal("a connection that never read found something to read")
	}
	if _, err := peer.Write([]byte("+OK\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := c.Read(buf); n != 5 || err != nil {
		t.Fatalf("read the reply: %d, %v", n, err)
	}
	if c.lastRead.Load() == 0 {
		t.Fatal("a read that returned data did not note its time")
	}
	peer.Close()
	// the close arrives, and the real check would see it (below); a
	// connection that just read a reply is not checked
	for deadline := time.Now().Add(5 * time.Second); ; {
		c.lastRead.Store(0)
		if check() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the peer's close never showed")
		}
		time.Sleep(time.Millisecond)
	}
	c.lastRead.Store(time.Now().UnixNano())
	if check() {
		t.Fatal("a connection that read a reply just now was checked")
	}
	c.lastRead.Store(time.Now().Add(-2 * freshRead).UnixNano())
	if !check() {
		t.Fatal("a connection whose last reply is older than freshRead was not checked")
	}
}
