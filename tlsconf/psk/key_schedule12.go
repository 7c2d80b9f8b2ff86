package psk

import (
	"crypto/hmac"
	"encoding/binary"
)

// The TLS 1.2 key schedule (RFC 5246 §5, §6.3, §8.1; RFC 4279 §2;
// RFC 5489 §2; RFC 7627 §4) for the PSK suites.

const (
	masterSecretLen12 = 48 // RFC 5246 §8.1
	finishedLen12     = 12 // RFC 5246 §7.4.9
)

// prf12 is PRF(secret, label, seed) = P_hash(secret, label + seed) with
// the suite's hash (RFC 5246 §5), truncated to n bytes.
func prf12(h Hash, secret []byte, label string, seed []byte, n int) []byte {
	labelSeed := append([]byte(label), seed...)
	out := make([]byte, 0, n+h.size())
	mac := hmac.New(h.new(), secret)
	mac.Write(labelSeed)
	a := mac.Sum(nil) // A(1)
	for len(out) < n {
		mac.Reset()
		mac.Write(a)
		mac.Write(labelSeed)
		out = mac.Sum(out)
		mac.Reset()
		mac.Write(a)
		a = mac.Sum(a[:0])
	}
	return out[:n]
}

// pskPremaster builds the premaster secret (RFC 4279 §2, RFC 5489 §2):
// uint16 len || other_secret || uint16 len || psk, where other_secret is
// N zero bytes for plain PSK (shared == nil) or the ECDH result.
func pskPremaster(key, shared []byte) []byte {
	other := shared
	if other == nil {
		other = make([]byte, len(key))
	}
	out := make([]byte, 0, 4+len(other)+len(key))
	out = binary.BigEndian.AppendUint16(out, uint16(len(other)))
	out = append(out, other...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(key)))
	return append(out, key...)
}

// masterSecret12 derives the master secret: with the extended master
// secret (RFC 7627 §4) from the session hash, the hash of the handshake
// up to and including ClientKeyExchange; otherwise from the randoms
// (RFC 5246 §8.1).
func masterSecret12(h Hash, premaster []byte, ems bool, sessionHash, clientRandom, serverRandom []byte) []byte {
	if ems {
		return prf12(h, premaster, "extended master secret", sessionHash, masterSecretLen12)
	}
	seed := append(append([]byte(nil), clientRandom...), serverRandom...)
	return prf12(h, premaster, "master secret", seed, masterSecretLen12)
}

// keys12 is one direction's record protection keys.
type keys12 struct {
	suite   *cipherSuite12
	key, iv []byte
}

// keysFromMasterSecret12 expands the key block (RFC 5246 §6.3). AEAD
// suites have no MAC keys; the "IV" is the implicit nonce part.
func keysFromMasterSecret12(s *cipherSuite12, master, clientRandom, serverRandom []byte) (client, server keys12) {
	seed := append(append([]byte(nil), serverRandom...), clientRandom...)
	kb := prf12(s.hash, master, "key expansion", seed, 2*s.keyLen+2*s.ivLen)
	client.suite, server.suite = s, s
	client.key, kb = kb[:s.keyLen], kb[s.keyLen:]
	server.key, kb = kb[:s.keyLen], kb[s.keyLen:]
	client.iv, kb = kb[:s.ivLen], kb[s.ivLen:]
	server.iv = kb[:s.ivLen]
	return client, server
}

// finished12 is verify_data = PRF(master_secret, label,
// Hash(handshake_messages))[0..11] (RFC 5246 §7.4.9).
func finished12(h Hash, master []byte, client bool, transcriptHash []byte) []byte {
	label := "server finished"
	if client {
		label = "client finished"
	}
	return prf12(h, master, label, transcriptHash, finishedLen12)
}

// readFinished12 reads the peer's Finished (RFC 5246 §7.4.9), which must
// follow its ChangeCipherSpec, and checks its verify_data against the
// transcript hash; fromClient says whose Finished it is. It returns the
// message for the transcript.
func (c *Conn) readFinished12(h Hash, master []byte, fromClient bool, transcriptHash []byte) ([]byte, error) {
	msg, err := c.readHandshake(typeFinished)
	if err != nil {
		return nil, err
	}
	if c.pendingRead != nil {
		return nil, localAlert(AlertUnexpectedMessage, "Finished before ChangeCipherSpec")
	}
	got, err := parseFinished12(msg)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(got, finished12(h, master, fromClient, transcriptHash)) {
		peer := "server"
		if fromClient {
			peer = "client"
		}
		return nil, localAlert(AlertDecryptError, peer+" Finished does not verify")
	}
	return msg, nil
}
