package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
)

// clientConfig is the configuration of "wssproxy client".
type clientConfig struct {
	url          string
	caFile       string
	pins         stringList
	pinOnly      bool
	ignore       stringList
	insecure     bool
	sni          string
	headers      stringList
	subprotocols stringList
	origin       string
	proxy        string
	pskIdentity  string
	pskKeyFile   string
	pskTLS12     bool
	binary       bool
	closeCode    int
	closeReason  string
	log          logFlags
}

const clientUsage = `Usage: wssproxy client URL [flags]

Connects to a ws:// or wss:// URL, sends each line of standard input as a
text message (binary with --binary) and prints each message received on
standard output. At the end of input it closes with --close-code and
--close-reason and waits for the server's answer.

wss is verified against the system roots (or --ca), optionally pinned
(--pin), and SSL errors can be accepted one kind at a time
(--ignore-ssl-error KIND[:SHA256]).

Flags:
`

func parseClientFlags(args []string, stderr io.Writer) (clientConfig, error) {
	var c clientConfig
	fs := flag.NewFlagSet("wssproxy client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), clientUsage); fs.PrintDefaults() }
	fs.StringVar(&c.caFile, "ca", "", "PEM file of CAs to verify the server with (default: system roots)")
	fs.Var(&c.pins, "pin", "pin the server's certificate: sha256//<base64 SPKI>, hex, or cert-sha256:<hex> (repeatable)")
	fs.BoolVar(&c.pinOnly, "pin-only", false, "trust the pins alone, without CA verification")
	fs.Var(&c.ignore, "ignore-ssl-error", "accept this SSL error: KIND or KIND:SHA256 (repeatable)")
	fs.BoolVar(&c.insecure, "insecure", false, "accept every SSL error except a pin mismatch (insecure)")
	fs.StringVar(&c.sni, "sni", "", "server name to send and verify (default: the URL's host)")
	fs.Var(&c.headers, "header", `extra request header "Name: value" (repeatable)`)
	fs.Var(&c.subprotocols, "subprotocol", "offer this subprotocol (repeatable)")
	fs.StringVar(&c.origin, "origin", "", "Origin header to send")
	fs.StringVar(&c.pskIdentity, "psk-identity", "", "use TLS 1.3 PSK with this identity instead of certificates (with --psk-key-file)")
	fs.StringVar(&c.pskKeyFile, "psk-key-file", "", "file holding the PSK in hex (mode 0600)")
	fs.BoolVar(&c.pskTLS12, "psk-tls12", false, "also offer the TLS 1.2 PSK suites (servers without TLS 1.3 PSK)")
	fs.StringVar(&c.proxy, "proxy", "env", "connect through this HTTP CONNECT or SOCKS5 proxy URL (http://, https://, socks5://, socks5h://), \"env\" for HTTPS_PROXY/ALL_PROXY/NO_PROXY, or \"direct\"")
	fs.BoolVar(&c.binary, "binary", false, "send input lines as binary messages")
	fs.IntVar(&c.closeCode, "close-code", int(ws.StatusNormalClosure), "close code at the end of input")
	fs.StringVar(&c.closeReason, "close-reason", "", "close reason at the end of input")
	fs.StringVar(&c.log.format, "log-format", "", "json or console (default: console on a terminal, else json)")
	fs.StringVar(&c.log.level, "log-level", "warn", "trace, debug, info, warn or error")
	// The URL may come before or after the flags.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		c.url, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	rest := fs.Args()
	if c.url == "" && len(rest) > 0 {
		c.url, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return c, fmt.Errorf("unexpected argument %q", rest[0])
	}
	if c.url == "" {
		return c, errors.New("a ws:// or wss:// URL is required")
	}
	if c.closeCode < 0 || c.closeCode > 0xffff || !ws.StatusCode(c.closeCode).ValidOnWire() && ws.StatusCode(c.closeCode) != ws.StatusNoStatusReceived {
		return c, fmt.Errorf("--close-code %d may not be sent (use 1000-1003, 1007-1014, 3000-4999, or 1005 for none)", c.closeCode)
	}
	if c.pinOnly && len(c.pins) == 0 {
		return c, errors.New("--pin-only needs at least one --pin")
	}
	if c.pskTLS12 && c.pskIdentity == "" {
		return c, errors.New("--psk-tls12 needs --psk-identity")
	}
	if (c.pskIdentity == "") != (c.pskKeyFile == "") {
		return c, errors.New("--psk-identity and --psk-key-file go together")
	}
	if c.pskIdentity != "" && (c.caFile != "" || len(c.pins) > 0 || len(c.ignore) > 0 || c.insecure) {
		return c, errors.New("a PSK connection has no certificate: drop --ca, --pin, --ignore-ssl-error and --insecure")
	}
	return c, nil
}

// dialOptions turns the flags into ws.DialOptions.
func (c clientConfig) dialOptions(log zerolog.Logger) (*ws.DialOptions, error) {
	h := http.Header{}
	for _, line := range c.headers {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("--header %q: want \"Name: value\"", line)
		}
		h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if c.origin != "" {
		h.Set("Origin", c.origin)
	}
	v := verifyConfig{Pins: c.pins, PinOnly: c.pinOnly, IgnoreAll: c.insecure, Ignore: c.ignore}
	pol, err := v.policy("server", log)
	if err != nil {
		return nil, err
	}
	tc, err := tlsconf.NewClient(&tlsconf.ClientOptions{CAFile: c.caFile, ServerName: c.sni, Policy: pol})
	if err != nil {
		return nil, err
	}
	scheme := "ws"
	if strings.HasPrefix(strings.ToLower(c.url), "wss:") {
		scheme = "wss"
	}
	dial, err := proxyDialer("--proxy", c.proxy, scheme)
	if err != nil {
		return nil, err
	}
	tlsClient := func(ctx context.Context, nc net.Conn, serverName string) (net.Conn, error) {
		conn, err := tc.Handshake(ctx, nc, serverName)
		if err != nil {
			return nil, err
		}
		return conn, nil
	}
	if c.pskIdentity != "" {
		getKey, err := psk.ClientKeyFile([]byte(c.pskIdentity), c.pskKeyFile)
		if err != nil {
			return nil, fmt.Errorf("PSK: %w", err)
		}
		pc := &psk.ClientConfig{GetKey: getKey, ServerName: c.sni}
		if c.pskTLS12 {
			pc.MinVersion = psk.VersionTLS12
		}
		tlsClient = pc.TLSClient
	}
	return &ws.DialOptions{
		TLSClient:    tlsClient,
		NetDial:      dial,
		Header:       h,
		Subprotocols: c.subprotocols,
		Options:      ws.Options{MaxIncomingFrameSize: -1, MaxIncomingMessageSize: ws.DefaultMaxIncomingMessageSize},
	}, nil
}

func runClient(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseClientFlags(args, stderr)
	if code, done := usageExit(stderr, "client", err); done {
		return code
	}
	log, err := cfg.log.logger(stderr)
	if code, done := usageExit(stderr, "client", err); done {
		return code
	}
	opts, err := cfg.dialOptions(log)
	if code, done := usageExit(stderr, "client", err); done {
		return code
	}
	c, _, err := ws.Dial(ctx, cfg.url, opts)
	if err != nil {
		fmt.Fprintf(stderr, "wssproxy client: %v\n", err)
		return 1
	}
	defer c.Abort()
	if p := c.Subprotocol(); p != "" {
		fmt.Fprintf(stderr, "connected to %s (subprotocol %s)\n", cfg.url, p)
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		typ := ws.MessageText
		if cfg.binary {
			typ = ws.MessageBinary
		}
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			if err := c.WriteMessage(ctx, typ, sc.Bytes()); err != nil {
				return
			}
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintf(stderr, "wssproxy client: reading input: %v\n", err)
		}
		// The read loop below goes on until the server's close arrives.
		_ = c.StartClose(ws.StatusCode(cfg.closeCode), cfg.closeReason)
	})
	out := bufio.NewWriter(stdout)
	for {
		_, msg, err := c.ReadMessage(ctx)
		if err != nil {
			out.Flush()
			code, reason := c.CloseStatus()
			fmt.Fprintf(stderr, "closed: %s %q\n", code, reason)
			var ce *ws.CloseError
			if errors.As(err, &ce) && (ce.Code == ws.StatusNormalClosure || ce.Code == ws.StatusGoingAway || ce.Code == ws.StatusNoStatusReceived) {
				c.Abort() // unblocks the input side if it is still sending
				return 0
			}
			if code == ws.StatusCode(cfg.closeCode) {
				return 0
			}
			fmt.Fprintf(stderr, "wssproxy client: %v\n", err)
			c.Abort()
			return 1
		}
		out.Write(msg)
		out.WriteByte('\n')
		out.Flush()
	}
}
