package certs

import (
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// mustDevCA runs DevCA with opts and fails the test on an error.
func mustDevCA(t *testing.T, opts *DevCAOptions) *DevCAResult {
	t.Helper()
	r, err := DevCA(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDevCAVerifiesWithOpenSSL(t *testing.T) {
	t.Parallel()
	openssl := testpeer.LookPath(t, "openssl", "apt-get install openssl")
	dir := filepath.Join(t.TempDir(), "dev")
	r := mustDevCA(t, &DevCAOptions{Dir: dir, Hosts: []string{"WS.Example.test", "10.1.2.3", "localhost"}})
	if !r.CreatedCA || !r.IssuedLeaf {
		t.Fatalf("first run: CreatedCA=%v IssuedLeaf=%v", r.CreatedCA, r.IssuedLeaf)
	}
	wantHosts := []string{"localhost", "127.0.0.1", "::1", "ws.example.test", "10.1.2.3"}
	if !slices.Equal(r.Hosts, wantHosts) {
		t.Fatalf("Hosts = %v, want %v", r.Hosts, wantHosts)
	}
	for name, want := range map[string]os.FileMode{
		dir: 0o700 | os.ModeDir, r.CAKeyFile: 0o600, r.KeyFile: 0o600, r.CACertFile: 0o644, r.CertFile: 0o644,
	} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
	}

	verify := func(extra ...string) {
		t.Helper()
		args := append([]string{"verify", "-CAfile", r.CACertFile, "-purpose", "sslserver"}, extra...)
		args = append(args, r.CertFile)
		out, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), ": OK") {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	verify()
	verify("-verify_hostname", "localhost")
	verify("-verify_hostname", "ws.example.test")
	verify("-verify_ip", "127.0.0.1")
	verify("-verify_ip", "::1")
	verify("-verify_ip", "10.1.2.3")
	// openssl must reject a name the leaf does not have, or the checks
	// above prove nothing.
	out, err := exec.Command(openssl, "verify", "-CAfile", r.CACertFile, "-verify_hostname", "other.test", r.CertFile).CombinedOutput()
	if err == nil && strings.Contains(string(out), ": OK") {
		t.Fatalf("openssl accepted a foreign host name:\n%s", out)
	}

	// The pin reported is the served leaf's, and the leaf verifies with
	// Go against the CA for every host, in a real handshake.
	src, err := NewFileSource(&FileOptions{CertFile: r.CertFile, KeyFile: r.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	roots := testpeer.CertPool(t, r.CACertFile)
	addr := serveTLS(t, TLSConfig(src, nil))
	for _, h := range []string{"localhost", "ws.example.test"} {
		leaf, err := handshakeLeaf(t, addr, &tls.Config{RootCAs: roots, ServerName: h})
		if err != nil {
			t.Fatalf("handshake as %s: %v", h, err)
		}
		if got := tlsconf.SPKIPin(leaf); got != r.SPKIPin {
			t.Fatalf("served pin %s, DevCA reported %s", got, r.SPKIPin)
		}
	}
}

func TestDevCAReuse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := mustDevCA(t, &DevCAOptions{Dir: dir})
	again := mustDevCA(t, &DevCAOptions{Dir: dir})
	if again.CreatedCA || again.IssuedLeaf || again.SPKIPin != first.SPKIPin || again.CAPin != first.CAPin {
		t.Fatalf("rerun did not reuse: %+v", again)
	}

	// A new host reissues the leaf, under the same CA.
	more := mustDevCA(t, &DevCAOptions{Dir: dir, Hosts: []string{"new.test"}})
	if more.CreatedCA || !more.IssuedLeaf || more.CAPin != first.CAPin || more.SPKIPin == first.SPKIPin {
		t.Fatalf("new host: %+v", more)
	}

	// A leaf with less than a third of its validity left is reissued.
	later := func() time.Time { return time.Now().Add(25 * 24 * time.Hour) }
	renewed := mustDevCA(t, &DevCAOptions{Dir: dir, Hosts: []string{"new.test"}, Now: later})
	if renewed.CreatedCA || !renewed.IssuedLeaf || !renewed.NotAfter.After(more.NotAfter) {
		t.Fatalf("ageing leaf not reissued: %+v", renewed)
	}

	// An expired CA is replaced.
	muchLater := func() time.Time { return time.Now().Add(11 * 365 * 24 * time.Hour) }
	replaced := mustDevCA(t, &DevCAOptions{Dir: dir, Now: muchLater})
	if !replaced.CreatedCA || !replaced.IssuedLeaf || replaced.CAPin == first.CAPin {
		t.Fatalf("expired CA not replaced: %+v", replaced)
	}
}

func TestDevCABrokenCAIsNotOverwritten(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := mustDevCA(t, &DevCAOptions{Dir: dir})
	writeFile(t, r.CAKeyFile, validCert(t, "ecdsa", "x").keyPEM)
	if _, err := DevCA(&DevCAOptions{Dir: dir}); err == nil {
		t.Fatal("DevCA accepted a CA key that does not match")
	}
	if err := os.Remove(r.CAKeyFile); err != nil {
		t.Fatal(err)
	}
	if _, err := DevCA(&DevCAOptions{Dir: dir}); err == nil {
		t.Fatal("DevCA accepted a CA without its key")
	}
	if _, err := DevCA(&DevCAOptions{Dir: dir, Hosts: []string{"bad host"}}); err == nil {
		t.Fatal("DevCA accepted an invalid host name")
	}
}

func TestDevCADefaultDir(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	r := mustDevCA(t, nil)
	if want := filepath.Join(state, "wssproxy", "devca"); r.Dir != want {
		t.Fatalf("Dir = %s, want %s", r.Dir, want)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", state)
	d, err := StateDir()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(state, ".local", "state", "wssproxy"); d != want {
		t.Fatalf("StateDir = %s, want %s", d, want)
	}
}
