package main

import (
	"crypto/x509"
	"testing"

	"github.com/wssproxy/wssproxy/internal/cli"
	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// runCmd runs the CLI in-process and returns exit code, stdout, stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return testpeer.RunCommand(t, run, args...)
}

// mustLeaf is the first certificate of a PEM file.
func mustLeaf(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	return testpeer.ReadLeaf(t, file)
}

// pinLinesListen is the listen address of the serve lines "certs pin"
// prints.
const pinLinesListen = cli.PinLinesListen
