package echo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// DefaultHandshakeTimeout bounds each upgrade on a Server: from the
// accepted connection (TLS handshake included) to the end of the request
// header, and an idle keep-alive connection after a refused request. A
// client slower than that (a slowloris) is disconnected.
const DefaultHandshakeTimeout = 10 * time.Second

// ServerOptions configure Start. The zero value is ready to use.
type ServerOptions struct {
	// HandshakeTimeout: 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxHeaderBytes bounds the request header; 0 means
	// ws.DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// TLSConfig, when set, serves wss: the listener is wrapped with
	// tls.NewListener and the TLS handshake counts against
	// HandshakeTimeout.
	TLSConfig *tls.Config
}

// Server is an echo Handler served over HTTP on a listener by a goroutine
// that Shutdown joins: nothing runs after Shutdown returns, and the error
// that stopped serving, if any, is reported rather than dropped.
type Server struct {
	h    *Handler
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
	err  error // set before done is closed
}

// Start serves h on ln until Shutdown (or until ln fails: see Done and
// Err). h and o may be nil (defaults).
func Start(ln net.Listener, h *Handler, o *ServerOptions) *Server {
	if h == nil {
		h = &Handler{}
	}
	var opts ServerOptions
	if o != nil {
		opts = *o
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = ws.DefaultMaxHeaderBytes
	}
	if opts.TLSConfig != nil {
		ln = tls.NewListener(ln, opts.TLSConfig)
	}
	s := &Server{
		h:  h,
		ln: ln,
		srv: &http.Server{
			Handler: h,
			// net/http applies the smallest of these to the TLS handshake
			// too, and ReadHeaderTimeout is an absolute deadline: a client
			// trickling its header does not extend it.
			ReadHeaderTimeout: opts.HandshakeTimeout,
			IdleTimeout:       opts.HandshakeTimeout,
			MaxHeaderBytes:    opts.MaxHeaderBytes,
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.err = fmt.Errorf("echo: serving on %s: %w", ln.Addr(), err)
		}
	}()
	return s
}

// Addr returns the listener's address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Done is closed when the serving goroutine has returned: after Shutdown,
// or earlier if the listener failed.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns why serving stopped: nil while serving and after Shutdown,
// the listener's error if it failed.
func (s *Server) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Shutdown stops accepting, starts the closing handshake with code and
// reason on every open connection (1001 going away on shutdown), waits
// for them until ctx ends (then aborts them), and joins the serving
// goroutine and the handlers. It returns the error that had stopped
// serving, if any, joined with an error when connections had to be
// aborted. A Handler serves one Server: Shutdown ends its CloseAll too.
func (s *Server) Shutdown(ctx context.Context, code ws.StatusCode, reason string) error {
	// Upgraded connections are hijacked: http.Server.Shutdown does not
	// wait for them, only for requests still being read, which ctx
	// bounds. Once it returns no handler starts any more.
	var errs []error
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
		errs = append(errs, fmt.Errorf("echo: requests still being read at shutdown: %w", err))
	}
	if err := s.h.CloseAll(ctx, code, reason); err != nil {
		errs = append(errs, fmt.Errorf("echo: connections aborted at shutdown: %w", err))
	}
	<-s.done // Serve returns as soon as Shutdown has closed the listener
	// Handlers that upgraded after CloseAll's snapshot abort themselves;
	// one still writing its 101 to a client that does not read is waited
	// for only until ctx ends.
	joined := make(chan struct{})
	go func() { s.h.track.running.Wait(); close(joined) }()
	select {
	case <-joined:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("echo: handlers still running after shutdown: %w", ctx.Err()))
	}
	return errors.Join(append([]error{s.err}, errs...)...)
}
