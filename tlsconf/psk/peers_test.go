package psk

import (
	"bufio"
	"context"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// Real-peer harness: openssl, gnutls-cli and stunnel run on 127.0.0.1
// only. A missing program skips locally and fails under CI=true.

// payload is a palindrome, so one check works for echo and for
// openssl s_server -rev.
const payload = "psk-ok-ko-ksp"

// peer is a running external program.
type peer struct {
	name   string
	cmd    *exec.Cmd
	out    *testpeer.Buffer
	stdin  io.WriteCloser
	exited chan struct{}
}

// startPeer runs bin with args; its output is collected and logged when
// the test fails; it is killed (by its own PID) when the test ends.
func startPeer(t *testing.T, bin string, args ...string) *peer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	p := &peer{name: bin, cmd: cmd, out: &testpeer.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", bin, err)
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		cancel()
		<-p.exited
		if t.Failed() {
			t.Logf("%s %s output:\n%s", bin, strings.Join(args, " "), p.out.String())
		}
	})
	return p
}

// waitFor waits until the output contains s.
func (p *peer) waitFor(t *testing.T, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(p.out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q not seen within %v; output:\n%s", p.name, s, d, p.out.String())
		}
		select {
		case <-p.exited:
			if !strings.Contains(p.out.String(), s) {
				t.Fatalf("%s exited without printing %q; output:\n%s", p.name, s, p.out.String())
			}
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitOrExit waits until the output contains s (true) or the program
// exits or d passes (false).
func (p *peer) waitOrExit(s string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !strings.Contains(p.out.String(), s) {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-p.exited:
			return strings.Contains(p.out.String(), s)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true
}

// wait waits for the program to exit.
func (p *peer) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		t.Fatalf("%s did not exit within %v; output:\n%s", p.name, d, p.out.String())
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(testpeer.FreeAddr(t))
	return port
}

// serverResult is what the Go PSK server saw for one connection.
type serverResult struct {
	state ConnectionState
	err   error
}

// goServer runs our PSK server on 127.0.0.1 until the test ends: each
// connection's handshake result is reported on results, then lines are
// echoed until EOF. results holds n results not yet taken; a handshake
// that finds it full fails the test.
func goServer(t *testing.T, cfg *ServerConfig, n int) (addr string, results <-chan serverResult) {
	t.Helper()
	ch := make(chan serverResult, n)
	addr = testpeer.Serve(t, testpeer.Listen(t), func(_ context.Context, nc net.Conn) {
		c := Server(nc, cfg)
		defer c.Close()
		_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
		err := c.Handshake()
		select {
		case ch <- serverResult{c.ConnectionState(), err}:
		default:
			t.Errorf("goServer: more than %d handshake results not taken", n)
			return
		}
		if err != nil {
			return
		}
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				if _, werr := c.Write(line); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
	return addr, ch
}

func result(t *testing.T, ch <-chan serverResult) serverResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(15 * time.Second):
		t.Fatal("no server handshake result")
	}
	return serverResult{}
}

// clientEcho sends the payload line over c and expects it back.
func clientEcho(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, payload+"\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	if strings.TrimSpace(line) != payload {
		t.Fatalf("echo %q", line)
	}
}

func lookPeer(t *testing.T, name, pkg string) string {
	return testpeer.LookPath(t, name, "apt-get install "+pkg)
}
