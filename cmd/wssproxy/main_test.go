package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/ws"
)

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "Usage:"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"echo", "--cert", "x"}, 2, "--cert and --key go together"},
		{[]string{"echo", "--max-message-size", "0"}, 2, "must be positive"},
		{[]string{"echo", "--log-format", "xml"}, 2, "--log-format"},
		{[]string{"echo", "--log-level", "loud"}, 2, "--log-level"},
		{[]string{"echo", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"echo", "--listen", "256.0.0.1:1"}, 1, "listening on"},
		{[]string{"echo", "--listen", "127.0.0.1:0", "--cert", "/nonexistent", "--key", "/nonexistent"}, 1, "loading --cert/--key"},
	}
	for _, tc := range cases {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(errb.String()+out.String(), tc.msg) {
			t.Errorf("%v: exit %d, output %q; want exit %d containing %q", tc.args, code, errb.String(), tc.code, tc.msg)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	var out bytes.Buffer
	if run(context.Background(), []string{"version"}, &out, &out) != 0 || !strings.HasPrefix(out.String(), "wssproxy ") {
		t.Fatalf("version: %q", out.String())
	}
	out.Reset()
	if run(context.Background(), []string{"echo", "--help"}, &out, &out) != 0 || !strings.Contains(out.String(), "--listen") {
		t.Fatalf("echo --help: %q", out.String())
	}
	if _, out, _ := runCmd(t, "help"); !strings.Contains(out, "certs pin HOST:PORT") {
		t.Errorf("help lacks certs: %s", out)
	}
	if code, _, errOut := runCmd(t, "certs", "pin"); code != 2 || !strings.Contains(errOut, "want FILE or HOST:PORT") {
		t.Errorf("certs pin: exit %d %q", code, errOut)
	}
}

func TestEchoServesAndDrains(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, done := startEchoCmd(ctx, t)
	if !strings.HasPrefix(url, "ws://127.0.0.1:") {
		t.Fatalf("printed %q", url)
	}
	c, _, err := ws.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	for _, typ := range []ws.MessageType{ws.MessageText, ws.MessageBinary} {
		c.WriteMessage(ctx, typ, []byte("ping"))
		gotTyp, msg, err := c.ReadMessage(ctx)
		if err != nil || gotTyp != typ || string(msg) != "ping" {
			t.Fatalf("echo: %v %q %v", gotTyp, msg, err)
		}
	}
	// A close is answered with the same code and reason.
	c2, _, err := ws.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Close(4000, "custom"); err != nil {
		t.Fatal(err)
	}
	if code, reason := c2.CloseStatus(); code != 4000 || reason != "custom" {
		t.Fatalf("echoed close %v %q", code, reason)
	}

	cancel() // as SIGTERM does
	_, _, err = c.ReadMessage(context.Background())
	if code, _ := c.CloseStatus(); code != ws.StatusGoingAway {
		t.Fatalf("client saw %v (%v), want 1001", code, err)
	}
	if code := <-done; code != 0 {
		t.Fatalf("exit code %d", code)
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
