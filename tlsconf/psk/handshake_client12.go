package psk

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"slices"
)

// The TLS 1.2 PSK client (RFC 4279 §2, RFC 5489 §2, RFC 5246 §7.3); see
// handshake_server12.go for the message flow.

// addTLS12 adds what a server needs to choose TLS 1.2 PSK: the suites
// and the renegotiation SCSV (RFC 5746 §3.3), extended_master_secret
// (RFC 7627), and for ECDHE_PSK supported_groups and ec_point_formats
// (RFC 8422). In a TLS 1.3 ClientHello, supported_versions gains 1.2.
func (hs *clientHandshakeState) addTLS12(m *clientHelloMsg) error {
	suites := suites12For(hs.cfg.TLS12CipherSuites)
	if len(suites) == 0 {
		return localAlert(AlertInternalError, "psk: no known TLS 1.2 cipher suite configured")
	}
	if len(m.supportedVersions) > 0 {
		m.supportedVersions = append(m.supportedVersions, VersionTLS12)
	}
	m.cipherSuites = append(m.cipherSuites, suites...)
	m.cipherSuites = append(m.cipherSuites, scsvRenegotiation)
	m.ems = true
	for _, id := range suites {
		if suite12ByID(id).ecdhe {
			m.ecPointFormats = []uint8{0} // uncompressed
			if len(m.supportedGroups) == 0 {
				m.supportedGroups = groupsOr(hs.cfg.Groups)
				for _, g := range m.supportedGroups {
					if !supportedGroup(g) {
						return localAlert(AlertInternalError, "psk: unsupported group "+g.String())
					}
				}
			}
			break
		}
	}
	return nil
}

// makeClientHello12 builds a TLS 1.2-only ClientHello (MaxVersion
// VersionTLS12): no supported_versions, no pre_shared_key.
func (hs *clientHandshakeState) makeClientHello12() error {
	cfg := hs.cfg
	m := &clientHelloMsg{
		vers:               VersionTLS12,
		random:             make([]byte, 32),
		compressionMethods: []uint8{0},
		serverName:         cfg.ServerName,
		alpnProtocols:      cfg.NextProtos,
	}
	if _, err := io.ReadFull(randReader(cfg.Rand), m.random); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	if net.ParseIP(m.serverName) != nil {
		m.serverName = ""
	}
	if err := hs.addTLS12(m); err != nil {
		return err
	}
	hs.hello = m
	return nil
}

type clientHandshakeState12 struct {
	c   *Conn
	hs  *clientHandshakeState
	cfg *ClientConfig

	sh          *serverHelloMsg
	suite       *cipherSuite12
	transcript  *transcript
	ske         *serverKeyExchangeMsg
	hint        []byte
	identity    []byte
	key, master []byte
}

func (hs *clientHandshakeState) handshake12() error {
	c := hs.c
	c.tls12 = true
	c.ccsOK = false
	s := &clientHandshakeState12{c: c, hs: hs, cfg: hs.cfg, sh: hs.serverHello12}
	defer func() { clear(s.key); clear(s.master) }()
	if err := runSteps(s.processServerHello, s.readServerKeyExchange, s.getKey, s.sendClientKeyExchange, s.readServerFinished); err != nil {
		return err
	}
	c.state.CipherSuite = s.suite.id
	c.state.Identity = s.identity
	c.state.Hash = s.suite.hash
	if s.suite.ecdhe {
		c.state.Group = s.ske.group
	}
	c.state.IdentityHint = s.hint
	c.state.ExtendedMasterSecret = s.sh.ems
	c.state.NegotiatedProtocol = s.sh.alpnProtocol
	c.state.ServerName = hs.hello.serverName
	return nil
}

// processServerHello checks a TLS 1.2 ServerHello: the version, the
// downgrade sentinel when we offered TLS 1.3 (RFC 8446 §4.1.3), an
// offered suite, no compression, ALPN we offered.
func (s *clientHandshakeState12) processServerHello() error {
	sh, hello := s.sh, s.hs.hello
	if sh.vers != VersionTLS12 {
		return localAlert(AlertProtocolVersion, fmt.Sprintf("server chose version 0x%04x", sh.vers))
	}
	tail := sh.random[24:]
	if bytes.Equal(tail, downgradeTLS11) || (s.hs.maxVers >= VersionTLS13 && bytes.Equal(tail, downgradeTLS12)) {
		return illegal("downgrade sentinel in the ServerHello random")
	}
	s.suite = suite12ByID(sh.cipherSuite)
	if s.suite == nil || !slices.Contains(hello.cipherSuites, sh.cipherSuite) {
		return illegal("server chose cipher suite 0x%04x that was not offered", sh.cipherSuite)
	}
	if sh.compression != 0 {
		return illegal("ServerHello compression %d", sh.compression)
	}
	if sh.alpnProtocol != "" && !slices.Contains(hello.alpnProtocols, sh.alpnProtocol) {
		return wrapAlert(AlertUnsupportedExtension, fmt.Errorf("server selected ALPN protocol %q that was not offered", sh.alpnProtocol))
	}
	s.transcript = newTranscript(s.suite.hash)
	s.transcript.Write(hello.raw)
	s.transcript.Write(sh.raw)
	return nil
}

// readServerKeyExchange reads the optional ServerKeyExchange (required
// for ECDHE_PSK) and ServerHelloDone. Certificate messages are
// unexpected_message: these suites have none.
func (s *clientHandshakeState12) readServerKeyExchange() error {
	c := s.c
	msg, err := c.readHandshakeAny()
	if err != nil {
		return err
	}
	if msg[0] == typeServerKeyExchange {
		if s.ske, err = parseServerKeyExchange(msg, s.suite.ecdhe); err != nil {
			return err
		}
		s.transcript.Write(msg)
		s.hint = s.ske.hint
		if s.suite.ecdhe {
			g := s.ske.group
			if !slices.Contains(s.hs.hello.supportedGroups, g) || !supportedGroup(g) {
				return illegal("ServerKeyExchange group %v was not offered", g)
			}
		}
		if msg, err = c.readHandshake(typeServerHelloDone); err != nil {
			return err
		}
	} else if s.suite.ecdhe {
		return localAlert(AlertUnexpectedMessage, fmt.Sprintf("handshake message type %d, want ServerKeyExchange", msg[0]))
	}
	if msg[0] != typeServerHelloDone {
		return localAlert(AlertUnexpectedMessage, fmt.Sprintf("handshake message type %d, want ServerHelloDone", msg[0]))
	}
	if err := parseServerHelloDone(msg); err != nil {
		return err
	}
	s.transcript.Write(msg)
	return nil
}

// getKey asks the hook with the server's hint (Qt's TLS 1.2 semantics):
// always in a TLS 1.2-only handshake, and again after a TLS 1.3
// ClientHello only when the server sent a hint.
func (s *clientHandshakeState12) getKey() error {
	id, key := s.hs.identity, s.hs.key
	if s.cfg.GetKey != nil && (id == nil || len(s.hint) > 0) {
		var err error
		id, key, err = s.cfg.GetKey(s.hs.ctx, slices.Clone(s.hint))
		if err != nil {
			return wrapAlert(AlertInternalError, fmt.Errorf("psk: client key hook: %w", err))
		}
	} else if id == nil {
		id, key = s.cfg.Identity, s.cfg.Key
	}
	if err := CheckIdentity(id); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	if err := CheckKey(key); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	s.identity, s.key = slices.Clone(id), slices.Clone(key)
	return nil
}

// sendClientKeyExchange sends ClientKeyExchange, ChangeCipherSpec and
// Finished, and sets the read keys the server's ChangeCipherSpec installs.
func (s *clientHandshakeState12) sendClientKeyExchange() error {
	c, hello := s.c, s.hs.hello
	cke := &clientKeyExchangeMsg{identity: s.identity}
	var shared []byte
	if s.suite.ecdhe {
		priv, err := generateKeyShare(s.ske.group, randReader(s.cfg.Rand))
		if err != nil {
			return wrapAlert(AlertInternalError, err)
		}
		if shared, err = sharedSecret(priv, s.ske.group, s.ske.public); err != nil {
			return err
		}
		defer clear(shared)
		cke.public = priv.PublicKey().Bytes()
	}
	raw, err := cke.marshal(s.suite.ecdhe)
	if err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	if err := c.writeHandshakeLocked(raw, s.transcript); err != nil {
		return err
	}
	pms := pskPremaster(s.key, shared)
	defer clear(pms)
	s.master = masterSecret12(s.suite.hash, pms, s.sh.ems, s.transcript.Sum(), hello.random, s.sh.random)
	client, server := keysFromMasterSecret12(s.suite, s.master, hello.random, s.sh.random)
	c.writeChangeCipherSpecLocked()
	if err := c.out.setKeys12(client); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	verify := finished12(s.suite.hash, s.master, true, s.transcript.Sum())
	if err := c.writeHandshakeLocked(marshalFinished(verify), s.transcript); err != nil {
		return err
	}
	c.pendingRead = &server
	return c.flushLocked()
}

// readServerFinished reads the server's ChangeCipherSpec and Finished.
func (s *clientHandshakeState12) readServerFinished() error {
	_, err := s.c.readFinished12(s.suite.hash, s.master, false, s.transcript.Sum())
	return err
}
