// Package e2e drives the real wssproxy binary, built once in TestMain, with
// real peers on both legs: Node's `ws` package and Python's `websockets`
// (the scripts of tests/interop), headless Chromium (through chromedp), and
// Go clients and upstreams from package ws where a test needs byte-level
// control (the 1 GiB heavy test, raw bad requests).
//
// Every child process runs on 127.0.0.1 with ports picked by the kernel and
// is killed in t.Cleanup; every wait is bounded. Missing peers skip the
// tests locally and fail them under CI=true (scripts/install-peers.sh
// installs them). Heavy tests run only with WSSPROXY_HEAVY=1.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/wssproxy/wssproxy/certs"
)

// env is what TestMain prepares for every test.
var env struct {
	bin string // the wssproxy binary (built with -race when the tests are)
	// devDir holds the dev CA and leaf of the proxies' client leg
	// (--dev-cert --dev-cert-dir devDir).
	devDir string
	dev    *certs.DevCAResult
	// up is a second, unrelated dev CA whose leaf the wss upstreams serve:
	// trusted by the proxy only through --upstream-ca or a pin.
	up *certs.DevCAResult
}

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	tmp, err := os.MkdirTemp("", "wssproxy-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	env.bin = filepath.Join(tmp, "wssproxy")
	if err := buildBinary(env.bin, raceEnabled); err != nil {
		return 0, err
	}
	env.devDir = filepath.Join(tmp, "devca")
	if env.dev, err = certs.DevCA(&certs.DevCAOptions{Dir: env.devDir}); err != nil {
		return 0, fmt.Errorf("client-leg dev CA: %w", err)
	}
	if env.up, err = certs.DevCA(&certs.DevCAOptions{Dir: filepath.Join(tmp, "upstream-ca")}); err != nil {
		return 0, fmt.Errorf("upstream dev CA: %w", err)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: goroutines leaked: %v\n", err)
			code = 1
		}
	}
	return code, nil
}

// buildBinary builds cmd/wssproxy into out (out must be absolute), with the race detector when
// race is set (so that a data race in the child process fails the test
// that met it, see startServe).
func buildBinary(out string, race bool) error {
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/wssproxy")
	cmd := exec.Command("go", args...)
	// In the library's module (the repository root), with its go.mod and
	// go.sum: the binary users build, not one resolved by the tests module.
	cmd.Dir = filepath.Join("..", "..")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %v: %v\n%s", args, err, b)
	}
	return nil
}
