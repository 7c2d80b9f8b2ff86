package testpeer

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Self is a copy of the running test binary, started by StartSelf to run
// one helper test as a separate process (a second instance that can
// crash).
type Self struct {
	cmd    *exec.Cmd
	out    *Buffer
	exited chan struct{}
}

// StartSelf starts the test binary again, running only the test named
// test (a helper that skips unless its environment variable is set),
// with env ("NAME=value") added to the environment. The child is killed
// when the test ends; its output is logged if the test failed.
func StartSelf(t testing.TB, test string, env ...string) *Self {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	out := new(Buffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s in a child process: %v", test, err)
	}
	s := &Self{cmd: cmd, out: out, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("child %s output:\n%s", test, out.String())
		}
	})
	return s
}

// WaitOutput waits until the child has printed s, failing the test after
// d or when the child exits first.
func (s *Self) WaitOutput(t testing.TB, d time.Duration, want string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(s.out.String(), want) {
		select {
		case <-s.exited:
			if strings.Contains(s.out.String(), want) {
				return
			}
			t.Fatalf("child exited without printing %q:\n%s", want, s.out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("child did not print %q within %v:\n%s", want, d, s.out.String())
		}
	}
}

// Kill stops the child with SIGKILL, as a crash would, and waits for it
// to exit. Killing an exited child does nothing.
func (s *Self) Kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Exited is closed when the child has exited.
func (s *Self) Exited() <-chan struct{} { return s.exited }

// Output returns what the child printed so far (stdout and stderr).
func (s *Self) Output() string { return s.out.String() }
