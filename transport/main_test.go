package transport

import (
	"testing"

	"github.com/actorhub/actorhub/internal/leakcheck"
	"github.com/actorhub/actorhub/internal/nodetest"
)

func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(nodetest.Tests(m), "github.com/actorhub/actorhub/transport.")
}
