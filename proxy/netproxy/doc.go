// Package netproxy opens TCP connections through an upstream proxy: an
// HTTP proxy with the CONNECT method (RFC 9110 §9.3.6), optionally reached
// over TLS (an https:// proxy), or a SOCKS5 proxy (RFC 1928) with optional
// username/password authentication (RFC 1929).
//
// A [Dialer]'s DialContext has the signature of net.Dialer.DialContext, so
// it plugs into ws.DialOptions.NetDial and certs.ProbeOptions.Dial. The
// proxy only sees the target host and port; for wss the TLS handshake with
// the target runs inside the tunnel, so the proxy cannot read, rewrite or
// drop WebSocket headers.
//
// Proxy URLs:
//
//	http://[user:pass@]host[:port]     CONNECT over plain TCP (port 80 by default)
//	https://[user:pass@]host[:port]    CONNECT over TLS to the proxy (port 443)
//	socks5://[user:pass@]host[:port]   SOCKS5, target names resolved locally (port 1080)
//	socks5h://[user:pass@]host[:port]  SOCKS5, target names resolved by the proxy
//	host:port                          as http://host:port
//
// Credentials in the URL are sent as HTTP Basic (preemptively) or with
// RFC 1929. Without them, or when they are refused, [Options.Auth] is
// asked for credentials, like Qt's proxyAuthenticationRequired signal.
// Credentials never appear in errors or logs: proxies are shown without
// their user information.
//
// [FromEnvironment] picks the proxy per target from HTTPS_PROXY (wss),
// HTTP_PROXY (ws), ALL_PROXY and NO_PROXY, with the semantics of Go's
// net/http (golang.org/x/net/http/httpproxy) plus curl's ALL_PROXY
// fallback; see [Environment].
//
// Every dial takes a context: cancelling it, or reaching [Options.Timeout],
// closes the connection being set up and fails the dial. Once DialContext
// has returned, the context no longer affects the connection, as with
// net.Dialer.
package netproxy
