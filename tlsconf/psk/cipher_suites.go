package psk

import (
	"crypto/aes"
	"crypto/cipher"
	"slices"
	"strconv"

	"golang.org/x/crypto/chacha20poly1305"
)

// TLS 1.3 cipher suites (RFC 8446 §B.4). Only suites whose hash is the
// PSK's hash can be negotiated (§4.2.11).
const (
	TLS_AES_128_GCM_SHA256       uint16 = 0x1301
	TLS_AES_256_GCM_SHA384       uint16 = 0x1302
	TLS_CHACHA20_POLY1305_SHA256 uint16 = 0x1303
)

type cipherSuite struct {
	id     uint16
	keyLen int
	hash   Hash
	aead   func(key []byte) (cipher.AEAD, error)
}

// cipherSuites is the server's preference order.
var cipherSuites = []*cipherSuite{
	{TLS_AES_128_GCM_SHA256, 16, SHA256, aeadAESGCM},
	{TLS_CHACHA20_POLY1305_SHA256, 32, SHA256, chacha20poly1305.New},
	{TLS_AES_256_GCM_SHA384, 32, SHA384, aeadAESGCM},
}

func aeadAESGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func suiteByID(id uint16) *cipherSuite {
	for _, s := range cipherSuites {
		if s.id == id {
			return s
		}
	}
	return nil
}

// CipherSuiteName returns the IANA name of a TLS 1.3 or TLS 1.2 PSK suite.
func CipherSuiteName(id uint16) string {
	switch id {
	case TLS_AES_128_GCM_SHA256:
		return "TLS_AES_128_GCM_SHA256"
	case TLS_AES_256_GCM_SHA384:
		return "TLS_AES_256_GCM_SHA384"
	case TLS_CHACHA20_POLY1305_SHA256:
		return "TLS_CHACHA20_POLY1305_SHA256"
	case TLS_PSK_WITH_AES_128_GCM_SHA256:
		return "TLS_PSK_WITH_AES_128_GCM_SHA256"
	case TLS_PSK_WITH_AES_256_GCM_SHA384:
		return "TLS_PSK_WITH_AES_256_GCM_SHA384"
	case TLS_PSK_WITH_CHACHA20_POLY1305_SHA256:
		return "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256"
	case TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256:
		return "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256"
	}
	return "0x" + strconv.FormatUint(uint64(id), 16)
}

// suitesFor returns the configured suites (nil: all) usable with hash h,
// keeping the given order.
func suitesFor(ids []uint16, h Hash) []uint16 {
	if len(ids) == 0 {
		for _, s := range cipherSuites {
			ids = append(ids, s.id)
		}
	}
	var out []uint16
	for _, id := range ids {
		if s := suiteByID(id); s != nil && s.hash == h {
			out = append(out, id)
		}
	}
	return out
}

// TLS 1.2 PSK cipher suites (RFC 5487, RFC 7905; ECDHE_PSK per RFC 5489
// with RFC 7905's AEAD). AEAD only: no CBC, no RSA-PSK, no DHE-PSK.
// They are negotiated only when a configuration's MinVersion is
// VersionTLS12.
const (
	TLS_PSK_WITH_AES_128_GCM_SHA256             uint16 = 0x00a8
	TLS_PSK_WITH_AES_256_GCM_SHA384             uint16 = 0x00a9
	TLS_PSK_WITH_CHACHA20_POLY1305_SHA256       uint16 = 0xccab
	TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256 uint16 = 0xccac
)

// cipherSuite12 is a TLS 1.2 AEAD PSK suite. hash is the PRF hash (RFC
// 5246 §5); ivLen is the implicit part of the nonce: the 4-byte salt of
// GCM, which adds an 8-byte explicit nonce to each record (RFC 5288 §3),
// or ChaCha20-Poly1305's 12-byte IV, XORed with the sequence number
// (RFC 7905 §2).
type cipherSuite12 struct {
	id       uint16
	keyLen   int
	ivLen    int
	explicit bool
	hash     Hash
	ecdhe    bool
	aead     func(key []byte) (cipher.AEAD, error)
}

// cipherSuites12 is the server's default preference order: forward
// secrecy first, then the suites embedded stacks use most.
var cipherSuites12 = []*cipherSuite12{
	{TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, 32, 12, false, SHA256, true, chacha20poly1305.New},
	{TLS_PSK_WITH_AES_128_GCM_SHA256, 16, 4, true, SHA256, false, aeadAESGCM},
	{TLS_PSK_WITH_AES_256_GCM_SHA384, 32, 4, true, SHA384, false, aeadAESGCM},
	{TLS_PSK_WITH_CHACHA20_POLY1305_SHA256, 32, 12, false, SHA256, false, chacha20poly1305.New},
}

func suite12ByID(id uint16) *cipherSuite12 {
	for _, s := range cipherSuites12 {
		if s.id == id {
			return s
		}
	}
	return nil
}

// suites12For returns the configured TLS 1.2 suites (nil: all), dropping
// unknown ones and keeping the given order.
func suites12For(ids []uint16) []uint16 {
	if len(ids) == 0 {
		for _, s := range cipherSuites12 {
			ids = append(ids, s.id)
		}
	}
	var out []uint16
	for _, id := range ids {
		if suite12ByID(id) != nil && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
