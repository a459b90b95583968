package main

import (
	"github.com/actorhub/actorhub/internal/devcerts"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJWTSecretFile: the secret can come from a file (so it shows neither in
// ps nor in pprof's cmdline); giving it twice, or an empty or missing file, is
// a clear error.
func TestJWTSecretFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("s3cret-of-enough-length\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parseServe([]string{"--auth", "jwt", "--jwt-secret-file", file}, io.Discard)
	if err != nil || c.jwtSecret != "s3cret-of-enough-length" {
		t.Fatalf("secret %q, %v", c.jwtSecret, err)
	}
	empty := filepath.Join(dir, "empty")
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	for args, want := range map[string]string{
		"--jwt-secret x --jwt-secret-file " + file: "both given",
		"--jwt-secret-file " + empty:               "is empty",
		"--jwt-secret-file " + dir + "/nope":       "no such file",
	} {
		if _, err := parseServe(strings.Fields(args), io.Discard); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", args, err, want)
		}
	}
}

// TestClusterSecurityFlags: cluster ports reachable beyond loopback need
// their protection (or --insecure-cluster); keys and certificates are checked
// at start-up, each mistake one clear error.
func TestClusterSecurityFlags(t *testing.T) {
	dir := t.TempDir()
	f, err := devcerts.Make(filepath.Join(dir, "a"), []string{"n1"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := devcerts.Make(filepath.Join(dir, "b"), []string{"n1"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	key := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes
	keyFile := filepath.Join(dir, "gossip.key")
	_ = os.WriteFile(keyFile, []byte(key+"\nMDEyMzQ1Njc4OWFiY2RlZg==\n"), 0o600)
	noKeyFile := filepath.Join(dir, "commas.key")
	_ = os.WriteFile(noKeyFile, []byte(",\n"), 0o600)
	tlsArgs := "--tls-cert " + f.Nodes["n1"][0] + " --tls-key " + f.Nodes["n1"][1] + " --tls-ca " + f.CA
	for args, want := range map[string]string{
		"--gossip 0.0.0.0:7946":                                                                               "has no --gossip-key",
		"--gossip 10.1.2.3:7946 --gossip-key " + key:                                                          "", // remote stays on loopback
		"--remote 0.0.0.0:8090 --gossip-key " + key:                                                           "without --tls-cert",
		"--remote 0.0.0.0:8090 --gossip 0.0.0.0:7946 --insecure-cluster":                                      "",
		"--remote 0.0.0.0:8090 --gossip 0.0.0.0:7946 --gossip-key-file " + keyFile + " " + tlsArgs:            "",
		"--gossip-key c2hvcnQ=":                                                                               "gossip key 1: 5 bytes",
		"--gossip-key not-base64!":                                                                            "not base64",
		"--gossip-key " + key + " --gossip-key-file " + keyFile:                                               "both given",
		"--gossip-key-file " + noKeyFile:                                                                      "holds no key",
		"--tls-cert " + f.Nodes["n1"][0]:                                                                      "needs all of",
		"--tls-cert " + f.Nodes["n1"][0] + " --tls-key " + f.Nodes["n1"][1] + " --tls-ca " + other.CA:         "is not signed by --tls-ca",
		"--tls-cert " + f.Nodes["n1"][0] + " --tls-key " + other.Nodes["n1"][1] + " --tls-ca " + f.CA:         "private key does not match",
		"--tls-cert " + f.Nodes["n1"][0] + " --tls-key " + f.Nodes["n1"][1] + " --tls-ca " + f.Nodes["n1"][1]: "holds no PEM certificate",
	} {
		c, err := parseServe(strings.Fields(args), io.Discard)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", args, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want an error saying %q", args, err, want)
		case want == "" && strings.Contains(args, "gossip-key-file") && (len(c.gossipKeys) != 2 || c.remoteTLS == nil):
			t.Errorf("%s: %d gossip keys, TLS %v; want 2 and TLS", args, len(c.gossipKeys), c.remoteTLS != nil)
		}
	}
}
