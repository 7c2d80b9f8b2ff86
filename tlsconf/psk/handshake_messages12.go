package psk

import (
	"golang.org/x/crypto/cryptobyte"
)

// TLS 1.2 PSK handshake messages (RFC 4279 §2, RFC 5489 §2, RFC 5246
// §7.4), with the same conventions as handshake_messages.go: parsers take
// the whole message, reject trailing bytes and return the alert to send.

// curveTypeNamed is ECCurveType named_curve (RFC 8422 §5.4).
const curveTypeNamed uint8 = 3

// serverKeyExchangeMsg carries the PSK identity hint and, for
// ECDHE_PSK, the server's ephemeral public key (RFC 5489 §2). Its
// parameters are not signed: the Finished messages, keyed by the PSK,
// authenticate them.
type serverKeyExchangeMsg struct {
	hint   []byte
	ecdhe  bool
	group  CurveID
	public []byte
}

func (m *serverKeyExchangeMsg) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(typeServerKeyExchange)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.hint) })
		if m.ecdhe {
			b.AddUint8(curveTypeNamed)
			b.AddUint16(uint16(m.group))
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.public) })
		}
	})
	return b.Bytes()
}

// parseServerKeyExchange decodes a ServerKeyExchange for a PSK (ecdhe
// false) or ECDHE_PSK suite. A hint longer than MaxIdentityLength is
// handshake_failure, as OpenSSL answers; a curve type other than
// named_curve is illegal_parameter.
func parseServerKeyExchange(msg []byte, ecdhe bool) (*serverKeyExchangeMsg, error) {
	m := &serverKeyExchangeMsg{ecdhe: ecdhe}
	body, ok := messageBody(msg, typeServerKeyExchange)
	if !ok || !readUint16Bytes(&body, &m.hint) {
		return nil, decodeErr("ServerKeyExchange")
	}
	if len(m.hint) > MaxIdentityLength {
		return nil, localAlert(AlertHandshakeFailure, "PSK identity hint too long")
	}
	if ecdhe {
		var ct uint8
		var g uint16
		if !body.ReadUint8(&ct) || !body.ReadUint16(&g) || !readUint8Bytes(&body, &m.public) || len(m.public) == 0 {
			return nil, decodeErr("ServerKeyExchange ECDH parameters")
		}
		if ct != curveTypeNamed {
			return nil, illegal("ServerKeyExchange curve type %d", ct)
		}
		m.group = CurveID(g)
	}
	if !body.Empty() {
		return nil, decodeErr("ServerKeyExchange")
	}
	return m, nil
}

// clientKeyExchangeMsg carries the PSK identity and, for ECDHE_PSK, the
// client's ephemeral public key.
type clientKeyExchangeMsg struct {
	identity []byte
	public   []byte
}

func (m *clientKeyExchangeMsg) marshal(ecdhe bool) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(typeClientKeyExchange)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.identity) })
		if ecdhe {
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.public) })
		}
	})
	return b.Bytes()
}

// parseClientKeyExchange decodes a ClientKeyExchange for a PSK or
// ECDHE_PSK suite. The identity's content is checked by the caller.
func parseClientKeyExchange(msg []byte, ecdhe bool) (*clientKeyExchangeMsg, error) {
	m := &clientKeyExchangeMsg{}
	body, ok := messageBody(msg, typeClientKeyExchange)
	if !ok || !readUint16Bytes(&body, &m.identity) {
		return nil, decodeErr("ClientKeyExchange")
	}
	if ecdhe && (!readUint8Bytes(&body, &m.public) || len(m.public) == 0) {
		return nil, decodeErr("ClientKeyExchange ECDH public key")
	}
	if !body.Empty() {
		return nil, decodeErr("ClientKeyExchange")
	}
	return m, nil
}

var serverHelloDoneMsg = []byte{typeServerHelloDone, 0, 0, 0}

// parseServerHelloDone checks the empty ServerHelloDone (RFC 5246 §7.4.5).
func parseServerHelloDone(msg []byte) error {
	if len(msg) != 4 || msg[0] != typeServerHelloDone || msg[1]|msg[2]|msg[3] != 0 {
		return decodeErr("ServerHelloDone")
	}
	return nil
}

// parseFinished12 returns the 12-byte verify_data (RFC 5246 §7.4.9).
func parseFinished12(msg []byte) ([]byte, error) {
	if len(msg) != 4+finishedLen12 || msg[0] != typeFinished || msg[1] != 0 || msg[2] != 0 || int(msg[3]) != finishedLen12 {
		return nil, decodeErr("Finished")
	}
	return msg[4:], nil
}
