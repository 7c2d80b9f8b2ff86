package proxy

import (
	"net/netip"
	"testing"
)

// A client's forwarding headers reach the upstream only from a trusted
// forwarder; from anyone else they are dropped and the proxy's own name
// the client (issue 9 item 4: 6.6.6.6 was passed on).
func TestForwardedHeadersTrust(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil, echoHandle)
	untrusted, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url()}}})
	trusted, _ := startProxy(t, Options{
		Routes:            []Route{{Upstream: up.url()}},
		TrustedForwarders: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	// Trusting PROXY protocol senders does not trust their clients' headers.
	proxyProto, _ := startProxy(t, Options{
		Routes:         []Route{{Upstream: up.url()}},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	spoof := "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n" +
		"Forwarded: for=6.6.6.6;proto=https\r\nX-Real-IP: 6.6.6.6\r\nX_Forwarded_For: 6.6.6.6\r\n"
	cases := []struct {
		name   string
		base   string
		prefix string
		want   map[string]string // "" = absent
	}{
		{"untrusted", untrusted, "", map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "x",
			"Forwarded": "for=127.0.0.1;proto=http;host=x", "X-Real-Ip": "", "X_forwarded_for": "",
		}},
		{"trusted forwarder", trusted, "", map[string]string{
			"X-Forwarded-For": "6.6.6.6, 127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example",
			"Forwarded": "for=6.6.6.6;proto=https, for=127.0.0.1;proto=http;host=x", "X-Real-Ip": "6.6.6.6", "X_forwarded_for": "6.6.6.6",
		}},
		{"client behind a trusted PROXY protocol sender", proxyProto, "PROXY TCP4 203.0.113.7 127.0.0.1 5555 443\r\n", map[string]string{
			"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "x",
			"Forwarded": "for=203.0.113.7;proto=http;host=x", "X-Real-Ip": "", "X_forwarded_for": "",
		}},
	}
	for _, tc := range cases {
		resp, nc := rawDial(t, tc.base, []byte(tc.prefix), handshake+spoof+"\r\n")
		nc.Close()
		if resp.StatusCode != 101 {
			t.Errorf("%s: status %d", tc.name, resp.StatusCode)
			continue
		}
		h := up.lastRequest().Header
		for name, want := range tc.want {
			if got := h[name]; want == "" && len(got) != 0 || want != "" && (len(got) != 1 || got[0] != want) {
				t.Errorf("%s: upstream saw %s %q, want %q", tc.name, name, got, want)
			}
		}
	}
}

// Forwarded parameter values are quoted unless they are tokens, with
// backslash and double quote escaped, in one allocation (a
// strings.Replacer built per connection used to cost about 7 KiB).
func TestQuoteForwarded(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":      "example.com",
		"example.com:8443": `"example.com:8443"`,
		"[::1]:443":        `"[::1]:443"`,
		`a"b\c`:            `"a\"b\\c"`,
		"":                 "",
	} {
		if got := quoteForwarded(in); got != want {
			t.Errorf("quoteForwarded(%q) = %s, want %s", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = quoteForwarded("127.0.0.1:19443") }); n > 1 {
		t.Errorf("quoteForwarded allocates %v times, want at most 1", n)
	}
}
