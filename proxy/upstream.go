package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/proxy/netproxy"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/ws"
)

// errClientGone is the cause of an upstream dial cancelled because the
// client leg ended (or broke the protocol) before its 101.
var errClientGone = errors.New("proxy: client left while its upstream was being opened")

// pauseRefusedReason is what a client gets with 503 when its upstream's
// certificate would need one more pending operator decision than allowed.
const pauseRefusedReason = "upstream certificate awaiting operator decision: too many pending"

// openUpstream dials the upstream leg (dialUpstream) while watching the
// client leg: when the client goes away first, the dial's context is
// cancelled with errClientGone, which ends a pause on SSL errors at once
// (its registry entry goes with its last waiter) and closes the upstream
// connection; an upstream opened meanwhile is aborted. Bytes a client
// pipelines behind its request are kept for the relay (ws.Upgrade.WatchPeer).
func (s *Server) openUpstream(ctx context.Context, r *Route, up *ws.Upgrade, clientIP string, secure bool) (*ws.Conn, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := up.WatchPeer(time.Now().Add(r.UpstreamTimeout), func(err error) {
		cancel(fmt.Errorf("%w: %w", errClientGone, err))
	})
	c, err := s.dialUpstream(ctx, r, up, clientIP, secure)
	stop()
	if cause := context.Cause(ctx); errors.Is(cause, errClientGone) {
		if c != nil {
			c.Abort()
		}
		if err == nil {
			return nil, cause
		}
		return nil, fmt.Errorf("%w: %w", cause, err)
	}
	return c, err
}

// refuseUpstream answers a client whose upstream could not be opened:
// nothing when the client left (it is gone), 503 when the upstream's
// certificate would need a pause beyond the pending-decision limits, 502
// otherwise; and counts and logs why.
func (s *Server) refuseUpstream(log zerolog.Logger, r *Route, up *ws.Upgrade, err error) {
	m := s.opts.Metrics
	switch {
	case errors.Is(err, errClientGone):
		m.clientHandshakeFailures.WithLabelValues("upstream").Inc()
		log.Info().Err(err).Str("upstream", r.upstream.Redacted()).Msg("client left while its upstream was being opened: upstream closed")
	case errors.Is(err, tlsconf.ErrTooManyPending):
		// Counted and logged before the answer, so a client seeing its 503
		// finds them done.
		m.handshakesRefused.WithLabelValues("503").Inc()
		m.pauseRefused.WithLabelValues(r.Name).Inc()
		log.Warn().Err(err).Str("upstream", r.upstream.Redacted()).
			Msg("upstream certificate awaiting operator decision: too many pending: answered 503")
		_ = up.Reject(http.StatusServiceUnavailable, pauseRefusedReason)
	default:
		m.handshakesRefused.WithLabelValues("502").Inc()
		countUpstreamError(m, r, err)
		logUpstreamError(log, r, err)
		_ = up.Reject(http.StatusBadGateway, badGatewayReason(err))
	}
}

// dialUpstream opens the upstream leg for an accepted client request,
// offering the client's subprotocols and extensions.
func (s *Server) dialUpstream(ctx context.Context, r *Route, up *ws.Upgrade, clientIP string, secure bool) (*ws.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, r.UpstreamTimeout)
	defer cancel()
	opts := &ws.DialOptions{
		Options:          *s.legOptions(r),
		Header:           upstreamHeader(up.Request, clientIP, secure),
		Subprotocols:     up.Subprotocols,
		Extensions:       up.Extensions,
		NetDial:          r.UpstreamDial,
		HandshakeTimeout: r.UpstreamTimeout,
	}
	if r.NoExtensions {
		opts.Extensions = ""
	}
	if r.UpstreamPSK != nil {
		opts.TLSClient = r.UpstreamPSK.TLSClient
	}
	if r.UpstreamTLS != nil {
		client, handshakes := r.UpstreamTLS, s.opts.Metrics.upstreamTLSHandshakes
		opts.TLSClient = func(ctx context.Context, nc net.Conn, serverName string) (net.Conn, error) {
			tc, err := client.Handshake(ctx, nc, serverName)
			if err != nil {
				return nil, err
			}
			handshakes.WithLabelValues(r.Name, strconv.FormatBool(tc.ConnectionState().DidResume)).Inc()
			return tc, nil
		}
	}
	c, _, err := ws.Dial(ctx, r.target(up.Request.URL), opts)
	return c, err
}

// badGatewayReason is the short reason a client gets with 502: what kind
// of failure, never the upstream's address or internal details beyond the
// TLS error kinds (which the log line has in full).
func badGatewayReason(err error) string {
	var verr *tlsconf.VerificationError
	var herr *ws.HandshakeError
	var cverr *tls.CertificateVerificationError
	var perr *netproxy.ConnectError
	switch {
	case errors.As(err, &perr) && errors.Is(err, netproxy.ErrAuthRequired):
		return "upstream proxy refused: " + perr.Reason()
	case errors.As(err, &perr):
		return "upstream proxy: " + perr.Reason()
	case errors.Is(err, netproxy.ErrAuthRequired), errors.Is(err, netproxy.ErrAuthFailed):
		return "upstream proxy refused the credentials" // SOCKS5
	case errors.Is(err, netproxy.ErrUnreachable):
		return "upstream proxy unreachable"
	case errors.As(err, &verr):
		kinds := make([]string, 0, len(verr.Errors))
		for _, k := range verr.Kinds() {
			kinds = append(kinds, k.String())
		}
		return "upstream certificate refused: " + strings.Join(kinds, ", ")
	case errors.As(err, &cverr):
		return "upstream certificate refused: " + cverr.Err.Error()
	case errors.As(err, &herr):
		return "upstream refused the WebSocket handshake: " + strconv.Itoa(herr.Status) + " " + http.StatusText(herr.Status)
	case isTimeout(err):
		return "upstream timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "upstream refused the connection"
	}
	return "upstream unavailable"
}

// logUpstreamError logs why the upstream failed, with the complete
// tlsconf error list when certificate verification refused it.
func logUpstreamError(log zerolog.Logger, r *Route, err error) {
	ev := log.Warn().Err(err).Str("upstream", r.upstream.Redacted())
	var verr *tlsconf.VerificationError
	if errors.As(err, &verr) {
		kinds := make([]string, 0, len(verr.Errors))
		for _, k := range verr.Kinds() {
			kinds = append(kinds, k.String())
		}
		ev = ev.Strs("ssl_errors", kinds)
	}
	var herr *ws.HandshakeError
	if errors.As(err, &herr) {
		ev = ev.Int("upstream_status", herr.Status)
	}
	ev.Msg("upstream failed: answered 502")
}

// isTimeout reports a timeout, whichever fired first: the dial's context
// deadline or the connection's own deadline (an "i/o timeout").
func isTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
}
