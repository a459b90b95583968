package pemfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/actorhub/actorhub/internal/devcerts"
)

func TestCertPool(t *testing.T) {
	dir := t.TempDir()
	f, err := devcerts.Make(dir, []string{"n1"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CertPool(f.CA); err != nil {
		t.Fatalf("the CA: %v", err)
	}
	if _, err := CertPool(f.Nodes["n1"][1]); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("a key file: %v, want an error saying it holds no certificate", err)
	}
	if _, err := CertPool(filepath.Join(dir, "nope")); !os.IsNotExist(err) {
		t.Errorf("a missing file: %v", err)
	}
}
