package persistence

import (
	"testing"

	"github.com/actorhub/actorhub/internal/leakcheck"
)

// TestMain fails the run if a goroutine of a store outlives its Close.
func TestMain(m *testing.M) {
	SetRedisLogger(nil) // go-redis logs every failed dial of the outage tests
	leakcheck.VerifyTestMain(m, "github.com/actorhub/actorhub/persistence.")
}
