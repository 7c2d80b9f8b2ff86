package proxy

import (
	"crypto/tls"
	"errors"
	"strconv"
	"syscall"

	"github.com/wssproxy/wssproxy/proxy/netproxy"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/ws"
)

// countRefusal counts a client request ws.ReadUpgrade refused (with its
// status), or a client that left before a request was read.
func countRefusal(m *Metrics, err error) {
	var herr *ws.HandshakeError
	if errors.As(err, &herr) {
		m.HandshakesRefused.With(strconv.Itoa(herr.Status)).Inc()
		return
	}
	m.ClientHandshakeFailures.With("request").Inc()
}

// countUpstreamError counts a failed upstream leg by reason and, for a
// certificate refusal, each unaccepted tlsconf error kind.
func countUpstreamError(m *Metrics, r *Route, err error) {
	var verr *tlsconf.VerificationError
	var herr *ws.HandshakeError
	var cverr *tls.CertificateVerificationError
	reason := "unavailable"
	switch {
	case errors.As(err, &verr):
		for _, k := range verr.Kinds() {
			m.UpstreamSSLErrors.With(r.Name, k.String()).Inc()
		}
		switch {
		case errors.Is(verr.Cause, tlsconf.ErrPauseAborted):
			reason = "pause-aborted"
		case errors.Is(verr.Cause, tlsconf.ErrPauseTimeout):
			reason = "pause-timeout"
		case verr.Cause != nil:
			reason = "pause-cancelled" // the upstream timeout passed, or Shutdown's grace ended
		default:
			reason = "certificate"
		}
	case errors.As(err, &cverr):
		reason = "certificate" // crypto/tls's own verification: no kinds
	case errors.As(err, &herr):
		reason = "handshake"
	case errors.Is(err, netproxy.ErrAuthRequired), errors.Is(err, netproxy.ErrAuthFailed):
		reason = "proxy-auth"
	case isTimeout(err):
		reason = "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		reason = "refused"
	}
	m.UpstreamFailures.With(r.Name, reason).Inc()
}
