package proxy

import (
	"net"
	"net/http"
	"net/textproto"
	"strings"
)

// hopHeaders are hop-by-hop (RFC 9110 §7.6.1) or belong to the WebSocket
// handshake of one leg; they are never copied to the other leg.
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Host", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Accept",
	"Sec-Websocket-Protocol", "Sec-Websocket-Extensions",
}

// forwardingHeaders name a request's earlier hops. A client's own are
// kept only when it is a trusted forwarder (Options.TrustedForwarders).
var forwardingHeaders = []string{
	"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "X-Real-Ip",
}

// dropForwarding removes the forwarding headers from h, also when spelt
// with underscores (X_Forwarded_For), which some upstreams read as dashes.
func dropForwarding(h http.Header) {
	for name := range h {
		canon := http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))
		for _, f := range forwardingHeaders {
			if canon == f {
				delete(h, name)
			}
		}
	}
}

// upstreamHeader builds the request header for the upstream leg: the
// client's end-to-end headers plus X-Forwarded-For and Forwarded (RFC
// 7239) with the client appended, and X-Forwarded-Proto/-Host unless an
// earlier hop set them. Forwarding headers of an untrusted client are
// dropped before (dropForwarding, in ServeConn).
func upstreamHeader(req *http.Request, clientIP string, tls bool) http.Header {
	h := req.Header.Clone()
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
	proto := "http"
	if tls {
		proto = "https"
	}
	if prior := h.Values("X-Forwarded-For"); len(prior) > 0 {
		h.Set("X-Forwarded-For", strings.Join(prior, ", ")+", "+clientIP)
	} else {
		h.Set("X-Forwarded-For", clientIP)
	}
	if h.Get("X-Forwarded-Proto") == "" {
		h.Set("X-Forwarded-Proto", proto)
	}
	if h.Get("X-Forwarded-Host") == "" {
		h.Set("X-Forwarded-Host", req.Host)
	}
	node := clientIP
	if strings.Contains(node, ":") {
		node = `"[` + node + `]"`
	}
	fwd := "for=" + node + ";proto=" + proto + ";host=" + quoteForwarded(req.Host)
	if prior := h.Values("Forwarded"); len(prior) > 0 {
		fwd = strings.Join(prior, ", ") + ", " + fwd
	}
	h.Set("Forwarded", fwd)
	return h
}

// quoteForwarded quotes a Forwarded parameter value unless it is a token.
func quoteForwarded(v string) string {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return quotedString(v)
		}
	}
	return v
}

// quotedString returns v as an HTTP quoted-string (RFC 9110 §5.6.4),
// backslash and double quote escaped. It builds no strings.Replacer: one
// costs kilobytes to build, and this runs for every connection whose Host
// has a port.
func quotedString(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 4)
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' || v[i] == '"' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
	return b.String()
}

// hostOnly strips the port from a Host header value.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.ToLower(h)
	}
	return strings.ToLower(strings.Trim(hostport, "[]"))
}
