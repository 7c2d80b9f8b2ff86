package clientcmd

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wssproxy/wssproxy/tlsconf"
	"golang.org/x/term"
)

// clientPauseTimeout bounds how long --pause-on-ssl-errors waits for the
// answer on the terminal; then the handshake fails.
const clientPauseTimeout = 60 * time.Second

// clientPause returns what --pause-on-ssl-errors adds to the TLS policy
// (nil without the flag). A handshake meeting SSL errors pauses: the errors, the
// chain's fingerprints and pins and the pause id are printed on stderr.
// When stdin is a terminal the client asks "continue? [y/N]" there and
// resumes on y (accepting the errors printed) or aborts on anything else
// or after clientPauseTimeout; without a terminal it aborts at once, so a
// script never waits for an answer that cannot come.
func clientPause(cfg *clientConfig, stdin io.Reader, stderr io.Writer) func(*tlsconf.Policy) {
	if !cfg.pause {
		return nil
	}
	f, _ := stdin.(*os.File)
	tty := f != nil && term.IsTerminal(int(f.Fd()))
	reg := tlsconf.NewRegistry()
	pause := func(pol *tlsconf.Policy) {
		pol.Pause = tlsconf.PauseOnSSLErrors
		pol.Registry = reg
		pol.PauseTimeout = clientPauseTimeout
		pol.OnPause = func(info tlsconf.PausedHandshake) {
			fmt.Fprint(stderr, describePause(info))
			if !tty {
				fmt.Fprintf(stderr, "standard input is not a terminal: not continuing (accept these errors with --ignore-ssl-error or --pin)\n")
				_ = reg.Abort(info.ID)
				return
			}
			fmt.Fprintf(stderr, "continue and accept these errors? [y/N] ")
			// The answer is read on its own goroutine (OnPause must not
			// block); a terminal read cannot be interrupted, so a question
			// left unanswered ends with the process.
			go func() {
				answer := readAnswer(f)
				if answer == "y" || answer == "yes" {
					_ = reg.Resume(info.ID, nil, false)
					return
				}
				_ = reg.Abort(info.ID)
			}()
		}
	}
	return pause
}

// describePause formats a paused handshake for the terminal.
func describePause(info tlsconf.PausedHandshake) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SSL errors for %s (%s), pause id %s:\n", info.ServerName, info.Peer, info.ID)
	for _, e := range info.Unignored {
		fmt.Fprintf(&b, "  %s\n", e.Error())
	}
	for i, c := range info.Chain {
		fmt.Fprintf(&b, "  certificate %d: %s (issuer %s)\n    sha256 %s\n    pin    %s\n", i, c.Subject, c.Issuer, c.Fingerprint, c.SPKIPin)
	}
	return b.String()
}

// readAnswer reads one line from the terminal, a byte at a time so that
// nothing after it is taken from the input, and returns it lower-cased.
func readAnswer(f *os.File) string {
	var line []byte
	var b [1]byte
	for len(line) < 16 {
		n, err := f.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			line = append(line, b[0])
		}
		if err != nil {
			break
		}
	}
	return strings.ToLower(strings.TrimSpace(string(line)))
}
