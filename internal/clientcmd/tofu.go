package clientcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/wssproxy/wssproxy/tlsconf"
)

// firstUse decides, for tlsconf.TOFU, about a server the known-pins file
// has no key for.
type firstUse struct {
	tofu   bool     // --tofu: accept and remember without asking
	tty    *os.File // standard input when it is a terminal: ask there
	stderr io.Writer
	file   string   // the known-pins file
	args   []string // the command line, to print the one that accepts
	clock  *connectClock
}

// decide answers TOFU.Decide: a certificate without unaccepted errors is
// accepted (remembered with --tofu); otherwise --tofu remembers it, a
// terminal is asked (abort, accept once, accept and remember), and
// without a terminal it is refused with the command that accepts it.
func (f *firstUse) decide(ctx context.Context, req tlsconf.TOFURequest) (tlsconf.TOFUDecision, error) {
	switch {
	case f.tofu:
		return tlsconf.TOFURemember, nil
	case len(req.Unignored) == 0:
		return tlsconf.TOFUAcceptOnce, nil // verified, or accepted by --insecure/--ignore-ssl-error
	}
	w := f.stderr
	fmt.Fprintf(w, "The authenticity of %s (%s) cannot be established: its key is not in %s.\nSSL errors:\n", req.Server, req.Peer, f.file)
	for _, e := range req.Errors {
		fmt.Fprintf(w, "  %s\n", e.Error())
	}
	fmt.Fprintf(w, "Certificate chain:\n")
	writeChain(w, req.Chain)
	if f.tty == nil {
		fmt.Fprintf(w, "Standard input is not a terminal, so nobody can be asked: not connecting.\n"+
			"If this is the right key (check its pin %s out of band), accept it and remember it with:\n  %s\n",
			req.Pin, shellLine(append(append([]string{"wssproxy", "client"}, f.args...), "--tofu")))
		return tlsconf.TOFUAbort, nil
	}
	fmt.Fprintf(w, "Abort, accept once, or accept and remember its key? [a]bort / accept [o]nce / accept and [r]emember (default abort): ")
	f.clock.pause() // a person's time does not count towards --connect-timeout
	answer, err := readAnswer(ctx, f.tty)
	f.clock.resume()
	if err != nil {
		fmt.Fprintf(w, "\nno answer (%v): not connecting\n", err)
		return tlsconf.TOFUAbort, nil
	}
	switch answer {
	case "o", "once":
		return tlsconf.TOFUAcceptOnce, nil
	case "r", "remember":
		return tlsconf.TOFURemember, nil
	}
	fmt.Fprintf(w, "not connecting\n")
	return tlsconf.TOFUAbort, nil
}

// remembered reports a key just written to the known-pins file.
func (f *firstUse) remembered(e tlsconf.PinEntry) {
	how := "the system roots trust it"
	if len(e.Kinds) > 0 {
		kinds := make([]string, len(e.Kinds))
		for i, k := range e.Kinds {
			kinds[i] = k.String()
		}
		how = "accepting " + strings.Join(kinds, ", ")
	}
	fmt.Fprintf(f.stderr, "first use of %s (%s): remembered its key %s in %s\n", e.Server, how, e.Pin, f.file)
}

// shellLine joins args into a line a POSIX shell reads back as args.
func shellLine(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+%", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// errConnectTimeout ends a dial that took longer than --connect-timeout.
var errConnectTimeout = errors.New("--connect-timeout passed")

// connectClock calls expire once connecting has taken its time, not
// counting the pauses (questions waiting for an answer).
type connectClock struct {
	mu      sync.Mutex
	timer   *time.Timer
	left    time.Duration
	started time.Time // zero while paused or stopped
	stopped bool
}

func startConnectClock(d time.Duration, expire func()) *connectClock {
	return &connectClock{timer: time.AfterFunc(d, expire), left: d, started: time.Now()}
}

// pause stops the clock until resume.
func (c *connectClock) pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || c.started.IsZero() || !c.timer.Stop() {
		return // stopped, paused, or already expired
	}
	c.left -= time.Since(c.started)
	c.started = time.Time{}
}

// resume starts a paused clock again with the time it had left.
func (c *connectClock) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || !c.started.IsZero() {
		return
	}
	c.started = time.Now()
	c.timer.Reset(max(c.left, 0))
}

// stop ends the clock for good.
func (c *connectClock) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	c.timer.Stop()
}
