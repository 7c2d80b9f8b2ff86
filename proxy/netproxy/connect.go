package netproxy

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// connectHTTP asks an HTTP proxy for a tunnel to host:port with CONNECT
// (RFC 9110 §9.3.6) and reads its answer: any 2xx opens the tunnel.
func (d *Dialer) connectHTTP(conn net.Conn, host string, port uint16, creds credentials) (net.Conn, error) {
	target := net.JoinHostPort(host, strconv.Itoa(int(port)))
	var req bytes.Buffer
	fmt.Fprintf(&req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", target, target)
	if creds.ok {
		token := base64.StdEncoding.EncodeToString([]byte(creds.user + ":" + creds.pass))
		req.WriteString("Proxy-Authorization: Basic " + token + "\r\n")
	}
	h := d.o.Header.Clone()
	h.Del("Host")
	h.Del("Proxy-Authorization")
	if err := h.Write(&req); err != nil { // Header.Write drops CR/LF from values
		return nil, fmt.Errorf("netproxy: CONNECT header: %w", err)
	}
	req.WriteString("\r\n")
	if _, err := conn.Write(req.Bytes()); err != nil {
		return nil, fmt.Errorf("netproxy: sending CONNECT to proxy %s: %w", d.name, err)
	}

	br := bufio.NewReaderSize(conn, 4096)
	head, err := readHead(br, d.o.MaxResponseHeaderBytes)
	if err != nil {
		return nil, fmt.Errorf("netproxy: reading proxy %s's answer to CONNECT %s: %w", d.name, target, err)
	}
	statusLine, _, _ := strings.Cut(string(head), "\n")
	statusLine = strings.TrimRight(statusLine, "\r")
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), &http.Request{Method: http.MethodConnect})
	if err != nil {
		return nil, fmt.Errorf("%w: proxy %s answered CONNECT with %q: %v", ErrProtocol, d.name, printable(statusLine), err)
	}
	if resp.StatusCode/100 == 2 {
		return wrapBuffered(conn, br), nil
	}
	cerr := &ConnectError{Proxy: d.name, Target: target, StatusCode: resp.StatusCode, Status: printable(statusLine)}
	// 407 asks for proxy credentials. A 401 to CONNECT can only come from
	// the proxy too (there is no origin yet): tinyproxy answers 401 with
	// WWW-Authenticate when the credentials sent are wrong.
	var challenges []string
	switch resp.StatusCode {
	case http.StatusProxyAuthRequired:
		challenges = resp.Header.Values("Proxy-Authenticate")
	case http.StatusUnauthorized:
		challenges = resp.Header.Values("WWW-Authenticate")
	default:
		return nil, cerr
	}
	realm, basic := basicChallenge(challenges)
	if !basic {
		schemes := strings.Join(challenges, "; ")
		return nil, fmt.Errorf("%w (the proxy offers %q; only Basic is supported)", cerr, printable(schemes))
	}
	return nil, &authNeeded{challenge: Challenge{Scheme: "Basic", Realm: realm}, err: cerr}
}

// readHead reads an HTTP response head up to and including the empty
// line, failing with ErrResponseTooLarge beyond max bytes and with
// io.ErrUnexpectedEOF when the connection ends first.
func readHead(br *bufio.Reader, max int) ([]byte, error) {
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if len(head) > max {
			return nil, fmt.Errorf("%w (more than %d bytes)", ErrResponseTooLarge, max)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return nil, fmt.Errorf("proxy closed the connection after %d bytes: %w", len(head), io.ErrUnexpectedEOF)
		case err != nil:
			return nil, err
		}
		if bytes.HasSuffix(head, []byte("\n\r\n")) || bytes.HasSuffix(head, []byte("\n\n")) {
			return head, nil
		}
	}
}

// basicChallenge looks for a Basic challenge among Proxy-Authenticate
// values (RFC 9110 §11.6.1, §11.7.1) and returns its realm.
func basicChallenge(values []string) (realm string, ok bool) {
	for _, v := range values {
		scheme, params, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, "Basic") {
			continue
		}
		for _, p := range strings.Split(params, ",") {
			k, val, found := strings.Cut(strings.TrimSpace(p), "=")
			if found && strings.EqualFold(strings.TrimSpace(k), "realm") {
				realm = strings.Trim(strings.TrimSpace(val), `"`)
			}
		}
		return printable(realm), true
	}
	return "", false
}

// printable bounds s to 200 bytes and replaces control characters and
// invalid UTF-8, so that proxy-supplied text is safe to show.
func printable(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == 0xfffd {
			return '?'
		}
		return r
	}, s)
}
