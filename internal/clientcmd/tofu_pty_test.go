//go:build linux

package clientcmd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
)

const tofuPrompt = "[a]bort / accept [o]nce / accept and [r]emember"

// On a terminal, the first contact with a server whose certificate does
// not verify shows the SSL errors and the chain and asks: "r" remembers
// the key (the next run passes without a question), "o" accepts once and
// writes nothing, "a" and end of input abort with the TLS status; a
// changed key is refused without a question, naming both keys.
func TestClientTOFUOnTerminal(t *testing.T) {
	pki, other := devpki.New(t), devpki.New(t)
	p := startNodeClientPeer(t, "--cert", pki.CertFile, "--key", pki.KeyFile)
	url := "wss://localhost:" + p.Port + "/echo"
	host := "localhost:" + p.Port
	file := filepath.Join(t.TempDir(), "known_pins")
	pin, otherPin := leafPin(t, pki.CertFile), leafPin(t, other.CertFile)

	// typed runs the client on a terminal on which input was typed.
	typed := func(input string, args ...string) (int, string, string) {
		t.Helper()
		master, tty := openPTY(t)
		if _, err := master.WriteString(input); err != nil {
			t.Fatal(err)
		}
		return clientRun(t, tty, append([]string{url, "--known-pins", file}, args...)...)
	}

	for _, input := range []string{"a\n", "\x04", "what?\n"} {
		code, out, errOut := typed(input)
		if code != ExitTLS || out != "" || !strings.Contains(errOut, tofuPrompt) || !strings.Contains(errOut, "first use of the server not accepted") {
			t.Fatalf("abort %q: exit %d, %q, %q", input, code, out, errOut)
		}
		// The question shows the errors and, per certificate, subject,
		// issuer, validity, SHA-256 and pin.
		for _, want := range []string{"The authenticity of " + host, "unknown-authority", "certificate 0: CN=localhost", "(issuer CN=", "    valid  ", "    sha256 ", "    pin    " + pin} {
			if !strings.Contains(errOut, want) {
				t.Fatalf("abort %q: the question lacks %q:\n%s", input, want, errOut)
			}
		}
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("known pins written on abort: %v", err)
	}

	code, out, errOut := typed("o\nonce\n\x04")
	if code != ExitOK || out != "once\n" || !strings.Contains(errOut, tofuPrompt) {
		t.Fatalf("accept once: exit %d, %q, %q", code, out, errOut)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("known pins written on accept once: %v", err)
	}

	code, out, errOut = typed("r\nremembered\n\x04")
	if code != ExitOK || out != "remembered\n" || !strings.Contains(errOut, "remembered its key "+pin+" in "+file) {
		t.Fatalf("accept and remember: exit %d, %q, %q", code, out, errOut)
	}
	data, err := os.ReadFile(file)
	if err != nil || !strings.HasPrefix(string(data), host+" "+pin+" kinds=unknown-authority added=") || !strings.Contains(string(data), " source=tofu ") {
		t.Fatalf("known pins %q %v", data, err)
	}

	// The second run passes without a question.
	code, out, errOut = typed("again\n\x04")
	if code != ExitOK || out != "again\n" || strings.Contains(errOut, tofuPrompt) || strings.Contains(errOut, "first use") {
		t.Fatalf("second run: exit %d, %q, %q", code, out, errOut)
	}

	// Another key for the host: refused loudly, no question.
	os.WriteFile(file, []byte(host+" "+otherPin+" source=tofu\n"), 0o600)
	code, _, errOut = typed("r\n")
	if code != ExitTLS || strings.Contains(errOut, tofuPrompt) || !strings.Contains(errOut, "WARNING: THE KEY OF "+host+" HAS CHANGED") ||
		!strings.Contains(errOut, "remembered ("+file+":1): "+otherPin) || !strings.Contains(errOut, "presented now:  "+pin) ||
		!strings.Contains(errOut, "delete the line(s) above from "+file) || !strings.Contains(errOut, "--pin "+pin+" --pin-only") {
		t.Fatalf("changed key: exit %d, %q", code, errOut)
	}
	if data, _ := os.ReadFile(file); string(data) != host+" "+otherPin+" source=tofu\n" {
		t.Fatalf("the refused key changed the file: %q", data)
	}

	// A corrupted line is an error naming file and line, before any
	// connection.
	os.WriteFile(file, []byte("# mine\n"+host+" "+pin+"\nbroken-line\n"), 0o600)
	code, _, errOut = typed("r\n")
	if code != ExitUsage || !strings.Contains(errOut, "known pins: "+file+":3: ") {
		t.Fatalf("corrupted line: exit %d, %q", code, errOut)
	}
}

// The time a question waits for its answer does not count towards
// --connect-timeout.
func TestClientTOFUQuestionOutlivesConnectTimeout(t *testing.T) {
	pki := devpki.New(t)
	p := startNodeClientPeer(t, "--cert", pki.CertFile, "--key", pki.KeyFile)
	master, tty := openPTY(t)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		master.WriteString("o\nlate\n\x04")
	}()
	code, out, errOut := clientRun(t, tty, "wss://localhost:"+p.Port+"/echo", "--known-pins", filepath.Join(t.TempDir(), "k"), "--connect-timeout", "1s")
	if code != ExitOK || out != "late\n" {
		t.Fatalf("exit %d, %q, %q", code, out, errOut)
	}
}

// An interrupt while the question waits ends the run at once with the
// TLS status.
func TestClientTOFUQuestionInterrupted(t *testing.T) {
	pki := devpki.New(t)
	p := startNodeClientPeer(t, "--cert", pki.CertFile, "--key", pki.KeyFile)
	_, tty := openPTY(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb testpeer.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"wss://localhost:" + p.Port + "/", "--known-pins", filepath.Join(t.TempDir(), "k"), "--proxy", "direct"}, tty, &out, &errb)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errb.String(), tofuPrompt) {
		if time.Now().After(deadline) {
			t.Fatalf("no question: %q", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitTLS && code != ExitFailure {
			t.Fatalf("exit %d, %q", code, errb.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the question outlived the interrupt")
	}
}

// Without a terminal, --tofu accepts and remembers; without it the run
// fails and prints the command that accepts the key.
func TestClientTOFUWithoutTerminal(t *testing.T) {
	pki := devpki.New(t)
	p := startNodeClientPeer(t, "--cert", pki.CertFile, "--key", pki.KeyFile)
	url := "wss://localhost:" + p.Port + "/echo"
	file := filepath.Join(t.TempDir(), "dir with space", "known_pins")
	code, _, errOut := clientRun(t, strings.NewReader("x\n"), url, "--known-pins", file)
	want := "wssproxy client " + url + " --known-pins '" + file + "' --proxy direct --tofu"
	if code != ExitTLS || !strings.Contains(errOut, "not a terminal") || !strings.Contains(errOut, "\n  "+want+"\n") || strings.Contains(errOut, tofuPrompt) {
		t.Fatalf("no terminal: exit %d, %q; want the line %q", code, errOut, want)
	}
	args := strings.Fields(strings.ReplaceAll(want, "'"+file+"'", "FILE"))[2:]
	for i, a := range args {
		if a == "FILE" {
			args[i] = file
		}
	}
	code, out, errOut := clientRun(t, strings.NewReader("printed\n"), args...)
	if code != ExitOK || out != "printed\n" || !strings.Contains(errOut, "remembered its key") {
		t.Fatalf("the printed command: exit %d, %q, %q", code, out, errOut)
	}
	code, out, errOut = clientRun(t, strings.NewReader("later\n"), url, "--known-pins", file)
	if code != ExitOK || out != "later\n" {
		t.Fatalf("later: exit %d, %q, %q", code, out, errOut)
	}
}
