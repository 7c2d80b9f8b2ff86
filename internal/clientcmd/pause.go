package clientcmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wssproxy/wssproxy/tlsconf"
)

// clientPauseTimeout bounds how long --pause-on-ssl-errors waits for the
// answer on the terminal; then the handshake fails.
const clientPauseTimeout = 60 * time.Second

// clientPause returns what --pause-on-ssl-errors adds to the TLS policy
// (nil without the flag). A handshake meeting SSL errors pauses: the errors, the
// chain's fingerprints and pins and the pause id are printed on stderr.
// When stdin is a terminal the client asks "continue? [y/N]" there and
// resumes on y (accepting the errors printed) or aborts on anything else,
// after clientPauseTimeout or when dialCtx ends; without a terminal it aborts at once, so a
// script never waits for an answer that cannot come.
func clientPause(dialCtx context.Context, cfg *clientConfig, tty *os.File, stderr io.Writer, clock *connectClock) func(*tlsconf.Policy) {
	if !cfg.pause {
		return nil
	}
	reg := tlsconf.NewRegistry()
	pause := func(pol *tlsconf.Policy) {
		pol.Pause = tlsconf.PauseOnSSLErrors
		pol.Registry = reg
		pol.PauseTimeout = clientPauseTimeout
		pol.OnPause = func(info tlsconf.PausedHandshake) {
			fmt.Fprint(stderr, describePause(info))
			if tty == nil {
				fmt.Fprintf(stderr, "standard input is not a terminal: not continuing (accept these errors with --ignore-ssl-error or --pin)\n")
				_ = reg.Abort(info.ID)
				return
			}
			fmt.Fprintf(stderr, "continue and accept these errors? [y/N] ")
			clock.pause() // a person's time does not count towards --connect-timeout
			// The answer is read on its own goroutine (OnPause must not
			// block), until the pause's deadline or the end of the dial.
			go func() {
				ctx, cancel := context.WithDeadline(dialCtx, info.Deadline)
				defer cancel()
				answer, _ := readAnswer(ctx, tty)
				clock.resume()
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
	writeChain(&b, info.Chain)
	return b.String()
}
