package cli

import (
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// TestMain keeps a dev CA made without --dir out of the real state
// directory and checks for leaked goroutines.
func TestMain(m *testing.M) { testpeer.VerifyMainTempState(m, "wssproxy-cli-test-state") }
