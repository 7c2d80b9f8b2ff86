package servecmd

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
	if code := Run(context.Background(), []string{"--config", good, "--check"}, &out, &errb); code != 0 ||
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
	code := Run(context.Background(), []string{"--config", broken, "--check"}, &out, &errb)
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
	if code := Run(context.Background(), []string{"--config", missing, "--check"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), missing+":3: listeners[0].tls.key_file: open ") {
		t.Fatalf("missing file: exit %d, stderr %q", code, errb.String())
	}

	// With flags: the same check.
	out.Reset()
	errb.Reset()
	if code := Run(context.Background(), []string{"--listen", busy.Addr().String(), "--upstream", "ws://127.0.0.1:1/", "--check"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), "listening on "+busy.Addr().String()) {
		t.Fatalf("flags, address in use: exit %d, stderr %q", code, errb.String())
	}
}
