package cluster

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestDialPeerWaitsForANodeThatComesBack: a dial to a remote port that
// refuses (its node restarting) goes on trying and connects once the port
// listens again, instead of failing at once (which makes protoactor's
// endpoint writer sleep 2 s); a dial whose ctx ends gives up.
func TestDialPeerWaitsForANodeThatComesBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the node is down: dials are refused

	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Skipf("%s was taken by another process meanwhile", addr)
	}
	refused := make(chan struct{})
	back := make(chan net.Listener, 1)
	go func() {
		<-refused
		ln, err := net.Listen("tcp", addr) // the node is back on its port
		if err != nil {
			t.Errorf("listen again on %s: %v", addr, err)
			close(back)
			return
		}
		back <- ln
	}()

	ctx, cancel := context.WithTimeout(context.Background(), dialPatience)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		c, err := dialPeer(ctx, addr, nil, nil)
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("dialPeer returned (%v) while the port refused; want it to keep trying", err)
	case <-time.After(3 * dialRetry):
	}
	close(refused)
	ln2, ok := <-back
	if !ok {
		return
	}
	defer ln2.Close()
	if err := <-done; err != nil {
		t.Fatalf("dialPeer after the port listens again: %v", err)
	}

	stopped, stop := context.WithCancel(context.Background())
	stop()
	ln2.Close()
	if c, err := dialPeer(stopped, addr, nil, nil); err == nil {
		c.Close()
		t.Fatalf("dialPeer with an ended ctx connected")
	}
}
