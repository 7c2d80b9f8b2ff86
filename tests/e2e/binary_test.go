package e2e

import (
	"crypto/tls"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// serveProc is a running "wssproxy serve".
type serveProc struct {
	*proc
	url  string // ws://127.0.0.1:PORT/ or wss://…, from its first stdout line
	addr string // 127.0.0.1:PORT
}

// devCert are the serve flags of a wss client leg with the test's dev CA.
func devCert() []string { return []string{"--dev-cert", "--dev-cert-dir", env.devDir} }

// startServe runs "wssproxy serve --listen 127.0.0.1:0 args…" (without
// --listen when args has --config) and reads
// the URL from its first stdout line. At cleanup it gets SIGTERM (then
// SIGKILL), and a data race reported by the race-enabled binary fails the
// test.
func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	return startServeBin(t, env.bin, args...)
}

func startServeBin(t *testing.T, bin string, args ...string) *serveProc {
	t.Helper()
	// --grace 3s keeps the cleanup's SIGTERM under its 5s wait; args may override it.
	all := []string{"serve", "--log-format", "json", "--log-level", "debug", "--grace", "3s"}
	if !slices.Contains(args, "--config") { // a config file names its own listeners
		all = append(all, "--listen", "127.0.0.1:0")
	}
	all = append(all, args...)
	cmd := exec.Command(bin, all...)
	// Never the developer's state directory. A race-enabled binary sleeps
	// 1s at exit by default: not here.
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "HOME="+t.TempDir(), "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	p := startProc(t, "wssproxy serve", cmd)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			t.Errorf("wssproxy serve did not exit within 5s of SIGTERM")
		}
		if strings.Contains(p.stderr.String(), "DATA RACE") {
			t.Errorf("the wssproxy binary reported a data race:\n%s", p.stderr.String())
		}
	})
	line := p.waitLine(t, "its URL", func(l string) bool { return strings.HasPrefix(l, "wssproxy: serving ") })
	if first := p.output()[0]; first != line {
		t.Errorf("first stdout line %q, want the serving line", first)
	}
	f := strings.Fields(line)
	if len(f) < 5 || !slices.Contains(f[3:], "->") { // "(host H)" may come before the arrow
		t.Fatalf("serving line %q", line)
	}
	url := f[2]
	addr, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(url, "wss://"), "ws://"), "/")
	return &serveProc{proc: p, url: url, addr: addr}
}

// startEcho runs "wssproxy echo" on a free port and returns its URL.
func startEcho(t *testing.T) string {
	t.Helper()
	p := startProc(t, "wssproxy echo", exec.Command(env.bin, "echo", "--listen", "127.0.0.1:0", "--log-format", "json"))
	return p.waitLine(t, "its URL", func(l string) bool { return strings.HasPrefix(l, "ws://") })
}

// devRoots trusts the dev CA of the proxies' client leg.
func devRoots(t *testing.T) *tls.Config {
	t.Helper()
	return &tls.Config{RootCAs: testpeer.CertPool(t, env.dev.CACertFile), ServerName: "127.0.0.1"}
}
