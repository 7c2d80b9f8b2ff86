package clientcmd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/wssproxy/wssproxy/internal/cli"
	"github.com/wssproxy/wssproxy/internal/config"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
)

// clientMode is how "wssproxy client" turns standard input into messages
// and messages into standard output.
type clientMode uint8

const (
	modeLines  clientMode = iota // a text message per input line; a line per message
	modeBinary                   // all of stdin as one binary message; messages written as they are
	modeJSONL                    // one JSON object per line, both ways
)

// clientConfig is the configuration of "wssproxy client".
type clientConfig struct {
	url            string
	caFile         string
	pins           config.StringList
	pinOnly        bool
	ignore         config.StringList
	insecure       bool
	pause          bool
	tofu           bool
	knownPinsFile  string
	noKnownPins    bool
	sni            string
	certFile       string
	keyFile        string
	headers        config.StringList
	subprotocols   config.StringList
	origin         string
	proxy          string
	pskIdentity    string
	pskKeyFile     string
	pskTLS12       bool
	connectTimeout time.Duration
	mode           clientMode
	echo           bool
	raw            bool
	pingInterval   time.Duration
	outgoingFrame  config.Size
	maxMessage     config.Size
	closeCode      int
	closeReason    string
	log            cli.LogFlags
}

const clientUsage = `Usage: wssproxy client URL [flags]

Connects to a ws:// or wss:// URL and exchanges messages through standard
input and output. Modes:

  (default)   each line of input is sent as a text message; each message
              received is printed followed by a newline
  --binary    all of standard input is sent as ONE binary message, streamed
              in frames of --outgoing-frame-size (a frame per read, so data
              goes out as it arrives); messages received are written to
              standard output as they are, without separators
  --jsonl     one JSON object per line, both ways:
                {"type":"text","data":"hi"}
                {"type":"binary","data":"<base64>"}
                {"type":"ping","data":"x"}                 (input: send a ping)
                {"type":"close","code":1000,"reason":"bye"} (input: close now)
              output adds {"type":"ping",…} for the server's pings,
              {"type":"pong","rtt_ms":1.25} and, last,
              {"type":"close","code":…,"reason":"…"}; a malformed input line
              is an error naming its line number, and nothing of it is sent
  --echo      standard input is not read: every message received is sent
              back with its type, until the server closes
  --raw       print each data frame as it arrives instead of whole messages
              (jsonl: with "fin"; a frame whose text is not valid UTF-8 on
              its own, a character split between frames, has
              "encoding":"base64")

At the end of input the client closes with --close-code and
--close-reason and waits for the server's answer; so does an interrupt
(Ctrl-C). --ping-interval D pings the server every D and prints each
round trip time (stderr, or a pong object with --jsonl).

wss is verified against the system roots (or --ca), optionally pinned
(--pin, also --pin FILE.pem: the keys of its certificates), and SSL
errors can be accepted one kind at a time (--ignore-ssl-error
KIND[:SHA256]). --cert/--key present a client certificate.
--pause-on-ssl-errors shows the errors and, on a terminal, asks whether to
continue (y/n on the terminal); without a terminal the handshake fails.

Known pins, like OpenSSH's known_hosts: the client reads "HOST:PORT PIN
[kinds=…] [added=…] [source=…]" lines from --known-pins (default
$XDG_STATE_HOME/wssproxy/known_pins; mode 0600, the format of serve's
trust store; a malformed line is an error naming the file and line).
A server with remembered keys must present one of them (they replace CA
verification; another key is refused with a loud warning naming both
and how to update the file). First contact with a server whose
certificate does not verify: on a terminal, the client shows the SSL
errors and the chain (subject, issuer, validity, SHA-256, pin) and asks
[a]bort, accept [o]nce, or accept and [r]emember (no answer within 60 s,
or end of input: abort); without a terminal it fails and prints the
command that accepts the key. With --tofu, an unknown server's
certificate is accepted without a question whatever its errors (they are
listed) and its key is remembered. --pin and --psk-identity leave the
file aside; --no-known-pins ignores it.

Exit status:
  0  the connection ended with a closing handshake: code 1000 or 1005 (no
     code) from the server, or the server answered the close code we sent
  1  no connection (DNS, refused, timeout, proxy) or a local failure
     (unreadable or malformed input)
  2  usage error (bad flag, URL, header, pin or file)
  3  TLS failure (certificate errors, pin mismatch, changed key, PSK
     refused, client certificate refused, pause declined, first use
     aborted or not asked without a terminal)
  4  handshake refused: the server answered HTTP without 101 (status shown)
  5  protocol error: the server broke RFC 6455, or closed with 1002
  6  abnormal closure: the connection ended without a close frame (1006)
  7  the server closed with another code (1001 going away, 1008, 1011,
     4000-4999, …); the code and reason are printed

Flags:
`

func parseClientFlags(args []string, stderr io.Writer) (clientConfig, error) {
	c := clientConfig{outgoingFrame: ws.DefaultOutgoingFrameSize, maxMessage: ws.DefaultMaxIncomingMessageSize}
	var binary, jsonl bool
	fs := flag.NewFlagSet("wssproxy client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), clientUsage); fs.PrintDefaults() }
	fs.StringVar(&c.caFile, "ca", "", "PEM file of CAs to verify the server with (default: system roots)")
	fs.Var(&c.pins, "pin", "pin the server's key: sha256//<base64 SPKI>, hex, cert-sha256:<hex>, or a PEM file whose certificates' keys are pinned (repeatable)")
	fs.BoolVar(&c.pinOnly, "pin-only", false, "trust the pins alone, without CA verification (self-signed or private-CA servers)")
	fs.Var(&c.ignore, "ignore-ssl-error", "accept this SSL error: KIND or KIND:SHA256 (repeatable)")
	fs.BoolVar(&c.insecure, "insecure", false, "accept every SSL error except a pin mismatch (insecure)")
	fs.BoolVar(&c.pause, "pause-on-ssl-errors", false, "on SSL errors, print them and ask on the terminal whether to continue (no terminal: fail)")
	fs.BoolVar(&c.tofu, "tofu", false, "trust on first use without a question: accept an unknown server's certificate whatever its errors and remember its key in the known-pins file (on a terminal the client asks instead)")
	fs.StringVar(&c.knownPinsFile, "known-pins", "", "file of remembered server keys, \"HOST:PORT PIN\" lines (default $XDG_STATE_HOME/wssproxy/known_pins, else ~/.local/state/wssproxy/known_pins)")
	fs.BoolVar(&c.noKnownPins, "no-known-pins", false, "neither read nor write the known-pins file")
	fs.StringVar(&c.sni, "sni", "", "server name to send and verify (default: the URL's host)")
	fs.StringVar(&c.certFile, "cert", "", "PEM client certificate (chain) to present, with --key")
	fs.StringVar(&c.keyFile, "key", "", "PEM private key of --cert")
	fs.Var(&c.headers, "header", `extra request header "Name: value" (repeatable; CR, LF and NUL refused)`)
	fs.Var(&c.subprotocols, "subprotocol", "offer this subprotocol (repeatable, in order of preference)")
	fs.StringVar(&c.origin, "origin", "", "Origin header to send")
	fs.StringVar(&c.pskIdentity, "psk-identity", "", "use TLS 1.3 PSK with this identity instead of certificates (with --psk-key-file)")
	fs.StringVar(&c.pskKeyFile, "psk-key-file", "", "file holding the PSK in hex (mode 0600)")
	fs.BoolVar(&c.pskTLS12, "psk-tls12", false, "also offer the TLS 1.2 PSK suites (servers without TLS 1.3 PSK)")
	fs.StringVar(&c.proxy, "proxy", "env", "connect through this HTTP CONNECT or SOCKS5 proxy URL (http://, https://, socks5://, socks5h://), \"env\" for HTTPS_PROXY/ALL_PROXY/NO_PROXY, or \"direct\"")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", ws.DefaultHandshakeTimeout, "bound on connecting: proxy, TCP, TLS and the WebSocket handshake")
	fs.BoolVar(&binary, "binary", false, "send all of standard input as one binary message; write messages received as they are")
	fs.BoolVar(&jsonl, "jsonl", false, "one JSON object per message, in and out (see above)")
	fs.BoolVar(&c.echo, "echo", false, "send every message received back to the server; do not read standard input")
	fs.BoolVar(&c.raw, "raw", false, "print each data frame as it arrives, not whole messages")
	fs.DurationVar(&c.pingInterval, "ping-interval", 0, "ping the server this often and print the round trip time (0: never)")
	fs.Var(&c.outgoingFrame, "outgoing-frame-size", "largest frame sent; longer messages are fragmented (KiB, MiB allowed)")
	fs.Var(&c.maxMessage, "max-message-size", "largest message (and frame) accepted from the server; more closes with 1009")
	fs.IntVar(&c.closeCode, "close-code", int(ws.StatusNormalClosure), "close code at the end of input")
	fs.StringVar(&c.closeReason, "close-reason", "", "close reason at the end of input (at most 123 bytes)")
	fs.StringVar(&c.log.Format, "log-format", "", "json or console (default: console on a terminal, else json)")
	fs.StringVar(&c.log.Level, "log-level", "warn", "trace, debug, info, warn or error")
	pos, err := cli.ParseArgs(fs, args, 1, "a ws:// or wss:// URL is required")
	if err != nil {
		return c, err
	}
	c.url = pos[0]
	if err := checkClientURL(c.url); err != nil {
		return c, err
	}
	switch {
	case binary && jsonl:
		return c, errors.New("choose one of --binary and --jsonl")
	case binary:
		c.mode = modeBinary
	case jsonl:
		c.mode = modeJSONL
	}
	if c.closeCode < 0 || c.closeCode > 0xffff || !ws.StatusCode(c.closeCode).ValidOnWire() && ws.StatusCode(c.closeCode) != ws.StatusNoStatusReceived {
		return c, fmt.Errorf("--close-code %d may not be sent (use 1000-1003, 1007-1014, 3000-4999, or 1005 for none)", c.closeCode)
	}
	if len(c.closeReason) > ws.MaxCloseReason {
		return c, fmt.Errorf("--close-reason is %d bytes, at most %d fit in a close frame", len(c.closeReason), ws.MaxCloseReason)
	}
	if c.connectTimeout <= 0 {
		return c, fmt.Errorf("--connect-timeout must be positive, not %v", c.connectTimeout)
	}
	if c.pingInterval < 0 {
		return c, fmt.Errorf("--ping-interval must not be negative, not %v", c.pingInterval)
	}
	if c.outgoingFrame <= 0 {
		return c, fmt.Errorf("--outgoing-frame-size must be positive, not %d", c.outgoingFrame)
	}
	if c.maxMessage <= 0 {
		return c, fmt.Errorf("--max-message-size must be positive, not %d", c.maxMessage)
	}
	if c.pinOnly && len(c.pins) == 0 {
		return c, errors.New("--pin-only needs at least one --pin")
	}
	if (c.certFile == "") != (c.keyFile == "") {
		return c, errors.New("--cert and --key go together")
	}
	if c.pskTLS12 && c.pskIdentity == "" {
		return c, errors.New("--psk-tls12 needs --psk-identity")
	}
	if (c.pskIdentity == "") != (c.pskKeyFile == "") {
		return c, errors.New("--psk-identity and --psk-key-file go together")
	}
	if c.pskIdentity != "" && (c.caFile != "" || len(c.pins) > 0 || len(c.ignore) > 0 || c.insecure || c.pause || c.certFile != "") {
		return c, errors.New("a PSK connection has no certificate: drop --ca, --pin, --ignore-ssl-error, --insecure, --pause-on-ssl-errors and --cert")
	}
	if c.noKnownPins && (c.knownPinsFile != "" || c.tofu) {
		return c, errors.New("--no-known-pins excludes --known-pins and --tofu")
	}
	if c.tofu {
		switch {
		case !strings.HasPrefix(strings.ToLower(c.url), "wss:"):
			return c, errors.New("--tofu needs a wss:// URL")
		case len(c.pins) > 0 || c.pskIdentity != "":
			return c, errors.New("--tofu remembers a key when none is given: drop --pin (or --psk-identity)")
		case c.pause || c.insecure || len(c.ignore) > 0:
			return c, errors.New("--tofu accepts the first certificate by itself: drop --pause-on-ssl-errors, --insecure and --ignore-ssl-error")
		}
	}
	if c.pause && c.insecure {
		return c, errors.New("--insecure already accepts every SSL error: drop --pause-on-ssl-errors")
	}
	if _, err := c.requestHeader(); err != nil {
		return c, err
	}
	for _, p := range c.subprotocols {
		if !ws.IsToken(p) {
			return c, fmt.Errorf("--subprotocol %q: want a token (letters, digits and !#$%%&'*+-.^_`|~)", p)
		}
	}
	if err := checkClientFiles(&c); err != nil {
		return c, err
	}
	pins, err := resolvePins(c.pins)
	if err != nil {
		return c, err
	}
	c.pins = pins
	return c, nil
}

// checkClientURL refuses what ws.Dial would refuse, with the flag's words:
// only ws and wss, a host, no control characters (CR/LF injection).
func checkClientURL(raw string) error {
	if i := strings.IndexFunc(raw, func(r rune) bool { return r < ' ' || r == 0x7f }); i >= 0 {
		return fmt.Errorf("URL %q contains control character 0x%02x", raw, raw[i])
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("invalid URL: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return fmt.Errorf("URL %q: want a ws:// or wss:// URL", raw)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("URL %q has no host", raw)
	}
	return nil
}

// requestHeader builds the extra handshake headers from --header and
// --origin, refusing malformed names and control characters in values.
func (c clientConfig) requestHeader() (http.Header, error) {
	h := http.Header{}
	for _, line := range c.headers {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("--header %q: want \"Name: value\"", line)
		}
		name, value = strings.TrimSpace(name), strings.Trim(value, " \t")
		if !ws.IsToken(name) {
			return nil, fmt.Errorf("--header %q: invalid header name %q", line, name)
		}
		if err := checkControl("--header "+name, value); err != nil {
			return nil, err
		}
		switch http.CanonicalHeaderKey(name) {
		case "Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version",
			"Sec-Websocket-Accept", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions":
			return nil, fmt.Errorf("--header %s is set by the handshake itself (use --subprotocol for Sec-WebSocket-Protocol)", name)
		}
		h.Add(name, value)
	}
	if c.origin != "" {
		if err := checkControl("--origin", c.origin); err != nil {
			return nil, err
		}
		h.Set("Origin", c.origin)
	}
	return h, nil
}

// checkControl refuses CR, LF, NUL and the other control characters but
// tab (header injection).
func checkControl(what, v string) error {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return fmt.Errorf("%s: control character 0x%02x refused (CR and LF would inject headers)", what, b)
		}
	}
	return nil
}

// checkClientFiles reads --ca and --cert/--key once so that a missing or
// malformed file is a usage error naming the flag and the file.
func checkClientFiles(c *clientConfig) error {
	if c.caFile != "" {
		data, err := os.ReadFile(c.caFile)
		if err != nil {
			return fmt.Errorf("--ca: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(data) {
			return fmt.Errorf("--ca %s: no PEM CERTIFICATE block in it", c.caFile)
		}
	}
	if c.certFile != "" {
		for _, f := range []struct{ flag, name string }{{"--cert", c.certFile}, {"--key", c.keyFile}} {
			if _, err := os.ReadFile(f.name); err != nil {
				return fmt.Errorf("%s: %w", f.flag, err)
			}
		}
		if _, err := tls.LoadX509KeyPair(c.certFile, c.keyFile); err != nil {
			return fmt.Errorf("--cert %s --key %s: %w", c.certFile, c.keyFile, err)
		}
	}
	return nil
}

// resolvePins turns each --pin into pin strings: a value naming an existing
// file is read as PEM and pins the public key of each certificate (or
// PUBLIC KEY block) in it; anything else must parse as a pin.
func resolvePins(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		if fi, err := os.Stat(v); err == nil && !fi.IsDir() {
			pins, err := tlsconf.LoadPinFile(v, tlsconf.PinSPKI)
			if err != nil {
				return nil, fmt.Errorf("--pin %s: %w", v, err)
			}
			for _, p := range pins {
				out = append(out, p.String())
			}
			continue
		}
		if _, err := tlsconf.ParsePin(v); err != nil {
			if looksLikePath(v) {
				return nil, fmt.Errorf("--pin %s: no such file, and not a pin either", v)
			}
			return nil, fmt.Errorf("--pin: %w", err)
		}
		out = append(out, v)
	}
	return out, nil
}

// looksLikePath reports whether a --pin value was meant as a file name.
func looksLikePath(v string) bool {
	l := strings.ToLower(v)
	if strings.HasSuffix(l, ".pem") || strings.HasSuffix(l, ".crt") || strings.HasSuffix(l, ".cer") {
		return true
	}
	return strings.ContainsRune(v, os.PathSeparator) && !strings.HasPrefix(l, "sha256/")
}

// knownPins loads the remembered keys that apply to this connection: nil
// when the file is not used (--no-known-pins, ws://, PSK, or --pin given:
// explicit pins decide).
func (c clientConfig) knownPins() (*knownPins, error) {
	if c.noKnownPins || c.pskIdentity != "" || len(c.pins) > 0 || !strings.HasPrefix(strings.ToLower(c.url), "wss:") {
		return nil, nil
	}
	file := c.knownPinsFile
	if file == "" {
		var err error
		if file, err = defaultKnownPinsFile(); err != nil {
			if c.tofu {
				return nil, fmt.Errorf("--tofu: %w (give --known-pins FILE)", err)
			}
			return nil, nil // no state directory: nothing remembered
		}
	}
	host, err := knownPinsHost(c.url)
	if err != nil {
		return nil, err
	}
	return loadKnownPins(file, host)
}

// tlsError marks a failure of the TLS handshake (verification, pins, PSK)
// so that the exit status can tell it from other dial failures.
type tlsError struct{ err error }

func (e *tlsError) Error() string { return e.err.Error() }
func (e *tlsError) Unwrap() error { return e.err }

// dialOptions turns the flags into ws.DialOptions; pause, if not nil,
// completes the TLS policy (--pause-on-ssl-errors); fu decides about the
// first contact with a server when the known-pins file applies.
func (c clientConfig) dialOptions(log zerolog.Logger, pause func(*tlsconf.Policy), fu *firstUse) (*ws.DialOptions, error) {
	stderr := fu.stderr
	h, err := c.requestHeader()
	if err != nil {
		return nil, err
	}
	known, err := c.knownPins()
	if err != nil {
		return nil, err
	}
	v := config.Verify{Pins: c.pins, PinOnly: c.pinOnly, IgnoreAll: c.insecure, Ignore: c.ignore}
	pinned := known != nil && pause != nil && len(known.pins) > 0
	if pinned {
		// With --pause-on-ssl-errors the remembered keys are pins that
		// replace CA verification; the pause asks about other errors.
		v.Pins, v.PinOnly = known.pinStrings(), true
	}
	pol, err := v.Policy("server", log)
	if err != nil {
		return nil, err
	}
	if pause != nil {
		pause(&pol)
	}
	co := &tlsconf.ClientOptions{CAFile: c.caFile, ServerName: c.sni, CertFile: c.certFile, KeyFile: c.keyFile, Policy: pol}
	if known != nil && pause == nil {
		// Trust on first use: a remembered key decides; a first contact
		// is remembered (--tofu), asked about on the terminal, or refused.
		fu.file = known.file
		co.TOFU = &tlsconf.TOFU{Store: known.store, Server: known.host, Decide: fu.decide, Timeout: clientPauseTimeout, OnRemembered: fu.remembered}
	}
	tc, err := tlsconf.NewClient(co)
	if err != nil {
		return nil, err
	}
	scheme := "ws"
	if strings.HasPrefix(strings.ToLower(c.url), "wss:") {
		scheme = "wss"
	}
	dial, err := cli.ProxyDialer("--proxy", c.proxy, scheme)
	if err != nil {
		return nil, err
	}
	handshake := func(ctx context.Context, nc net.Conn, serverName string) (net.Conn, error) {
		return tc.Handshake(ctx, nc, serverName)
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
		handshake = pc.TLSClient
	}
	tlsClient := func(ctx context.Context, nc net.Conn, serverName string) (net.Conn, error) {
		conn, err := handshake(ctx, nc, serverName)
		if err != nil {
			var kc *tlsconf.KeyChangedError
			switch {
			case errors.As(err, &kc):
				fmt.Fprint(stderr, changedKeyMessage(known.file, kc.Server, kc.Remembered, kc.Presented))
			case pinned && isPinMismatch(err):
				fmt.Fprint(stderr, changedKeyMessage(known.file, known.host, known.pins, presentedLeaf(err)))
			}
			return nil, &tlsError{err}
		}
		return conn, nil
	}
	return &ws.DialOptions{
		TLSClient:        tlsClient,
		NetDial:          dial,
		Header:           h,
		Subprotocols:     c.subprotocols,
		HandshakeTimeout: c.connectTimeout,
		Options: ws.Options{
			OutgoingFrameSize:      int(min(int64(c.outgoingFrame), 1<<30)),
			MaxIncomingFrameSize:   int64(c.maxMessage),
			MaxIncomingMessageSize: int64(c.maxMessage),
		},
	}, nil
}
