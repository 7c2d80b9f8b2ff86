package main

import (
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// TestMain sends the dev CA, serve's trust store and the client's known
// pins to a temporary state directory and checks for leaked goroutines.
func TestMain(m *testing.M) { testpeer.VerifyMainTempState(m, "wssproxy-test-state") }
