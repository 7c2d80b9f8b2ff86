package psk

import (
	"crypto/ecdh"
	"io"
)

// (EC)DHE for psk_dhe_ke (RFC 8446 §4.2.8, §7.4) with crypto/ecdh.

func curve(g CurveID) ecdh.Curve {
	switch g {
	case X25519:
		return ecdh.X25519()
	case P256:
		return ecdh.P256()
	case P384:
		return ecdh.P384()
	}
	return nil
}

func generateKeyShare(g CurveID, rand io.Reader) (*ecdh.PrivateKey, error) {
	return curve(g).GenerateKey(rand)
}

// sharedSecret checks the peer's key share (§4.2.8.2: uncompressed points
// on the curve; X25519 rejects the all-zero result) and computes the
// shared secret. A bad share is illegal_parameter.
func sharedSecret(priv *ecdh.PrivateKey, g CurveID, peer []byte) ([]byte, error) {
	pub, err := curve(g).NewPublicKey(peer)
	if err != nil {
		return nil, illegal("invalid %v key share", g)
	}
	s, err := priv.ECDH(pub)
	if err != nil {
		return nil, illegal("invalid %v key share", g)
	}
	return s, nil
}
