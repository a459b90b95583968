package e2e

import (
	"os"
	"testing"

	"github.com/actorhub/actorhub/internal/nodetest"
)

// TestMain removes the actorhub binary the tests built (nodetest.Binary).
func TestMain(m *testing.M) { os.Exit(nodetest.Tests(m).Run()) }
