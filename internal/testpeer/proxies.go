package testpeer

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TinyproxyOptions configures StartTinyproxy.
type TinyproxyOptions struct {
	// User and Pass, when User is set, make the proxy demand HTTP Basic
	// credentials (407 with Proxy-Authenticate otherwise).
	User, Pass string
	// ConnectPorts, when set, are the only ports CONNECT may reach;
	// others get 403. Empty allows every port.
	ConnectPorts []int
}

// StartTinyproxy runs tinyproxy (Debian package tinyproxy) on a free
// 127.0.0.1 port with a generated configuration and returns its
// host:port. It stops when the test ends. Missing tinyproxy skips the
// test, or fails it under CI.
func StartTinyproxy(t testing.TB, opts TinyproxyOptions) string {
	t.Helper()
	bin := LookPath(t, "tinyproxy", "apt-get install tinyproxy")
	port := FreePort(t)
	var conf bytes.Buffer
	fmt.Fprintf(&conf, "Port %d\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nLogLevel Info\nAllow 127.0.0.1\nDisableViaHeader Yes\n", port)
	if opts.User != "" {
		fmt.Fprintf(&conf, "BasicAuth %s %s\n", opts.User, opts.Pass)
	}
	for _, p := range opts.ConnectPorts {
		fmt.Fprintf(&conf, "ConnectPort %d\n", p)
	}
	path := filepath.Join(t.TempDir(), "tinyproxy.conf")
	if err := os.WriteFile(path, conf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	startDaemon(t, "tinyproxy", addr, nil, bin, "-d", "-c", path)
	return addr
}

// StartMicrosocks runs microsocks (Debian package microsocks), a SOCKS5
// proxy, on a free 127.0.0.1 port and returns its host:port; with a user
// it demands RFC 1929 username/password authentication. It stops when
// the test ends. Missing microsocks skips the test, or fails it under CI.
func StartMicrosocks(t testing.TB, user, pass string) string {
	t.Helper()
	bin := LookPath(t, "microsocks", "apt-get install microsocks")
	port := FreePort(t)
	args := []string{"-i", "127.0.0.1", "-p", strconv.Itoa(port)}
	if user != "" {
		args = append(args, "-u", user, "-P", pass)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	startDaemon(t, "microsocks", addr, nil, bin, args...)
	return addr
}

// ProgramVersion returns the first line of "name args..." output (for
// logging which peer version a test ran against), or "" on failure.
func ProgramVersion(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	line, _, _ := bytes.Cut(bytes.TrimSpace(out), []byte("\n"))
	return string(line)
}

// Buffer is a bytes.Buffer safe for concurrent use: a log sink or the
// output of a child process, read by the test.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDaemon starts a foreground daemon, waits until addr accepts TCP
// connections, and stops it (and logs its output on failure) when the
// test ends. It returns the buffer collecting its output.
func startDaemon(t testing.TB, name, addr string, env []string, bin string, args ...string) *Buffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var out Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return &out
		}
		select {
		case <-exited:
			t.Fatalf("%s exited at startup:\n%s", name, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s within 10s:\n%s", name, addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
