package transport

import (
	"testing"

	"github.com/actorhub/actorhub/internal/leakcheck"
)

func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m, "github.com/actorhub/actorhub/transport.")
}
