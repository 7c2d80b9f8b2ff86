package config

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
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
		{"syntax", "listeners:\n  - listen: [\n", 0, "yaml: yaml: line"},
		{"empty", "", 0, "yaml: empty config file"},
		{"comments only", "# nothing\n", 0, "empty config file"},
		{"two documents", y("grace: 1s", "---", "grace: 2s"), 2, "a second YAML document"},
		{"root is a list", y("- listen: x"), 1, "want a mapping"},
		{"unknown top key", y("grace: 1s", "listners: []"), 2, "listners: unknown key (known here: admin, grace, listeners, log, store, store_etcd)"},
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
		{"session_resumption on ws", route("      - upstream: ws://x/", "        upstream_tls: {session_resumption: false}"), 5, "upstream_tls: applies to wss:// upstreams only"},
		{"session_resumption not a bool", route("      - upstream: wss://x/", "        upstream_tls:", "          session_resumption: sometimes"), 6, `upstream_tls.session_resumption: "sometimes" is not true or false`},
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
			_, _, err := parseConfig([]byte(tc.yaml), "yaml", "")
			if err == nil {
				t.Fatalf("no error for\n%s", tc.yaml)
			}
			want := "yaml:"
			if tc.line > 0 {
				want = fmt.Sprintf("yaml:%d: ", tc.line)
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

// session_resumption defaults to true (NoSessionResumption false, also
// without an upstream_tls mapping) and false turns it off.
func TestConfigSessionResumption(t *testing.T) {
	t.Parallel()
	cfg, _, err := parseConfig([]byte(y(
		"listeners:",
		"  - listen: 127.0.0.1:0",
		"    routes:",
		"      - {path: /plain, upstream: 'wss://x/'}",
		"      - {path: /default, upstream: 'wss://x/', upstream_tls: {sni: x}}",
		"      - {path: /on, upstream: 'wss://x/', upstream_tls: {session_resumption: true}}",
		"      - {path: /off, upstream: 'wss://x/', upstream_tls: {session_resumption: false}}",
	)), "yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []bool
	for _, r := range cfg.Listeners[0].Routes {
		if r.SessionResumption == r.NoSessionResumption {
			t.Errorf("%s: SessionResumption %v, NoSessionResumption %v", r.Path, r.SessionResumption, r.NoSessionResumption)
		}
		got = append(got, r.NoSessionResumption)
	}
	if want := []bool{false, false, false, true}; !slices.Equal(got, want) {
		t.Fatalf("NoSessionResumption %v, want %v", got, want)
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
		name := filepath.Join(dir, "yaml")
		if err := os.WriteFile(name, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(name)
		want := fmt.Sprintf("%s:%d: %s: open ", name, tc.line, tc.key)
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("error %v, want prefix %q", err, want)
		}
	}
	if _, err := Load(filepath.Join(dir, "absent.yaml")); err == nil || !strings.Contains(err.Error(), "--config") {
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
	if cfg.Grace.D() != 10*time.Second || cfg.Log.Format != "json" || cfg.Log.Level != "info" || len(cfg.Listeners) != 4 {
		t.Fatalf("top level: %+v", cfg)
	}
	pub, internal, local, dev := cfg.Listeners[0], cfg.Listeners[1], cfg.Listeners[2], cfg.Listeners[3]
	if pub.Name != "public" || pub.ACME == nil || !pub.ACME.ReuseKey || pub.ACME.HTTP != "0.0.0.0:80" || pub.ACME.RenewalWindowRatio != 0.33 ||
		len(pub.ACME.OnDemand) != 1 || pub.MaxHeaderBytes != 16<<10 || pub.HandshakeTimeout.D() != 10*time.Second || pub.CloseTimeout.D() != 5*time.Second {
		t.Errorf("public listener: %+v %+v", pub, pub.ACME)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}; fmt.Sprint(pub.TrustedProxies) != fmt.Sprint(want) {
		t.Errorf("trusted proxies %v", pub.TrustedProxies)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}; fmt.Sprint(pub.TrustedForwarders) != fmt.Sprint(want) {
		t.Errorf("trusted forwarders %v", pub.TrustedForwarders)
	}
	chat, feed := pub.Routes[0], pub.Routes[1]
	if !chat.StripPath || chat.Path != "/chat" || chat.MaxFrameSize != 1<<20 || chat.MaxMessageSize != 16<<20 || chat.OutgoingFrameSize != 512<<10 ||
		chat.PingInterval.D() != 30*time.Second || chat.PongTimeout.D() != 10*time.Second || chat.IdleTimeout.D() != 10*time.Minute || chat.UpstreamProxy != "direct" {
		t.Errorf("chat route (merged limits): %+v", chat)
	}
	if feed.MaxMessageSize != 64<<20 || feed.MaxFrameSize != 1<<20 {
		t.Errorf("feed: explicit keys must win over merged ones: %+v", feed)
	}
	v := feed.UpstreamVerify
	if feed.UpstreamCA != filepath.Join("..", "..", "docs", "internal-ca.pem") || feed.UpstreamSNI != "feed.internal" || len(v.Pins) != 1 ||
		v.PinMatch != "leaf" || len(v.Ignore) != 1 || feed.UpstreamProxy != "http://proxy.internal:3128" {
		t.Errorf("feed upstream TLS: %+v", feed)
	}
	if internal.ClientCerts.Mode != "required" || internal.CertFile == "" || internal.Routes[0].Host != "admin.internal" {
		t.Errorf("internal: %+v", internal)
	}
	if local.CertFile != "" || local.DevCert.Enabled || local.ACME != nil || local.MaxConnections != 10000 {
		t.Errorf("local must be plain ws with defaults: %+v", local)
	}
	if !dev.DevCert.Enabled || dev.DevCert.Dir != filepath.Join("..", "..", "docs", "devca") || len(dev.DevCert.Hosts) != 1 {
		t.Errorf("dev: %+v", dev)
	}
	// The example names files that exist only on a deployed machine.
	if len(files) != 6 {
		t.Errorf("files to check: %v", files)
	}
}

// --config excludes the single-route flags; logging flags and --grace
// override the file.
