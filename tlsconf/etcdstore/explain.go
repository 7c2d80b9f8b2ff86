package etcdstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// explain turns Open's failure into an error that says what to fix: the
// credentials, the TLS configuration, or which endpoints do not answer.
// It may dial the endpoints itself (within ctx and one second in all) to
// find the TLS or connection error gRPC hides behind a deadline.
func (s *Store) explain(ctx context.Context, err error) error {
	eps := strings.Join(s.opts.Endpoints, ",")
	switch {
	case errors.Is(err, rpctypes.ErrAuthFailed):
		return fmt.Errorf("etcdstore: etcd at %s refused the user name or password of %q: %w", eps, s.opts.Username, err)
	case errors.Is(err, rpctypes.ErrUserEmpty):
		return fmt.Errorf("etcdstore: etcd at %s has auth enabled: set a user name and password: %w", eps, err)
	case errors.Is(err, rpctypes.ErrPermissionDenied):
		return fmt.Errorf("etcdstore: etcd at %s: user %q may not read %s: %w", eps, s.opts.Username, s.base, err)
	case permanent(err):
		return fmt.Errorf("etcdstore: etcd at %s refused the request: %w", eps, err)
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if cause := s.diagnose(dctx); cause != nil {
			return fmt.Errorf("etcdstore: etcd at %s unreachable: %w (%w)", eps, cause, err)
		}
	}
	return fmt.Errorf("etcdstore: etcd at %s unreachable: %w", eps, err)
}

// diagnose dials each endpoint (and makes the TLS handshake when TLS is
// set) and returns the first failure: a refused connection, an unknown
// certificate authority, a client certificate the server refused.
func (s *Store) diagnose(ctx context.Context) error {
	for _, ep := range s.opts.Endpoints {
		addr := ep
		if _, rest, ok := strings.Cut(ep, "://"); ok {
			addr = rest
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		if s.opts.TLS == nil {
			speaksTLS := probeTLS(ctx, conn)
			conn.Close()
			if speaksTLS {
				return fmt.Errorf("%s speaks TLS: set the TLS options (CA, client certificate)", addr)
			}
			continue
		}
		cfg := s.opts.TLS.Clone()
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg.ServerName = host
		}
		cfg.NextProtos = []string{"h2"}
		tc := tls.Client(conn, cfg)
		err = tc.HandshakeContext(ctx)
		if err == nil {
			// TLS 1.3: a refused client certificate shows at the first
			// read; a server that accepted it sends nothing yet.
			_ = tc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			_, err = tc.Read(make([]byte, 1))
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = nil
			}
		}
		tc.Close()
		var rh tls.RecordHeaderError
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.As(err, &rh) {
			return fmt.Errorf("%s: TLS: %w (the endpoint seems to speak plain TCP: unset the TLS options?)", addr, err)
		}
		if err != nil {
			return fmt.Errorf("%s: TLS: %w", addr, err)
		}
	}
	return nil
}

// probeTLS reports whether the server on conn answers a TLS ClientHello
// (a handshake that completes, or a TLS alert), as a TLS server would.
func probeTLS(ctx context.Context, conn net.Conn) bool {
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec // only asks whether the peer speaks TLS; nothing is sent over it
	hctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err := tc.HandshakeContext(hctx)
	var alert tls.AlertError
	return err == nil || errors.As(err, &alert)
}
