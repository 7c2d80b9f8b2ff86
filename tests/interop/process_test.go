package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// theirServer is a running peer server.
type theirServer struct {
	url    string // ws://127.0.0.1:port
	events *hub
	// kill ends the server's connections without a close frame: the
	// process is killed (SIGKILL), or a Go peer's TCP connections closed.
	kill func()
}

// goConn is what startGoServer gives a Go library's handler for one
// connection: where to report it, and how to register its kill.
type goConn struct {
	id    string
	h     *hub
	track func(kill func())
}

// failed reports an upgrade the library refused.
func (c goConn) failed(err error) {
	c.h.add(serverEvent{Event: "error", ID: c.id, Error: err.Error()})
}

// closed reports the end of the connection with the close code and
// reason the peer sent; code -1 (no close frame) is reported as 1006.
func (c goConn) closed(code int, reason string) {
	if code == -1 {
		code = 1006
	}
	c.h.add(serverEvent{Event: "close", ID: c.id, Code: code, Reason: reason})
}

// startGoServer serves the paths of script_test.go with a Go library's
// handler on a loopback httptest server until the test ends; kill runs
// every kill function the handler registered.
func startGoServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, c goConn)) *theirServer {
	h := newHub()
	var mu sync.Mutex
	var kills []func()
	track := func(kill func()) {
		mu.Lock()
		defer mu.Unlock()
		kills = append(kills, kill)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle(w, r, goConn{id: r.URL.Query().Get("id"), h: h, track: track})
	}))
	t.Cleanup(srv.Close)
	return &theirServer{
		url:    "ws" + strings.TrimPrefix(srv.URL, "http"),
		events: h,
		kill: func() {
			mu.Lock()
			defer mu.Unlock()
			for _, kill := range kills {
				kill()
			}
		},
	}
}

// hub collects a server's events and lets tests wait for them.
type hub struct{ testpeer.Feed[serverEvent] }

func newHub() *hub { return &hub{} }

func (h *hub) add(e serverEvent) { h.Add(e) }

// wait returns the first event named event for connection id.
func (h *hub) wait(t *testing.T, id, event string) serverEvent {
	t.Helper()
	e, ok := h.Wait(func(e serverEvent) bool { return e.ID == id && e.Event == event }, time.After(20*time.Second), nil)
	if !ok {
		t.Fatalf("their server reported no %q event for connection %s", event, id)
	}
	return e
}

// startScript starts a peer's script with args, its stderr collected,
// and returns the command, its stdout and the cancel of its context.
func startScript(t *testing.T, c testpeer.Script, script string, args ...string) (*exec.Cmd, io.Reader, *bytes.Buffer, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := c.Cmd(ctx, script, args...)
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s %s: %v", script, strings.Join(args, " "), err)
	}
	return cmd, stdout, stderr, cancel
}

// startProcessServer starts a peer's echo server script, reads its port
// from the "listening" event on stdout and collects its later events.
// The process is killed in t.Cleanup.
func startProcessServer(t *testing.T, c testpeer.Script, script string) *theirServer {
	t.Helper()
	cmd, stdout, stderr, cancel := startScript(t, c, script)
	h := newHub()
	port := make(chan int, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var e serverEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				h.add(serverEvent{Event: "error", Error: "bad line: " + sc.Text()})
				continue
			}
			if e.Event == "listening" {
				port <- e.Port
				continue
			}
			h.add(e)
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			cancel()
			<-scanned
			_ = cmd.Wait()
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("%s stderr:\n%s", script, stderr.String())
		}
	})
	select {
	case p := <-port:
		return &theirServer{url: "ws://127.0.0.1:" + strconv.Itoa(p), events: h, kill: stop}
	case <-scanned:
		stop()
		t.Fatalf("%s exited before listening: %s", script, stderr.String())
	case <-time.After(20 * time.Second):
		stop()
		t.Fatalf("%s printed no port within 20s: %s", script, stderr.String())
	}
	return nil
}

// holdProcessClient starts a peer's client script that connects to url,
// exchanges one message and then holds the connection; the returned
// function kills the process (SIGKILL), so no close frame is sent.
func holdProcessClient(t *testing.T, c testpeer.Script, script, url string) (kill func()) {
	t.Helper()
	cmd, stdout, stderr, cancel := startScript(t, c, script, "hold", url)
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			cancel()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(stop)
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		if !bytes.Contains([]byte(line), []byte(`"ready"`)) {
			stop()
			t.Fatalf("%s hold: got %q, want ready; stderr:\n%s", script, line, stderr.String())
		}
	case <-time.After(20 * time.Second):
		stop()
		t.Fatalf("%s hold: not ready within 20s; stderr:\n%s", script, stderr.String())
	}
	return stop
}
