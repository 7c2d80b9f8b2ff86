package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/ws"
)

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
		client := r.UpstreamTLS
		opts.TLSClient = func(ctx context.Context, nc net.Conn, serverName string) (net.Conn, error) {
			tc, err := client.Handshake(ctx, nc, serverName)
			if err != nil {
				return nil, err
			}
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
	switch {
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
	case errors.Is(err, context.DeadlineExceeded):
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
