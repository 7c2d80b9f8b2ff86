package netproxy

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

var (
	// ErrUnsupportedScheme: the proxy URL's scheme is not http, https,
	// socks5 or socks5h.
	ErrUnsupportedScheme = errors.New("netproxy: unsupported proxy scheme")
	// ErrAuthRequired: the proxy asks for credentials (HTTP 407, or a
	// SOCKS5 proxy that accepts none of the offered methods) and none
	// were available, or the offered ones were refused by an HTTP proxy.
	ErrAuthRequired = errors.New("netproxy: proxy authentication required")
	// ErrAuthFailed: the proxy refused the credentials sent: a SOCKS5
	// proxy the username and password, an HTTP proxy by answering them
	// (Basic, Digest, NTLM, a Kerberos ticket) with 407 again. For HTTP
	// the error is also a ConnectError and ErrAuthRequired.
	ErrAuthFailed = errors.New("netproxy: proxy authentication failed")
	// ErrResponseTooLarge: an HTTP proxy's response head exceeds
	// Options.MaxResponseHeaderBytes.
	ErrResponseTooLarge = errors.New("netproxy: proxy response head too large")
	// ErrProtocol: the proxy's answer is not valid HTTP or SOCKS5.
	ErrProtocol = errors.New("netproxy: proxy protocol error")
	// ErrUnreachable: the TCP connection to the proxy could not be opened
	// (the error also wraps the dial's own error).
	ErrUnreachable = errors.New("netproxy: proxy unreachable")
)

// ConnectError is an HTTP proxy's refusal of a CONNECT request: any status
// other than 2xx. It unwraps to ErrAuthRequired for 407, and for 401,
// which some proxies (tinyproxy) send when the credentials are wrong.
type ConnectError struct {
	Proxy      string // the proxy URL, without credentials
	Target     string // host:port that was asked for
	StatusCode int    // e.g. 403
	Status     string // the proxy's status line, e.g. "HTTP/1.1 403 Forbidden"
	// Schemes are the authentication schemes a 407 (or 401) offered, in
	// the proxy's order, e.g. ["Negotiate", "NTLM"]: Basic, Digest, NTLM
	// and Negotiate spelt so, other schemes as sent (tokens only).
	Schemes []string
}

// Error returns "netproxy: proxy P refused CONNECT T: STATUS LINE", with
// " (schemes offered: S, …)" after a 407 or 401.
func (e *ConnectError) Error() string {
	s := fmt.Sprintf("netproxy: proxy %s refused CONNECT %s: %s", e.Proxy, e.Target, e.Status)
	if len(e.Schemes) > 0 {
		s += " (schemes offered: " + strings.Join(e.Schemes, ", ") + ")"
	}
	return s
}

// Reason is a short description of the refusal that names neither the
// proxy nor the target: "407 Proxy Authentication Required (schemes
// offered: NTLM, Negotiate)", "403 Forbidden". The status text is the
// standard one, not the proxy's.
func (e *ConnectError) Reason() string {
	s := strconv.Itoa(e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		s += " " + t
	}
	if len(e.Schemes) > 0 {
		s += " (schemes offered: " + strings.Join(e.Schemes, ", ") + ")"
	}
	return s
}

// Unwrap returns ErrAuthRequired for status 407 and 401, else nil.
func (e *ConnectError) Unwrap() error {
	if e.StatusCode == 407 || e.StatusCode == 401 {
		return ErrAuthRequired
	}
	return nil
}

// SOCKSError is a SOCKS5 proxy's refusal of a CONNECT request (RFC 1928
// §6: a reply code other than 0).
type SOCKSError struct {
	Proxy  string // the proxy URL, without credentials
	Target string // host:port that was asked for
	Reply  byte   // the REP field
}

var socksReplies = [...]string{
	1: "general SOCKS server failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

// Error returns "netproxy: proxy P refused CONNECT T: reply N (meaning)".
func (e *SOCKSError) Error() string {
	meaning := "unassigned"
	if int(e.Reply) < len(socksReplies) && socksReplies[e.Reply] != "" {
		meaning = socksReplies[e.Reply]
	}
	return fmt.Sprintf("netproxy: proxy %s refused CONNECT %s: reply %d (%s)", e.Proxy, e.Target, e.Reply, meaning)
}
