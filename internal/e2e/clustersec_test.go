package e2e

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/actorhub/actorhub/internal/devcerts"
	"github.com/actorhub/actorhub/internal/nodetest"
	"github.com/actorhub/actorhub/internal/pemfile"
	"github.com/actorhub/actorhub/internal/redistest"
	"github.com/hashicorp/memberlist"
)

// TestClusterSecurity runs two nodes with mutual TLS on the remote port and
// an encrypted gossip: jobs cross between them as usual, while a peer
// without the cluster's certificate or gossip key gets nowhere and the nodes
// stay up and count what they refused.
func TestClusterSecurity(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certs, err := devcerts.Make(filepath.Join(dir, "certs"), []string{"node"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := devcerts.Make(filepath.Join(dir, "foreign"), []string{"node"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyFile := filepath.Join(dir, "gossip.key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rs := redistest.Start(t)
	nodes := nodetest.StartCluster(t, 2, rs.URL(), "--tls-cert", certs.Nodes["node"][0], "--tls-key", certs.Nodes["node"][1],
		"--tls-ca", certs.CA, "--gossip-key-file", keyFile)
	a, b := nodes[0], nodes[1]

	// A job made on a, emitted into and watched through b: each hop crosses the TLS port.
	mustAPI(t, 201, "POST", a.URL("/api/jobs"), `{"jobId":"sec-1","userId":"u","type":"t"}`)
	mustAPI(t, 200, "POST", b.URL("/api/jobs/sec-1/events"), `{"events":[{"offset":0,"event":"model:chunk:v1","data":{"chunk":"x"}}]}`)
	c := dial(t, b.WS("/ws?user=u"))
	c.expect("connected")
	c.send(`{"type":"subscribe","id":1,"jobId":"sec-1"}`)
	c.expect("subscribed")
	c.events("sec-1", 0, 2)

	// The remote port: no TLS, TLS without a certificate, a certificate of another CA.
	pool, err := pemfile.CertPool(certs.CA)
	if err != nil {
		t.Fatal(err)
	}
	otherCert, err := tls.LoadX509KeyPair(foreign.Nodes["node"][0], foreign.Nodes["node"][1])
	if err != nil {
		t.Fatal(err)
	}
	probes := map[string]func() error{
		"plain gRPC": func() error {
			conn, err := net.DialTimeout("tcp", a.Remote, 5*time.Second)
			if err != nil {
				return err
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = conn.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"))
			return readRefused(conn)
		},
		"TLS without a certificate": func() error { return tlsProbe(a.Remote, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}) },
		"a foreign CA's certificate": func() error {
			return tlsProbe(a.Remote, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{otherCert}})
		},
	}
	for name, probe := range probes {
		if err := probe(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	nodetest.WaitFor(t, 10*time.Second, func() error {
		if n := metricValue(metrics(t, a), `actorhub_errors_total{code="cluster_tls"}`); n < 3 {
			return fmt.Errorf("cluster_tls counted %v times, want 3", n)
		}
		return nil
	})

	// The gossip port: a member without the key, and one with another key.
	for name, secret := range map[string][]byte{"no key": nil, "another key": []byte("0123456789abcdef0123456789abcdef")} {
		cfg := memberlist.DefaultLANConfig()
		cfg.Name, cfg.BindAddr, cfg.BindPort, cfg.AdvertiseAddr = "rogue-"+strings.ReplaceAll(name, " ", "-"), "127.0.0.1", 0, "127.0.0.1"
		cfg.SecretKey, cfg.LogOutput = secret, io.Discard
		ml, err := memberlist.Create(cfg)
		if err != nil {
			t.Fatal(err)
		}
		joined, err := ml.Join([]string{a.Gossip})
		if err == nil || joined > 0 || ml.NumMembers() != 1 {
			t.Errorf("a rogue member with %s joined %d (%v); it sees %d members", name, joined, err, ml.NumMembers())
		}
		_ = ml.Shutdown()
	}
	if alive, err := a.AliveMembers(); err != nil || alive != 2 {
		t.Errorf("after the rogues: %d alive members (%v), want 2", alive, err)
	}

	// Both nodes still serve: the job goes on.
	mustAPI(t, 200, "POST", a.URL("/api/jobs/sec-1/events"), `{"events":[{"offset":1,"event":"model:chunk:v1","data":{"chunk":"y"}}]}`)
	c.events("sec-1", 2, 3)
}

// tlsProbe connects with cfg and expects the server to end the connection
// without a byte of application data.
func tlsProbe(addr string, cfg *tls.Config) error {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil // refused during the handshake
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = conn.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	return readRefused(conn)
}

// readRefused reads until the server ends the connection; data that parses
// as an HTTP/2 settings frame means the server talked to us.
func readRefused(conn net.Conn) error {
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err == nil && n >= 9 && buf[3] == 0x4 { // an HTTP/2 SETTINGS frame: a gRPC server answered
		return fmt.Errorf("the server answered an HTTP/2 SETTINGS frame")
	}
	if err == nil {
		_, err = io.ReadAll(conn)
		if err == nil {
			return nil // closed cleanly after a TLS alert or garbage
		}
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return fmt.Errorf("the server kept the connection open: %v", err)
	}
	return nil
}
