package main

import (
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
