package netproxy

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
	"testing"
)

// digestFields parses the auth-params of a "Digest …" credentials value.
func digestFields(t *testing.T, v string) map[string]string {
	t.Helper()
	cs := parseChallenges([]string{v})
	if len(cs) != 1 || !cs[0].is("Digest") {
		t.Fatalf("not one Digest value: %q", v)
	}
	return cs[0].Params
}

// RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5.
func TestDigestRFC7616Examples(t *testing.T) {
	const (
		nonce  = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
		opaque = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
		cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
	)
	for _, tc := range []struct{ alg, response string }{
		{"SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
		{"MD5", "8ca523f5e9506fed4657c9700eebdbec"},
	} {
		ch := parseChallenges([]string{`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=` + tc.alg + `, nonce="` + nonce + `", opaque="` + opaque + `"`})
		d, ok := bestDigest(ch)
		if !ok {
			t.Fatalf("%s: challenge not usable: %+v", tc.alg, ch)
		}
		v := digestResponse(d, "Mufasa", "Circle of Life", "GET", "/dir/index.html", cnonce, 1)
		f := digestFields(t, v)
		want := map[string]string{"username": "Mufasa", "realm": "http-auth@example.org", "uri": "/dir/index.html", "algorithm": tc.alg,
			"nonce": nonce, "nc": "00000001", "cnonce": cnonce, "qop": "auth", "response": tc.response, "opaque": opaque}
		for k, w := range want {
			if f[k] != w {
				t.Errorf("%s: %s = %q, want %q (%s)", tc.alg, k, f[k], w, v)
			}
		}
	}
}

// RFC 7616 §3.9.2 (userhash, SHA-512-256, a UTF-8 user name), with the
// hashes corrected by the RFC's errata (the published ones do not match
// the example's inputs).
func TestDigestRFC7616Userhash(t *testing.T) {
	ch := parseChallenges([]string{`Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true`})
	d, ok := bestDigest(ch)
	if !ok {
		t.Fatal("not usable")
	}
	f := digestFields(t, digestResponse(d, "J\u00e4s\u00f8n Doe", "Secret, or not?", "GET", "/doe.json", "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v", 1))
	if f["username"] != "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b" || f["userhash"] != "true" ||
		f["response"] != "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5" {
		t.Fatalf("got %v", f)
	}
}

// The -sess variant (RFC 7616 §3.4.2) and the qop-less RFC 2069 form,
// computed from their definitions; a UTF-8 name without userhash goes as
// username* (RFC 8187).
func TestDigestSessAndLegacy(t *testing.T) {
	h := func(parts ...string) string {
		s := md5.Sum([]byte(strings.Join(parts, ":")))
		return hex.EncodeToString(s[:])
	}
	d, ok := bestDigest(parseChallenges([]string{`Digest realm="r", nonce="n", qop="auth", algorithm=MD5-sess`}))
	if !ok || !d.sess {
		t.Fatalf("MD5-sess not usable: %+v", d)
	}
	f := digestFields(t, digestResponse(d, "u", "p", "CONNECT", "h:443", "c", 2))
	ha1 := h(h("u", "r", "p"), "n", "c")
	if want := h(ha1, "n", "00000002", "c", "auth", h("CONNECT", "h:443")); f["response"] != want || f["algorithm"] != "MD5-sess" || f["nc"] != "00000002" {
		t.Fatalf("MD5-sess: got %v, want response %s", f, want)
	}

	d, ok = bestDigest(parseChallenges([]string{`Digest realm="r", nonce="n"`}))
	if !ok {
		t.Fatal("qop-less challenge not usable")
	}
	f = digestFields(t, digestResponse(d, "u", "p", "CONNECT", "h:443", "c", 1))
	if want := h(h("u", "r", "p"), "n", h("CONNECT", "h:443")); f["response"] != want || f["qop"] != "" || f["cnonce"] != "" {
		t.Fatalf("RFC 2069 form: got %v, want response %s", f, want)
	}

	d, _ = bestDigest(parseChallenges([]string{`Digest realm="r", nonce="n", qop="auth", charset=UTF-8`}))
	if v := digestResponse(d, "Jäsøn", "p", "CONNECT", "h:443", "c", 1); !strings.Contains(v, "username*=UTF-8''J%C3%A4s%C3%B8n") {
		t.Fatalf("UTF-8 user name: %s", v)
	}
}

// Of several Digest challenges the strongest usable algorithm wins;
// unknown algorithms and qops are not usable.
func TestDigestChoice(t *testing.T) {
	d, ok := bestDigest(parseChallenges([]string{
		`Digest realm="r", nonce="a", algorithm=MD5, qop="auth"`,
		`Digest realm="r", nonce="b", algorithm=SHA-256, qop="auth"`,
		`Digest realm="r", nonce="c", algorithm=SHA3-512, qop="auth"`,
	}))
	if !ok || d.nonce != "b" {
		t.Fatalf("got %+v", d)
	}
	for _, bad := range []string{
		`Digest realm="r", nonce="n", algorithm=SHA3-512`,
		`Digest realm="r", nonce="n", qop="auth-conf"`,
		`Digest realm="r"`,
	} {
		if _, ok := bestDigest(parseChallenges([]string{bad})); ok {
			t.Errorf("%s: usable", bad)
		}
	}
}
