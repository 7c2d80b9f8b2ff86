package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/certs"
)

// serve --check exits 0 on a configuration that would serve, and 2 with
// every error on one that would not: an unparsable certificate, an
// address in use; it serves nothing either way.
func TestServeCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dev, err := certs.DevCA(&certs.DevCAOptions{Dir: filepath.Join(dir, "ca")})
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	write := func(name string, lines ...string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(y(lines...)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml",
		"listeners:",
		"  - listen: 127.0.0.1:0",
		"    tls: {cert_file: "+dev.CertFile+", key_file: "+dev.KeyFile+"}",
		"    routes: [{upstream: 'ws://127.0.0.1:1/'}]",
		"  - listen: 127.0.0.1:0",
		"    routes: [{path: /a, upstream: 'ws://127.0.0.1:1/'}, {path: /b, upstream: 'ws://127.0.0.1:1/'}]")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--config", good, "--check"}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "configuration OK (2 listeners, 3 routes)") || strings.Contains(out.String(), "serving") {
		t.Fatalf("good config: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}

	broken := write("broken.yaml",
		"listeners:",
		"  - listen: 127.0.0.1:0",
		"    tls: {cert_file: "+bad+", key_file: "+dev.KeyFile+"}",
		"    routes: [{upstream: 'ws://127.0.0.1:1/'}]",
		"  - listen: "+busy.Addr().String(),
		"    routes: [{upstream: 'ws://127.0.0.1:1/'}]")
	out.Reset()
	errb.Reset()
	code := run(context.Background(), []string{"serve", "--config", broken, "--check"}, &out, &errb)
	if code != 2 || out.Len() != 0 {
		t.Fatalf("broken config: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	for _, want := range []string{
		broken + ":2: listeners[0]: ",
		broken + ":5: listeners[1]: listening on " + busy.Addr().String() + ": ",
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}

	// A file it names that cannot be read: exit 2 with its line and key.
	missing := write("missing.yaml",
		"listeners:",
		"  - listen: 127.0.0.1:0",
		"    tls: {cert_file: "+dev.CertFile+", key_file: "+filepath.Join(dir, "nokey.pem")+"}",
		"    routes: [{upstream: 'ws://127.0.0.1:1/'}]")
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"serve", "--config", missing, "--check"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), missing+":3: listeners[0].tls.key_file: open ") {
		t.Fatalf("missing file: exit %d, stderr %q", code, errb.String())
	}

	// With flags: the same check.
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"serve", "--listen", busy.Addr().String(), "--upstream", "ws://127.0.0.1:1/", "--check"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), "listening on "+busy.Addr().String()) {
		t.Fatalf("flags, address in use: exit %d, stderr %q", code, errb.String())
	}
}

// Flag mistakes: the error names the flag as the documentation writes it,
// followed by one usage line, not every flag; --help lists the flags with
// two dashes.
func TestFlagErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--upstrem", "ws://x/"}, "wssproxy serve: unknown flag --upstrem\nUsage: wssproxy serve [flags] (--help lists the flags)\n"},
		{[]string{"serve", "--max-frame-size", "12XB"}, "wssproxy serve: --max-frame-size: size \"12XB\": want a number of bytes, optionally with KiB, MiB or GiB\n"},
		{[]string{"serve", "--ping-interval", "soon"}, "wssproxy serve: --ping-interval: invalid value \"soon\": parse error\n"},
		{[]string{"serve", "--listen"}, "wssproxy serve: --listen needs a value\n"},
		{[]string{"serve", "--dev-cert=maybe"}, "wssproxy serve: --dev-cert: \"maybe\" is not true or false\n"},
		{[]string{"serve", "--upstream", "wss://x/", "--upstream-ignore-ssl-error", "unknown-authorty"}, "wssproxy serve: --upstream-ignore-ssl-error: tlsconf: expected error \"unknown-authorty\": tlsconf: unknown error kind \"unknown-authorty\""},
		{[]string{"serve", "--upstream", "wss://x/", "--upstream-pin", "sha256//nope"}, "wssproxy serve: --upstream-pin: "},
		{[]string{"echo", "--max-message-size", "lots"}, "wssproxy echo: --max-message-size: size \"lots\""},
		{[]string{"echo", "--lisen", ":0"}, "wssproxy echo: unknown flag --lisen\nUsage: wssproxy echo [--listen ADDR] [--cert F --key F] [--handshake-timeout D] (--help lists the flags)\n"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		if code != 2 || !strings.HasPrefix(errb.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, errb.String(), tc.want)
		}
		if n := strings.Count(errb.String(), "\n"); n > 2 {
			t.Errorf("%q: %d lines on stderr, want at most 2:\n%s", tc.args, n, errb.String())
		}
	}
	for _, cmd := range []string{"serve", "echo"} {
		var out bytes.Buffer
		if code := run(context.Background(), []string{cmd, "--help"}, &out, &out); code != 0 {
			t.Fatalf("%s --help: exit %d", cmd, code)
		}
		if !strings.Contains(out.String(), "\n  --listen ") || strings.Contains(out.String(), "\n  -listen") {
			t.Errorf("%s --help does not spell flags with two dashes:\n%s", cmd, out.String())
		}
	}
	var out bytes.Buffer
	run(context.Background(), []string{"help"}, &out, &out)
	if !strings.Contains(out.String(), "wssproxy serve --config FILE") {
		t.Errorf("top-level usage lacks serve --config:\n%s", out.String())
	}
}
