package clientcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// startNodeClientPeer starts testdata/client_peer.js (its header lists
// what each path does); args may be --cert F --key F for wss.
func startNodeClientPeer(t *testing.T, args ...string) *testpeer.NodePeer {
	t.Helper()
	return testpeer.StartNodePeer(t, filepath.Join("testdata", "client_peer.js"), args...)
}

// openStdin returns the read end of a pipe holding data and left open
// until the test ends, as a terminal is: the client must end when the
// server closes, not when its input does.
func openStdin(t *testing.T, data string) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, data); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(); r.Close() })
	return r
}

// clientRun runs "wssproxy client" with args, direct (no proxy from the
// environment), and returns its exit status and output.
func clientRun(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	return testpeer.RunCommand(t, func(ctx context.Context, stdout, stderr io.Writer) int {
		return Run(ctx, append(args, "--proxy", "direct"), stdin, stdout, stderr)
	})
}

// The server sends a text message in two fragments, a binary message and
// a ping, then (after our pong) a text message and closes: each mode
// prints them as documented, and what the client sent arrived.
func TestClientNodeModes(t *testing.T) {
	p := startNodeClientPeer(t)
	cases := []struct {
		name  string
		args  []string
		stdin string
		sent  string // what the server must have received
		out   string
		err   string // in stderr
	}{
		{
			name: "lines", stdin: "from client\n", sent: "from client",
			out: "hello\n\x00\x01\x02\xff\npong:srv-ping\n",
			err: `ping from server: "srv-ping"`,
		},
		{
			name: "jsonl", args: []string{"--jsonl"}, stdin: `{"type":"text","data":"from jsonl"}` + "\n", sent: "from jsonl",
			out: `{"type":"text","data":"hello"}` + "\n" +
				`{"type":"binary","data":"AAEC/w=="}` + "\n" +
				`{"type":"ping","data":"srv-ping"}` + "\n" +
				`{"type":"text","data":"pong:srv-ping"}` + "\n" +
				`{"type":"close","code":1000,"reason":"ending 1000"}` + "\n",
		},
		{
			name: "jsonl raw", args: []string{"--jsonl", "--raw"}, stdin: `{"type":"binary","data":"3q2+7w=="}` + "\n", sent: "3q2+7w==",
			out: `{"type":"text","data":"hel","fin":false}` + "\n" +
				`{"type":"text","data":"lo","fin":true}` + "\n" +
				`{"type":"binary","data":"AAEC/w==","fin":true}` + "\n" +
				`{"type":"ping","data":"srv-ping"}` + "\n" +
				`{"type":"text","data":"pong:srv-ping","fin":true}` + "\n" +
				`{"type":"close","code":1000,"reason":"ending 1000"}` + "\n",
		},
		{
			name: "lines raw", args: []string{"--raw"}, stdin: "x\n", sent: "x",
			out: "hello\n\x00\x01\x02\xff\npong:srv-ping\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := "/script?end=1000&id=" + strings.ReplaceAll(tc.name, " ", "-")
			code, out, errOut := clientRun(t, openStdin(t, tc.stdin), append([]string{p.URL("ws", path)}, tc.args...)...)
			if code != ExitOK || out != tc.out || !strings.Contains(errOut, tc.err) {
				t.Fatalf("exit %d\nstdout %q\nwant   %q\nstderr %q (want %q in it)", code, out, tc.out, errOut, tc.err)
			}
			p.Events.WaitFor(t, "message "+tc.sent, func(m map[string]any) bool { return m["event"] == "message" && m["data"] == tc.sent })
		})
	}
}

// Each way a connection can end has its exit status.
func TestClientNodeExitStatus(t *testing.T) {
	p := startNodeClientPeer(t)
	cases := []struct {
		end  string
		want int
		err  string
	}{
		{"1000", ExitOK, `closed: 1000 (normal closure) "ending 1000"`},
		{"none", ExitOK, "closed: 1005"},
		{"1001", ExitClosedOther, `closed: 1001 (going away) "ending 1001"`},
		{"4001", ExitClosedOther, `closed: 4001`},
		{"1002", ExitProtocol, "closed: 1002"},
		{"bad", ExitProtocol, "protocol error: ws: reserved opcode"},
		{"destroy", ExitAbnormal, "connection ended without a closing handshake"},
	}
	for _, tc := range cases {
		t.Run(tc.end, func(t *testing.T) {
			code, _, errOut := clientRun(t, openStdin(t, "go\n"), p.URL("ws", "/script?end="+tc.end))
			if code != tc.want || !strings.Contains(errOut, tc.err) {
				t.Fatalf("exit %d, stderr %q; want %d with %q", code, errOut, tc.want, tc.err)
			}
		})
	}
	t.Run("our close code answered", func(t *testing.T) {
		code, out, errOut := clientRun(t, strings.NewReader("a\nb\n"), p.URL("ws", "/echo"), "--close-code", "4000", "--close-reason", "done")
		if code != ExitOK || out != "a\nb\n" || !strings.Contains(errOut, `closed: 4000`) {
			t.Fatalf("exit %d, %q, %q", code, out, errOut)
		}
		p.Events.WaitFor(t, "close 4000", func(m map[string]any) bool {
			return m["event"] == "close" && m["path"] == "/echo" && m["code"] == 4000.0 && m["reason"] == "done"
		})
	})
	t.Run("refused", func(t *testing.T) {
		code, _, errOut := clientRun(t, strings.NewReader(""), p.URL("ws", "/refuse"))
		if code != ExitRefused || !strings.Contains(errOut, "handshake refused: HTTP 403 not for you, robot") {
			t.Fatalf("exit %d, %q", code, errOut)
		}
	})
	t.Run("TLS to a plain server", func(t *testing.T) {
		code, _, errOut := clientRun(t, strings.NewReader(""), p.URL("wss", "/echo"))
		if code != ExitTLS || !strings.Contains(errOut, "TLS failure") {
			t.Fatalf("exit %d, %q", code, errOut)
		}
	})
}

// --echo sends back every message with its type (the fragmented one
// whole) and ends with the server's close.
func TestClientNodeEcho(t *testing.T) {
	p := startNodeClientPeer(t)
	code, out, errOut := clientRun(t, strings.NewReader("never read\n"), p.URL("ws", "/echoback"), "--echo", "--jsonl")
	if code != ExitOK {
		t.Fatalf("exit %d, %q", code, errOut)
	}
	want := `{"type":"text","data":"one"}` + "\n" + `{"type":"binary","data":"AQID"}` + "\n" + `{"type":"close","code":1000,"reason":"thanks"}` + "\n"
	if out != want {
		t.Fatalf("stdout %q, want %q", out, want)
	}
	ev := p.Events.WaitFor(t, "echoed", testpeer.EventIs("echoed", ""))
	b, _ := json.Marshal(ev["messages"])
	if string(b) != `[{"binary":false,"data":"one"},{"binary":true,"data":"AQID"}]` {
		t.Fatalf("echoed %s", b)
	}
	if got := p.Events.Matching(func(m map[string]any) bool { return m["event"] == "message" && m["data"] == "never read" }); len(got) != 0 {
		t.Fatal("--echo sent standard input")
	}
}

// --header, --origin and --subprotocol reach the server; --ping-interval
// reports round trip times.
func TestClientNodeHeadersAndPings(t *testing.T) {
	p := startNodeClientPeer(t)
	code, out, errOut := clientRun(t, openStdin(t, ""), p.URL("ws", "/hold?ms=400"), "--jsonl",
		"--header", "X-Test: yes it is", "--header", "x-test: twice", "--origin", "https://app.example", "--subprotocol", "chat.v2", "--subprotocol", "chat.v1",
		"--ping-interval", "50ms")
	if code != ExitOK {
		t.Fatalf("exit %d, %q", code, errOut)
	}
	open := p.Events.WaitFor(t, "open", testpeer.EventIs("open", "/hold"))
	if open["origin"] != "https://app.example" || open["x_test"] != "yes it is, twice" || open["protocol"] != "chat.v2" {
		t.Fatalf("server saw %v", open)
	}
	if !strings.Contains(errOut, "(subprotocol chat.v2)") {
		t.Fatalf("stderr %q", errOut)
	}
	var pongs int
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Type  string   `json:"type"`
			RTTms *float64 `json:"rtt_ms"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("output line %q: %v", l, err)
		}
		if ev.Type == "pong" {
			if ev.RTTms == nil || *ev.RTTms < 0 {
				t.Fatalf("pong line %q", l)
			}
			pongs++
		}
	}
	if pongs == 0 {
		t.Fatalf("no pong in %q", out)
	}
	// Lines mode prints the round trip on stderr.
	code, _, errOut = clientRun(t, openStdin(t, ""), p.URL("ws", "/hold?ms=300"), "--ping-interval", "50ms")
	if code != ExitOK || !strings.Contains(errOut, "pong: rtt ") {
		t.Fatalf("exit %d, %q", code, errOut)
	}
}

// --binary sends all of stdin as one message in frames of
// --outgoing-frame-size and writes what comes back as it is.
func TestClientNodeBinary(t *testing.T) {
	p := startNodeClientPeer(t)
	data := make([]byte, 1<<20+7)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	code, out, errOut := clientRun(t, bytes.NewReader(data), p.URL("ws", "/echo?id=binary"), "--binary", "--outgoing-frame-size", "64KiB")
	if code != ExitOK || out != string(data) {
		t.Fatalf("exit %d, %d bytes back (want %d), %q", code, len(out), len(data), errOut)
	}
	isBinary := func(m map[string]any) bool {
		return m["event"] == "message" && m["path"] == "/echo" && m["binary"] == true
	}
	p.Events.WaitFor(t, "binary message", isBinary)
	p.Events.WaitFor(t, "close", testpeer.EventIs("close", "/echo"))
	if msgs := p.Events.Matching(isBinary); len(msgs) != 1 {
		t.Fatalf("server got %d binary messages, want 1", len(msgs))
	}
}

// An interrupt (the command's context ending: Ctrl-C, SIGTERM) closes
// with --close-code and waits for the answer: exit 0, and the server saw
// the code.
func TestClientNodeInterrupt(t *testing.T) {
	p := startNodeClientPeer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{p.URL("ws", "/hold?ms=20000"), "--proxy", "direct", "--close-reason", "interrupted"}, openStdin(t, ""), &out, &errb)
	}()
	p.Events.WaitFor(t, "open", testpeer.EventIs("open", "/hold"))
	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Fatalf("exit %d, %q", code, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the client did not end on interrupt")
	}
	p.Events.WaitFor(t, "close 1000", func(m map[string]any) bool {
		return m["event"] == "close" && m["code"] == 1000.0 && m["reason"] == "interrupted"
	})
}

// --help documents every exit status.
func TestClientHelpListsExitStatus(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"--help"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Exit status:", "\n  0  ", "\n  1  ", "\n  2  usage error", "\n  3  TLS failure", "\n  4  handshake refused", "\n  5  protocol error", "\n  6  abnormal closure", "\n  7  the server closed"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}
