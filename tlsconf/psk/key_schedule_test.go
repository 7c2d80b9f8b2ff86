package psk

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRFC8448Binder checks HKDF-Expand-Label, the early secret, the binder
// key and the binder against RFC 8448 §4 (resumed 0-RTT handshake): the
// same computation as an external PSK, with label "res binder".
func TestRFC8448Binder(t *testing.T) {
	resMaster := mustHex(t, "7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c")
	psk := expandLabel(SHA256, resMaster, "resumption", []byte{0, 0}, 32)
	if want := mustHex(t, "4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3"); !bytes.Equal(psk, want) {
		t.Fatalf("PSK %x", psk)
	}
	early := earlySecret(SHA256, psk)
	if want := mustHex(t, "9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c"); !bytes.Equal(early, want) {
		t.Fatalf("early secret %x", early)
	}
	bk := binderKey(SHA256, early, false)
	if want := mustHex(t, "69fe131a3bbad5d63c64eebcc30e395b9d8107726a13d074e389dbc8a4e47256"); !bytes.Equal(bk, want) {
		t.Fatalf("binder key %x", bk)
	}
	fk := expandLabel(SHA256, bk, "finished", nil, 32)
	if want := mustHex(t, "5588673e72cb59c87d220caffe94f2dea9a3b1609f7d50e90a48227db9ed7eaa"); !bytes.Equal(fk, want) {
		t.Fatalf("finished key %x", fk)
	}
	binderHash := mustHex(t, "63224b2e4573f2d3454ca84b9d009a04f6be9e05711a8396473aefa01e924a14")
	binder := finishedMAC(SHA256, bk, binderHash)
	if want := mustHex(t, "3add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d"); !bytes.Equal(binder, want) {
		t.Fatalf("binder %x", binder)
	}
	if bytes.Equal(binderKey(SHA256, early, true), bk) {
		t.Fatal("ext binder key equals res binder key")
	}
}

// captureDir holds captured OpenSSL 3.0.22 external-PSK handshakes with
// key logs (copied from the project research, see its README.md).
const captureDir = "testdata/tls13-psk"

// capture is one OpenSSL -msg dump: handshake messages by name, in order.
type capture struct {
	names []string
	msgs  [][]byte
}

func (c *capture) get(t *testing.T, name string, nth int) []byte {
	t.Helper()
	for i, n := range c.names {
		if n == name {
			if nth == 0 {
				return c.msgs[i]
			}
			nth--
		}
	}
	t.Fatalf("no %s #%d in capture", name, nth)
	return nil
}

func readCapture(t *testing.T, name string) *capture {
	t.Helper()
	f, err := os.Open(filepath.Join(captureDir, name))
	if err != nil {
		// The captures are committed (see .gitignore): a missing one is a
		// broken checkout, never a reason to skip.
		t.Fatalf("captured transcript missing: %v", err)
	}
	defer f.Close()
	c := &capture{}
	var cur *bytes.Buffer
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, ">>> ") || strings.HasPrefix(line, "<<< ") {
			cur = nil
			if i := strings.Index(line, "Handshake [length "); i >= 0 {
				name := strings.TrimSpace(line[strings.LastIndex(line, ",")+1:])
				c.names = append(c.names, name)
				c.msgs = append(c.msgs, nil)
				cur = new(bytes.Buffer)
			}
			continue
		}
		if cur != nil && strings.HasPrefix(line, "    ") {
			cur.Write(mustHex(t, strings.ReplaceAll(strings.TrimSpace(line), " ", "")))
			c.msgs[len(c.msgs)-1] = cur.Bytes()
			continue
		}
		cur = nil
	}
	return c
}

func readKeylog(t *testing.T, name string) map[string][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(captureDir, name))
	if err != nil {
		t.Fatalf("captured key log missing: %v", err)
	}
	m := make(map[string][]byte)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && !strings.HasPrefix(line, "#") {
			m[f[0]] = mustHex(t, f[2])
		}
	}
	return m
}

func sum256(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// checkBinder recomputes the ClientHello's binder with "ext binder".
func checkBinder(t *testing.T, chRaw []byte) *clientHelloMsg {
	t.Helper()
	ch, err := parseClientHello(chRaw)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.identities) != 1 || string(ch.identities[0].identity) != testIdentity || ch.identities[0].age != 0 {
		t.Fatalf("identities %+v", ch.identities)
	}
	early := earlySecret(SHA256, testKey(t))
	truncated := chRaw[:len(chRaw)-ch.bindersLen()]
	if got := finishedMAC(SHA256, binderKey(SHA256, early, true), sum256(truncated)); !bytes.Equal(got, ch.binders[0]) {
		t.Fatalf("ext binder %x, captured %x", got, ch.binders[0])
	}
	if got := finishedMAC(SHA256, binderKey(SHA256, early, false), sum256(truncated)); bytes.Equal(got, ch.binders[0]) {
		t.Fatal("the res binder label matches an external PSK binder")
	}
	return ch
}

// TestCapturedPSKDHE checks an OpenSSL s_client psk_dhe_ke handshake: the
// binder, and both Finished messages under the logged handshake secrets.
func TestCapturedPSKDHE(t *testing.T) {
	c := readCapture(t, "msg_pskdhe_client.out")
	keys := readKeylog(t, "keylog_pskdhe_client.txt")
	chRaw, shRaw := c.get(t, "ClientHello", 0), c.get(t, "ServerHello", 0)
	eeRaw, sfRaw, cfRaw := c.get(t, "EncryptedExtensions", 0), c.get(t, "Finished", 0), c.get(t, "Finished", 1)
	checkBinder(t, chRaw)
	sh, err := parseServerHello(shRaw)
	if err != nil {
		t.Fatal(err)
	}
	if sh.cipherSuite != TLS_CHACHA20_POLY1305_SHA256 || !sh.hasPSK || sh.selectedIdentity != 0 || sh.keyShare.group != X25519 {
		t.Fatalf("ServerHello %+v", sh)
	}
	if _, err := parseEncryptedExtensions(eeRaw); err != nil {
		t.Fatal(err)
	}
	sfin, _ := parseFinished(sfRaw, SHA256)
	if got := finishedMAC(SHA256, keys["SERVER_HANDSHAKE_TRAFFIC_SECRET"], sum256(chRaw, shRaw, eeRaw)); !bytes.Equal(got, sfin) {
		t.Fatalf("server Finished %x, captured %x", got, sfin)
	}
	cfin, _ := parseFinished(cfRaw, SHA256)
	if got := finishedMAC(SHA256, keys["CLIENT_HANDSHAKE_TRAFFIC_SECRET"], sum256(chRaw, shRaw, eeRaw, sfRaw)); !bytes.Equal(got, cfin) {
		t.Fatalf("client Finished %x, captured %x", got, cfin)
	}
	nst := c.get(t, "NewSessionTicket", 0)
	if err := checkNewSessionTicket(nst); err != nil {
		t.Fatal(err)
	}
}

// TestCapturedPSKKE checks the whole psk_ke key schedule (zero (EC)DHE
// input) against an OpenSSL s_server key log: handshake, application and
// exporter secrets, and both Finished messages.
func TestCapturedPSKKE(t *testing.T) {
	c := readCapture(t, "msg_pskke_server.out")
	keys := readKeylog(t, "keylog_pskke_server.txt")
	chRaw, shRaw := c.get(t, "ClientHello", 0), c.get(t, "ServerHello", 0)
	eeRaw, sfRaw, cfRaw := c.get(t, "EncryptedExtensions", 0), c.get(t, "Finished", 0), c.get(t, "Finished", 1)
	ch := checkBinder(t, chRaw)
	if len(ch.pskModes) != 1 || ch.pskModes[0] != modePSKKE {
		t.Fatalf("modes %v", ch.pskModes)
	}
	sh, err := parseServerHello(shRaw)
	if err != nil {
		t.Fatal(err)
	}
	if sh.hasKeyShare || sh.cipherSuite != TLS_CHACHA20_POLY1305_SHA256 {
		t.Fatalf("ServerHello %+v", sh)
	}
	early := earlySecret(SHA256, testKey(t))
	hsSecret := handshakeSecret(SHA256, early, nil)
	th := sum256(chRaw, shRaw)
	for label, name := range map[string]string{"c hs traffic": "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "s hs traffic": "SERVER_HANDSHAKE_TRAFFIC_SECRET"} {
		if got := deriveSecret(SHA256, hsSecret, label, th); !bytes.Equal(got, keys[name]) {
			t.Fatalf("%s %x, key log %x", label, got, keys[name])
		}
	}
	sfin, _ := parseFinished(sfRaw, SHA256)
	if got := finishedMAC(SHA256, keys["SERVER_HANDSHAKE_TRAFFIC_SECRET"], sum256(chRaw, shRaw, eeRaw)); !bytes.Equal(got, sfin) {
		t.Fatal("server Finished")
	}
	cfin, _ := parseFinished(cfRaw, SHA256)
	if got := finishedMAC(SHA256, keys["CLIENT_HANDSHAKE_TRAFFIC_SECRET"], sum256(chRaw, shRaw, eeRaw, sfRaw)); !bytes.Equal(got, cfin) {
		t.Fatal("client Finished")
	}
	master := masterSecret(SHA256, hsSecret)
	th = sum256(chRaw, shRaw, eeRaw, sfRaw)
	for label, name := range map[string]string{"c ap traffic": "CLIENT_TRAFFIC_SECRET_0", "s ap traffic": "SERVER_TRAFFIC_SECRET_0", "exp master": "EXPORTER_SECRET"} {
		if got := deriveSecret(SHA256, master, label, th); !bytes.Equal(got, keys[name]) {
			t.Fatalf("%s %x, key log %x", label, got, keys[name])
		}
	}
}

// The one-block HKDF-Expand-Label equals crypto/hkdf's for every label
// and length the key schedule uses, with both hashes, also when one HMAC
// serves several labels in turn (trafficKey).
func TestExpandLabelOneBlock(t *testing.T) {
	for _, h := range []Hash{SHA256, SHA384} {
		secret := bytes.Repeat([]byte{0x5a}, h.size())
		m := hmac.New(h.new(), secret)
		for _, c := range []struct {
			label   string
			context []byte
			length  int
		}{
			{"key", nil, 16}, {"key", nil, 32}, {"iv", nil, 12}, {"finished", nil, h.size()},
			{"derived", emptyHash(h), h.size()}, {"c hs traffic", bytes.Repeat([]byte{7}, h.size()), h.size()},
			{"traffic upd", nil, h.size()}, {"", nil, 1},
		} {
			want := expandLabelLong(h, secret, c.label, c.context, c.length)
			if got := expandLabel(h, secret, c.label, c.context, c.length); !bytes.Equal(got, want) {
				t.Errorf("hash %d %q/%d: %x, want %x", h, c.label, c.length, got, want)
			}
			if got := expandLabelWith(m, h, secret, c.label, c.context, c.length); !bytes.Equal(got, want) {
				t.Errorf("hash %d %q/%d with a shared HMAC: %x, want %x", h, c.label, c.length, got, want)
			}
		}
	}
}
