package psk

import (
	"crypto/aes"
	"crypto/cipher"
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

// CipherSuiteName returns the IANA name of a TLS 1.3 suite.
func CipherSuiteName(id uint16) string {
	switch id {
	case TLS_AES_128_GCM_SHA256:
		return "TLS_AES_128_GCM_SHA256"
	case TLS_AES_256_GCM_SHA384:
		return "TLS_AES_256_GCM_SHA384"
	case TLS_CHACHA20_POLY1305_SHA256:
		return "TLS_CHACHA20_POLY1305_SHA256"
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
