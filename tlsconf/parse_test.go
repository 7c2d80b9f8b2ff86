package tlsconf

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestErrorKindNames(t *testing.T) {
	t.Parallel()
	want := []string{"unknown-authority", "untrusted-root", "self-signed", "self-signed-in-chain", "expired",
		"not-yet-valid", "hostname-mismatch", "invalid-purpose", "signature-failure", "path-length-exceeded",
		"name-constraints", "no-peer-certificate", "pin-mismatch"}
	kinds := ErrorKinds()
	if len(kinds) != len(want) {
		t.Fatalf("%d kinds, want %d", len(kinds), len(want))
	}
	for i, k := range kinds {
		if k.String() != want[i] {
			t.Errorf("kind %d = %q, want %q", i, k, want[i])
		}
		b, err := k.MarshalText()
		if err != nil || string(b) != want[i] {
			t.Errorf("MarshalText(%v) = %q, %v", k, b, err)
		}
		if p, err := ParseErrorKind(" " + strings.ToUpper(want[i]) + " "); err != nil || p != k {
			t.Errorf("ParseErrorKind(%q) = %v, %v", want[i], p, err)
		}
	}
	if _, err := ParseErrorKind("selfsigned"); err == nil || !strings.Contains(err.Error(), "self-signed") {
		t.Errorf("unknown kind error should list the names: %v", err)
	}
	if _, err := ErrorKind(0).MarshalText(); err == nil {
		t.Error("MarshalText of the zero kind: no error")
	}
	var k ErrorKind
	if err := json.Unmarshal([]byte(`"expired"`), &k); err != nil || k != Expired {
		t.Errorf("json: %v %v", k, err)
	}
	if PinMismatch.Ignorable() || !SelfSigned.Ignorable() {
		t.Error("Ignorable")
	}
}

func TestParseExpectedError(t *testing.T) {
	t.Parallel()
	fp := strings.Repeat("ab", 32)
	colon := strings.TrimSuffix(strings.Repeat("AB:", 32), ":")
	good := map[string]ExpectedError{
		"self-signed":                 {Kind: SelfSigned},
		" Expired ":                   {Kind: Expired},
		"self-signed:" + fp:           {Kind: SelfSigned, Fingerprint: fp},
		"hostname-mismatch:" + colon:  {Kind: HostnameMismatch, Fingerprint: fp},
		"unknown-authority: " + colon: {Kind: UnknownAuthority, Fingerprint: fp},
		"no-peer-certificate":         {Kind: NoPeerCertificate},
	}
	for s, want := range good {
		got, err := ParseExpectedError(s)
		if err != nil || got != want {
			t.Errorf("ParseExpectedError(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "nope", "pin-mismatch", "self-signed:", "self-signed:abc", "self-signed:" + fp + "00", "expired:" + strings.Repeat("zz", 32)} {
		if e, err := ParseExpectedError(s); err == nil {
			t.Errorf("ParseExpectedError(%q) = %v, want an error", s, e)
		}
	}
}

func TestParseIgnorePolicy(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]IgnoreMode{"": IgnoreNone, "none": IgnoreNone, "ALL": IgnoreAll, "expired": IgnoreListed} {
		p, err := ParseIgnorePolicy(s)
		if err != nil || p.Mode != want {
			t.Errorf("ParseIgnorePolicy(%q) = %v, %v", s, p, err)
		}
	}
	p, err := ParseIgnorePolicy("self-signed, expired\thostname-mismatch")
	if err != nil || !slices.Equal(p.Expected, []ExpectedError{{Kind: SelfSigned}, {Kind: Expired}, {Kind: HostnameMismatch}}) {
		t.Fatalf("list: %v %v", p, err)
	}
	if p.String() != "self-signed,expired,hostname-mismatch" {
		t.Errorf("String = %q", p.String())
	}
	if _, err := ParseIgnorePolicy("expired,pin-mismatch"); err == nil {
		t.Error("pin-mismatch accepted in an ignore list")
	}
	all := IgnorePolicy{Mode: IgnoreAll}
	if all.Ignores(SSLError{Kind: PinMismatch}) || !all.Ignores(SSLError{Kind: Expired}) {
		t.Error("ignore-all must ignore everything but pin-mismatch")
	}
}

func TestSSLErrorJSON(t *testing.T) {
	t.Parallel()
	c := newCert(t, leafSpec("localhost"), nil)
	b, err := json.Marshal(SSLError{Kind: SelfSigned, Cert: c.cert, Detail: "d"})
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil || v["kind"] != "self-signed" || v["fingerprint"] != Fingerprint(c.cert) {
		t.Fatalf("json %s: %v", b, err)
	}
}

func FuzzParsePin(f *testing.F) {
	for _, s := range []string{
		"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"sha256///AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		strings.Repeat("ab", 32),
		strings.TrimSuffix(strings.Repeat("AB:", 32), ":"),
		"cert-sha256:" + strings.Repeat("01", 32),
		"spki-sha256:" + strings.Repeat("ff", 32),
		"sha256:", "", "cert-sha256:", "sha256//====",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePin(s)
		if err != nil {
			return
		}
		if p.Kind != PinSPKI && p.Kind != PinCertificate {
			t.Fatalf("ParsePin(%q) returned kind %v", s, p.Kind)
		}
		q, err := ParsePin(p.String())
		if err != nil || q != p {
			t.Fatalf("round trip of %q via %q: %v, %v", s, p.String(), q, err)
		}
	})
}

func FuzzParseIgnorePolicy(f *testing.F) {
	for _, s := range []string{
		"none", "all", "self-signed", "self-signed:" + strings.Repeat("ab", 32),
		"expired,hostname-mismatch:" + strings.TrimSuffix(strings.Repeat("AB:", 32), ":"),
		"pin-mismatch", "expired:", ",,", " all ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseIgnorePolicy(s)
		if err != nil {
			return
		}
		for _, e := range p.Expected {
			if !e.Kind.Valid() || !e.Kind.Ignorable() {
				t.Fatalf("%q gave expected error %v", s, e)
			}
			if e.Fingerprint != "" && len(e.Fingerprint) != 64 {
				t.Fatalf("%q gave fingerprint %q", s, e.Fingerprint)
			}
			if q, err := ParseExpectedError(e.String()); err != nil || q != e {
				t.Fatalf("expected-error round trip %v: %v %v", e, q, err)
			}
		}
		q, err := ParseIgnorePolicy(p.String())
		if err != nil || q.Mode != p.Mode && !(p.Mode == IgnoreListed && len(p.Expected) == 0) || !slices.Equal(q.Expected, p.Expected) {
			t.Fatalf("policy round trip %q -> %q: %v %v", s, p.String(), q, err)
		}
	})
}
