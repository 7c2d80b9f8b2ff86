package psk

import (
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"strconv"
)

// Protocol numbers (RFC 8446 §4, Appendix B).
const (
	// VersionTLS13 is the protocol version this package speaks by default.
	VersionTLS13 uint16 = 0x0304
	// VersionTLS12 enables the TLS 1.2 PSK suites (RFC 4279, 5487, 5489,
	// 7905) when a configuration's MinVersion is set to it.
	VersionTLS12 uint16 = 0x0303
	versionTLS12        = VersionTLS12 // legacy_version on the wire (§4.1.2, §5.1)
)

// Record content types (RFC 8446 §5.1).
const (
	recordChangeCipherSpec uint8 = 20
	recordAlert            uint8 = 21
	recordHandshake        uint8 = 22
	recordApplicationData  uint8 = 23
)

// Handshake message types (RFC 8446 §4).
const (
	typeHelloRequest        uint8 = 0 // TLS 1.2 (RFC 5246 §7.4.1.1)
	typeClientHello         uint8 = 1
	typeServerHello         uint8 = 2
	typeNewSessionTicket    uint8 = 4
	typeEndOfEarlyData      uint8 = 5
	typeEncryptedExtensions uint8 = 8
	typeCertificate         uint8 = 11
	typeServerKeyExchange   uint8 = 12 // TLS 1.2 (RFC 4279 §2, RFC 5489 §2)
	typeCertificateRequest  uint8 = 13
	typeServerHelloDone     uint8 = 14 // TLS 1.2
	typeCertificateVerify   uint8 = 15
	typeClientKeyExchange   uint8 = 16 // TLS 1.2
	typeFinished            uint8 = 20
	typeKeyUpdate           uint8 = 24
	typeMessageHash         uint8 = 254 // §4.4.1, synthetic
)

// Extension code points (RFC 8446 §4.2, RFC 6066, RFC 7301).
const (
	extServerName          uint16 = 0
	extSupportedGroups     uint16 = 10
	extECPointFormats      uint16 = 11 // TLS 1.2 (RFC 8422 §5.1.2)
	extSignatureAlgorithms uint16 = 13
	extALPN                uint16 = 16
	extExtendedMS          uint16 = 23 // extended_master_secret (RFC 7627)
	extPreSharedKey        uint16 = 41
	extEarlyData           uint16 = 42
	extSupportedVersions   uint16 = 43
	extCookie              uint16 = 44
	extPSKModes            uint16 = 45
	extKeyShare            uint16 = 51
	extRenegotiationInfo   uint16 = 0xff01 // RFC 5746
)

// scsvRenegotiation is TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3).
const scsvRenegotiation uint16 = 0x00ff

// Downgrade sentinels (RFC 8446 §4.1.3): the last 8 bytes of a TLS 1.2
// ServerHello random from a server that also speaks TLS 1.3.
var (
	downgradeTLS12 = []byte("DOWNGRD\x01")
	downgradeTLS11 = []byte("DOWNGRD\x00")
)

// PSK key exchange modes (RFC 8446 §4.2.9).
const (
	modePSKKE    uint8 = 0 // psk_ke: no (EC)DHE, no forward secrecy
	modePSKDHEKE uint8 = 1 // psk_dhe_ke
)

// Limits. Every length read from the wire is bounded by one of these.
const (
	// MaxIdentityLength is the longest PSK identity accepted or sent, in
	// bytes. It is OpenSSL 3's PSK_MAX_IDENTITY_LEN minus its NUL, the
	// value Qt reports as maximumIdentityLength.
	MaxIdentityLength = 255
	// MaxKeyLength is the longest pre-shared key accepted, in bytes
	// (OpenSSL 3's PSK_MAX_PSK_LEN, Qt's maximumPreSharedKeyLength).
	MaxKeyLength = 512
	// MinKeyLength is the shortest pre-shared key accepted: 128 bits, as
	// RFC 9257 §6 and stunnel require. Keys must be random, never
	// passwords: the binder allows an offline dictionary attack.
	MinKeyLength = 16

	maxPlaintext       = 1 << 14     // §5.1
	maxCiphertext      = 1<<14 + 256 // §5.2
	maxHandshakeSize   = 64 << 10    // one handshake message
	maxIdentities      = 8           // identities examined per ClientHello
	maxUselessRecords  = 16          // consecutive empty/CCS records
	maxEarlyDataSkip   = 64 << 10    // §4.2.10 bytes of refused 0-RTT skipped
	keyUpdateThreshold = 1 << 23     // records before we rotate our write key (§5.5)
	recordHeaderLen    = 5
)

// Hash is the hash algorithm bound to an external PSK (RFC 8446 §4.2.11).
// The zero value is SHA256, the default that OpenSSL, GnuTLS, stunnel and
// Qt use for external PSKs.
type Hash uint8

const (
	// SHA256 binds a PSK to SHA-256: TLS_AES_128_GCM_SHA256 and
	// TLS_CHACHA20_POLY1305_SHA256.
	SHA256 Hash = iota
	// SHA384 binds a PSK to SHA-384: TLS_AES_256_GCM_SHA384 only.
	SHA384
)

// String returns "SHA-256" or "SHA-384".
func (h Hash) String() string {
	switch h {
	case SHA256:
		return "SHA-256"
	case SHA384:
		return "SHA-384"
	}
	return "Hash(" + strconv.Itoa(int(h)) + ")"
}

func (h Hash) valid() bool { return h == SHA256 || h == SHA384 }

func (h Hash) new() func() hash.Hash {
	if h == SHA384 {
		return sha512.New384
	}
	return sha256.New
}

func (h Hash) size() int {
	if h == SHA384 {
		return sha512.Size384
	}
	return sha256.Size
}

// CurveID names a key-exchange group (RFC 8446 §4.2.7). Its values are
// the IANA code points, as in crypto/tls.
type CurveID uint16

const (
	// X25519 is the default, preferred group.
	X25519 CurveID = 0x001d
	// P256 is secp256r1, the group every TLS 1.3 peer must support.
	P256 CurveID = 0x0017
	// P384 is secp384r1.
	P384 CurveID = 0x0018
)

// String returns the group's name.
func (c CurveID) String() string {
	switch c {
	case X25519:
		return "X25519"
	case P256:
		return "P-256"
	case P384:
		return "P-384"
	case 0:
		return "none"
	}
	return "CurveID(0x" + strconv.FormatUint(uint64(c), 16) + ")"
}

var defaultGroups = []CurveID{X25519, P256}

// helloRetryRequestRandom marks a ServerHello as a HelloRetryRequest
// (RFC 8446 §4.1.3): SHA-256("HelloRetryRequest").
var helloRetryRequestRandom = [32]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11,
	0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
	0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}
