package cluster

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-sockaddr"
	"github.com/hashicorp/memberlist"
)

// gossipTransport is memberlist's transport: its TCP streams and UDP packets
// on one address. It is memberlist's NetTransport with two differences:
//   - it reads every packet into one buffer and hands memberlist a copy of
//     the packet's bytes, where NetTransport makes a new 64 KB buffer per
//     packet (a probe is a few dozen bytes; at five probes a second those
//     buffers were 11 % of a loaded node's garbage, and most of an idle one's);
//   - a node bound to a particular address dials from it (sourceAddr).
type gossipTransport struct {
	tcp      *net.TCPListener
	udp      *net.UDPConn
	local    *net.TCPAddr // to dial from; nil: bound to every interface, any
	logger   *log.Logger
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	shutdown atomic.Bool
	done     chan struct{} // closed by Shutdown: a packet or stream nobody takes is dropped
	wg       sync.WaitGroup
}

var _ memberlist.NodeAwareTransport = (*gossipTransport)(nil)

// Sizes of the gossip sockets' buffers: the largest UDP packet, and the
// kernel's receive buffer asked for (halved until the kernel takes it), as
// NetTransport has them.
const (
	maxPacket   = 65536
	udpRecvBuf  = 2 << 20
	acceptPause = 5 * time.Millisecond // the first pause after a failed accept; it doubles up to a second
)

// newGossipTransport binds TCP and UDP on host:port as memberlist.Create
// would (port 0 picks one, tried again while another process takes its UDP
// side first) and returns the transport with the port it got.
func newGossipTransport(host string, port int, logger *log.Logger) (*gossipTransport, int, error) {
	ip := net.ParseIP(host)
	var err error
	for range 10 {
		var t *gossipTransport
		if t, err = listenGossip(ip, port, logger); err == nil {
			t.local = sourceAddr(host)
			t.wg.Add(2)
			go t.accept()
			go t.read()
			return t, t.tcp.Addr().(*net.TCPAddr).Port, nil
		}
		if port != 0 || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, 0, fmt.Errorf("could not set up network transport: %w", err)
}

func listenGossip(ip net.IP, port int, logger *log.Logger) (*gossipTransport, error) {
	tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: port})
	if err != nil {
		return nil, fmt.Errorf("failed to start TCP listener on %q port %d: %w", ip, port, err)
	}
	port = tcp.Addr().(*net.TCPAddr).Port
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port})
	if err != nil {
		_ = tcp.Close()
		return nil, fmt.Errorf("failed to start UDP listener on %q port %d: %w", ip, port, err)
	}
	for size := udpRecvBuf; ; size /= 2 {
		if err = udp.SetReadBuffer(size); err == nil {
			break
		}
		if size <= 1 {
			_ = tcp.Close()
			_ = udp.Close()
			return nil, fmt.Errorf("failed to resize UDP buffer: %w", err)
		}
	}
	return &gossipTransport{tcp: tcp, udp: udp, logger: logger, done: make(chan struct{}),
		packetCh: make(chan *memberlist.Packet), streamCh: make(chan net.Conn)}, nil
}

// FinalAdvertiseAddr implements memberlist.Transport: the address asked
// for, else the one bound to, else (bound to every interface) a private one.
func (t *gossipTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip != "" {
		a := net.ParseIP(ip)
		if a == nil {
			return nil, 0, fmt.Errorf("failed to parse advertise address %q", ip)
		}
		if a4 := a.To4(); a4 != nil {
			a = a4
		}
		return a, port, nil
	}
	bound := t.tcp.Addr().(*net.TCPAddr)
	if t.local != nil {
		return bound.IP, bound.Port, nil
	}
	ip, err := sockaddr.GetPrivateIP()
	if err != nil {
		return nil, 0, fmt.Errorf("failed to get interface addresses: %w", err)
	}
	a := net.ParseIP(ip)
	if a == nil {
		return nil, 0, errors.New("no private IP address found, and explicit IP not provided")
	}
	return a, bound.Port, nil
}

// WriteTo implements memberlist.Transport.
func (t *gossipTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress implements memberlist.NodeAwareTransport. An address that
// is an IP and a port (what members advertise) is sent to without a lookup.
func (t *gossipTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if ap, err := netip.ParseAddrPort(a.Addr); err == nil {
		_, err = t.udp.WriteToUDPAddrPort(b, ap)
		return time.Now(), err
	}
	ua, err := net.ResolveUDPAddr("udp", a.Addr)
	if err != nil {
		return time.Time{}, err
	}
	_, err = t.udp.WriteTo(b, ua)
	return time.Now(), err
}

// PacketCh implements memberlist.Transport.
func (t *gossipTransport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// StreamCh implements memberlist.Transport.
func (t *gossipTransport) StreamCh() <-chan net.Conn { return t.streamCh }

// DialTimeout implements memberlist.Transport.
func (t *gossipTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport.
func (t *gossipTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if t.local != nil {
		d.LocalAddr = t.local
	}
	return d.Dial("tcp", a.Addr)
}

// Shutdown implements memberlist.Transport: it closes both sockets and
// waits for their goroutines, which drop what they hold if nobody reads the
// channels any more (memberlist does not, when it fails to start).
func (t *gossipTransport) Shutdown() error {
	if t.shutdown.Swap(true) {
		return nil
	}
	close(t.done)
	_ = t.tcp.Close()
	_ = t.udp.Close()
	t.wg.Wait()
	return nil
}

// accept hands memberlist the TCP connections others open, pausing after
// a failed accept (5 ms, doubling up to a second) until Shutdown.
func (t *gossipTransport) accept() {
	defer t.wg.Done()
	var pause time.Duration
	for {
		conn, err := t.tcp.AcceptTCP()
		if err != nil {
			if t.shutdown.Load() {
				return
			}
			pause = min(max(2*pause, acceptPause), time.Second)
			t.logger.Printf("[ERR] memberlist: Error accepting TCP connection: %v", err)
			time.Sleep(pause)
			continue
		}
		pause = 0
		select {
		case t.streamCh <- conn:
		case <-t.done:
			_ = conn.Close()
			return
		}
	}
}

// read hands memberlist each UDP packet: a copy of its bytes, read into one
// buffer, and the time it was read, until Shutdown.
func (t *gossipTransport) read() {
	defer t.wg.Done()
	buf := make([]byte, maxPacket)
	for {
		n, addr, err := t.udp.ReadFromUDPAddrPort(buf)
		ts := time.Now()
		if err != nil {
			if t.shutdown.Load() {
				return
			}
			t.logger.Printf("[ERR] memberlist: Error reading UDP packet: %v", err)
			time.Sleep(acceptPause) // not a busy loop if the error stays
			continue
		}
		if n < 1 {
			t.logger.Printf("[ERR] memberlist: UDP packet too short (0 bytes) from %s", addr)
			continue
		}
		from := net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port()))
		select {
		case t.packetCh <- &memberlist.Packet{Buf: append([]byte(nil), buf[:n]...), From: from, Timestamp: ts}:
		case <-t.done:
			return
		}
	}
}
