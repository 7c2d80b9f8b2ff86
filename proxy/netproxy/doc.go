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
// HTTP proxy authentication is challenge-driven, like curl's
// --proxy-anyauth: the first CONNECT goes without credentials; on 407 the
// dialer reads every Proxy-Authenticate challenge and answers the
// strongest scheme it holds credentials for: Negotiate (SPNEGO/Kerberos,
// RFC 4559, with [Options.Kerberos]) > NTLM (NTLMv2) > Digest (RFC 7616)
// > Basic. NTLM and Negotiate run on one kept-alive connection; Basic and
// Digest move to a new connection when the proxy closes the one that
// carried its 407. Basic travels in clear to an http:// proxy only when
// it is the only scheme offered or is configured ([Options.Schemes]).
// The URL's user:pass serves Basic, Digest and NTLM (DOMAIN\user, the
// backslash written %5C) and a Kerberos password login; SOCKS5 uses it
// with RFC 1929. Without credentials, or when they are refused,
// [Options.Auth] is asked for a user and password (at most 3 times per
// dial), like Qt's proxyAuthenticationRequired signal. A refusal is a
// [ConnectError] naming the status and the schemes offered.
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
