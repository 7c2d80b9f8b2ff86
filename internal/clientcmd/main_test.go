package clientcmd

import (
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// TestMain keeps the known pins of the tests out of the real state
// directory and checks for leaked goroutines.
func TestMain(m *testing.M) { testpeer.VerifyMainTempState(m, "wssproxy-client-test-state") }
