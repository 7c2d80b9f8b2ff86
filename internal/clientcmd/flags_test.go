package clientcmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
	"github.com/wssproxy/wssproxy/ws"
)

// Bad command lines are usage errors (2) whose message names what was
// wrong, found before anything is sent.
func TestClientUsageErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "notes.pem")
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600)
	unreadable := filepath.Join(dir, "secret.pem")
	os.WriteFile(unreadable, []byte("x"), 0o000)
	pki := devpki.New(t)
	cases := []struct {
		args []string
		msg  string
	}{
		{nil, "a ws:// or wss:// URL is required"},
		{[]string{"http://example.com/"}, `URL "http://example.com/": want a ws:// or wss:// URL`},
		{[]string{"ws:///path"}, `URL "ws:///path" has no host`},
		{[]string{"ws://h/\r\nX-Evil: 1"}, "contains control character 0x0d"},
		{[]string{"ws://h:port/"}, "invalid URL"},
		{[]string{"ws://h/", "ws://other/"}, `unexpected argument "ws://other/"`},
		{[]string{"ws://h/", "--header", "X-A: 1\r\nX-Evil: 2"}, "--header X-A: control character 0x0d refused"},
		{[]string{"ws://h/", "--header", "X-A: 1\nX-Evil: 2"}, "--header X-A: control character 0x0a refused"},
		{[]string{"ws://h/", "--header", "no colon"}, `want "Name: value"`},
		{[]string{"ws://h/", "--header", "Bad Name: v"}, `invalid header name "Bad Name"`},
		{[]string{"ws://h/", "--header", "Sec-WebSocket-Protocol: x"}, "set by the handshake itself"},
		{[]string{"ws://h/", "--origin", "https://a\r\nX: y"}, "--origin: control character 0x0d"},
		{[]string{"ws://h/", "--subprotocol", "a b"}, `--subprotocol "a b": want a token`},
		{[]string{"ws://h/", "--binary", "--jsonl"}, "choose one of --binary and --jsonl"},
		{[]string{"ws://h/", "--close-code", "1006"}, "--close-code 1006 may not be sent"},
		{[]string{"ws://h/", "--close-reason", strings.Repeat("r", 124)}, "--close-reason is 124 bytes"},
		{[]string{"ws://h/", "--connect-timeout", "0s"}, "--connect-timeout must be positive"},
		{[]string{"ws://h/", "--ping-interval", "-1s"}, "--ping-interval must not be negative"},
		{[]string{"ws://h/", "--outgoing-frame-size", "0"}, "--outgoing-frame-size must be positive"},
		{[]string{"ws://h/", "--cert", pki.CertFile}, "--cert and --key go together"},
		{[]string{"ws://h/", "--cert", filepath.Join(dir, "missing.pem"), "--key", pki.KeyFile}, "--cert: open " + filepath.Join(dir, "missing.pem") + ": no such file"},
		{[]string{"ws://h/", "--cert", notPEM, "--key", pki.KeyFile}, "--cert " + notPEM + " --key " + pki.KeyFile + ": tls: failed to find any PEM data"},
		{[]string{"ws://h/", "--cert", pki.CertFile, "--key", pki.CACertFile}, "--cert " + pki.CertFile + " --key " + pki.CACertFile},
		{[]string{"ws://h/", "--ca", filepath.Join(dir, "nope.pem")}, "--ca: open " + filepath.Join(dir, "nope.pem")},
		{[]string{"ws://h/", "--ca", notPEM}, "--ca " + notPEM + ": no PEM CERTIFICATE block"},
		{[]string{"ws://h/", "--pin", filepath.Join(dir, "server.pem")}, "--pin " + filepath.Join(dir, "server.pem") + ": no such file, and not a pin either"},
		{[]string{"ws://h/", "--pin", notPEM}, "no CERTIFICATE or PUBLIC KEY block (file " + notPEM + ")"},
		{[]string{"ws://h/", "--pin", "abcdef"}, "hex part has 6 digits"},
		{[]string{"ws://h/", "--pin-only"}, "--pin-only needs at least one --pin"},
		{[]string{"ws://h/", "--pause-on-ssl-errors", "--insecure"}, "--insecure already accepts every SSL error"},
		{[]string{"ws://h/", "--psk-identity", "d"}, "--psk-identity and --psk-key-file go together"},
	}
	if os.Geteuid() != 0 { // root reads a mode-0 file
		cases = append(cases, struct {
			args []string
			msg  string
		}{[]string{"ws://h/", "--cert", unreadable, "--key", pki.KeyFile}, "--cert: open " + unreadable + ": permission denied"})
	}
	for _, tc := range cases {
		code, out, errOut := clientRun(t, strings.NewReader("must not be sent\n"), tc.args...)
		if code != ExitUsage || !strings.Contains(errOut, tc.msg) || out != "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 with %q", tc.args, code, errOut, tc.msg)
		}
	}
	// Connecting to nothing: no connection (1).
	code, _, errOut := clientRun(t, strings.NewReader(""), "ws://127.0.0.1:1/")
	if code != ExitFailure || !strings.Contains(errOut, "cannot connect") {
		t.Errorf("closed port: exit %d, %q", code, errOut)
	}
}

// parseJSONLine accepts the four documented objects and refuses anything
// else with a reason.
func TestParseJSONLine(t *testing.T) {
	good := []struct {
		line    string
		op      ws.OpCode
		payload string
		code    ws.StatusCode
	}{
		{`{"type":"text","data":"héllo"}`, ws.OpText, "héllo", 0},
		{`{"type":"text","data":""}`, ws.OpText, "", 0},
		{`{"type":"binary","data":"AAEC/w=="}`, ws.OpBinary, "\x00\x01\x02\xff", 0},
		{`{"type":"ping"}`, ws.OpPing, "", 0},
		{`{"type":"ping","data":"p"}`, ws.OpPing, "p", 0},
		{`{"type":"close"}`, ws.OpClose, "", ws.StatusNormalClosure},
		{`{"type":"close","code":4000,"reason":"bye"}`, ws.OpClose, "bye", 4000},
	}
	for _, g := range good {
		op, p, code, err := parseJSONLine([]byte(g.line))
		if err != nil || op != g.op || string(p) != g.payload || code != g.code {
			t.Errorf("%s: %v %q %v %v", g.line, op, p, code, err)
		}
	}
	bad := []struct{ line, msg string }{
		{`{"type":"text","data":`, "invalid JSON"},
		{`not json`, "invalid JSON"},
		{`{"type":"text","data":"a"} {"type":"text"}`, "more than one JSON value"},
		{`{"type":"text"}`, `type "text" needs "data"`},
		{`{"type":"text","data":1}`, "invalid JSON"},
		{`{"type":"text","data":"a","extra":1}`, `unknown field "extra"`},
		{`{"data":"a"}`, `"type" is missing`},
		{`{"type":"pong"}`, `unknown type "pong"`},
		{`{"type":"binary","data":"***"}`, "must be base64"},
		{`{"type":"text","data":"a","code":1000}`, `belong to type "close"`},
		{`{"type":"close","code":1006}`, "close code 1006 may not be sent"},
		{`{"type":"close","data":"x"}`, `not "data"`},
		{`{"type":"close","reason":"` + strings.Repeat("r", 124) + `"}`, "close reason is 124 bytes"},
		{`{"type":"ping","data":"` + strings.Repeat("p", 126) + `"}`, "at most 125 bytes"},
	}
	for _, b := range bad {
		if _, _, _, err := parseJSONLine([]byte(b.line)); err == nil || !strings.Contains(err.Error(), b.msg) {
			t.Errorf("%s: %v, want %q", b.line, err, b.msg)
		}
	}
}

// A malformed JSON input line is an error naming its line number; nothing
// of it, nor of what follows, is sent; the client closes normally and
// exits 1. A line that is not UTF-8 in lines mode likewise.
func TestClientBadInputLines(t *testing.T) {
	p := startNodeClientPeer(t)
	input := `{"type":"text","data":"first"}` + "\n\n" + `{"type":"text","data":` + "\n" + `{"type":"text","data":"never"}` + "\n"
	code, out, errOut := clientRun(t, strings.NewReader(input), p.URL("ws", "/echo?id=jsonl"), "--jsonl")
	if code != ExitFailure || !strings.Contains(errOut, "input: line 3: invalid JSON") || !strings.Contains(errOut, "nothing of it was sent") {
		t.Fatalf("exit %d, %q, %q", code, out, errOut)
	}
	if out != `{"type":"text","data":"first"}`+"\n"+`{"type":"close","code":1000,"reason":""}`+"\n" {
		t.Fatalf("stdout %q", out)
	}
	p.Events.WaitFor(t, "close", testpeer.EventIs("close", "/echo"))
	got := p.Events.Matching(testpeer.EventIs("message", "/echo"))
	if len(got) != 1 || got[0]["data"] != "first" {
		t.Fatalf("server received %v", got)
	}

	code, out, errOut = clientRun(t, strings.NewReader("ok\n\xff\xfe\nnever\n"), p.URL("ws", "/echo"))
	if code != ExitFailure || !strings.Contains(errOut, "line 2 is not valid UTF-8") || out != "ok\n" {
		t.Fatalf("not UTF-8: exit %d, %q, %q", code, out, errOut)
	}
}

// FuzzParseJSONLine: any line is either refused or gives a frame the
// codec may send (control payloads within bounds, close codes valid on
// the wire).
func FuzzParseJSONLine(f *testing.F) {
	for _, s := range []string{
		`{"type":"text","data":"hi"}`, `{"type":"binary","data":"AAEC/w=="}`, `{"type":"ping","data":"p"}`,
		`{"type":"close","code":4000,"reason":"bye"}`, `{"type":"close"}`, `{"type":`, `[]`, `null`, `{"type":"text","data":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		op, p, code, err := parseJSONLine(line)
		if err != nil {
			return
		}
		switch op {
		case ws.OpText, ws.OpBinary:
		case ws.OpPing:
			if len(p) > ws.MaxControlPayload {
				t.Fatalf("ping payload %d bytes", len(p))
			}
		case ws.OpClose:
			if !code.ValidOnWire() || len(p) > ws.MaxCloseReason {
				t.Fatalf("close %d with %d-byte reason", code, len(p))
			}
		default:
			t.Fatalf("opcode %v", op)
		}
	})
}
