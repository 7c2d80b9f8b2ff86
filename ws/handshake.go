package ws

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
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

// IsToken reports whether s is an RFC 9110 token (§5.6.2), as header
// names and subprotocol names must be: Dial refuses other ones, and a
// command line can check its arguments with it before dialing.
func IsToken(s string) bool {
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

// handshakeLimits returns the opening handshake's time and head-size
// bounds of either side: DefaultHandshakeTimeout and
// DefaultMaxHeaderBytes in place of values <= 0.
func handshakeLimits(timeout time.Duration, maxHeaderBytes int) (time.Duration, int) {
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	if maxHeaderBytes <= 0 {
		maxHeaderBytes = DefaultMaxHeaderBytes
	}
	return timeout, maxHeaderBytes
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
		if !IsToken(name) {
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

// requestError is a request refused while its head is read: the status
// and reason ReadUpgrade answers.
type requestError struct {
	status int
	reason string
}

func (e *requestError) Error() string { return e.reason }

// badRequest returns a 400 requestError.
func badRequest(reason string) error {
	return &requestError{status: http.StatusBadRequest, reason: reason}
}

// readHead reads a request head from br, through its empty line, and
// checks its syntax strictly (RFC 9112 §2-§6): CRLF line endings only, a
// request line "METHOD SP target SP HTTP/d.d" of HTTP/1.x, header lines
// "token: value" without control characters, without obsolete line
// folding, at most one Host and one Content-Length, no Transfer-Encoding
// and no body. Where a lenient parser and the next hop could disagree on
// where a request ends or what it says (request smuggling), it refuses.
// It returns the head, a *requestError for a refusal, or the read error
// (with the head read so far).
func readHead(br *bufio.Reader) ([]byte, error) {
	var head []byte
	var hosts, lengths int
	for lines := 0; ; lines++ {
		line, err := readLine(br, &head)
		if err != nil {
			return head, err
		}
		if !bytes.HasSuffix(line, []byte("\r\n")) {
			return nil, badRequest("bare LF line ending: lines end with CRLF")
		}
		line = line[:len(line)-2]
		if lines == 0 {
			if err := checkRequestLine(string(line)); err != nil {
				return nil, err
			}
			continue
		}
		if len(line) == 0 {
			return head, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, badRequest("header line starts with whitespace (obsolete line folding)")
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, badRequest("header line without a colon")
		}
		if !IsToken(string(name)) {
			return nil, badRequest("invalid header name (no space is allowed before the colon)")
		}
		if checkHeaderValue("", string(value)) != nil {
			return nil, badRequest("control character in a header value")
		}
		value = bytes.Trim(value, " \t")
		switch {
		case strings.EqualFold(string(name), "Host"):
			if hosts++; hosts > 1 {
				return nil, badRequest("more than one Host header")
			}
		case strings.EqualFold(string(name), "Content-Length"):
			if lengths++; lengths > 1 {
				return nil, badRequest("more than one Content-Length header")
			}
			if string(value) != "0" {
				return nil, badRequest("a WebSocket handshake request has no body (Content-Length)")
			}
		case strings.EqualFold(string(name), "Transfer-Encoding"):
			return nil, badRequest("a WebSocket handshake request has no body (Transfer-Encoding)")
		}
	}
}

// readLine reads one line, through its LF, from br and appends it to
// *head; the line returned is the appended part. Its length is bounded
// by what br's source lets through.
func readLine(br *bufio.Reader, head *[]byte) ([]byte, error) {
	start := len(*head)
	for {
		frag, err := br.ReadSlice('\n')
		*head = append(*head, frag...)
		switch {
		case err == nil:
			return (*head)[start:], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, err
		}
	}
}

// checkRequestLine checks "METHOD SP request-target SP HTTP/d.d": no
// control characters, single spaces, a token method and HTTP/1.x (505 for
// other versions).
func checkRequestLine(line string) error {
	if line == "" {
		return badRequest("empty request line")
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < ' ' || c == 0x7f {
			return badRequest("control character in the request line")
		}
	}
	method, rest, ok1 := strings.Cut(line, " ")
	target, version, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || strings.Contains(version, " ") || target == "" {
		return badRequest("malformed request line: want METHOD SP target SP HTTP/1.1 (HTTP/0.9 is not supported)")
	}
	if !IsToken(method) {
		return badRequest("malformed request line: invalid method")
	}
	if len(version) != len("HTTP/1.1") || !strings.HasPrefix(version, "HTTP/") ||
		!isDigit(version[5]) || version[6] != '.' || !isDigit(version[7]) {
		return badRequest("malformed request line: invalid HTTP version")
	}
	if version[5] != '1' {
		return &requestError{status: http.StatusHTTPVersionNotSupported, reason: "HTTP version " + version[5:] + " is not supported: a WebSocket handshake uses HTTP/1.1"}
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// validHost reports whether h is a syntactically valid Host value: a
// reg-name, IPv4 or [IPv6] host with an optional port (RFC 3986 §3.2.2),
// here as the set of characters these may use.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || strings.IndexByte("-._~!$&'()*+,;=:[]%", c) >= 0) {
			return false
		}
	}
	return true
}
