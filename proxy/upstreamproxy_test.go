package proxy

import (
	"errors"
	"fmt"
	"testing"

	"github.com/wssproxy/wssproxy/proxy/netproxy"
)

// An upstream proxy's refusal reaches the client's 502 reason without the
// proxy's address or credentials, and is counted as proxy-auth when it is
// about credentials. (Real squid answers: internal/servecmd's
// TestUpstreamProxyAuthSchemes.)
func TestUpstreamProxyReasons(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("ws: dialing example.test:443: %w", err) }
	refused := &netproxy.ConnectError{Proxy: "http://proxy.test:3128", Target: "example.test:443", StatusCode: 407,
		Status: "HTTP/1.1 407 Proxy Authentication Required", Schemes: []string{"NTLM", "Negotiate"}}
	forbidden := &netproxy.ConnectError{Proxy: "http://proxy.test:3128", Target: "example.test:443", StatusCode: 403, Status: "HTTP/1.1 403 Nope"}
	cases := []struct {
		err            error
		reason, metric string
	}{
		{wrap(fmt.Errorf("%w; Negotiate: Kerberos is not configured", refused)), "upstream proxy refused: 407 Proxy Authentication Required (schemes offered: NTLM, Negotiate)", "proxy-auth"},
		{wrap(forbidden), "upstream proxy: 403 Forbidden", "unavailable"},
		{wrap(fmt.Errorf("%w: connecting to proxy http://proxy.test:3128: %w", netproxy.ErrUnreachable, errors.New("connection refused"))), "upstream proxy unreachable", "unavailable"},
		{wrap(fmt.Errorf("%w: bad user", netproxy.ErrAuthFailed)), "upstream proxy refused the credentials", "proxy-auth"},
	}
	for _, tc := range cases {
		if got := badGatewayReason(tc.err); got != tc.reason {
			t.Errorf("badGatewayReason(%v) = %q, want %q", tc.err, got, tc.reason)
		}
		m := NewMetrics()
		countUpstreamError(m, &Route{Name: "r"}, tc.err)
		if v := count(m.upstreamFailures.WithLabelValues("r", tc.metric)); v != 1 {
			t.Errorf("%v: reason %s counted %d times", tc.err, tc.metric, v)
		}
	}
}
