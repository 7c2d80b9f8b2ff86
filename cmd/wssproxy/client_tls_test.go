package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/internal/clientcmd/clienttest"
	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
)

// The lines "certs pin HOST:PORT" prints work as printed, for client and
// serve alike (serve's listen address aside), pinning the key or
// accepting the errors found; the --pin-only line says why.
func TestCertsPinLinesWork(t *testing.T) {
	pki := devpki.New(t)
	p := startNodeClientPeer(t, "--cert", pki.CertFile, "--key", pki.KeyFile)
	code, out, errOut := runCmd(t, "certs", "pin", "localhost:"+p.Port, "--proxy", "direct")
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
				code, got, errOut := clienttest.Run(t, strings.NewReader("as printed\n"), args...)
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
			code, got, errOut := clienttest.Run(t, strings.NewReader("through serve\n"), "ws://"+front+"/")
			if code != exitClientOK || got != "through serve\n" {
				t.Fatalf("serve %v: exit %d, %q, %q", args, code, got, errOut)
			}
		})
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
	args := strings.Fields(strings.Replace(m[1], ":8443/", ":"+p.Port+"/", 1))
	code, got, errOut := clienttest.Run(t, strings.NewReader("dev\n"), args...)
	if code != exitClientOK || got != "dev\n" {
		t.Fatalf("%v: exit %d, %q, %q", args, code, got, errOut)
	}
}
