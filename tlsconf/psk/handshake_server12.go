package psk

import (
	"crypto/ecdh"
	"fmt"
	"io"
	"slices"
)

// The TLS 1.2 PSK server (RFC 4279 §2, RFC 5489 §2, RFC 5246 §7.3):
//
//	ClientHello        -->
//	                   <--  ServerHello
//	                        [ServerKeyExchange]  (hint; ECDHE params)
//	                        ServerHelloDone
//	ClientKeyExchange  -->  (identity; ECDHE public key)
//	ChangeCipherSpec
//	Finished           -->
//	                   <--  ChangeCipherSpec
//	                        Finished

// negotiatesTLS12 decides whether a ClientHello gets TLS 1.2 (RFC 8446
// §4.2.1, RFC 5246 §E.1): only when MinVersion allows it and the client
// offers TLS 1.2, and then only if the client cannot do TLS 1.3 or
// MaxVersion excludes it. A client offering TLS 1.3 always gets TLS 1.3
// from a server that speaks it, even without a pre_shared_key (it then
// fails, see processClientHello): a TLS 1.2 ServerHello from such a
// server must carry the RFC 8446 §4.1.3 downgrade sentinel, which every
// compliant TLS 1.3 client rejects.
func (hs *serverHandshakeState) negotiatesTLS12(lo, hi uint16) bool {
	ch := hs.ch
	if lo > VersionTLS12 {
		return false
	}
	offers13 := slices.Contains(ch.supportedVersions, VersionTLS13)
	offers12 := ch.vers >= VersionTLS12 &&
		(len(ch.supportedVersions) == 0 || slices.Contains(ch.supportedVersions, VersionTLS12))
	if !offers12 {
		return false
	}
	return hi == VersionTLS12 || !offers13
}

type serverHandshakeState12 struct {
	c   *Conn
	hs  *serverHandshakeState
	cfg *ServerConfig
	ch  *clientHelloMsg

	downgrade    bool // we speak TLS 1.3: mark the random (RFC 8446 §4.1.3)
	suite        *cipherSuite12
	group        CurveID
	priv         *ecdh.PrivateKey
	hint         []byte
	alpn         string
	serverRandom []byte
	ems          bool
	transcript   *transcript
	identity     []byte
	key, master  []byte
	writeKeys    keys12
}

func (hs *serverHandshakeState) handshake12(hi uint16) error {
	c := hs.c
	c.tls12 = true
	c.ccsOK, c.earlySkip, c.skipFailed = false, 0, false
	s := &serverHandshakeState12{c: c, hs: hs, cfg: hs.cfg, ch: hs.ch, downgrade: hi >= VersionTLS13}
	defer func() { clear(s.key); clear(s.master) }()
	if err := runSteps(s.processClientHello, s.sendServerHello, s.readClientKeyExchange, s.readClientFinished, s.sendServerFinished); err != nil {
		hs.identity = s.identity
		return err
	}
	c.state.CipherSuite = s.suite.id
	c.state.Identity = s.identity
	c.state.Hash = s.suite.hash
	c.state.Group = s.group
	c.state.IdentityHint = s.hint
	c.state.ExtendedMasterSecret = s.ems
	c.state.NegotiatedProtocol = s.alpn
	c.state.ServerName = s.ch.serverName
	hs.identity = s.identity
	return nil
}

// processClientHello checks the TLS 1.2 ClientHello and picks the suite
// (server preference), the ECDHE group and ALPN.
func (s *serverHandshakeState12) processClientHello() error {
	ch := s.ch
	if !slices.Contains(ch.compressionMethods, 0) {
		return decodeErr("ClientHello: no null compression")
	}
	if len(s.cfg.IdentityHint) > MaxIdentityLength || slices.Contains(s.cfg.IdentityHint, 0) {
		return localAlert(AlertInternalError, "psk: IdentityHint over MaxIdentityLength or with NUL")
	}
	s.hint = slices.Clone(s.cfg.IdentityHint)
	s.ems = ch.ems
	pointsOK := len(ch.ecPointFormats) == 0 || slices.Contains(ch.ecPointFormats, 0)
	for _, id := range suites12For(s.cfg.TLS12CipherSuites) {
		if !slices.Contains(ch.cipherSuites, id) {
			continue
		}
		suite := suite12ByID(id)
		if suite.ecdhe {
			if !pointsOK {
				continue
			}
			g := s.selectGroup()
			if g == 0 {
				continue
			}
			s.group = g
		}
		s.suite = suite
		break
	}
	if s.suite == nil {
		return localAlert(AlertHandshakeFailure, "no TLS 1.2 PSK cipher suite in common")
	}
	var err error
	s.alpn, err = negotiateALPN(s.cfg.NextProtos, ch.alpnProtocols)
	return err
}

// selectGroup returns the server's most preferred group the client
// supports; a client without supported_groups accepts any (RFC 8422 §4).
func (s *serverHandshakeState12) selectGroup() CurveID {
	for _, g := range groupsOr(s.cfg.Groups) {
		if supportedGroup(g) && (len(s.ch.supportedGroups) == 0 || slices.Contains(s.ch.supportedGroups, g)) {
			return g
		}
	}
	return 0
}

// sendServerHello sends ServerHello, ServerKeyExchange (when there is a
// hint or an ECDHE key) and ServerHelloDone in one flight.
func (s *serverHandshakeState12) sendServerHello() error {
	c := s.c
	s.serverRandom = make([]byte, 32)
	if _, err := io.ReadFull(randReader(s.cfg.Rand), s.serverRandom); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	if s.downgrade {
		copy(s.serverRandom[24:], downgradeTLS12)
	}
	sh := &serverHelloMsg{
		tls12:       true,
		vers:        VersionTLS12,
		random:      s.serverRandom,
		cipherSuite: s.suite.id,
		// RFC 5746 §3.6: answer the SCSV or the extension with an empty
		// renegotiation_info; this server never renegotiates.
		secureReneg:    s.ch.secureReneg || slices.Contains(s.ch.cipherSuites, scsvRenegotiation),
		ems:            s.ems,
		ecPointFormats: s.suite.ecdhe && len(s.ch.ecPointFormats) > 0,
		alpnProtocol:   s.alpn,
	}
	raw, err := sh.marshal()
	if err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	s.transcript = newTranscript(s.suite.hash)
	s.transcript.Write(s.ch.raw)
	if err := c.writeHandshakeLocked(raw, s.transcript); err != nil {
		return err
	}
	if s.suite.ecdhe || len(s.hint) > 0 {
		ske := &serverKeyExchangeMsg{hint: s.hint, ecdhe: s.suite.ecdhe, group: s.group}
		if s.suite.ecdhe {
			if s.priv, err = generateKeyShare(s.group, randReader(s.cfg.Rand)); err != nil {
				return wrapAlert(AlertInternalError, err)
			}
			ske.public = s.priv.PublicKey().Bytes()
		}
		raw, err := ske.marshal()
		if err != nil {
			return wrapAlert(AlertInternalError, err)
		}
		if err := c.writeHandshakeLocked(raw, s.transcript); err != nil {
			return err
		}
	}
	if err := c.writeHandshakeLocked(serverHelloDoneMsg, s.transcript); err != nil {
		return err
	}
	return c.flushLocked()
}

// readClientKeyExchange reads the identity, looks up its key (an unknown
// identity is unknown_psk_identity, as OpenSSL answers) and derives the
// keys; the client's ChangeCipherSpec installs its read keys.
func (s *serverHandshakeState12) readClientKeyExchange() error {
	c := s.c
	msg, err := c.readHandshake(typeClientKeyExchange)
	if err != nil {
		return err
	}
	cke, err := parseClientKeyExchange(msg, s.suite.ecdhe)
	if err != nil {
		return err
	}
	s.transcript.Write(msg)
	if CheckIdentity(cke.identity) != nil {
		return localAlert(AlertUnknownPSKIdentity, "unusable PSK identity")
	}
	s.identity = slices.Clone(cke.identity)
	key, err := c.lookupKey(s.hs.ctx, s.cfg, cke.identity)
	if err != nil {
		return wrapAlert(AlertInternalError, fmt.Errorf("psk: key lookup: %w", err))
	}
	if len(key) == 0 {
		return localAlert(AlertUnknownPSKIdentity, "unknown PSK identity")
	}
	if err := CheckKey(key); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	s.key = slices.Clone(key)
	var shared []byte
	if s.suite.ecdhe {
		if shared, err = sharedSecret(s.priv, s.group, cke.public); err != nil {
			return err
		}
		defer clear(shared)
	}
	pms := pskPremaster(s.key, shared)
	defer clear(pms)
	s.master = masterSecret12(s.suite.hash, pms, s.ems, s.transcript.Sum(), s.ch.random, s.serverRandom)
	client, server := keysFromMasterSecret12(s.suite, s.master, s.ch.random, s.serverRandom)
	c.pendingRead = &client
	s.writeKeys = server // installed with our ChangeCipherSpec
	return nil
}

// readClientFinished reads the client's ChangeCipherSpec and Finished.
// A wrong key makes the Finished record fail to decrypt: bad_record_mac,
// as OpenSSL answers.
func (s *serverHandshakeState12) readClientFinished() error {
	msg, err := s.c.readFinished12(s.suite.hash, s.master, true, s.transcript.Sum())
	if err != nil {
		return err
	}
	s.transcript.Write(msg)
	return nil
}

// sendServerFinished sends ChangeCipherSpec and Finished.
func (s *serverHandshakeState12) sendServerFinished() error {
	c := s.c
	c.writeChangeCipherSpecLocked()
	if err := c.out.setKeys12(s.writeKeys); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	verify := finished12(s.suite.hash, s.master, false, s.transcript.Sum())
	if err := c.writeHandshakeLocked(marshalFinished(verify), s.transcript); err != nil {
		return err
	}
	return c.flushLocked()
}
