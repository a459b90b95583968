package client

import (
	"testing"

	"github.com/actorhub/actorhub/internal/leakcheck"
)

// TestMain fails the run if goroutines of this package outlive the tests.
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m, "github.com/actorhub/actorhub/client.")
}
