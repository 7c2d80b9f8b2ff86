package servecmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/clientcmd"
	"github.com/wssproxy/wssproxy/internal/config"
	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

func TestServeUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"--cert", "c.pem"}, "--cert and --key go together"},
		{[]string{"--cert", "c", "--key", "k", "--dev-cert"}, "choose one certificate source"},
		{[]string{"--upstream-pin", "sha256//x"}, "upstream flags need --upstream"},
		{[]string{"--upstream", "wss://x", "--upstream-pin-only"}, "--upstream-pin-only needs"},
		{[]string{"--upstream", "wss://x", "--upstream-insecure", "--upstream-ignore-ssl-error", "expired"}, "already ignores"},
		{[]string{"--max-frame-size", "lots"}, "want a number of bytes"},
		{[]string{"--max-message-size", "0"}, "must not be 0"},
		{[]string{"--max-connections", "0"}, "must be positive"},
		{[]string{"stray"}, `unexpected argument "stray"`},
		// Pins and SSL error kinds are checked with the flags: the error
		// names the flag.
		{[]string{"--upstream", "wss://x", "--upstream-pin", "nonsense", "--listen", "127.0.0.1:0"}, `--upstream-pin: tlsconf: pin "nonsense"`},
		{[]string{"--upstream", "wss://x", "--upstream-ignore-ssl-error", "no-such-kind", "--listen", "127.0.0.1:0"}, `--upstream-ignore-ssl-error: tlsconf: expected error "no-such-kind"`},
	}
	for _, tc := range cases {
		var out, errb bytes.Buffer
		if code := Run(context.Background(), tc.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: exit %d, %q; want 2 with %q", tc.args, code, errb.String(), tc.msg)
		}
	}
	for _, args := range [][]string{
		{"--upstream", "http://x", "--listen", "127.0.0.1:0"},
		{"--listen", "127.0.0.1:0", "--cert", "/nonexistent.pem", "--key", "/nonexistent.key"},
		{"--listen", "127.0.0.1:0", "--upstream", "ws://x", "--upstream-proxy", "ftp://p"},
	} {
		var out, errb bytes.Buffer
		if code := Run(context.Background(), args, &out, &errb); code != 1 {
			t.Errorf("%v: exit %d (%s), want 1", args, code, errb.String())
		}
	}
	if got, _ := config.ParseSize("16MiB"); got != 16<<20 {
		t.Errorf("16MiB = %d", got)
	}
}

// The embedded default (here on a free port): wss with the dev CA's
// certificate in front of the built-in echo server; the client command
// talks to it; SIGTERM (ctx) drains.
func TestServeEmbeddedDefaultWithClient(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := spawnServe(ctx, "--dev-cert", "--listen", "127.0.0.1:0", "--log-level", "warn")
	url, ca := srv.banner(t, "trust this CA:")
	if !strings.HasPrefix(url, "wss://127.0.0.1:") || ca != filepath.Join(dir, "wssproxy", "devca", "ca.pem") {
		t.Fatalf("url %q ca %q", url, ca)
	}
	var out, errb bytes.Buffer
	code := clientcmd.Run(ctx, []string{url, "--ca", ca, "--close-code", "4000", "--close-reason", "bye"}, strings.NewReader("one\ntwo\n"), &out, &errb)
	if code != 0 || out.String() != "one\ntwo\n" || !strings.Contains(errb.String(), "closed: 4000") {
		t.Fatalf("client exit %d, out %q, err %q", code, out.String(), errb.String())
	}
	// Without the CA the client refuses the certificate.
	out.Reset()
	errb.Reset()
	if code := clientcmd.Run(ctx, []string{url}, strings.NewReader(""), &out, &errb); code != clientcmd.ExitTLS || !strings.Contains(errb.String(), "unknown-authority") {
		t.Fatalf("untrusted: exit %d, %q", code, errb.String())
	}

	// An open connection gets 1001 on shutdown and serve exits 0.
	pem, _ := os.ReadFile(ca)
	c, _, err := ws.Dial(context.Background(), url, &ws.DialOptions{TLSConfig: tlsWithRoots(t, pem)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	cancel()
	_, _, err = c.ReadMessage(context.Background())
	if code, _ := c.CloseStatus(); code != ws.StatusGoingAway {
		t.Fatalf("drain: %v %v", code, err)
	}
	srv.exitOK(t, 10*time.Second)
}

// --listen alone serves plain ws in front of the echo server.
func TestServePlain(t *testing.T) {
	addr := testpeer.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	srv := spawnServe(ctx, "--listen", addr, "--log-level", "error")
	if l := srv.line(t, 10*time.Second); l != "wssproxy: serving ws://"+addr+"/ -> built-in echo server" {
		t.Fatalf("printed %q", l)
	}
	var out, errb bytes.Buffer
	if code := clientcmd.Run(ctx, []string{"ws://" + addr + "/"}, strings.NewReader("plain\n"), &out, &errb); code != 0 || out.String() != "plain\n" {
		t.Fatalf("client: %d %q %q", code, out.String(), errb.String())
	}
	cancel()
	srv.exitOK(t, 10*time.Second)
}
