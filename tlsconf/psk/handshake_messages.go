package psk

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Handshake messages (RFC 8446 §4) built and parsed with cryptobyte.
// Parsers take the whole message including its 4-byte header, reject
// trailing bytes, and return an *AlertError naming the alert to send:
// decode_error for malformed encodings, illegal_parameter for values that
// are well-formed but forbidden.

type keyShare struct {
	group CurveID
	data  []byte
}

type pskIdentity struct {
	identity []byte
	age      uint32 // obfuscated_ticket_age; 0 for external PSKs
}

// clientHelloMsg is a ClientHello (§4.1.2).
type clientHelloMsg struct {
	raw                []byte
	vers               uint16
	random             []byte
	sessionID          []byte
	cipherSuites       []uint16
	compressionMethods []uint8
	serverName         string
	supportedGroups    []CurveID
	keyShares          []keyShare
	supportedVersions  []uint16
	pskModes           []uint8
	alpnProtocols      []string
	earlyData          bool
	cookie             []byte
	signatureAlgs      bool    // signature_algorithms present (certificate-capable client)
	ems                bool    // extended_master_secret (RFC 7627)
	secureReneg        bool    // empty renegotiation_info (RFC 5746)
	ecPointFormats     []uint8 // ec_point_formats (RFC 8422 §5.1.2)
	identities         []pskIdentity
	binders            [][]byte
	extensions         []uint16 // extension types in wire order
}

func decodeErr(what string) *AlertError {
	return localAlert(AlertDecodeError, "malformed "+what)
}

func illegal(format string, args ...any) *AlertError {
	return wrapAlert(AlertIllegalParameter, fmt.Errorf(format, args...))
}

// messageBody returns the body of msg, which must be exactly one handshake
// message of type typ: msg_type, a uint24 length and that many bytes (§4).
func messageBody(msg []byte, typ uint8) (cryptobyte.String, bool) {
	s := cryptobyte.String(msg)
	var t uint8
	var body cryptobyte.String
	if !s.ReadUint8(&t) || t != typ || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() {
		return nil, false
	}
	return body, true
}

// readExtensions calls each for every extension of the block exts of the
// message named msgName, in wire order, and stops at its first error. A
// malformed block is decode_error; an extension type seen twice is
// illegal_parameter (§4.2: at most one extension of a type per block).
func readExtensions(exts cryptobyte.String, msgName string, each func(ext uint16, data cryptobyte.String) error) error {
	seen := make(map[uint16]bool)
	for !exts.Empty() {
		var ext uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&ext) || !exts.ReadUint16LengthPrefixed(&data) {
			return decodeErr(msgName + " extensions")
		}
		if seen[ext] {
			return illegal("duplicate extension %d in %s", ext, msgName)
		}
		seen[ext] = true
		if err := each(ext, data); err != nil {
			return err
		}
	}
	return nil
}

// bindersLen returns the length of the binders list as it appears at the
// end of the ClientHello: its 2-byte length plus each 1-byte-prefixed
// binder (§4.2.11.2: the truncated ClientHello ends before it).
func (m *clientHelloMsg) bindersLen() int {
	n := 2
	for _, b := range m.binders {
		n += 1 + len(b)
	}
	return n
}

// addHead adds the ClientHello's fields before its extensions
// (RFC 8446 §4.1.2): version, random, session ID, cipher suites and
// compression methods.
func (m *clientHelloMsg) addHead(b *cryptobyte.Builder) {
	b.AddUint16(m.vers)
	b.AddBytes(m.random)
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.sessionID) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, s := range m.cipherSuites {
			b.AddUint16(s)
		}
	})
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.compressionMethods) })
}

// marshal encodes the ClientHello with pre_shared_key (when identities
// are set) as the last extension, as §4.2.11 requires.
func (m *clientHelloMsg) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(typeClientHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		m.addHead(b)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			if m.serverName != "" {
				// RFC 6066 §3
				b.AddUint16(extServerName)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						b.AddUint8(0) // host_name
						b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(m.serverName)) })
					})
				})
			}
			if len(m.supportedGroups) > 0 { // §4.2.7
				b.AddUint16(extSupportedGroups)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, g := range m.supportedGroups {
							b.AddUint16(uint16(g))
						}
					})
				})
			}
			if len(m.keyShares) > 0 { // §4.2.8
				b.AddUint16(extKeyShare)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, ks := range m.keyShares {
							b.AddUint16(uint16(ks.group))
							b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ks.data) })
						}
					})
				})
			}
			if len(m.alpnProtocols) > 0 { // RFC 7301 §3.1
				b.AddUint16(extALPN)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, p := range m.alpnProtocols {
							b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(p)) })
						}
					})
				})
			}
			if len(m.cookie) > 0 { // §4.2.2
				b.AddUint16(extCookie)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.cookie) })
				})
			}
			if len(m.supportedVersions) > 0 { // §4.2.1
				b.AddUint16(extSupportedVersions)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, v := range m.supportedVersions {
							b.AddUint16(v)
						}
					})
				})
			}
			if len(m.pskModes) > 0 { // §4.2.9
				b.AddUint16(extPSKModes)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.pskModes) })
				})
			}
			if len(m.ecPointFormats) > 0 { // RFC 8422 §5.1.2, TLS 1.2 ECDHE_PSK
				b.AddUint16(extECPointFormats)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.ecPointFormats) })
				})
			}
			if m.ems { // RFC 7627 §5.1
				b.AddUint16(extExtendedMS)
				b.AddUint16(0)
			}
			if len(m.identities) > 0 { // §4.2.11, last
				b.AddUint16(extPreSharedKey)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, id := range m.identities {
							b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(id.identity) })
							b.AddUint32(id.age)
						}
					})
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, bi := range m.binders {
							b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(bi) })
						}
					})
				})
			}
		})
	})
	return b.Bytes()
}

// parseClientHello decodes a ClientHello strictly: duplicate extensions
// and a pre_shared_key that is not last are illegal_parameter (§4.2,
// §4.2.11).
func parseClientHello(msg []byte) (*clientHelloMsg, error) {
	m := &clientHelloMsg{raw: msg}
	body, ok := messageBody(msg, typeClientHello)
	if !ok {
		return nil, decodeErr("ClientHello header")
	}
	var suites, comp, exts cryptobyte.String
	if !body.ReadUint16(&m.vers) || !body.ReadBytes(&m.random, 32) ||
		!readUint8Bytes(&body, &m.sessionID) || len(m.sessionID) > 32 ||
		!body.ReadUint16LengthPrefixed(&suites) || suites.Empty() || len(suites)%2 != 0 ||
		!body.ReadUint8LengthPrefixed(&comp) || comp.Empty() {
		return nil, decodeErr("ClientHello")
	}
	for !suites.Empty() {
		var id uint16
		suites.ReadUint16(&id)
		m.cipherSuites = append(m.cipherSuites, id)
	}
	m.compressionMethods = []uint8(comp)
	if body.Empty() {
		return m, nil // no extensions: a pre-TLS-1.3 client
	}
	if !body.ReadUint16LengthPrefixed(&exts) || !body.Empty() {
		return nil, decodeErr("ClientHello extensions")
	}
	err := readExtensions(exts, "ClientHello", func(ext uint16, data cryptobyte.String) error {
		if n := len(m.extensions); n > 0 && m.extensions[n-1] == extPreSharedKey {
			return illegal("pre_shared_key is not the last extension")
		}
		m.extensions = append(m.extensions, ext)
		return m.parseExtension(ext, data)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (m *clientHelloMsg) parseExtension(ext uint16, data cryptobyte.String) error {
	switch ext {
	case extServerName: // RFC 6066 §3
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) || list.Empty() || !data.Empty() {
			return decodeErr("server_name")
		}
		for !list.Empty() {
			var typ uint8
			var name cryptobyte.String
			if !list.ReadUint8(&typ) || !list.ReadUint16LengthPrefixed(&name) || name.Empty() {
				return decodeErr("server_name")
			}
			if typ == 0 && m.serverName == "" {
				m.serverName = string(name)
			}
		}
	case extSupportedGroups: // §4.2.7
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) || list.Empty() || len(list)%2 != 0 || !data.Empty() {
			return decodeErr("supported_groups")
		}
		for !list.Empty() {
			var g uint16
			list.ReadUint16(&g)
			m.supportedGroups = append(m.supportedGroups, CurveID(g))
		}
	case extKeyShare: // §4.2.8
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() {
			return decodeErr("key_share")
		}
		for !list.Empty() {
			var ks keyShare
			var g uint16
			var kx cryptobyte.String
			if !list.ReadUint16(&g) || !list.ReadUint16LengthPrefixed(&kx) || kx.Empty() {
				return decodeErr("key_share")
			}
			ks.group, ks.data = CurveID(g), []byte(kx)
			for _, prev := range m.keyShares {
				if prev.group == ks.group {
					return illegal("two key shares for group %v", ks.group)
				}
			}
			m.keyShares = append(m.keyShares, ks)
		}
	case extSupportedVersions: // §4.2.1
		var list cryptobyte.String
		if !data.ReadUint8LengthPrefixed(&list) || list.Empty() || len(list)%2 != 0 || !data.Empty() {
			return decodeErr("supported_versions")
		}
		for !list.Empty() {
			var v uint16
			list.ReadUint16(&v)
			m.supportedVersions = append(m.supportedVersions, v)
		}
	case extPSKModes: // §4.2.9
		if !readUint8Bytes(&data, &m.pskModes) || len(m.pskModes) == 0 || !data.Empty() {
			return decodeErr("psk_key_exchange_modes")
		}
	case extALPN: // RFC 7301 §3.1
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) || list.Empty() || !data.Empty() {
			return decodeErr("application_layer_protocol_negotiation")
		}
		for !list.Empty() {
			var p cryptobyte.String
			if !list.ReadUint8LengthPrefixed(&p) || p.Empty() {
				return decodeErr("application_layer_protocol_negotiation")
			}
			m.alpnProtocols = append(m.alpnProtocols, string(p))
		}
	case extEarlyData: // §4.2.10
		if !data.Empty() {
			return decodeErr("early_data")
		}
		m.earlyData = true
	case extCookie: // §4.2.2
		if !readUint16Bytes(&data, &m.cookie) || len(m.cookie) == 0 || !data.Empty() {
			return decodeErr("cookie")
		}
	case extSignatureAlgorithms:
		m.signatureAlgs = true
	case extExtendedMS: // RFC 7627 §5.1
		if !data.Empty() {
			return decodeErr("extended_master_secret")
		}
		m.ems = true
	case extRenegotiationInfo: // RFC 5746 §3.2
		var rc []byte
		if !readUint8Bytes(&data, &rc) || !data.Empty() {
			return decodeErr("renegotiation_info")
		}
		if len(rc) != 0 { // §3.6: an initial handshake has nothing to bind to
			return localAlert(AlertHandshakeFailure, "renegotiation_info with renegotiated_connection")
		}
		m.secureReneg = true
	case extECPointFormats: // RFC 8422 §5.1.2
		if !readUint8Bytes(&data, &m.ecPointFormats) || len(m.ecPointFormats) == 0 || !data.Empty() {
			return decodeErr("ec_point_formats")
		}
	case extPreSharedKey: // §4.2.11
		var ids, binders cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&ids) || ids.Empty() ||
			!data.ReadUint16LengthPrefixed(&binders) || binders.Empty() || !data.Empty() {
			return decodeErr("pre_shared_key")
		}
		for !ids.Empty() {
			var id pskIdentity
			if !readUint16Bytes(&ids, &id.identity) || len(id.identity) == 0 || !ids.ReadUint32(&id.age) {
				return decodeErr("pre_shared_key identity")
			}
			m.identities = append(m.identities, id)
		}
		for !binders.Empty() {
			var bi []byte
			if !readUint8Bytes(&binders, &bi) || len(bi) < 32 {
				return decodeErr("pre_shared_key binder")
			}
			m.binders = append(m.binders, bi)
		}
		if len(m.binders) != len(m.identities) { // §4.2.11
			return illegal("%d binders for %d identities", len(m.binders), len(m.identities))
		}
	}
	return nil
}

func (m *clientHelloMsg) has(ext uint16) bool {
	for _, e := range m.extensions {
		if e == ext {
			return true
		}
	}
	return false
}

// serverHelloMsg is a ServerHello or, with the special random, a
// HelloRetryRequest (§4.1.3, §4.1.4).
type serverHelloMsg struct {
	raw              []byte
	vers             uint16
	random           []byte
	sessionID        []byte
	cipherSuite      uint16
	compression      uint8
	supportedVersion uint16
	keyShare         keyShare // ServerHello
	selectedGroup    CurveID  // HelloRetryRequest
	hasPSK           bool
	selectedIdentity uint16
	cookie           []byte
	hasKeyShare      bool
	hasSupportedVers bool

	// TLS 1.2 (sent without supported_versions, RFC 5246 §7.4.1.3).
	tls12          bool
	secureReneg    bool   // empty renegotiation_info (RFC 5746)
	ems            bool   // extended_master_secret (RFC 7627)
	ecPointFormats bool   // ec_point_formats: uncompressed (RFC 8422)
	alpnProtocol   string // RFC 7301 §3.1 (TLS 1.3 sends it in EncryptedExtensions)
}

func (m *serverHelloMsg) isHRR() bool { return string(m.random) == string(helloRetryRequestRandom[:]) }

func (m *serverHelloMsg) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(typeServerHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(m.vers)
		b.AddBytes(m.random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.sessionID) })
		b.AddUint16(m.cipherSuite)
		b.AddUint8(m.compression)
		if m.tls12 {
			if m.secureReneg || m.ems || m.ecPointFormats || m.alpnProtocol != "" {
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					if m.secureReneg {
						b.AddUint16(extRenegotiationInfo)
						b.AddUint16(1)
						b.AddUint8(0)
					}
					if m.ems {
						b.AddUint16(extExtendedMS)
						b.AddUint16(0)
					}
					if m.ecPointFormats {
						b.AddUint16(extECPointFormats)
						b.AddUint16(2)
						b.AddUint8(1)
						b.AddUint8(0) // uncompressed
					}
					if m.alpnProtocol != "" {
						addALPNReply(b, m.alpnProtocol)
					}
				})
			}
			return
		}
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16(extSupportedVersions)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(m.supportedVersion) })
			if m.isHRR() {
				if m.selectedGroup != 0 {
					b.AddUint16(extKeyShare)
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(uint16(m.selectedGroup)) })
				}
				if len(m.cookie) > 0 {
					b.AddUint16(extCookie)
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.cookie) })
					})
				}
				return
			}
			if m.keyShare.group != 0 {
				b.AddUint16(extKeyShare)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16(uint16(m.keyShare.group))
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.keyShare.data) })
				})
			}
			if m.hasPSK {
				b.AddUint16(extPreSharedKey)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(m.selectedIdentity) })
			}
		})
	})
	return b.Bytes()
}

// parseServerHello decodes a ServerHello or HelloRetryRequest. Only the
// extensions §4.1.3/§4.1.4 allow there are accepted.
func parseServerHello(msg []byte) (*serverHelloMsg, error) {
	m := &serverHelloMsg{raw: msg}
	body, ok := messageBody(msg, typeServerHello)
	var exts cryptobyte.String
	if !ok || !body.ReadUint16(&m.vers) || !body.ReadBytes(&m.random, 32) ||
		!readUint8Bytes(&body, &m.sessionID) || len(m.sessionID) > 32 ||
		!body.ReadUint16(&m.cipherSuite) || !body.ReadUint8(&m.compression) {
		return nil, decodeErr("ServerHello")
	}
	if body.Empty() {
		m.tls12 = true // a TLS 1.2 ServerHello without extensions
		return m, nil
	}
	if !body.ReadUint16LengthPrefixed(&exts) || !body.Empty() {
		return nil, decodeErr("ServerHello extensions")
	}
	if err := readExtensions(exts, "ServerHello", m.parseExtension); err != nil {
		return nil, err
	}
	if m.hasSupportedVers && (m.secureReneg || m.ems || m.ecPointFormats || m.alpnProtocol != "") {
		return nil, wrapAlert(AlertUnsupportedExtension, fmt.Errorf("TLS 1.2 extension in a TLS 1.3 ServerHello"))
	}
	m.tls12 = !m.hasSupportedVers
	return m, nil
}

// parseExtension decodes one ServerHello extension; what a
// HelloRetryRequest may carry differs (§4.1.4).
func (m *serverHelloMsg) parseExtension(ext uint16, data cryptobyte.String) error {
	hrr := m.isHRR()
	switch {
	case ext == extSupportedVersions:
		if !data.ReadUint16(&m.supportedVersion) || !data.Empty() {
			return decodeErr("supported_versions")
		}
		m.hasSupportedVers = true
	case ext == extKeyShare && hrr:
		var g uint16
		if !data.ReadUint16(&g) || !data.Empty() {
			return decodeErr("key_share")
		}
		m.selectedGroup = CurveID(g)
		m.hasKeyShare = true
	case ext == extKeyShare:
		var g uint16
		if !data.ReadUint16(&g) || !readUint16Bytes(&data, &m.keyShare.data) || len(m.keyShare.data) == 0 || !data.Empty() {
			return decodeErr("key_share")
		}
		m.keyShare.group = CurveID(g)
		m.hasKeyShare = true
	case ext == extPreSharedKey && !hrr:
		if !data.ReadUint16(&m.selectedIdentity) || !data.Empty() {
			return decodeErr("pre_shared_key")
		}
		m.hasPSK = true
	case ext == extCookie && hrr:
		if !readUint16Bytes(&data, &m.cookie) || len(m.cookie) == 0 || !data.Empty() {
			return decodeErr("cookie")
		}
	case ext == extRenegotiationInfo: // TLS 1.2 (RFC 5746 §3.4)
		var rc []byte
		if !readUint8Bytes(&data, &rc) || !data.Empty() {
			return decodeErr("renegotiation_info")
		}
		if len(rc) != 0 {
			return localAlert(AlertHandshakeFailure, "renegotiation_info with renegotiated_connection")
		}
		m.secureReneg = true
	case ext == extExtendedMS: // TLS 1.2 (RFC 7627 §5.2)
		if !data.Empty() {
			return decodeErr("extended_master_secret")
		}
		m.ems = true
	case ext == extECPointFormats: // TLS 1.2 (RFC 8422 §5.2)
		var f []byte
		if !readUint8Bytes(&data, &f) || len(f) == 0 || !data.Empty() {
			return decodeErr("ec_point_formats")
		}
		m.ecPointFormats = true
	case ext == extALPN: // TLS 1.2 (RFC 7301 §3.1)
		p, err := parseALPNReply(data)
		if err != nil {
			return err
		}
		m.alpnProtocol = p
	default:
		return wrapAlert(AlertUnsupportedExtension, fmt.Errorf("unexpected extension %d in ServerHello", ext))
	}
	return nil
}

// encryptedExtensionsMsg is EncryptedExtensions (§4.3.1).
type encryptedExtensionsMsg struct {
	raw            []byte
	alpnProtocol   string
	serverNameAck  bool
	supportedGroup bool
}

func (m *encryptedExtensionsMsg) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(typeEncryptedExtensions)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			if m.serverNameAck {
				b.AddUint16(extServerName)
				b.AddUint16(0)
			}
			if m.alpnProtocol != "" {
				addALPNReply(b, m.alpnProtocol)
			}
		})
	})
	return b.Bytes()
}

// parseEncryptedExtensions accepts only responses to what this client
// offers (server_name, supported_groups, ALPN); anything else is
// unsupported_extension (§4.2).
func parseEncryptedExtensions(msg []byte) (*encryptedExtensionsMsg, error) {
	m := &encryptedExtensionsMsg{raw: msg}
	body, ok := messageBody(msg, typeEncryptedExtensions)
	var exts cryptobyte.String
	if !ok || !body.ReadUint16LengthPrefixed(&exts) || !body.Empty() {
		return nil, decodeErr("EncryptedExtensions")
	}
	if err := readExtensions(exts, "EncryptedExtensions", m.parseExtension); err != nil {
		return nil, err
	}
	return m, nil
}

// parseExtension decodes one EncryptedExtensions extension.
func (m *encryptedExtensionsMsg) parseExtension(ext uint16, data cryptobyte.String) error {
	switch ext {
	case extServerName:
		if !data.Empty() {
			return decodeErr("server_name acknowledgement")
		}
		m.serverNameAck = true
	case extSupportedGroups:
		m.supportedGroup = true // the server's preference; informational (§4.2.7)
	case extALPN:
		p, err := parseALPNReply(data)
		if err != nil {
			return err
		}
		m.alpnProtocol = p
	default:
		return wrapAlert(AlertUnsupportedExtension, fmt.Errorf("unexpected extension %d in EncryptedExtensions", ext))
	}
	return nil
}

func marshalFinished(verifyData []byte) []byte {
	out := []byte{typeFinished, 0, 0, byte(len(verifyData))}
	return append(out, verifyData...)
}

// parseFinished returns verify_data, which must be Hash.length long (§4.4.4).
func parseFinished(msg []byte, h Hash) ([]byte, error) {
	if len(msg) != 4+h.size() || msg[0] != typeFinished || msg[1] != 0 || msg[2] != 0 || int(msg[3]) != h.size() {
		return nil, decodeErr("Finished")
	}
	return msg[4:], nil
}

func marshalKeyUpdate(requested bool) []byte {
	var r byte
	if requested {
		r = 1
	}
	return []byte{typeKeyUpdate, 0, 0, 1, r}
}

// parseKeyUpdate returns request_update (§4.6.3).
func parseKeyUpdate(msg []byte) (bool, error) {
	if len(msg) != 5 || msg[1] != 0 || msg[2] != 0 || msg[3] != 1 {
		return false, decodeErr("KeyUpdate")
	}
	switch msg[4] {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, illegal("KeyUpdate request_update %d", msg[4])
}

// checkNewSessionTicket validates the structure of a NewSessionTicket
// (§4.6.1), which a client accepts and ignores: no resumption here.
func checkNewSessionTicket(msg []byte) error {
	body, ok := messageBody(msg, typeNewSessionTicket)
	var nonce, ticket, exts cryptobyte.String
	var lifetime, ageAdd uint32
	if !ok || !body.ReadUint32(&lifetime) || !body.ReadUint32(&ageAdd) ||
		!body.ReadUint8LengthPrefixed(&nonce) || !body.ReadUint16LengthPrefixed(&ticket) || ticket.Empty() ||
		!body.ReadUint16LengthPrefixed(&exts) || !body.Empty() {
		return decodeErr("NewSessionTicket")
	}
	return nil
}

// addALPNReply adds a server's application_layer_protocol_negotiation
// extension: a protocol list holding the one protocol selected (RFC 7301
// §3.1).
func addALPNReply(b *cryptobyte.Builder, proto string) {
	b.AddUint16(extALPN)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(proto)) })
		})
	})
}

// parseALPNReply decodes a server's application_layer_protocol_negotiation
// extension, which must name exactly one non-empty protocol (RFC 7301
// §3.1).
func parseALPNReply(data cryptobyte.String) (string, error) {
	var list, p cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&list) || !list.ReadUint8LengthPrefixed(&p) || p.Empty() || !list.Empty() || !data.Empty() {
		return "", decodeErr("application_layer_protocol_negotiation")
	}
	return string(p), nil
}

func readUint8Bytes(s *cryptobyte.String, out *[]byte) bool {
	var v cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&v) {
		return false
	}
	*out = []byte(v)
	return true
}

func readUint16Bytes(s *cryptobyte.String, out *[]byte) bool {
	var v cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&v) {
		return false
	}
	*out = []byte(v)
	return true
}
