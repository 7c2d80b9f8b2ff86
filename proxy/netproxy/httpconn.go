package netproxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"time"
)

// maxAuthBodyBytes bounds the body of a 407 that is read (and dropped) to
// keep the connection for the next request; a longer or unframed body
// closes the connection instead.
const maxAuthBodyBytes = 64 << 10

// maxAuthRounds bounds the CONNECT requests of one dial: NTLM takes two,
// a stale Digest nonce one more, and each of the 3 hook answers as many.
const maxAuthRounds = 16

// proxyConn is one connection to an HTTP proxy, possibly carrying several
// CONNECT requests while authentication goes on (keep-alive).
type proxyConn struct {
	raw  net.Conn // TCP
	conn net.Conn // raw, or TLS over raw for an https:// proxy
	br   *bufio.Reader
	stop func() bool // stops closing raw when the dial's ctx ends
	used bool        // a request was answered on it
}

func (pc *proxyConn) close() {
	pc.stop()
	pc.raw.Close()
}

// openHTTP connects to the proxy (and runs TLS with an https:// one). The
// connection is closed when ctx ends and has ctx's deadline until the
// tunnel is handed over.
func (d *Dialer) openHTTP(ctx context.Context) (*proxyConn, error) {
	raw, err := d.o.Dial(ctx, "tcp", proxyAddr(d.proxy))
	if err != nil {
		return nil, fmt.Errorf("%w: connecting to proxy %s: %w", ErrUnreachable, d.name, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	pc := &proxyConn{raw: raw, conn: raw, stop: context.AfterFunc(ctx, func() { raw.Close() })}
	if d.proxy.Scheme == "https" {
		tc, err := d.tlsToProxy(ctx, raw)
		if err != nil {
			pc.close()
			return nil, d.ctxErr(ctx, err)
		}
		pc.conn = tc
	}
	pc.br = bufio.NewReaderSize(pc.conn, 4096)
	return pc, nil
}

// ctxErr returns ctx's cause when ctx ended (the connection was closed
// for it), else err.
func (d *Dialer) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("netproxy: proxy %s: %w", d.name, context.Cause(ctx))
	}
	if errors.Is(err, errDeadline) {
		return fmt.Errorf("netproxy: proxy %s: %w", d.name, context.DeadlineExceeded)
	}
	return err
}

// proxyAnswer is the head of an HTTP proxy's answer to CONNECT.
type proxyAnswer struct {
	resp       *http.Response // head only
	statusLine string         // printable
	keep       bool           // the connection can carry another request
}

// errConnLost: a reused connection ended before any answer, as a proxy
// may close an idle keep-alive connection; the request can be repeated
// on a new one.
var errConnLost = errors.New("proxy closed the connection before answering")

// connect sends one CONNECT for target with the Proxy-Authorization value
// auth ("" for none) and reads the answer's head. After a 2xx the
// connection is the tunnel; after another status the body is read and
// dropped when it is short and framed, so that the connection can carry
// the next request.
func (d *Dialer) connect(pc *proxyConn, target, auth string) (*proxyAnswer, error) {
	var req bytes.Buffer
	fmt.Fprintf(&req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", target, target)
	if auth != "" {
		req.WriteString("Proxy-Authorization: " + auth + "\r\n")
	}
	h := d.o.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Del("Host")
	h.Del("Proxy-Authorization")
	if h.Get("Proxy-Connection") == "" {
		// What curl sends; some proxies close after a 407 without it.
		h.Set("Proxy-Connection", "Keep-Alive")
	}
	if err := h.Write(&req); err != nil { // Header.Write drops CR/LF from values
		return nil, fmt.Errorf("netproxy: CONNECT header: %w", err)
	}
	req.WriteString("\r\n")
	reused := pc.used
	pc.used = true
	if _, err := pc.conn.Write(req.Bytes()); err != nil {
		if reused {
			return nil, fmt.Errorf("%w: %w", errConnLost, err)
		}
		return nil, fmt.Errorf("netproxy: sending CONNECT to proxy %s: %w", d.name, err)
	}
	head, err := readHead(pc.br, d.o.MaxResponseHeaderBytes)
	if err != nil {
		if reused && len(head) == 0 && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isReset(err)) {
			return nil, fmt.Errorf("%w: %w", errConnLost, err)
		}
		return nil, fmt.Errorf("netproxy: reading proxy %s's answer to CONNECT %s: %w", d.name, target, err)
	}
	statusLine, _, _ := strings.Cut(string(head), "\n")
	statusLine = printable(strings.TrimRight(statusLine, "\r"))
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), &http.Request{Method: http.MethodConnect})
	if err != nil {
		return nil, fmt.Errorf("%w: proxy %s answered CONNECT with %q: %v", ErrProtocol, d.name, statusLine, err)
	}
	a := &proxyAnswer{resp: resp, statusLine: statusLine}
	if resp.StatusCode/100 == 2 {
		return a, nil
	}
	a.keep = !resp.Close && d.dropBody(pc, resp)
	return a, nil
}

// dropBody reads and drops a non-2xx answer's body from pc when it is
// framed (Content-Length or chunked) and at most maxAuthBodyBytes long.
func (d *Dialer) dropBody(pc *proxyConn, resp *http.Response) bool {
	var body io.Reader
	switch {
	case len(resp.TransferEncoding) > 0:
		if !strings.EqualFold(resp.TransferEncoding[0], "chunked") {
			return false
		}
		body = httputil.NewChunkedReader(pc.br)
	case resp.ContentLength >= 0:
		if resp.ContentLength > maxAuthBodyBytes {
			return false
		}
		body = io.LimitReader(pc.br, resp.ContentLength)
	default:
		return false // delimited by the connection's end
	}
	n, err := io.Copy(io.Discard, io.LimitReader(body, maxAuthBodyBytes+1))
	if err != nil || n > maxAuthBodyBytes || (resp.ContentLength >= 0 && n != resp.ContentLength) {
		return false
	}
	if resp.ContentLength < 0 {
		// The chunked reader stops after the last chunk: the trailer
		// section and its empty line follow (RFC 9112 §7.1.2).
		for total := 0; total <= d.o.MaxResponseHeaderBytes; {
			line, err := pc.br.ReadSlice('\n')
			if err != nil {
				return false
			}
			total += len(line)
			if len(bytes.TrimRight(line, "\r\n")) == 0 {
				return true
			}
		}
		return false
	}
	return true
}

// tunnelConn turns pc into the tunnel: no deadline, no ctx watcher, the
// bytes read past the answer kept.
func (pc *proxyConn) tunnelConn() (net.Conn, error) {
	if !pc.stop() {
		return nil, net.ErrClosed // ctx ended just now and closed it
	}
	if err := pc.raw.SetDeadline(time.Time{}); err != nil {
		pc.raw.Close()
		return nil, err
	}
	return wrapBuffered(pc.conn, pc.br), nil
}

// connectTarget formats host:port for the request line.
func connectTarget(host string, port uint16) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}
