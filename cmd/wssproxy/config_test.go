package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// y joins lines, so that a case's line numbers are its indexes + 1.
func y(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

const goodPin = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

// Every error path of the parser, each with the line it must name.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	// route wraps route lines (indented by the caller with 8 spaces) in a
	// listener; the first route line is line 4.
	route := func(lines ...string) string {
		return y(append([]string{"listeners:", "  - listen: 127.0.0.1:0", "    routes:"}, lines...)...)
	}
	// tlsBlock puts tls lines (6 spaces) in a listener; the first is line 4.
	tlsBlock := func(lines ...string) string {
		l := append([]string{"listeners:", "  - listen: 127.0.0.1:0", "    tls:"}, lines...)
		return y(append(l, "    routes:", "      - upstream: ws://127.0.0.1:1/")...)
	}
	cases := []struct {
		name, yaml string
		line       int
		msg        string
	}{
		{"syntax", "listeners:\n  - listen: [\n", 0, "config.yaml: yaml: line"},
		{"empty", "", 0, "config.yaml: empty config file"},
		{"comments only", "# nothing\n", 0, "empty config file"},
		{"two documents", y("grace: 1s", "---", "grace: 2s"), 2, "a second YAML document"},
		{"root is a list", y("- listen: x"), 1, "want a mapping"},
		{"unknown top key", y("grace: 1s", "listners: []"), 2, "listners: unknown key (known here: admin, grace, listeners, log)"},
		{"repeated key", y("grace: 1s", "grace: 2s"), 2, "grace: repeated key (first at line 1)"},
		{"log format", y("log:", "  format: xml"), 2, `log.format: "xml": want json or console`},
		{"log level", y("log:", "  level: loud"), 2, `log.level: "loud": want trace`},
		{"log unknown", y("log:", "  colour: true"), 2, "log.colour: unknown key"},
		{"grace", y("grace: 10"), 1, `grace: "10" is not a duration`},
		{"grace negative", y("grace: -1s"), 1, "grace: must not be negative"},
		{"no listeners", y("grace: 1s"), 1, "listeners: at least one listener is needed"},
		{"empty listeners", y("grace: 1s", "listeners: []"), 2, "listeners: at least one listener"},
		{"listeners not a list", y("listeners:", "  listen: x"), 2, "listeners: want a list, not a mapping"},
		{"listener not a mapping", y("listeners:", "  - 127.0.0.1:1"), 2, "listeners[0]: want a mapping"},
		{"missing listen", y("listeners:", "  - routes:", "      - upstream: ws://x/"), 2, "listeners[0].listen: missing"},
		{"listen not host:port", y("listeners:", "  - listen: localhost"), 2, `listeners[0].listen: "localhost" is not host:port`},
		{"listen bad port", y("listeners:", "  - listen: 127.0.0.1:99999"), 2, `port "99999" is not a number`},
		{"listener unknown key", y("listeners:", "  - listen: 127.0.0.1:0", "    upstream: ws://x/"), 3, "listeners[0].upstream: unknown key"},
		{"no routes", y("listeners:", "  - listen: 127.0.0.1:0"), 2, "listeners[0].routes: at least one route"},
		{"empty routes", y("listeners:", "  - listen: 127.0.0.1:0", "    routes: []"), 3, "listeners[0].routes: at least one route"},
		{"route not a mapping", route("      - ws://x/"), 4, "routes[0]: want a mapping"},
		{"route without upstream", route("      - path: /a", "        upstream: ws://x/", "      - path: /b"), 6, "listeners[0].routes[1].upstream: missing"},
		{"upstream scheme", route("      - upstream: http://x/"), 4, `upstream: "http://x/" is not a ws:// or wss:// URL`},
		{"upstream no host", route("      - upstream: ws:///x"), 4, "is not a ws:// or wss:// URL with a host"},
		{"upstream credentials", route("      - upstream: ws://u:secret@x/"), 4, "may not carry credentials"},
		{"upstream bad URL", route("      - upstream: \"ws://x/%zz\""), 4, "not a URL"},
		{"path no slash", route("      - path: chat", "        upstream: ws://x/"), 4, `path: "chat" must start with /`},
		{"path trailing slash", route("      - upstream: ws://x/", "        path: /chat/"), 5, "must start with / and not end with one"},
		{"host with port", route("      - host: a.example:443", "        upstream: ws://x/"), 4, "want a host name without scheme, port or path"},
		{"host as URL", route("      - host: https://a.example", "        upstream: ws://x/"), 4, "want a host name"},
		{"duplicate route", route("      - path: /a", "        upstream: ws://x/", "      - host: h", "        upstream: ws://y/", "      - path: /a", "        upstream: ws://z/"), 8,
			`listeners[0].routes[2]: host "" and path "/a" are already routed by routes[0] (line 4)`},
		{"duplicate route host case", route("      - host: A.example", "        upstream: ws://x/", "      - host: a.EXAMPLE", "        upstream: ws://z/"), 6, "already routed by routes[0]"},
		{"same address", y("listeners:", "  - listen: 127.0.0.1:8443", "    routes: [{upstream: 'ws://x/'}]", "  - listen: 127.0.0.1:8443", "    routes: [{upstream: 'ws://x/'}]"), 4,
			"listeners[1].listen: 127.0.0.1:8443 overlaps listeners[0].listen (line 2)"},
		{"wildcard overlap", y("listeners:", "  - listen: :8443", "    routes: [{upstream: 'ws://x/'}]", "  - listen: 127.0.0.1:8443", "    routes: [{upstream: 'ws://x/'}]"), 4, "overlaps listeners[0].listen"},
		{"acme http overlap", y("listeners:", "  - listen: 127.0.0.1:8080", "    routes: [{upstream: 'ws://x/'}]", "  - listen: 127.0.0.1:8443",
			"    tls:", "      acme: {domains: [a.example], http: '0.0.0.0:8080'}", "    routes: [{upstream: 'ws://x/'}]"), 6, "listeners[1].tls.acme.http: 0.0.0.0:8080 overlaps listeners[0].listen (line 2)"},
		{"extensions mode", route("      - upstream: ws://x/", "        extensions: strip"), 5, `extensions: "strip": want pass`},
		{"upstream_psk on ws", route("      - upstream: ws://x/", "        upstream_psk: {identity: dev, key_file: /dev/null}"), 5, "upstream_psk: applies to wss:// upstreams only"},
		{"upstream_psk incomplete", route("      - upstream: wss://x/", "        upstream_psk:", "          identity: dev"), 6, "upstream_psk: needs identity and key_file"},
		{"upstream_psk and tls", route("      - upstream: wss://x/", "        upstream_tls: {sni: x}", "        upstream_psk: {identity: dev, key_file: /dev/null}"), 6, "upstream_psk: excludes upstream_tls"},
		{"upstream_psk long identity", route("      - upstream: wss://x/", "        upstream_psk: {identity: "+strings.Repeat("i", 256)+", key_file: /dev/null}"), 5, "identity"},
		{"size", route("      - upstream: ws://x/", "        max_frame_size: 1MiB", "        max_message_size: 12XB"), 6, `listeners[0].routes[0].max_message_size: "12XB" is not a size`},
		{"size zero", route("      - upstream: ws://x/", "        max_frame_size: 0"), 5, "max_frame_size: must not be 0"},
		{"size below -1", route("      - upstream: ws://x/", "        max_frame_size: -2"), 5, "use -1 for no limit"},
		{"outgoing negative", route("      - upstream: ws://x/", "        outgoing_frame_size: -1"), 5, "outgoing_frame_size: must be positive"},
		{"outgoing huge", route("      - upstream: ws://x/", "        outgoing_frame_size: 4GiB"), 5, "outgoing_frame_size: too large"},
		{"size list", route("      - upstream: ws://x/", "        max_frame_size: [1]"), 5, "want a size, not a list"},
		{"ping interval", route("      - upstream: ws://x/", "        ping_interval: often"), 5, `ping_interval: "often" is not a duration`},
		{"idle negative", route("      - upstream: ws://x/", "        idle_timeout: -5s"), 5, "idle_timeout: must not be negative"},
		{"pong without ping", route("      - upstream: ws://x/", "        ping_interval: 0s", "        pong_timeout: 5s"), 6, "pong_timeout: needs ping_interval"},
		{"frame timeout negative", route("      - upstream: ws://x/", "        frame_timeout: -1s"), 5, "frame_timeout: must not be negative"},
		{"control rate", route("      - upstream: ws://x/", "        max_control_rate: -1"), 5, "max_control_rate: must be at least 0, not -1"},
		{"write timeout", route("      - upstream: ws://x/", "        write_timeout: soon"), 5, `write_timeout: "soon" is not a duration`},
		{"upstream timeout zero", route("      - upstream: ws://x/", "        upstream_timeout: 0s"), 5, "upstream_timeout: must be more than 0"},
		{"strip_path", route("      - upstream: ws://x/", "        strip_path: maybe"), 5, `strip_path: "maybe" is not true or false`},
		{"origin", route("      - upstream: ws://x/", "        allowed_origins:", "          - https://ok.example", "          - app.example"), 7,
			`allowed_origins[1]: "app.example" is not an origin`},
		{"origin with path", route("      - upstream: ws://x/", "        allowed_origins: https://a.example/app"), 5, "is not an origin"},
		{"route unknown key", route("      - upstream: ws://x/", "        max_msg_size: 1"), 5, "routes[0].max_msg_size: unknown key (known here: allowed_origins,"},
		{"upstream_tls on ws", route("      - upstream: ws://x/", "        upstream_tls:", "          sni: x"), 5, "upstream_tls: applies to wss:// upstreams only"},
		{"bad pin", route("      - upstream: wss://x/", "        upstream_tls:", "          pins:", "            - "+goodPin, "            - sha256//nonsense"), 8,
			"upstream_tls.pins[1]: tlsconf: pin"},
		{"bad pin scalar", route("      - upstream: wss://x/", "        upstream_tls: {pins: nope}"), 5, "upstream_tls.pins: tlsconf: pin"},
		{"unknown error kind", route("      - upstream: wss://x/", "        upstream_tls:", "          ignore:", "            - expired", "            - no-such-kind"), 8,
			"upstream_tls.ignore[1]: tlsconf: expected error \"no-such-kind\""},
		{"ignore scalar list", route("      - upstream: wss://x/", "        upstream_tls:", "          ignore: expired,bogus"), 6, "upstream_tls.ignore: tlsconf: expected error \"bogus\""},
		{"ignore pin mismatch", route("      - upstream: wss://x/", "        upstream_tls:", "          ignore: [pin-mismatch]"), 6, "can never be ignored"},
		{"ignore mapping", route("      - upstream: wss://x/", "        upstream_tls:", "          ignore: {all: true}"), 6, "ignore: want a list, not a mapping"},
		{"pin_only without pins", route("      - upstream: wss://x/", "        upstream_tls:", "          pin_only: true"), 6, "upstream_tls.pin_only: needs at least one pin"},
		{"pin_match", route("      - upstream: wss://x/", "        upstream_tls:", "          pin_match: root"), 6, `pin_match: "root": want leaf or chain`},
		{"upstream cert without key", route("      - upstream: wss://x/", "        upstream_tls:", "          sni: x", "          cert_file: c.pem"), 7, "upstream_tls: cert_file and key_file go together"},
		{"upstream_tls unknown", route("      - upstream: wss://x/", "        upstream_tls:", "          insecure: true"), 6, "upstream_tls.insecure: unknown key"},
		{"upstream_tls list", route("      - upstream: wss://x/", "        upstream_tls: [a]"), 5, "upstream_tls: want a mapping"},
		{"list item mapping", route("      - upstream: wss://x/", "        upstream_tls:", "          pins:", "            - {a: b}"), 7, "pins[0]: want a string, not a mapping"},
		{"upstream proxy", route("      - upstream: ws://x/", "        upstream_proxy: ftp://p"), 5, "upstream_proxy:"},
		{"tls without source", tlsBlock("      client_certs: {mode: none}"), 3, "listeners[0].tls: needs a certificate source"},
		{"tls dev_cert false", tlsBlock("      dev_cert: false"), 3, "tls: needs a certificate source"},
		{"tls two sources", tlsBlock("      cert_file: c.pem", "      key_file: k.pem", "      dev_cert: true"), 6, "listeners[0].tls.dev_cert: choose one certificate source"},
		{"tls cert without key", tlsBlock("      cert_file: c.pem"), 4, "tls: cert_file and key_file go together"},
		{"tls empty file name", tlsBlock("      cert_file: ''", "      key_file: k.pem"), 4, "cert_file: empty file name"},
		{"dev_cert value", tlsBlock("      dev_cert: maybe"), 4, `dev_cert: "maybe" is not true or false`},
		{"dev_cert unknown", tlsBlock("      dev_cert:", "        folder: x"), 5, "dev_cert.folder: unknown key (known here: dir, hosts)"},
		{"tls unknown", tlsBlock("      dev_cert: true", "      psk_files: x"), 5, "tls.psk_files: unknown key"},
		{"acme no domains", tlsBlock("      acme:", "        email: a@example.com"), 4, "tls.acme: needs domains or on_demand"},
		{"acme ratio", tlsBlock("      acme:", "        domains: [a.example]", "        renewal_window_ratio: 2"), 6, `renewal_window_ratio: "2": want a fraction`},
		{"acme tls-alpn off", tlsBlock("      acme:", "        domains: [a.example]", "        disable_tls_alpn: true"), 6, "disable_tls_alpn: needs http"},
		{"acme ca", tlsBlock("      acme:", "        domains: [a.example]", "        ca: letsencrypt"), 6, `acme.ca: "letsencrypt" is not an ACME directory URL`},
		{"acme http", tlsBlock("      acme:", "        domains: [a.example]", "        http: 80"), 6, `acme.http: "80" is not host:port`},
		{"client_certs mode", tlsBlock("      dev_cert: true", "      client_certs:", "        mode: sometimes"), 6, `client_certs.mode: "sometimes": want none, optional or required`},
		{"client_certs no mode", tlsBlock("      dev_cert: true", "      client_certs:", "        ca_file: ca.pem"), 5, "client_certs.mode: missing"},
		{"client_certs none with more", tlsBlock("      dev_cert: true", "      client_certs:", "        ca_file: ca.pem", "        mode: none"), 7, "client_certs.mode: is none"},
		{"client_certs pin", tlsBlock("      dev_cert: true", "      client_certs:", "        mode: required", "        pins: [xyz]"), 7, "client_certs.pins[0]: tlsconf: pin"},
		{"client_certs pin_only", tlsBlock("      dev_cert: true", "      client_certs:", "        mode: optional", "        pin_only: true"), 7, "client_certs.pin_only: needs at least one pin"},
		{"trusted proxies", y("listeners:", "  - listen: 127.0.0.1:0", "    trusted_proxies:", "      - 10.0.0.0/8", "      - lb.internal", "    routes: [{upstream: 'ws://x/'}]"), 5,
			`trusted_proxies[1]: "lb.internal" is not an IP address or CIDR prefix`},
		{"trusted forwarders", y("listeners:", "  - listen: 127.0.0.1:0", "    trusted_forwarders: [nginx.internal]", "    routes: [{upstream: 'ws://x/'}]"), 3,
			`trusted_forwarders[0]: "nginx.internal" is not an IP address or CIDR prefix`},
		{"max connections", y("listeners:", "  - listen: 127.0.0.1:0", "    max_connections: 0"), 3, "max_connections: must be positive, not 0"},
		{"max connections word", y("listeners:", "  - listen: 127.0.0.1:0", "    max_connections: many"), 3, `max_connections: "many" is not a whole number`},
		{"max header bytes", y("listeners:", "  - listen: 127.0.0.1:0", "    max_header_bytes: 16kb"), 3, `max_header_bytes: "16kb" is not a size`},
		{"handshake timeout", y("listeners:", "  - listen: 127.0.0.1:0", "    handshake_timeout: 0"), 3, "handshake_timeout: must be more than 0"},
		{"close timeout", y("listeners:", "  - listen: 127.0.0.1:0", "    close_timeout: soon"), 3, "close_timeout: \"soon\" is not a duration"},
		{"merge scalar", route("      - upstream: ws://x/", "        <<: 3"), 5, "<< merges mappings only"},
		{"merged unknown key", y("x-d: &d", "  speed: 3", "listeners:", "  - listen: 127.0.0.1:0", "    routes:", "      - upstream: ws://x/", "        <<: *d"), 2, "routes[0].speed: unknown key"},
		{"extension key below the top", y("listeners:", "  - listen: 127.0.0.1:0", "    x-note: hi"), 3, "listeners[0].x-note: unknown key"},
		{"complex key", y("? [a]", ": b"), 1, "keys must be plain words"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := parseConfig([]byte(tc.yaml), "config.yaml", "")
			if err == nil {
				t.Fatalf("no error for\n%s", tc.yaml)
			}
			want := "config.yaml:"
			if tc.line > 0 {
				want = fmt.Sprintf("config.yaml:%d: ", tc.line)
			}
			if got := err.Error(); !strings.HasPrefix(got, want) || !strings.Contains(got, tc.msg) {
				t.Errorf("error %q\nwant prefix %q containing %q", got, want, tc.msg)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows a password", err)
			}
		})
	}
}

// Files the configuration names must exist; the error names the line.
func TestConfigMissingFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"c.pem", "k.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		yaml string
		line int
		key  string
	}{
		{y("listeners:", "  - listen: 127.0.0.1:0", "    tls:", "      cert_file: c.pem", "      key_file: missing-key.pem", "    routes: [{upstream: 'ws://x/'}]"), 5, "listeners[0].tls.key_file"},
		{y("listeners:", "  - listen: 127.0.0.1:0", "    routes:", "      - upstream: wss://x/", "        upstream_tls:", "          ca_file: /nonexistent/ca.pem"), 6, "listeners[0].routes[0].upstream_tls.ca_file"},
		{y("listeners:", "  - listen: 127.0.0.1:0", "    tls:", "      dev_cert: true", "      client_certs: {mode: required, ca_file: nope.pem}", "    routes: [{upstream: 'ws://x/'}]"), 5, "listeners[0].tls.client_certs.ca_file"},
		{y("listeners:", "  - listen: 127.0.0.1:0", "    tls:", "      acme: {domains: [a.example], ca_root: root.pem}", "    routes: [{upstream: 'ws://x/'}]"), 4, "listeners[0].tls.acme.ca_root"},
	} {
		name := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(name, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadConfigFile(name)
		want := fmt.Sprintf("%s:%d: %s: open ", name, tc.line, tc.key)
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("error %v, want prefix %q", err, want)
		}
	}
	if _, err := loadConfigFile(filepath.Join(dir, "absent.yaml")); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("absent file: %v", err)
	}
}

// The documented example parses, and means what its comments say.
func TestConfigExample(t *testing.T) {
	t.Parallel()
	name := filepath.Join("..", "..", "docs", "config.example.yaml")
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	cfg, files, err := parseConfig(data, name, filepath.Dir(name))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.grace != 10*time.Second || cfg.log.format != "json" || cfg.log.level != "info" || len(cfg.listeners) != 4 {
		t.Fatalf("top level: %+v", cfg)
	}
	pub, internal, local, dev := cfg.listeners[0], cfg.listeners[1], cfg.listeners[2], cfg.listeners[3]
	if pub.name != "public" || pub.acme == nil || !pub.acme.reuseKey || pub.acme.http != "0.0.0.0:80" || pub.acme.renewalWindowRatio != 0.33 ||
		len(pub.acme.onDemand) != 1 || pub.maxHeaderBytes != 16<<10 || pub.handshakeTimeout != 10*time.Second || pub.closeTimeout != 5*time.Second {
		t.Errorf("public listener: %+v %+v", pub, pub.acme)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}; fmt.Sprint(pub.trustedProxies) != fmt.Sprint(want) {
		t.Errorf("trusted proxies %v", pub.trustedProxies)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}; fmt.Sprint(pub.trustedForwarders) != fmt.Sprint(want) {
		t.Errorf("trusted forwarders %v", pub.trustedForwarders)
	}
	chat, feed := pub.routes[0], pub.routes[1]
	if !chat.stripPath || chat.path != "/chat" || chat.maxFrame != 1<<20 || chat.maxMessage != 16<<20 || chat.outgoingFrame != 512<<10 ||
		chat.pingInterval != 30*time.Second || chat.pongTimeout != 10*time.Second || chat.idleTimeout != 10*time.Minute || chat.upstreamProxy != "direct" {
		t.Errorf("chat route (merged limits): %+v", chat)
	}
	if feed.maxMessage != 64<<20 || feed.maxFrame != 1<<20 {
		t.Errorf("feed: explicit keys must win over merged ones: %+v", feed)
	}
	v := feed.upstreamVerify
	if feed.upstreamCA != filepath.Join("..", "..", "docs", "internal-ca.pem") || feed.upstreamSNI != "feed.internal" || len(v.pins) != 1 ||
		v.pinMatch != tlsconf.PinMatchLeaf || len(v.ignore) != 1 || feed.upstreamProxy != "http://proxy.internal:3128" {
		t.Errorf("feed upstream TLS: %+v", feed)
	}
	if internal.clientCerts.mode != tlsconf.ClientCertRequired || internal.certFile == "" || internal.routes[0].host != "admin.internal" {
		t.Errorf("internal: %+v", internal)
	}
	if local.certFile != "" || local.devCert || local.acme != nil || local.maxConnections != 10000 {
		t.Errorf("local must be plain ws with defaults: %+v", local)
	}
	if !dev.devCert || dev.devCertDir != filepath.Join("..", "..", "docs", "devca") || len(dev.devCertHosts) != 1 {
		t.Errorf("dev: %+v", dev)
	}
	// The example names files that exist only on a deployed machine.
	if len(files) != 6 {
		t.Errorf("files to check: %v", files)
	}
}

// --config excludes the single-route flags; logging flags and --grace
// override the file.
func TestServeConfigFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(name, []byte(y("log: {level: debug}", "listeners:", "  - listen: 127.0.0.1:0", "    routes: [{upstream: 'ws://x/'}]")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--config", name, "--listen", "127.0.0.1:1"}, "--config excludes --listen"},
		{[]string{"--config", name, "--upstream", "ws://x/", "--max-frame-size", "1"}, "--config excludes --max-frame-size, --upstream"},
		{[]string{"--config", filepath.Join(dir, "none.yaml")}, "--config: open "},
		{[]string{"--config", name, "--log-level", "loud"}, "--log-level"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), append([]string{"serve"}, tc.args...), &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: exit %d, %q; want 2 with %q", tc.args, code, errb.String(), tc.msg)
		}
	}
	cfg, file, set, err := parseServeFlags([]string{"--config", name, "--log-format", "console", "--grace", "3s"}, &bytes.Buffer{})
	if err != nil || file != name || !set["log-format"] || !set["grace"] || set["log-level"] || cfg.grace != 3*time.Second {
		t.Fatalf("%v %q %v %+v", err, file, set, cfg)
	}
	// An invalid file is a usage error with the line.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(y("listeners:", "  - listen: 127.0.0.1:0", "    routes:", "      - upstream: ws://x/", "        max_message_size: 12XB")), 0o600)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--config", bad}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), bad+`:5: listeners[0].routes[0].max_message_size: "12XB" is not a size`) {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

// The relay's timeouts are on by default, from flags and from a file,
// and a configured 0 turns each off (proxy.Route takes a negative value
// for that; its zero value means the default).
func TestRelayTimeoutDefaults(t *testing.T) {
	t.Parallel()
	var b builder
	routeOf := func(args ...string) proxy.Route {
		t.Helper()
		cfg, _, _, err := parseServeFlags(append([]string{"--upstream", "ws://127.0.0.1:1/"}, args...), &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := b.route(&cfg.listeners[0].routes[0])
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := routeOf(); r.PingInterval != 30*time.Second || r.FrameTimeout != 30*time.Second || r.WriteTimeout != 30*time.Second || r.IdleTimeout != 0 {
		t.Errorf("defaults: ping %s frame %s write %s idle %s", r.PingInterval, r.FrameTimeout, r.WriteTimeout, r.IdleTimeout)
	}
	if r := routeOf("--ping-interval", "0", "--frame-timeout", "0", "--write-timeout", "0"); r.PingInterval >= 0 || r.FrameTimeout >= 0 || r.WriteTimeout >= 0 {
		t.Errorf("0 does not turn them off: ping %s frame %s write %s", r.PingInterval, r.FrameTimeout, r.WriteTimeout)
	}
	if r := routeOf("--pong-timeout", "5s", "--frame-timeout", "2s"); r.PongTimeout != 5*time.Second || r.FrameTimeout != 2*time.Second {
		t.Errorf("flags not applied: pong %s frame %s", r.PongTimeout, r.FrameTimeout)
	}
	if r := routeOf(); r.MaxControlRate != 100 || r.MaxTinyFrameRate != 50000 {
		t.Errorf("flood limits: control %d tiny %d", r.MaxControlRate, r.MaxTinyFrameRate)
	}
	if r := routeOf("--max-control-rate", "0", "--max-tiny-frame-rate", "5"); r.MaxControlRate >= 0 || r.MaxTinyFrameRate != 5 {
		t.Errorf("flood limit flags: control %d tiny %d", r.MaxControlRate, r.MaxTinyFrameRate)
	}
	d := decoder{}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("upstream: ws://127.0.0.1:1/\nping_interval: 0s\nwrite_timeout: 5s\n"), &n); err != nil {
		t.Fatal(err)
	}
	rc := d.route(n.Content[0], "routes[0]")
	r, err := b.route(&rc)
	if err != nil || d.err != nil {
		t.Fatal(err, d.err)
	}
	if r.PingInterval >= 0 || r.WriteTimeout != 5*time.Second || r.FrameTimeout != 30*time.Second {
		t.Errorf("from a file: ping %s write %s frame %s", r.PingInterval, r.WriteTimeout, r.FrameTimeout)
	}
}
