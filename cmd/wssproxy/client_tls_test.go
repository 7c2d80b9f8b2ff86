package main

import (
	"context"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/certs"
)

// devPKI creates a development CA and leaf (valid for localhost and
// 127.0.0.1, usable by servers and clients) in a temporary directory.
func devPKI(t *testing.T) *certs.DevCAResult {
	t.Helper()
	pki, err := certs.DevCA(&certs.DevCAOptions{Dir: filepath.Join(t.TempDir(), "devca")})
	if err != nil {
		t.Fatal(err)
	}
	return pki
}

// A listener with client_certs: required is reachable from our own
// client with --cert/--key; without them the client fails with the TLS
// status and a hint.
func TestClientCertificateRequired(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pki, urls, srv := serveClientCerts(ctx, t, "required")
	stderr, done := srv.logs, srv.done
	url := urls["/required"]
	url = strings.Replace(url, "127.0.0.1", "localhost", 1)

	code, out, errOut := clientRun(t, strings.NewReader("hello\n"), url, "--ca", pki.CACertFile, "--cert", pki.CertFile, "--key", pki.KeyFile)
	if code != exitClientOK || out != "A /required\nhello\n" {
		t.Fatalf("with a certificate: exit %d, %q, %q", code, out, errOut)
	}
	code, out, errOut = clientRun(t, strings.NewReader("hello\n"), url, "--ca", pki.CACertFile)
	if code != exitClientTLS || !strings.Contains(errOut, "--cert/--key") || out != "" {
		t.Fatalf("without a certificate: exit %d, %q, %q", code, out, errOut)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d: %s", code, stderr.String())
	}
}

// --pin FILE.pem pins the keys of the file's certificates: the server's
// own certificate file lets the client in with --pin-only; another
// key's file is a pin mismatch (TLS status).
func TestClientPinFile(t *testing.T) {
	pki := devPKI(t)
	p := startNodeClientPeer(t, "--cert", pki.CertFile, "--key", pki.KeyFile)
	other := devPKI(t)
	url := "wss://localhost:" + p.port + "/echo"

	code, out, errOut := clientRun(t, strings.NewReader("pinned\n"), url, "--pin", pki.CertFile, "--pin-only")
	if code != exitClientOK || out != "pinned\n" {
		t.Fatalf("own certificate: exit %d, %q, %q", code, out, errOut)
	}
	code, out, errOut = clientRun(t, strings.NewReader("pinned\n"), url, "--pin", pki.CertFile, "--ca", pki.CACertFile)
	if code != exitClientOK || out != "pinned\n" {
		t.Fatalf("pin with CA verification: exit %d, %q, %q", code, out, errOut)
	}
	code, _, errOut = clientRun(t, strings.NewReader("x\n"), url, "--pin", other.CertFile, "--pin-only")
	if code != exitClientTLS || !strings.Contains(errOut, "pin-mismatch") {
		t.Fatalf("other key: exit %d, %q", code, errOut)
	}
	// Without trust, the SSL errors are the TLS status too.
	code, _, errOut = clientRun(t, strings.NewReader("x\n"), url)
	if code != exitClientTLS || !strings.Contains(errOut, "unknown-authority") {
		t.Fatalf("untrusted: exit %d, %q", code, errOut)
	}
}

// Without a terminal, --pause-on-ssl-errors shows the errors, the chain
// and the pause id, and fails at once rather than wait for an answer.
func TestClientPauseWithoutTerminal(t *testing.T) {
	pki := devPKI(t)
	p := startNodeClientPeer(t, "--cert", pki.CertFile, "--key", pki.KeyFile)
	start := time.Now()
	code, _, errOut := clientRun(t, strings.NewReader("x\n"), "wss://localhost:"+p.port+"/", "--pause-on-ssl-errors")
	if code != exitClientTLS {
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

// The lines "certs pin HOST:PORT" prints work as printed, for client and
// serve alike (serve's listen address aside), pinning the key or
// accepting the errors found; the --pin-only line says why.
func TestCertsPinLinesWork(t *testing.T) {
	pki := devPKI(t)
	p := startNodeClientPeer(t, "--cert", pki.CertFile, "--key", pki.KeyFile)
	code, out, errOut := runCmd(t, "certs", "pin", "localhost:"+p.port, "--proxy", "direct")
	if code != 0 {
		t.Fatalf("certs pin: exit %d %s", code, errOut)
	}
	cmdRE := regexp.MustCompile(`(?m)^  wssproxy (client|serve) (.*)$`)
	found := cmdRE.FindAllStringSubmatch(out, -1)
	if len(found) != 4 {
		t.Fatalf("%d command lines, want 4:\n%s", len(found), out)
	}
	if !strings.Contains(found[0][2], "--pin-only  # --pin-only: the system roots do not trust this chain") ||
		!strings.Contains(found[1][2], "--upstream-pin-only  # --upstream-pin-only: ") || !strings.Contains(found[1][2], "--upstream-ca CA.pem") {
		t.Fatalf("pin lines do not say why --pin-only:\n%s", out)
	}
	for _, m := range found {
		line, _, _ := strings.Cut(m[2], "  #")
		args := strings.Fields(line)
		t.Run(m[1]+" "+args[len(args)-2], func(t *testing.T) {
			if m[1] == "client" {
				code, got, errOut := clientRun(t, strings.NewReader("as printed\n"), args...)
				if code != exitClientOK || got != "as printed\n" {
					t.Fatalf("client %v: exit %d, %q, %q", args, code, got, errOut)
				}
				return
			}
			if args[0] != "--listen" || args[1] != pinLinesListen {
				t.Fatalf("serve line %v", args)
			}
			// startServe listens on a free port instead.
			front := startServe(t, args[2:]...)
			code, got, errOut := clientRun(t, strings.NewReader("through serve\n"), "ws://"+front+"/")
			if code != exitClientOK || got != "through serve\n" {
				t.Fatalf("serve %v: exit %d, %q, %q", args, code, got, errOut)
			}
		})
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
	if code != exitClientFailure || !strings.Contains(errOut, "no answer within --connect-timeout 300ms") {
		t.Fatalf("exit %d, %q", code, errOut)
	}
	// Far below the 30 s default: the flag, not the default, ended it.
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
}

// The pin line "certs dev" prints connects (port aside): the dev CA is
// not a system root, so it carries --pin-only.
func TestCertsDevPinLineWorks(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCmd(t, "certs", "dev", "--dir", dir)
	if code != 0 {
		t.Fatalf("certs dev: exit %d %s", code, errOut)
	}
	m := regexp.MustCompile(`(?m)^  wssproxy client (wss://localhost:8443/ .*)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no client line:\n%s", out)
	}
	p := startNodeClientPeer(t, "--cert", filepath.Join(dir, "cert.pem"), "--key", filepath.Join(dir, "key.pem"))
	args := strings.Fields(strings.Replace(m[1], ":8443/", ":"+p.port+"/", 1))
	code, got, errOut := clientRun(t, strings.NewReader("dev\n"), args...)
	if code != exitClientOK || got != "dev\n" {
		t.Fatalf("%v: exit %d, %q, %q", args, code, got, errOut)
	}
}
