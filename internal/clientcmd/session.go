package clientcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wssproxy/wssproxy/internal/cli"
	"github.com/wssproxy/wssproxy/ws"
)

// clientSession is one run of "wssproxy client" once connected.
type clientSession struct {
	cfg    *clientConfig
	c      *ws.Conn
	out    *clientOutput
	stderr io.Writer

	closeOnce sync.Once
	sent      atomic.Uint32 // the close code we sent first, 0 if none
	pingOut   atomic.Bool   // a ping of ours was sent: pongs are reported
}

func (s *clientSession) conn() *ws.Conn { return s.c }
func (s *clientSession) pinged()        { s.pingOut.Store(true) }

func (s *clientSession) close(code ws.StatusCode, reason string) {
	s.closeOnce.Do(func() {
		s.sent.Store(uint32(code))
		_ = s.c.StartClose(code, reason)
	})
}

// Run runs "wssproxy client" with args (the URL and flags, without the
// command's name): it connects, exchanges messages between stdin/stdout
// and the server in the mode the flags choose, and returns the exit
// status (the Exit constants). Cancelling ctx (an interrupt) closes as the
// end of input does.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseClientFlags(args, stderr)
	if code, done := cli.UsageExit(stderr, "client", err); done {
		return code
	}
	log, err := cfg.log.Logger(stderr)
	if code, done := cli.UsageExit(stderr, "client", err); done {
		return code
	}
	tty := terminal(stdin)
	// --connect-timeout bounds connecting, but not the time a question
	// on the terminal waits for its answer.
	dctx, cancelDial := context.WithCancelCause(ctx)
	defer cancelDial(nil)
	clock := startConnectClock(cfg.connectTimeout, func() { cancelDial(errConnectTimeout) })
	defer clock.stop()
	pause := clientPause(dctx, &cfg, tty, stderr, clock)
	fu := &firstUse{tofu: cfg.tofu, tty: tty, stderr: stderr, args: args, clock: clock}
	opts, err := cfg.dialOptions(log, pause, fu)
	if code, done := cli.UsageExit(stderr, "client", err); done {
		return code
	}
	s := &clientSession{cfg: &cfg, out: newClientOutput(cfg.mode, stdout, stderr), stderr: stderr}
	opts.Events.OnPong = func(rtt time.Duration, _ []byte) {
		if s.pingOut.Load() {
			s.out.pong(rtt)
		}
	}
	if pause != nil || tty != nil {
		// The handshake may wait for the answer on the terminal.
		opts.HandshakeTimeout += clientPauseTimeout
	}
	c, _, err := ws.Dial(dctx, cfg.url, opts)
	clock.stop()
	if err != nil {
		if errors.Is(context.Cause(dctx), errConnectTimeout) {
			err = fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
		}
		return dialExit(stderr, err, cfg.connectTimeout)
	}
	s.c = c
	defer c.Abort()
	if p := c.Subprotocol(); p != "" {
		fmt.Fprintf(stderr, "connected to %s (subprotocol %s)\n", cfg.url, p)
	}
	return s.run(ctx, stdin)
}

// run exchanges messages until the connection ends and returns the exit
// status.
func (s *clientSession) run(ctx context.Context, stdin io.Reader) int {
	cfg, c := s.cfg, s.c
	// Interrupted (Ctrl-C, SIGTERM): close as at the end of input.
	stopInterrupt := context.AfterFunc(ctx, func() { s.close(ws.StatusCode(cfg.closeCode), cfg.closeReason) })
	defer stopInterrupt()
	// Writes are bounded by the codec's write timeout; this context ends
	// them at once when the session is over.
	wctx, cancelWrites := context.WithCancel(context.Background())
	defer cancelWrites()

	var wg sync.WaitGroup
	var inputErr atomic.Pointer[inputError]
	defer func() {
		if !cfg.echo && !wakeReader(stdin) && stdin == io.Reader(os.Stdin) {
			return // the input side still reads the process's stdin: the exit ends it
		}
		wg.Wait()
	}()
	if !cfg.echo {
		wg.Go(func() {
			err := sendInput(wctx, cfg, s, stdin)
			var ie *inputError
			if errors.As(err, &ie) {
				inputErr.Store(ie)
			}
			if err == nil || ie != nil {
				s.close(ws.StatusCode(cfg.closeCode), cfg.closeReason)
			}
		})
	}
	if cfg.pingInterval > 0 {
		wg.Go(func() { s.pingLoop(wctx) })
	}

	err := s.read(wctx)
	cancelWrites()
	code, reason := c.CloseStatus()
	s.out.closed(code, reason)
	c.Abort() // ends the input side if it is still sending
	var pe *ws.ProtocolError
	if errors.As(err, &pe) {
		fmt.Fprintf(s.stderr, "wssproxy client: protocol error: %v\n", pe)
	}
	if ie := inputErr.Load(); ie != nil {
		fmt.Fprintf(s.stderr, "wssproxy client: %v\n", ie)
		return ExitFailure
	}
	if oerr := s.out.failed(); oerr != nil {
		fmt.Fprintf(s.stderr, "wssproxy client: writing output: %v\n", oerr)
		return ExitFailure
	}
	status := endExit(err, ws.StatusCode(s.sent.Load()))
	if status == ExitAbnormal {
		fmt.Fprintf(s.stderr, "wssproxy client: connection ended without a closing handshake: %v\n", err)
	}
	return status
}

// wakeReader ends a read of r still waiting (a terminal, an open pipe)
// where r allows deadlines, and reports whether it could.
func wakeReader(r io.Reader) bool {
	f, ok := r.(interface{ SetReadDeadline(time.Time) error })
	return ok && f.SetReadDeadline(time.Now()) == nil
}

// read reads frames until the connection ends and returns the error that
// ended it: a *ws.CloseError after a closing handshake.
func (s *clientSession) read(ctx context.Context) error {
	var msg, frame []byte
	var typ ws.OpCode
	for {
		h, r, err := s.c.NextFrame(ctx)
		if err != nil {
			return err
		}
		if h.OpCode.IsControl() {
			if h.OpCode == ws.OpPing {
				p, err := io.ReadAll(r) // buffered by the codec, at most 125 bytes
				if err != nil {
					return err
				}
				s.out.ping(p)
			}
			continue
		}
		if h.OpCode != ws.OpContinuation {
			typ, msg = h.OpCode, msg[:0]
		}
		// h.Length is bounded by --max-message-size (the codec refuses
		// longer frames with 1009 before returning them).
		if cap(frame) < int(h.Length) {
			frame = make([]byte, h.Length)
		}
		frame = frame[:h.Length]
		if _, err := io.ReadFull(r, frame); err != nil {
			return err
		}
		if s.cfg.raw {
			s.out.frame(typ, frame, h.Fin)
		}
		if s.cfg.raw && !s.cfg.echo {
			continue
		}
		msg = append(msg, frame...)
		if !h.Fin {
			continue
		}
		if !s.cfg.raw {
			s.out.message(typ, msg)
		}
		if s.cfg.echo {
			if err := s.c.WriteMessage(ctx, typ, msg); err != nil && !errors.Is(err, ws.ErrClosed) {
				fmt.Fprintf(s.stderr, "wssproxy client: echo: %v\n", err)
			}
		}
		if s.out.failed() != nil {
			s.close(ws.StatusGoingAway, "client output failed")
		}
	}
}

// pingLoop pings every --ping-interval until the connection ends; the
// pongs are reported by the OnPong event.
func (s *clientSession) pingLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.pingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.c.Done():
			return
		case <-t.C:
			s.pinged()
			if err := s.c.Ping(ctx, []byte("wssproxy-client")); err != nil {
				return
			}
		}
	}
}
