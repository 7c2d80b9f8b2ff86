package psk

import (
	"crypto/hkdf"
	"crypto/hmac"
	"hash"

	"golang.org/x/crypto/cryptobyte"
)

// The TLS 1.3 key schedule (RFC 8446 §7.1) for an external PSK.

// expandLabel is HKDF-Expand-Label (§7.1).
func expandLabel(h Hash, secret []byte, label string, context []byte, length int) []byte {
	return expandLabelWith(hmac.New(h.new(), secret), h, secret, label, context, length)
}

// expandLabelWith is expandLabel on m, an HMAC keyed with secret (reset
// here), so that several labels of one secret share one HMAC. Every
// length the key schedule asks for fits in one hash block, where
// HKDF-Expand (RFC 5869 §2.3) is T(1) = HMAC(secret, info || 0x01).
func expandLabelWith(m hash.Hash, h Hash, secret []byte, label string, context []byte, length int) []byte {
	if length > h.size() || len(label) > 255-len("tls13 ") || len(context) > 255 {
		return expandLabelLong(h, secret, label, context, length)
	}
	m.Reset()
	var head [3]byte
	head[0], head[1], head[2] = byte(length>>8), byte(length), byte(len("tls13 ")+len(label))
	m.Write(head[:])
	m.Write([]byte("tls13 "))
	m.Write([]byte(label))
	m.Write([]byte{byte(len(context))})
	m.Write(context)
	m.Write([]byte{1})
	return m.Sum(nil)[:length]
}

// expandLabelLong is HKDF-Expand-Label through crypto/hkdf, for lengths
// beyond one hash block (none in TLS 1.3's key schedule).
func expandLabelLong(h Hash, secret []byte, label string, context []byte, length int) []byte {
	var b cryptobyte.Builder
	b.AddUint16(uint16(length))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddBytes([]byte("tls13 "))
		b.AddBytes([]byte(label))
	})
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddBytes(context)
	})
	info := b.BytesOrPanic()
	out, err := hkdf.Expand(h.new(), secret, string(info), length)
	if err != nil {
		// Only for length > 255*HashLen, which never happens here.
		panic("psk: HKDF-Expand-Label: " + err.Error())
	}
	return out
}

// deriveSecret is Derive-Secret(Secret, Label, Messages) (§7.1) with the
// transcript hash already computed.
func deriveSecret(h Hash, secret []byte, label string, transcriptHash []byte) []byte {
	return expandLabel(h, secret, label, transcriptHash, h.size())
}

func extract(h Hash, ikm, salt []byte) []byte {
	if ikm == nil {
		ikm = make([]byte, h.size())
	}
	out, err := hkdf.Extract(h.new(), ikm, salt)
	if err != nil {
		panic("psk: HKDF-Extract: " + err.Error())
	}
	return out
}

func emptyHash(h Hash) []byte {
	d := h.new()()
	return d.Sum(nil)
}

// earlySecret is HKDF-Extract(0, PSK).
func earlySecret(h Hash, psk []byte) []byte {
	return extract(h, psk, nil)
}

// binderKey is Derive-Secret(Early Secret, "ext binder" | "res binder", "").
// External PSKs (everything this package does) use "ext binder"; the
// resumption label exists for the RFC 8448 test vector.
func binderKey(h Hash, early []byte, external bool) []byte {
	label := "ext binder"
	if !external {
		label = "res binder"
	}
	return deriveSecret(h, early, label, emptyHash(h))
}

// finishedMAC computes HMAC(finished_key, transcriptHash) with
// finished_key = HKDF-Expand-Label(baseKey, "finished", "", Hash.length)
// (§4.4.4). The PSK binder is the same computation over the truncated
// ClientHello with the binder key as base key (§4.2.11.2).
func finishedMAC(h Hash, baseKey, transcriptHash []byte) []byte {
	fk := expandLabel(h, baseKey, "finished", nil, h.size())
	m := hmac.New(h.new(), fk)
	m.Write(transcriptHash)
	return m.Sum(nil)
}

// verifyFinished checks the peer's Finished message msg against
// finishedMAC(h, baseKey, transcriptHash); peer ("client" or "server")
// names the sender in the decrypt_error alert.
func verifyFinished(msg []byte, h Hash, baseKey, transcriptHash []byte, peer string) error {
	got, err := parseFinished(msg, h)
	if err != nil {
		return err
	}
	if !hmac.Equal(got, finishedMAC(h, baseKey, transcriptHash)) {
		return localAlert(AlertDecryptError, peer+" Finished does not verify")
	}
	return nil
}

// handshakeSecret is HKDF-Extract(Derive-Secret(ES, "derived", ""),
// (EC)DHE) with an all-zero input for psk_ke (shared == nil).
func handshakeSecret(h Hash, early, shared []byte) []byte {
	return extract(h, shared, deriveSecret(h, early, "derived", emptyHash(h)))
}

// masterSecret is HKDF-Extract(Derive-Secret(HS, "derived", ""), 0).
func masterSecret(h Hash, hs []byte) []byte {
	return extract(h, nil, deriveSecret(h, hs, "derived", emptyHash(h)))
}

// trafficKey derives the AEAD key and IV from a traffic secret (§7.3).
func trafficKey(s *cipherSuite, secret []byte) (key, iv []byte) {
	m := hmac.New(s.hash.new(), secret)
	key = expandLabelWith(m, s.hash, secret, "key", nil, s.keyLen)
	iv = expandLabelWith(m, s.hash, secret, "iv", nil, 12)
	return key, iv
}

// nextTrafficSecret is application_traffic_secret_N+1 (§7.2).
func nextTrafficSecret(h Hash, secret []byte) []byte {
	return expandLabel(h, secret, "traffic upd", nil, h.size())
}

// transcript is the running transcript hash (§4.4.1).
type transcript struct {
	h Hash
	d hash.Hash
}

func newTranscript(h Hash) *transcript { return &transcript{h: h, d: h.new()()} }

func (t *transcript) Write(p []byte) { t.d.Write(p) }

func (t *transcript) Sum() []byte { return t.d.Sum(nil) }

// restartForHRR replaces the transcript by message_hash(Hash(CH1))
// (§4.4.1) once a HelloRetryRequest is involved.
func (t *transcript) restartForHRR() {
	sum := t.Sum()
	t.d = t.h.new()()
	t.d.Write([]byte{typeMessageHash, 0, 0, byte(len(sum))})
	t.d.Write(sum)
}

// sumWith returns the hash of the transcript followed by extra, leaving
// the transcript unchanged (for binders over a truncated ClientHello).
func (t *transcript) sumWith(extra []byte) []byte {
	c, err := t.d.(hash.Cloner).Clone()
	if err != nil {
		panic("psk: transcript hash cannot be cloned: " + err.Error())
	}
	c.Write(extra)
	return c.Sum(nil)
}

// handshakeTrafficSecrets derives the handshake secret and both handshake
// traffic secrets (RFC 8446 §7.1) from the early secret, the (EC)DHE
// shared secret (nil for psk_ke) and the transcript hash through
// ServerHello.
func handshakeTrafficSecrets(h Hash, early, shared, transcriptHash []byte) (handshake, client, server []byte) {
	handshake = handshakeSecret(h, early, shared)
	client = deriveSecret(h, handshake, "c hs traffic", transcriptHash)
	server = deriveSecret(h, handshake, "s hs traffic", transcriptHash)
	return handshake, client, server
}
