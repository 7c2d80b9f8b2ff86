package tlsconf

import (
	"context"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// TestSPKIPinMatchesOpenSSL compares SPKIPin with the curl-documented
// openssl pipeline, and Fingerprint with openssl x509 -fingerprint.
func TestSPKIPinMatchesOpenSSL(t *testing.T) {
	t.Parallel()
	openssl := testpeer.LookPath(t, "openssl", "apt-get install openssl")
	if _, err := exec.LookPath("sh"); err != nil {
		testpeer.Missing(t, "sh", "apt-get install dash")
	}
	dir := t.TempDir()
	c := newCert(t, leafSpec("localhost"), nil)
	f := writePEM(t, dir, "c.pem", c.cert)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	script := `"$1" x509 -in "$2" -pubkey -noout | "$1" pkey -pubin -outform der | "$1" dgst -sha256 -binary | base64`
	out, err := exec.CommandContext(ctx, "sh", "-c", script, "sh", openssl, f).Output()
	if err != nil {
		t.Fatalf("openssl pipeline: %v", err)
	}
	if got, want := SPKIPin(c.cert), "sha256//"+strings.TrimSpace(string(out)); got != want {
		t.Fatalf("SPKIPin = %s, openssl = %s", got, want)
	}
	p, err := ParsePin("sha256//" + strings.TrimSpace(string(out)))
	if err != nil || !p.Matches(c.cert) {
		t.Fatalf("openssl's pin does not parse or match: %v", err)
	}

	out, err = exec.CommandContext(ctx, openssl, "x509", "-in", f, "-noout", "-fingerprint", "-sha256").Output()
	if err != nil {
		t.Fatal(err)
	}
	_, fp, _ := strings.Cut(strings.TrimSpace(string(out)), "=")
	if got := Fingerprint(c.cert); got != strings.ToLower(strings.ReplaceAll(fp, ":", "")) {
		t.Fatalf("Fingerprint = %s, openssl = %s", got, fp)
	}
	// openssl's colon form works verbatim as a certificate pin and in an
	// expected error.
	if p, err := ParsePin("cert-sha256:" + fp); err != nil || !p.Matches(c.cert) {
		t.Fatalf("cert-sha256:%s: %v", fp, err)
	}
	if e, err := ParseExpectedError("self-signed:" + fp); err != nil || e.Fingerprint != Fingerprint(c.cert) {
		t.Fatalf("self-signed:%s: %v %v", fp, e, err)
	}
}

func TestParsePinForms(t *testing.T) {
	t.Parallel()
	c := newCert(t, leafSpec("localhost"), nil)
	spki := SPKIPinOf(c.cert)
	whole := CertificatePinOf(c.cert)
	b64 := strings.TrimPrefix(SPKIPin(c.cert), "sha256//")
	spkiHex := hex.EncodeToString(spki.Sum[:])
	colon := func(h string) string {
		var parts []string
		for i := 0; i < len(h); i += 2 {
			parts = append(parts, h[i:i+2])
		}
		return strings.Join(parts, ":")
	}
	good := map[string]Pin{
		"sha256//" + b64:                                      spki,
		" sha256/" + b64 + " ":                                spki,
		"SHA256//" + b64:                                      spki,
		spkiHex:                                               spki,
		strings.ToUpper(colon(spkiHex)):                       spki,
		"spki-sha256:" + spkiHex:                              spki,
		"cert-sha256:" + Fingerprint(c.cert):                  whole,
		"CERT-SHA256:" + colon(Fingerprint(c.cert)):           whole,
		"cert-sha256:" + strings.ToUpper(Fingerprint(c.cert)): whole,
	}
	for s, want := range good {
		got, err := ParsePin(s)
		if err != nil || got != want {
			t.Errorf("ParsePin(%q) = %v, %v; want %v", s, got, err, want)
		}
		if got2, err := ParsePin(got.String()); err != nil || got2 != got {
			t.Errorf("round trip of %q: %v %v", s, got2, err)
		}
	}
	if spki.String() != SPKIPin(c.cert) {
		t.Errorf("Pin.String %s != SPKIPin %s", spki, SPKIPin(c.cert))
	}
	bad := []string{"", "sha256//", "sha256//" + b64[:40], "sha256//" + b64 + "A", "sha256:" + b64,
		spkiHex[:62], spkiHex + "00", "zz" + spkiHex[2:], "cert-sha256:" + b64, "md5//" + b64,
		"sha256//" + strings.TrimRight(b64, "=") + "_"}
	for _, s := range bad {
		if p, err := ParsePin(s); err == nil {
			t.Errorf("ParsePin(%q) = %v, want an error", s, p)
		}
	}
}

// TestBase64PinStartingWithSlash: a base64 hash may begin with '/', which
// the one-slash form must not swallow.
func TestBase64PinStartingWithSlash(t *testing.T) {
	t.Parallel()
	var p Pin
	p.Kind = PinSPKI
	p.Sum[0] = 0xfc // base64 "/..."
	s := p.String()
	if !strings.HasPrefix(s, "sha256///") {
		t.Fatalf("test setup: %s", s)
	}
	for _, in := range []string{s, "sha256/" + strings.TrimPrefix(s, "sha256//")} {
		if got, err := ParsePin(in); err != nil || got != p {
			t.Errorf("ParsePin(%q) = %v, %v", in, got, err)
		}
	}
}

func TestPinsFromPEM(t *testing.T) {
	t.Parallel()
	a := newCert(t, leafSpec("a"), nil)
	b := newCert(t, leafSpec("b"), nil)
	dir := t.TempDir()
	f := writePEM(t, dir, "pins.pem", a.cert, b.cert)
	for _, kind := range []PinKind{PinSPKI, PinCertificate} {
		pins, err := LoadPinFile(f, kind)
		if err != nil || len(pins) != 2 {
			t.Fatalf("LoadPinFile(%v) = %v, %v", kind, pins, err)
		}
		if !pins[0].Matches(a.cert) || !pins[1].Matches(b.cert) || pins[0].Matches(b.cert) || pins[0].Kind != kind {
			t.Fatalf("pins %v do not match their certificates", pins)
		}
	}
	if _, err := LoadPinFile(filepath.Join(dir, "missing.pem"), PinSPKI); err == nil {
		t.Fatal("missing file: no error")
	}
	if _, err := PinsFromPEM([]byte("not pem"), PinSPKI); err == nil {
		t.Fatal("no PEM: no error")
	}
}

// TestHandshakePins covers pin-only mode, pins with CA verification,
// chain matching and the rule that a pin mismatch is never ignorable.
func TestHandshakePins(t *testing.T) {
	t.Parallel()
	root := newCert(t, caSpec("Pin Root"), nil)
	inter := newCert(t, caSpec("Pin Intermediate"), root)
	leaf := newCert(t, leafSpec("localhost"), inter)
	selfSigned := newCert(t, leafSpec("localhost"), nil)
	other := newCert(t, leafSpec("localhost"), nil)

	caServer := serveChain(t, leaf, inter)
	ssServer := serveChain(t, selfSigned)

	cases := []struct {
		name   string
		srv    *server
		policy Policy
		want   []ErrorKind // unignored; nil: success
	}{
		{"pin-only-self-signed", ssServer, Policy{PinOnly: true, Pins: []Pin{SPKIPinOf(selfSigned.cert)}}, nil},
		{"pin-only-cert-pin", ssServer, Policy{PinOnly: true, Pins: []Pin{CertificatePinOf(selfSigned.cert)}}, nil},
		{"pin-only-one-of-several", ssServer, Policy{PinOnly: true, Pins: []Pin{SPKIPinOf(other.cert), SPKIPinOf(selfSigned.cert)}}, nil},
		{"pin-only-wrong-pin", ssServer, Policy{PinOnly: true, Pins: []Pin{SPKIPinOf(other.cert)}}, []ErrorKind{PinMismatch}},
		{"wrong-pin-ignore-all", ssServer, Policy{Ignore: IgnorePolicy{Mode: IgnoreAll}, Pins: []Pin{SPKIPinOf(other.cert)}}, []ErrorKind{PinMismatch}},
		{"wrong-pin-ignore-list", ssServer, Policy{Ignore: IgnorePolicy{Mode: IgnoreListed, Expected: []ExpectedError{{Kind: SelfSigned}, {Kind: PinMismatch}}}, Pins: []Pin{SPKIPinOf(other.cert)}}, []ErrorKind{PinMismatch}},
		{"pin-plus-ca-ok", caServer, Policy{Roots: pool(root), Pins: []Pin{SPKIPinOf(leaf.cert)}}, nil},
		{"pin-plus-ca-wrong-pin", caServer, Policy{Roots: pool(root), Pins: []Pin{SPKIPinOf(other.cert)}}, []ErrorKind{PinMismatch}},
		{"pin-plus-ca-untrusted", caServer, Policy{Roots: pool(other), Pins: []Pin{SPKIPinOf(leaf.cert)}}, []ErrorKind{UnknownAuthority}},
		{"pin-intermediate-leaf-mode", caServer, Policy{Roots: pool(root), Pins: []Pin{SPKIPinOf(inter.cert)}}, []ErrorKind{PinMismatch}},
		{"pin-intermediate-chain-mode", caServer, Policy{Roots: pool(root), Pins: []Pin{SPKIPinOf(inter.cert)}, PinMatch: PinMatchChain}, nil},
		{"pin-root-chain-mode", caServer, Policy{Roots: pool(root), Pins: []Pin{CertificatePinOf(root.cert)}, PinMatch: PinMatchChain}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dial(t, mustClient(t, &ClientOptions{ServerName: "localhost", Policy: tc.policy}), tc.srv)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("handshake failed: %v", err)
				}
				return
			}
			ve := verificationError(t, err)
			if got := ve.Kinds(); !slices.Equal(got, tc.want) {
				t.Fatalf("unignored = %v, want %v (%v)", got, tc.want, err)
			}
			if tc.want[0] == PinMismatch {
				msg := err.Error()
				for _, p := range tc.policy.Pins {
					if !strings.Contains(msg, p.String()) {
						t.Errorf("message does not name the expected pin %s: %s", p, msg)
					}
				}
				if !strings.Contains(msg, "seen leaf sha256//") {
					t.Errorf("message does not name the seen pin: %s", msg)
				}
			}
		})
	}
}

func TestPinOnlyNeedsPins(t *testing.T) {
	t.Parallel()
	if _, err := NewClient(&ClientOptions{Policy: Policy{PinOnly: true}}); err == nil {
		t.Fatal("PinOnly without pins: no error")
	}
	if _, err := NewClient(&ClientOptions{Policy: Policy{Pause: PauseOnSSLErrors}}); err == nil {
		t.Fatal("pause without registry: no error")
	}
}
