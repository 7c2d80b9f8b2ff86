package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// waitTimeout bounds every wait for a child process to say or do something.
const waitTimeout = 20 * time.Second

// proc is a child process whose stdout lines are collected and whose
// stderr is kept for the test log.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stderr testpeer.Buffer

	lines testpeer.Feed[string] // stdout

	exited  chan struct{} // closed once the process was waited for
	waitErr error
}

// startProc starts cmd and kills it (SIGKILL, or stop if set) in
// t.Cleanup; on failure the test log gets its stderr.
func startProc(t *testing.T, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{})}
	cmd.Stderr = &p.stderr
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.lines.Add(sc.Text())
		}
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s (pid %d) stdout:\n%s\nstderr:\n%s", name, cmd.Process.Pid, strings.Join(p.output(), "\n"), p.stderr.String())
		}
	})
	return p
}

// kill ends the process with SIGKILL (no close frame, no FIN handshake of
// its own) and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
	}
}

// wait waits up to d for the process to exit and returns its exit code
// (-1 when killed by a signal or still running).
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		t.Fatalf("%s did not exit within %v", p.name, d)
	}
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		return ee.ExitCode()
	}
	if p.waitErr != nil {
		t.Fatalf("%s: %v", p.name, p.waitErr)
	}
	return 0
}

func (p *proc) output() []string { return p.lines.Items() }

// waitLine returns the first stdout line for which match is true, waiting
// up to waitTimeout; it fails the test if the process exits first.
func (p *proc) waitLine(t *testing.T, what string, match func(string) bool) string {
	t.Helper()
	l, ok := p.lines.Wait(match, time.After(waitTimeout), p.exited)
	if !ok {
		select {
		case <-p.exited:
			t.Fatalf("%s exited (%v) before printing %s", p.name, p.waitErr, what)
		default:
			t.Fatalf("%s printed no %s within %v", p.name, what, waitTimeout)
		}
	}
	return l
}

// waitStderr waits until the process's stderr (its log) contains s.
func (p *proc) waitStderr(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !strings.Contains(p.stderr.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("%s logged no %s within %v", p.name, s, waitTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// event is a JSON line of a peer script: "listening" with the port, then
// per connection "close" with the code and reason received (1006 when
// none), "partial" and "error"; the hold clients print "close" too.
type event struct {
	Event  string `json:"event"`
	ID     string `json:"id,omitempty"`
	Port   int    `json:"port,omitempty"`
	Code   int    `json:"code"`
	Reason string `json:"reason"`
	Error  string `json:"error,omitempty"`
	Ready  bool   `json:"ready,omitempty"`
}

// waitEvent returns the first JSON line with this event name and
// connection id.
func (p *proc) waitEvent(t *testing.T, id, name string) event {
	t.Helper()
	var e event
	p.waitLine(t, "a "+name+" event for "+id, func(l string) bool {
		var x event
		if json.Unmarshal([]byte(l), &x) != nil || x.Event != name || x.ID != id {
			return false
		}
		e = x
		return true
	})
	return e
}
