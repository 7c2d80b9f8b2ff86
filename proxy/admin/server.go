package admin

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Listen opens the admin API's listener on addr: host:port, or
// unix:/path for a unix socket. A stale socket file at the path is
// replaced (a file of another kind is not), and the new socket is made
// accessible to its owner only (mode 0600): its permissions are what
// guards an admin API without a token.
func Listen(addr string) (net.Listener, error) {
	path, unix := strings.CutPrefix(addr, "unix:")
	if !unix {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("admin: %w", err)
		}
		return ln, nil
	}
	if path == "" {
		return nil, errors.New("admin: unix: needs a socket path")
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin: %w", err)
	}
	return ln, nil
}

// Server serves a handler (the admin API's) on a listener with bounded
// header size and timeouts: 10s to read a request's header, 30s for the
// request and for the answer, 2 minutes idle.
type Server struct {
	srv  *http.Server
	done chan struct{}
}

// Serve starts answering on ln with h; errors of the server are logged
// to log. Shutdown stops it.
func Serve(ln net.Listener, h http.Handler, log zerolog.Logger) *Server {
	s := &Server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          stdlog.New(log, "", 0),
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("admin API stopped")
		}
	}()
	return s
}

// Shutdown stops the server: it lets requests in flight finish until ctx
// ends, then closes what is left, and returns once the server is done.
func (s *Server) Shutdown(ctx context.Context) {
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	<-s.done
}
