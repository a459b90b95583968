package actors_test

import (
	"testing"

	"github.com/actorhub/actorhub/internal/leakcheck"
)

func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m, "github.com/actorhub/actorhub/actors.", "github.com/actorhub/actorhub/cluster.",
		"github.com/actorhub/actorhub/internal/group.")
}
