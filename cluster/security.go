package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/actorhub/actorhub/internal/pemfile"
	"github.com/hashicorp/memberlist"
)

// TLSFiles names the PEM files of the actor-remote port's mutual TLS: this
// node's certificate and key, and the CA that signs every member's.
type TLSFiles struct{ Cert, Key, CA string }

// Enabled reports whether any file is named.
func (f TLSFiles) Enabled() bool { return f.Cert != "" || f.Key != "" || f.CA != "" }

// MutualTLS is a loaded TLSFiles: the server side asks every peer for a
// certificate signed by the CA and refuses the handshake without one; the
// client side presents this node's certificate and checks the server's
// against the CA and the address it dialled.
type MutualTLS struct {
	Server, Client *tls.Config
}

// LoadMutualTLS reads f. Every file is needed; a missing or unreadable one,
// a key that does not match its certificate or a CA file with no certificate
// is an error naming the file.
func LoadMutualTLS(f TLSFiles) (*MutualTLS, error) {
	if f.Cert == "" || f.Key == "" || f.CA == "" {
		return nil, errors.New("mutual TLS needs all of --tls-cert, --tls-key and --tls-ca")
	}
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s / --tls-key %s: %w", f.Cert, f.Key, err)
	}
	pool, err := pemfile.CertPool(f.CA)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %w", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s: %w", f.Cert, err)
	}
	// A certificate the CA did not sign would be refused by every peer: say so here.
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("--tls-cert %s is not signed by --tls-ca %s: %w", f.Cert, f.CA, err)
	}
	return &MutualTLS{
		Server: &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{pair},
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool},
		Client: &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{pair}, RootCAs: pool},
	}, nil
}

// ParseGossipKeys reads gossip encryption keys: base64 of 16, 24 or 32 bytes
// (AES-128/192/256), separated by commas, spaces or newlines. The first is
// the one this node encrypts with; every key decrypts. Rotation without
// downtime: add the new key second on every node, then first, then drop the
// old one, one rolling restart each.
func ParseGossipKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for i, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		k, err := base64.StdEncoding.DecodeString(f)
		if err != nil {
			return nil, fmt.Errorf("gossip key %d is not base64: %w", i+1, err)
		}
		if err := memberlist.ValidateKey(k); err != nil {
			return nil, fmt.Errorf("gossip key %d: %d bytes; want 16, 24 or 32 (openssl rand -base64 32)", i+1, len(k))
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// IsLoopback reports whether an address (host:port or a host) reaches only
// this host: 127.0.0.0/8, ::1 or localhost. An empty host or 0.0.0.0 binds
// every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
