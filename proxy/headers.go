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

// upstreamHeader builds the request header for the upstream leg: the
// client's end-to-end headers plus X-Forwarded-For/-Proto/-Host and
// Forwarded (RFC 7239) naming the client.
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
	h.Set("X-Forwarded-Proto", proto)
	h.Set("X-Forwarded-Host", req.Host)
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
			return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
		}
	}
	return v
}

// hostOnly strips the port from a Host header value.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.ToLower(h)
	}
	return strings.ToLower(strings.Trim(hostport, "[]"))
}
