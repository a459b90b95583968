package cluster

import (
	"fmt"
	"log"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// Dialing from the bind address. A node bound to a particular address (not
// 0.0.0.0 or ::) also opens its connections to other nodes from that
// address, its gossip's TCP streams as its remote port's gRPC: its cluster
// traffic then comes from the address the others know it by (its UDP gossip
// always did, from the socket it listens on). A firewall rule by address, or
// a chaos partition made with one, then covers both directions of every
// connection between two nodes.

// sourceAddr returns the address to dial from for a node bound to host, nil
// when host names no particular address.
func sourceAddr(host string) *net.TCPAddr {
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return nil
	}
	return &net.TCPAddr{IP: ip}
}

// sourceTransport is memberlist's NetTransport with its TCP dials made from
// the bind address.
type sourceTransport struct {
	*memberlist.NetTransport
	local *net.TCPAddr
}

func (t *sourceTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *sourceTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: t.local}
	return d.Dial("tcp", a.Addr)
}

// newSourceTransport binds memberlist's transport on host:port as
// memberlist.Create would (port 0 picks one, tried again while another
// process takes it first) and returns it with the port it got; nil when host
// names no particular address (memberlist then makes its own).
func newSourceTransport(host string, port int, logger *log.Logger) (*sourceTransport, int, error) {
	local := sourceAddr(host)
	if local == nil {
		return nil, port, nil
	}
	cfg := &memberlist.NetTransportConfig{BindAddrs: []string{host}, BindPort: port, Logger: logger}
	var err error
	for range 10 {
		var nt *memberlist.NetTransport
		if nt, err = memberlist.NewNetTransport(cfg); err == nil {
			if port == 0 {
				port = nt.GetAutoBindPort()
			}
			return &sourceTransport{NetTransport: nt, local: local}, port, nil
		}
		if port != 0 || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, 0, fmt.Errorf("could not set up network transport: %w", err)
}
