package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/proxy/netproxy"
	"github.com/wssproxy/wssproxy/tlsconf"
)

const certsUsage = `Usage:
  wssproxy certs dev [--dir D] [--host NAME...]
      create (once) a local development CA and a leaf certificate for
      localhost, 127.0.0.1, ::1 and each --host; print the files, the CA
      to trust and the leaf's SPKI pin
  wssproxy certs pin FILE
      each certificate of a PEM file: subject, SHA-256 fingerprint, SPKI pin
  wssproxy certs pin HOST:PORT [--sni NAME] [--proxy URL] [--timeout D]
      connect without trusting the server, print its chain with pins, the
      problems verification against the system roots finds, and
      "wssproxy client" and "wssproxy serve" command lines that accept it

Run "wssproxy certs dev --help" or "wssproxy certs pin --help" for flags.
`

// RunCerts runs "wssproxy certs SUBCOMMAND": dev (a development CA and
// leaf) or pin (the pins and SSL errors of a PEM file or a server).
func RunCerts(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, certsUsage)
		return 2
	}
	switch args[0] {
	case "dev":
		return runCertsDev(args[1:], stdout, stderr)
	case "pin":
		return runCertsPin(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, certsUsage)
		return 0
	}
	fmt.Fprintf(stderr, "wssproxy certs: unknown subcommand %q\n\n%s", args[0], certsUsage)
	return 2
}

// certsDevConfig is the configuration of "wssproxy certs dev".
type certsDevConfig struct {
	dir   string
	hosts []string
}

func parseCertsDevFlags(args []string, stderr io.Writer) (certsDevConfig, error) {
	var cfg certsDevConfig
	fs := flag.NewFlagSet("wssproxy certs dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: wssproxy certs dev [--dir D] [--host NAME...]

Creates (on the first run) a local development CA, ECDSA P-256 valid for
10 years, and a 30-day leaf certificate signed by it for localhost,
127.0.0.1, ::1 and every --host. Later runs reuse both; a new leaf (same
CA) is issued when a third of its life is left or a new --host is asked
for. Prints the files, the CA certificate to trust and the leaf's SPKI
pin. The CA can sign any name: use it for development only.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.dir, "dir", "", "directory for the CA and the leaf (default $XDG_STATE_HOME/wssproxy/devca, else ~/.local/state/wssproxy/devca)")
	fs.Func("host", "extra DNS name or IP address for the leaf (repeatable, or comma-separated)", func(s string) error {
		for _, h := range strings.Split(s, ",") {
			if h = strings.TrimSpace(h); h != "" {
				cfg.hosts = append(cfg.hosts, h)
			}
		}
		return nil
	})
	_, err := ParseArgs(fs, args, 0, "")
	return cfg, err
}

func runCertsDev(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseCertsDevFlags(args, stderr)
	if code, done := UsageExit(stderr, "certs dev", err); done {
		return code
	}
	r, err := certs.DevCA(&certs.DevCAOptions{Dir: cfg.dir, Hosts: cfg.hosts})
	if err != nil {
		fmt.Fprintf(stderr, "wssproxy certs dev: %v\n", err)
		return 1
	}
	if err := writeDevCA(stdout, r); err != nil {
		fmt.Fprintf(stderr, "wssproxy certs dev: %v\n", err)
		return 1
	}
	return 0
}

// writeDevCA prints where the dev CA and leaf are, and how to use them.
func writeDevCA(w io.Writer, r *certs.DevCAResult) error {
	caState, leafState := "reused", "reused"
	if r.CreatedCA {
		caState = "created"
	}
	if r.IssuedLeaf {
		leafState = "issued"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CA certificate (trust this): %s (%s)\n", r.CACertFile, caState)
	fmt.Fprintf(&b, "certificate:                 %s (%s)\n", r.CertFile, leafState)
	fmt.Fprintf(&b, "key:                         %s\n", r.KeyFile)
	fmt.Fprintf(&b, "names:                       %s\n", strings.Join(r.Hosts, ", "))
	fmt.Fprintf(&b, "expires:                     %s\n", r.NotAfter.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "sha256:                      %s\n", r.Fingerprint)
	fmt.Fprintf(&b, "pin:                         %s\n", r.SPKIPin)
	fmt.Fprintf(&b, "\nServe it:\n  wssproxy echo --listen 127.0.0.1:8443 --cert %s --key %s\n", ShellQuote(r.CertFile), ShellQuote(r.KeyFile))
	ca := ShellQuote(r.CACertFile)
	fmt.Fprintf(&b, "\nTrust the CA in clients:\n")
	fmt.Fprintf(&b, "  wssproxy client --ca %s wss://localhost:8443/\n", ca)
	fmt.Fprintf(&b, "  curl --cacert %s https://localhost:8443/\n", ca)
	fmt.Fprintf(&b, "  SSL_CERT_FILE=%s PROGRAM    (Go and OpenSSL programs; replaces the system roots)\n", ca)
	fmt.Fprintf(&b, "  openssl verify -CAfile %s %s\n", ca, ShellQuote(r.CertFile))
	fmt.Fprintf(&b, "\nOr pin the leaf's key instead (until a new leaf is issued; --pin-only: the system roots do not trust the dev CA):\n  wssproxy client wss://localhost:8443/ --pin %s --pin-only\n", r.SPKIPin)
	_, err := io.WriteString(w, b.String())
	return err
}

// ShellQuote quotes s for a POSIX shell when it needs quoting.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:=@,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// certsPinConfig is the configuration of "wssproxy certs pin".
type certsPinConfig struct {
	file    string // FILE form
	addr    string // HOST:PORT form
	sni     string
	proxy   string // "" = environment, "direct" = none
	timeout time.Duration
}

func parseCertsPinFlags(args []string, stderr io.Writer) (certsPinConfig, error) {
	var cfg certsPinConfig
	fs := flag.NewFlagSet("wssproxy certs pin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage:
  wssproxy certs pin FILE
  wssproxy certs pin HOST:PORT [--sni NAME] [--proxy URL] [--timeout D]

FILE (PEM): prints each certificate, leaf first: subject, issuer, names,
validity, SHA-256 fingerprint and SPKI pin (sha256//<base64>, the value
curl --pinnedpubkey and "openssl x509 -pubkey | openssl pkey -pubin
-outform der | openssl dgst -sha256 -binary | base64" give).

HOST:PORT: connects WITHOUT trusting the server (self-signed, expired or
misnamed chains work), prints the chain it sent the same way, every
problem verification against the system roots finds for the server name,
and command lines for "wssproxy client" and "wssproxy serve" that accept
the server as printed (put the real path in the URL): pinning its key
(with --pin-only when the system roots do not trust the chain, as the
line says) or accepting exactly the errors found. A proxy password is
printed as PASSWORD. Check the fingerprints out of band before trusting
them.

Flags (HOST:PORT only):
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.sni, "sni", "", "server name to send and verify (default: HOST, unless it is an IP address)")
	fs.StringVar(&cfg.proxy, "proxy", "", "connect through this proxy: http://, https://, socks5:// or socks5h:// URL (user:pass@ allowed), or \"direct\"; default: HTTPS_PROXY/ALL_PROXY/NO_PROXY")
	fs.DurationVar(&cfg.timeout, "timeout", 15*time.Second, "bound on connecting and the TLS handshake")
	pos, err := ParseArgs(fs, args, 1, "want FILE or HOST:PORT")
	if err != nil {
		return cfg, err
	}
	if cfg.timeout <= 0 {
		return cfg, fmt.Errorf("--timeout must be positive, not %v", cfg.timeout)
	}
	arg := pos[0]
	if _, err := os.Stat(arg); err == nil || !looksLikeHostPort(arg) {
		cfg.file = arg
		if cfg.sni != "" || cfg.proxy != "" {
			return cfg, errors.New("--sni and --proxy only apply to HOST:PORT")
		}
		return cfg, nil
	}
	cfg.addr = arg
	if cfg.proxy != "" && cfg.proxy != "direct" {
		if _, err := netproxy.ParseURL(cfg.proxy); err != nil {
			return cfg, fmt.Errorf("--proxy: %w", err)
		}
	}
	return cfg, nil
}

// looksLikeHostPort reports whether s is HOST:PORT with a numeric port.
func looksLikeHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || strings.ContainsAny(host, `/\`) {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n < 65536
}

func runCertsPin(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseCertsPinFlags(args, stderr)
	if code, done := UsageExit(stderr, "certs pin", err); done {
		return code
	}
	if cfg.file != "" {
		err = pinFile(cfg.file, stdout)
	} else {
		err = pinServer(ctx, cfg, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "wssproxy certs pin: %v\n", err)
		return 1
	}
	return 0
}

// pinFile prints every certificate of a PEM file.
func pinFile(name string, w io.Writer) error {
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: no such file (for a server, give HOST:PORT)", name)
	}
	if err != nil {
		return err
	}
	infos, err := certs.SummarizePEM(data)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return certs.WriteSummaries(w, infos)
}

// pinServer probes a TLS server, prints its chain, the verification
// problems and the configuration lines that accept it.
func pinServer(ctx context.Context, cfg certsPinConfig, w io.Writer) error {
	dial, via, err := probeDialer(cfg)
	if err != nil {
		return err
	}
	res, err := certs.ProbeChain(ctx, cfg.addr, &certs.ProbeOptions{SNI: cfg.sni, Dial: dial, Timeout: cfg.timeout})
	switch {
	case errors.Is(err, netproxy.ErrAuthFailed):
		return fmt.Errorf("the proxy refused the credentials: %w", err)
	case errors.Is(err, netproxy.ErrAuthRequired) && !proxyHasCredentials(cfg.proxy):
		return fmt.Errorf("%w (give the credentials in the proxy URL: scheme://user:pass@host:port, DOMAIN%%5Cuser:pass@ for NTLM; for Kerberos, kinit or KRB5CCNAME)", err)
	}
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(cfg.addr)
	name := res.ServerName
	if name == "" {
		name = host
	}
	var b strings.Builder
	sni := "SNI " + res.ServerName
	if res.ServerName == "" {
		sni = "no SNI"
	}
	fmt.Fprintf(&b, "server:   %s (%s)%s\n", cfg.addr, sni, via)
	fmt.Fprintf(&b, "tls:      %s, %s\n\n", tls.VersionName(res.State.Version), tls.CipherSuiteName(res.State.CipherSuite))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if err := certs.WriteSummaries(w, tlsconf.Summarize(res.Chain)); err != nil {
		return err
	}

	b.Reset()
	errs := tlsconf.Verify(res.Chain, tlsconf.VerifyOptions{DNSName: name})
	fmt.Fprintf(&b, "\nverification against the system roots for %q:\n", name)
	if len(errs) == 0 {
		b.WriteString("  no problems: the chain is trusted\n")
	}
	for _, e := range errs {
		fmt.Fprintf(&b, "  %s\n", e.Error())
	}
	writeAcceptLines(&b, cfg, name, res.Chain[0], errs)
	_, err = io.WriteString(w, b.String())
	return err
}

// PinLinesListen is the listen address the serve lines "certs pin" prints
// use.
const PinLinesListen = "127.0.0.1:9000"

// writeAcceptLines prints command lines, for "wssproxy client" and
// "wssproxy serve" alike, that accept the chain whose leaf is leaf: one
// pair pinning its key, one pair accepting exactly the errors found. The
// lines work as printed (the URL's path aside): a chain the system roots
// do not trust gets --pin-only, and the line says why and what the
// alternative is.
func writeAcceptLines(b *strings.Builder, cfg certsPinConfig, name string, leaf *x509.Certificate, errs []tlsconf.SSLError) {
	host, port, _ := net.SplitHostPort(cfg.addr)
	target := "wss://" + net.JoinHostPort(host, port) + "/"
	var client, serve []string
	if cfg.sni != "" {
		client = append(client, "--sni", ShellQuote(cfg.sni))
		serve = append(serve, "--upstream-sni", ShellQuote(cfg.sni))
	}
	switch p := pinLinesProxy(cfg); p {
	case "":
	case "env":
		serve = append(serve, "--upstream-proxy", "env")
	default:
		client = append(client, "--proxy", ShellQuote(p))
		serve = append(serve, "--upstream-proxy", ShellQuote(p))
	}
	clientLine := func(flags ...string) string {
		return strings.Join(append([]string{"  wssproxy client", target}, append(slices.Clone(client), flags...)...), " ")
	}
	serveLine := func(flags ...string) string {
		return strings.Join(append([]string{"  wssproxy serve --listen", PinLinesListen, "--upstream", target}, append(slices.Clone(serve), flags...)...), " ")
	}
	pin := tlsconf.SPKIPin(leaf)
	fmt.Fprintf(b, "\ncommand lines that accept this server (check the fingerprints out of band first; put the real path in the URL):\n")
	if len(errs) == 0 {
		note := "  # the system roots trust this chain; the pin adds a check of the key"
		fmt.Fprintf(b, "%s%s\n", clientLine("--pin", pin), note)
		fmt.Fprintf(b, "%s%s\n", serveLine("--upstream-pin", pin), note)
		return
	}
	note := func(pinOnly, ca string) string {
		return fmt.Sprintf("  # %s: the system roots do not trust this chain for %q; holding its CA, use %s CA.pem instead of %s", pinOnly, name, ca, pinOnly)
	}
	fmt.Fprintf(b, "%s%s\n", clientLine("--pin", pin, "--pin-only"), note("--pin-only", "--ca"))
	fmt.Fprintf(b, "%s%s\n", serveLine("--upstream-pin", pin, "--upstream-pin-only"), note("--upstream-pin-only", "--upstream-ca"))
	var cflags, sflags []string
	for _, e := range errs {
		if !e.Kind.Ignorable() {
			continue
		}
		entry := tlsconf.ExpectedError{Kind: e.Kind}
		if e.Cert != nil {
			entry.Fingerprint = tlsconf.Fingerprint(e.Cert)
		}
		cflags = append(cflags, "--ignore-ssl-error", entry.String())
		sflags = append(sflags, "--upstream-ignore-ssl-error", entry.String())
	}
	if len(cflags) == 0 {
		return
	}
	fmt.Fprintf(b, "or accept exactly the errors found, for these certificates only (a renewed certificate fails again):\n")
	fmt.Fprintf(b, "%s\n%s\n", clientLine(cflags...), serveLine(sflags...))
}

// pinLinesProxy is the proxy the printed lines use: "" for none, "env"
// for the environment, else the --proxy URL with its password replaced
// by PASSWORD (never printed).
func pinLinesProxy(cfg certsPinConfig) string {
	switch cfg.proxy {
	case "direct":
		return ""
	case "":
		if u, err := netproxy.EnvironmentFromOS().ProxyFor("wss", cfg.addr); err != nil || u == nil {
			return ""
		}
		return "env"
	}
	u, err := netproxy.ParseURL(cfg.proxy)
	if err != nil {
		return ""
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "PASSWORD")
	}
	return u.String()
}

// proxyHasCredentials reports whether a --proxy URL carries user:pass.
func proxyHasCredentials(proxy string) bool {
	u, err := netproxy.ParseURL(proxy)
	return err == nil && u.User != nil
}

// probeDialer returns the dial function for --proxy and a note on the
// route for the output.
func probeDialer(cfg certsPinConfig) (netproxy.DialFunc, string, error) {
	opts := &netproxy.Options{Timeout: cfg.timeout, Kerberos: netproxy.KerberosFromEnvironment()}
	switch cfg.proxy {
	case "direct":
		return nil, "", nil
	case "":
		env := netproxy.EnvironmentFromOS()
		u, err := env.ProxyFor("wss", cfg.addr)
		if err != nil {
			return nil, "", err
		}
		if u == nil {
			return nil, "", nil
		}
		d, err := netproxy.New(u, opts)
		if err != nil {
			return nil, "", err
		}
		return d.DialContext, " via " + d.Proxy() + " (from the environment)", nil
	}
	u, err := netproxy.ParseURL(cfg.proxy)
	if err != nil {
		return nil, "", err
	}
	d, err := netproxy.New(u, opts)
	if err != nil {
		return nil, "", err
	}
	return d.DialContext, " via " + d.Proxy(), nil
}
