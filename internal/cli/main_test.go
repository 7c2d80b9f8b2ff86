package cli

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines. Tests that create a dev CA give
// it a temporary --dir.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
