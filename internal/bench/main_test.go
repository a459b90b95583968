package bench

import (
	"os"
	"testing"

	"github.com/actorhub/actorhub/internal/leakcheck"
	"github.com/actorhub/actorhub/internal/nodetest"
)

// TestMain fails the run if goroutines of this package or of the client SDK
// outlive the tests.
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(nodetest.Tests(m), "github.com/actorhub/actorhub/internal/bench.", "github.com/actorhub/actorhub/client.")
}

func writeScript(path, body string) error { return os.WriteFile(path, []byte(body), 0o755) }
