package ws

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// acceptGUID is the fixed string of RFC 6455 §1.3 hashed with the key.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey returns the Sec-WebSocket-Accept value for a Sec-WebSocket-Key
// (RFC 6455 §4.2.2).
func AcceptKey(key string) string {
	h := sha1.New()
	io.WriteString(h, key)
	io.WriteString(h, acceptGUID)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// headerHasToken reports whether any comma-separated element of the
// header's values equals token, case-insensitively (RFC 7230 §7).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// headerTokens returns the comma-separated elements of a header's values.
func headerTokens(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// isToken reports whether s is an RFC 7230 token (header names,
// subprotocol names).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// checkHeaderValue refuses CR, LF and NUL (header injection) and other
// control characters but tab in a header value.
func checkHeaderValue(name, v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return fmt.Errorf("%w: header %s contains control character 0x%02x", ErrBadHandshake, name, c)
		}
	}
	return nil
}

// handshakeHeaders are set by this package; callers may not supply them.
var handshakeHeaders = []string{
	"Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version",
	"Sec-Websocket-Accept", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions",
}

// checkExtraHeader validates a caller-supplied header for a handshake.
func checkExtraHeader(h http.Header) error {
	for name, vs := range h {
		if !isToken(name) {
			return fmt.Errorf("%w: invalid header name %q", ErrBadHandshake, name)
		}
		for _, hh := range handshakeHeaders {
			if http.CanonicalHeaderKey(name) == hh {
				return fmt.Errorf("%w: header %s is set by the handshake itself; use the options", ErrBadHandshake, name)
			}
		}
		for _, v := range vs {
			if err := checkHeaderValue(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeHeader writes "Name: value\r\n" lines for h.
func writeHeader(w io.Writer, h http.Header) {
	for name, vs := range h {
		for _, v := range vs {
			fmt.Fprintf(w, "%s: %s\r\n", name, v)
		}
	}
}

// headLimiter bounds how many bytes a handshake head may take: it passes
// reads through until n bytes, then reports io.EOF; lift removes the bound
// once the head is parsed.
type headLimiter struct {
	r     io.Reader
	n     int64
	limit bool
}

func (l *headLimiter) Read(p []byte) (int, error) {
	if !l.limit {
		return l.r.Read(p)
	}
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

func (l *headLimiter) exceeded() bool { return l.limit && l.n <= 0 }
