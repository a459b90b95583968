package redistest

import (
	"strings"
	"testing"
)

func TestStartKillRestart(t *testing.T) {
	t.Parallel()
	s := Start(t, AOF())
	if !strings.HasPrefix(s.URL(), "redis://127.0.0.1:") || !strings.HasSuffix(s.URL(), "/0") {
		t.Fatalf("URL() = %q", s.URL())
	}
	if r, err := command(s.Addr(), "SET k v"); err != nil || r != "+OK" {
		t.Fatalf("SET: %q %v", r, err)
	}
	s.Kill()
	if _, err := command(s.Addr(), "PING"); err == nil {
		t.Fatal("PING answered after Kill")
	}
	s.Restart(t)
	if r, err := command(s.Addr(), "GET k"); err != nil || r != "v" {
		t.Fatalf("GET k after restart with AOF = %q, %v; want v", r, err)
	}
	s.Stop()
	s.Stop() // idempotent
}

func TestCluster(t *testing.T) {
	t.Parallel()
	s := Start(t, Cluster())
	info, err := command(s.Addr(), "CLUSTER INFO")
	if err != nil || !strings.Contains(info, "cluster_state:ok") {
		t.Fatalf("CLUSTER INFO = %q, %v", info, err)
	}
	s.Restart(t) // slots come back from nodes.conf
}
