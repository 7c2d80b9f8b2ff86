package netproxy

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseChallenges(t *testing.T) {
	cases := []struct {
		in   []string
		want []authChallenge
	}{
		{[]string{`Basic realm="a b"`}, []authChallenge{{Scheme: "Basic", Params: map[string]string{"realm": "a b"}}}},
		{[]string{`NTLM`, `Negotiate`}, []authChallenge{{Scheme: "NTLM"}, {Scheme: "Negotiate"}}},
		{[]string{`NTLM TlRMTVNTUAACAAAA==`}, []authChallenge{{Scheme: "NTLM", Token: "TlRMTVNTUAACAAAA=="}}},
		{[]string{`Negotiate oRQwEqADCgEAoQsGCSqGSIb3EgECAg=, Basic realm=x`}, []authChallenge{
			{Scheme: "Negotiate", Token: "oRQwEqADCgEAoQsGCSqGSIb3EgECAg="}, {Scheme: "Basic", Params: map[string]string{"realm": "x"}}}},
		// Several challenges in one field, quoted commas and escapes.
		{[]string{`Basic realm="x, y", Digest realm="q\"r", nonce="n", qop="auth,auth-int", stale=TRUE, NTLM`}, []authChallenge{
			{Scheme: "Basic", Params: map[string]string{"realm": "x, y"}},
			{Scheme: "Digest", Params: map[string]string{"realm": `q"r`, "nonce": "n", "qop": "auth,auth-int", "stale": "TRUE"}},
			{Scheme: "NTLM"}}},
		{[]string{` , ,Basic  realm = "x" ,, `}, []authChallenge{{Scheme: "Basic", Params: map[string]string{"realm": "x"}}}},
		{[]string{`"garbage", Basic realm="x"`}, []authChallenge{{Scheme: "Basic", Params: map[string]string{"realm": "x"}}}},
		{[]string{`Digest realm="unterminated`}, []authChallenge{{Scheme: "Digest", Params: map[string]string{"realm": "unterminated"}}}},
		{[]string{""}, nil},
	}
	for _, tc := range cases {
		got := parseChallenges(tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
	}
}

func TestSchemeNames(t *testing.T) {
	got := schemeNames(parseChallenges([]string{`negotiate`, `ntlm`, `BASIC realm=x`, `NTLM`, `X-Custom a=b`}))
	if strings.Join(got, ",") != "Negotiate,NTLM,Basic,X-Custom" {
		t.Fatalf("got %v", got)
	}
	many := strings.Repeat("S a=b, ", 100)
	if n := len(parseChallenges([]string{many})); n != maxChallenges {
		t.Fatalf("kept %d challenges", n)
	}
}

// FuzzParseChallenges: any header value parses without panicking, within
// the limits, into challenges whose schemes are tokens.
func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{`Basic realm="x"`, `Digest realm="a\"b", nonce=n, qop="auth"`, `NTLM abc==, Negotiate`, `a=b=c,,"`, `Negotiate =`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs := parseChallenges([]string{s})
		if len(cs) > maxChallenges {
			t.Fatalf("%d challenges", len(cs))
		}
		for _, c := range cs {
			if c.Scheme == "" || len(c.Params) > maxAuthParams {
				t.Fatalf("bad challenge %+v", c)
			}
			for i := 0; i < len(c.Scheme); i++ {
				if !isTchar(c.Scheme[i]) {
					t.Fatalf("scheme %q", c.Scheme)
				}
			}
		}
		_, _ = bestDigest(cs)
	})
}

// FuzzNTLMChallenge: whatever CHALLENGE message a proxy sends, answering
// it returns a message or an error, never a panic (go-ntlmssp before
// v0.1.1 panicked on some, GO-2026-5543).
func FuzzNTLMChallenge(f *testing.F) {
	for _, s := range []string{
		"TlRMTVNTUAACAAAACQAJAK6qqqoBgoighJ8Jv8oVw84AAAAAAAA6AFdPUktHUk9VUA==", // squid's ntlm_fake_auth
		"TlRMTVNTUAACAAAAAAAAADgAAAAFgomiESIzRFVmd4gAAAAAAAAAAAAAAAAAAAAA",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		n := &negotiation{d: &Dialer{name: "http://proxy.test"}, creds: credentials{user: `D\u`, pass: "p", ok: true}}
		v, err := n.ntlmAuthenticate(token, true)
		if err == nil && !strings.HasPrefix(v, "NTLM ") {
			t.Fatalf("answer %q", v)
		}
	})
}
