package cluster

import "net"

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
