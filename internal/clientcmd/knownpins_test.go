package clientcmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// --tofu accepts an unknown server once and remembers its key; later
// runs trust that key alone (the chain is still untrusted by the system
// roots); another key for the host is refused loudly, naming both;
// --no-known-pins ignores the file.
func TestClientTOFU(t *testing.T) {
	pki, other := devpki.New(t), devpki.New(t)
	p := startNodeClientPeer(t, "--cert", pki.CertFile, "--key", pki.KeyFile)
	url := "wss://localhost:" + p.Port + "/echo"
	host := "localhost:" + p.Port
	file := filepath.Join(t.TempDir(), "state", "known_pins")
	pin := leafPin(t, pki.CertFile)
	otherPin := leafPin(t, other.CertFile)

	// Unknown, without --tofu: verified as usual, nothing remembered.
	code, _, errOut := clientRun(t, strings.NewReader("x\n"), url, "--known-pins", file)
	if code != ExitTLS || !strings.Contains(errOut, "unknown-authority") {
		t.Fatalf("unknown host: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("known pins written without --tofu: %v", err)
	}

	code, out, errOut := clientRun(t, strings.NewReader("first\n"), url, "--tofu", "--known-pins", file)
	if code != ExitOK || out != "first\n" ||
		!strings.Contains(errOut, "first use of "+host+" (accepting unknown-authority): remembered its key "+pin+" in "+file) {
		t.Fatalf("first use: exit %d, %q, %q", code, out, errOut)
	}
	data, err := os.ReadFile(file)
	if err != nil || !strings.HasPrefix(string(data), host+" "+pin+" kinds=unknown-authority added=") || !strings.Contains(string(data), " source=tofu # ") {
		t.Fatalf("known pins %q %v", data, err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}

	code, out, errOut = clientRun(t, strings.NewReader("again\n"), url, "--known-pins", file)
	if code != ExitOK || out != "again\n" || strings.Contains(errOut, "first use") {
		t.Fatalf("remembered: exit %d, %q, %q", code, out, errOut)
	}

	os.WriteFile(file, []byte("# edited by hand\nother.example:443 "+pin+"\n"+host+" "+otherPin+"\n"), 0o600)
	for _, extra := range [][]string{nil, {"--tofu"}} {
		code, _, errOut = clientRun(t, strings.NewReader("x\n"), append([]string{url, "--known-pins", file}, extra...)...)
		if code != ExitTLS || !strings.Contains(errOut, "WARNING: THE KEY OF "+host+" HAS CHANGED") ||
			!strings.Contains(errOut, "remembered ("+file+":3): "+otherPin) || !strings.Contains(errOut, "presented now:  "+pin) {
			t.Fatalf("changed key %v: exit %d, %q", extra, code, errOut)
		}
	}
	// Explicit pins and --no-known-pins leave the file aside.
	code, _, errOut = clientRun(t, strings.NewReader("x\n"), url, "--known-pins", file, "--pin", pin, "--pin-only")
	if code != ExitOK {
		t.Fatalf("--pin: exit %d, %q", code, errOut)
	}
	// The default file is in the state directory.
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	os.MkdirAll(filepath.Join(state, "wssproxy"), 0o700)
	os.WriteFile(filepath.Join(state, "wssproxy", "known_pins"), []byte(host+" "+otherPin+"\n"), 0o600)
	code, _, errOut = clientRun(t, strings.NewReader("x\n"), url, "--ca", pki.CACertFile)
	if code != ExitTLS || !strings.Contains(errOut, "HAS CHANGED") {
		t.Fatalf("default file: exit %d, %q", code, errOut)
	}
	code, _, errOut = clientRun(t, strings.NewReader("x\n"), url, "--no-known-pins", "--ca", pki.CACertFile)
	if code != ExitOK || strings.Contains(errOut, "WARNING") {
		t.Fatalf("--no-known-pins: exit %d, %q", code, errOut)
	}

	bad := filepath.Join(t.TempDir(), "bad_pins")
	os.WriteFile(bad, []byte(host+" "+pin+" extra\n"), 0o600)
	code, _, errOut = clientRun(t, strings.NewReader("x\n"), url, "--known-pins", bad)
	if code != ExitUsage || !strings.Contains(errOut, "known pins: "+bad+":1: \"extra\": want \"HOST:PORT PIN [kinds=") {
		t.Fatalf("malformed file: exit %d, %q", code, errOut)
	}
	// Whoever may write the file chooses the keys trusted: a file the
	// group or others may access is refused, like a PSK key file.
	shared := filepath.Join(t.TempDir(), "shared_pins")
	os.WriteFile(shared, []byte(host+" "+pin+"\n"), 0o600)
	os.Chmod(shared, 0o664)
	code, _, errOut = clientRun(t, strings.NewReader("x\n"), url, "--known-pins", shared)
	if code != ExitUsage || !strings.Contains(errOut, "known pins: tlsconf: pins file is accessible by group or others") || !strings.Contains(errOut, shared) {
		t.Fatalf("shared file: exit %d, %q", code, errOut)
	}
	for _, args := range [][]string{
		{"--tofu", "--no-known-pins"},
		{"--tofu", "--pin", pin},
		{"--tofu", "--insecure"},
	} {
		code, _, errOut = clientRun(t, strings.NewReader(""), append([]string{url}, args...)...)
		if code != ExitUsage {
			t.Fatalf("%v: exit %d, %q", args, code, errOut)
		}
	}
	if code, _, errOut = clientRun(t, strings.NewReader(""), "ws://localhost:1/", "--tofu"); code != ExitUsage || !strings.Contains(errOut, "--tofu needs a wss:// URL") {
		t.Fatalf("ws --tofu: exit %d, %q", code, errOut)
	}
}

// leafPin returns the SPKI pin of the first certificate in a PEM file.
func leafPin(t *testing.T, file string) string {
	t.Helper()
	pins, err := tlsconf.LoadPinFile(file, tlsconf.PinSPKI)
	if err != nil {
		t.Fatal(err)
	}
	return pins[0].String()
}
