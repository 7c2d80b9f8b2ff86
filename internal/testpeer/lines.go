package testpeer

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Lines is an io.Writer that hands each line written to it to C: a
// command's output, read by a test as it comes. A line finding C full
// is dropped (the command never blocks on a test that stopped reading).
type Lines struct{ C chan string }

// NewLines returns Lines whose channel holds up to n lines.
func NewLines(n int) Lines { return Lines{C: make(chan string, n)} }

// Write sends each line of p, without its newline, to C.
func (w Lines) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		select {
		case w.C <- l:
		default:
		}
	}
	return len(p), nil
}

// AwaitServing reads the banner of "wssproxy serve" from lines until its
// first "wssproxy: serving ws[s]://ADDR/…" line and returns ADDR: tests
// have serve listen on 127.0.0.1:0 and learn the port it got (no
// free-port race). serve exiting first (its status on done) or 20 s
// without that line fail t, with logs (serve's standard error).
func AwaitServing(t testing.TB, lines <-chan string, done <-chan int, logs fmt.Stringer) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l := <-lines:
			rest, ok := strings.CutPrefix(l, "wssproxy: serving ")
			if !ok {
				continue
			}
			rest = rest[strings.Index(rest, "://")+3:]
			return rest[:strings.IndexAny(rest, "/ ")]
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, logs.String())
		case <-timeout:
			t.Fatal("serve printed no serving line")
		}
	}
}
