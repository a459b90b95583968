package cluster

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/actorhub/actorhub/internal/devcerts"
)

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	f, err := devcerts.Make(filepath.Join(dir, "c"), []string{"n1", "n2"}, []string{"127.0.0.1", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := devcerts.Make(filepath.Join(dir, "c"), []string{"n3"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(again.Nodes["n3"][1]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v, want mode 0600", fi, err)
	}
	foreign, err := devcerts.Make(filepath.Join(dir, "f"), []string{"n1"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	load := func(d *devcerts.Files, name, ca string) *MutualTLS {
		t.Helper()
		m, err := LoadMutualTLS(TLSFiles{Cert: d.Nodes[name][0], Key: d.Nodes[name][1], CA: ca})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	server := load(f, "n1", f.CA)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server.Server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				buf := make([]byte, 4)
				if _, err := io.ReadFull(c, buf); err == nil {
					_, _ = c.Write(buf) // echo: only after a verified handshake
				}
			}()
		}
	}()
	try := func(cfg *tls.Config) error {
		cfg = cfg.Clone()
		cfg.ServerName = "127.0.0.1"
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		_, err = io.ReadFull(c, make([]byte, 4))
		return err
	}
	// a CA reused by a later Make signs members of the same cluster
	if err := try(load(again, "n3", f.CA).Client); err != nil {
		t.Errorf("a member's certificate: %v", err)
	}
	if err := try(load(f, "n2", f.CA).Client); err != nil {
		t.Errorf("a member's certificate: %v", err)
	}
	noCert := load(f, "n2", f.CA).Client.Clone()
	noCert.Certificates = nil
	if err := try(noCert); err == nil {
		t.Error("a peer without a certificate got through")
	}
	foreignCert := load(foreign, "n1", foreign.CA).Client.Clone()
	foreignCert.RootCAs = noCert.RootCAs // it trusts the server, the server does not trust it
	if err := try(foreignCert); err == nil {
		t.Error("a certificate of another CA got through")
	}
	// and the client refuses a server of another CA
	other := load(foreign, "n1", foreign.CA).Client
	if err := try(other); err == nil {
		t.Error("a client trusting another CA accepted this server")
	}
}

func TestParseGossipKeys(t *testing.T) {
	keys, err := ParseGossipKeys(" MDEyMzQ1Njc4OWFiY2RlZg==,\nMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n")
	if err != nil || len(keys) != 2 || len(keys[0]) != 16 || len(keys[1]) != 32 {
		t.Fatalf("%d keys, %v", len(keys), err)
	}
	for _, bad := range []string{"!!", "c2hvcnQ="} {
		if _, err := ParseGossipKeys(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:80": true, "127.3.2.1:0": true, "[::1]:7946": true, "localhost:1": true, "LOCALHOST": true, "[::1]": true, "::1": true,
		"0.0.0.0:7946": false, ":7946": false, "10.0.0.1:1": false, "example.com:1": false, "[::]:1": false} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
