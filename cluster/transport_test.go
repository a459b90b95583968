package cluster

import (
	"bytes"
	"log"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// TestGossipTransport checks the transport against what memberlist expects
// of one: each packet whole and apart from the next (the transport reads
// them all into one buffer), with its sender; each TCP connection opened to
// it; dials from its own address; the address it advertises; a shutdown.
func TestGossipTransport(t *testing.T) {
	t.Parallel()
	tr, port, err := newGossipTransport("127.0.0.2", 0, log.New(testWriter{t}, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = tr.Shutdown()
		}
	})
	self := net.JoinHostPort("127.0.0.2", strconv.Itoa(port))

	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	to, _ := net.ResolveUDPAddr("udp", self)
	big, small := bytes.Repeat([]byte("g"), 1400), []byte("ping")
	for _, b := range [][]byte{big, small} {
		if _, err := peer.WriteTo(b, to); err != nil {
			t.Fatal(err)
		}
	}
	var got []*memberlist.Packet
	for range 2 {
		select {
		case p := <-tr.PacketCh():
			got = append(got, p)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of 2 packets arrived", len(got))
		}
	}
	if !bytes.Equal(got[0].Buf, big) || !bytes.Equal(got[1].Buf, small) {
		t.Fatalf("packets read back as %d and %d bytes (%.8q, %.8q); want 1400 g and ping",
			len(got[0].Buf), len(got[1].Buf), got[0].Buf, got[1].Buf)
	}
	for _, p := range got {
		if cap(p.Buf) > 2*len(p.Buf)+64 {
			t.Errorf("a %d-byte packet holds a %d-byte buffer", len(p.Buf), cap(p.Buf))
		}
		if p.From.String() != peer.LocalAddr().String() || p.Timestamp.IsZero() {
			t.Errorf("packet from %v at %v; want from %v, with a time", p.From, p.Timestamp, peer.LocalAddr())
		}
	}

	// packets out: to an address as members advertise them, and by name
	for _, addr := range []string{peer.LocalAddr().String(), "localhost:" + strconv.Itoa(peer.LocalAddr().(*net.UDPAddr).Port)} {
		if _, err := tr.WriteTo([]byte("ack"), addr); err != nil {
			t.Fatalf("WriteTo %s: %v", addr, err)
		}
		buf := make([]byte, 16)
		_ = peer.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, from, err := peer.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "ack" || from.String() != self {
			t.Fatalf("peer read %q from %v, %v; want ack from %s", buf[:n], from, err, self)
		}
	}

	// streams: in, and out from the bound address
	c, err := net.DialTimeout("tcp", self, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case s := <-tr.StreamCh():
		if s.RemoteAddr().String() != c.LocalAddr().String() {
			t.Errorf("stream from %v; want %v", s.RemoteAddr(), c.LocalAddr())
		}
		_ = s.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("no stream for a TCP connection")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out, err := tr.DialTimeout(ln.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ip := out.LocalAddr().(*net.TCPAddr).IP.String(); ip != "127.0.0.2" {
		t.Errorf("dialed from %s; want the bind address 127.0.0.2", ip)
	}
	_ = out.Close()

	for _, c := range []struct {
		ip       string
		port     int
		want     string
		wantPort int
	}{{"", 0, "127.0.0.2", port}, {"10.1.2.3", 7000, "10.1.2.3", 7000}} {
		ip, p, err := tr.FinalAdvertiseAddr(c.ip, c.port)
		if err != nil || ip.String() != c.want || p != c.wantPort {
			t.Errorf("FinalAdvertiseAddr(%q, %d) = %v, %d, %v; want %s, %d", c.ip, c.port, ip, p, err, c.want, c.wantPort)
		}
	}
	if _, _, err := tr.FinalAdvertiseAddr("not-an-ip", 1); err == nil {
		t.Error("FinalAdvertiseAddr took a name that is no IP")
	}

	done := make(chan struct{})
	go func() { _ = tr.Shutdown(); close(done) }()
	select {
	case <-done:
		closed = true
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if _, err := net.DialTimeout("tcp", self, time.Second); err == nil {
		t.Error("the TCP port still accepts after Shutdown")
	}
}

// testWriter sends the transport's log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(b)))
	return len(b), nil
}

// TestGossipTransportShutdownUnread: Shutdown returns while a packet and a
// stream wait for a reader that is gone (memberlist failing to start).
func TestGossipTransportShutdownUnread(t *testing.T) {
	t.Parallel()
	tr, port, err := newGossipTransport("127.0.0.1", 0, log.New(testWriter{t}, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	self := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c, err := net.Dial("udp", self)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	s, err := net.DialTimeout("tcp", self, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := make(chan struct{})
	go func() { _ = tr.Shutdown(); _ = tr.Shutdown(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return with a packet and a stream unread")
	}
}
