package clientcmd

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
)

// --pin FILE.pem pins the keys of the file's certificates: the server's
// own certificate file lets the client in with --pin-only; another
// key's file is a pin mismatch (TLS status).
func TestClientPinFile(t *testing.T) {
	pki := devpki.New(t)
	p := startNodeClientPeer(t, "--cert", pki.CertFile, "--key", pki.KeyFile)
	other := devpki.New(t)
	url := "wss://localhost:" + p.Port + "/echo"

	code, out, errOut := clientRun(t, strings.NewReader("pinned\n"), url, "--pin", pki.CertFile, "--pin-only")
	if code != ExitOK || out != "pinned\n" {
		t.Fatalf("own certificate: exit %d, %q, %q", code, out, errOut)
	}
	code, out, errOut = clientRun(t, strings.NewReader("pinned\n"), url, "--pin", pki.CertFile, "--ca", pki.CACertFile)
	if code != ExitOK || out != "pinned\n" {
		t.Fatalf("pin with CA verification: exit %d, %q, %q", code, out, errOut)
	}
	code, _, errOut = clientRun(t, strings.NewReader("x\n"), url, "--pin", other.CertFile, "--pin-only")
	if code != ExitTLS || !strings.Contains(errOut, "pin-mismatch") {
		t.Fatalf("other key: exit %d, %q", code, errOut)
	}
	// Without trust, the SSL errors are the TLS status too.
	code, _, errOut = clientRun(t, strings.NewReader("x\n"), url)
	if code != ExitTLS || !strings.Contains(errOut, "unknown-authority") {
		t.Fatalf("untrusted: exit %d, %q", code, errOut)
	}
}

// Without a terminal, --pause-on-ssl-errors shows the errors, the chain
// and the pause id, and fails at once rather than wait for an answer.
func TestClientPauseWithoutTerminal(t *testing.T) {
	pki := devpki.New(t)
	p := startNodeClientPeer(t, "--cert", pki.CertFile, "--key", pki.KeyFile)
	start := time.Now()
	code, _, errOut := clientRun(t, strings.NewReader("x\n"), "wss://localhost:"+p.Port+"/", "--pause-on-ssl-errors")
	if code != ExitTLS {
		t.Fatalf("exit %d, %q", code, errOut)
	}
	for _, want := range []string{"SSL errors for localhost", "pause id ", "unknown-authority", "pin    sha256//", "not a terminal"} {
		if !strings.Contains(errOut, want) {
			t.Fatalf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if d := time.Since(start); d > clientPauseTimeout/2 {
		t.Fatalf("took %v: the pause waited", d)
	}
}

// --connect-timeout bounds a server that accepts TCP and never answers.
func TestClientConnectTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	defer func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	}()
	start := time.Now()
	code, _, errOut := clientRun(t, strings.NewReader(""), "ws://"+ln.Addr().String()+"/", "--connect-timeout", "300ms")
	if code != ExitFailure || !strings.Contains(errOut, "no answer within --connect-timeout 300ms") {
		t.Fatalf("exit %d, %q", code, errOut)
	}
	// Far below the 30 s default: the flag, not the default, ended it.
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
}
