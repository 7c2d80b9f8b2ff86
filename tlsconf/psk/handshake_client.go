package psk

import (
	"context"
	"crypto/ecdh"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
)

// clientHandshakeState is the client side of a PSK handshake. Its step
// methods run in protocol order (RFC 8446 §2, Figure 1 with a PSK).
type clientHandshakeState struct {
	c   *Conn
	ctx context.Context
	cfg *ClientConfig

	identity, key []byte
	hash          Hash
	hello         *clientHelloMsg
	keyShares     map[CurveID]*ecdh.PrivateKey
	transcript    *transcript
	suite         *cipherSuite
	sh            *serverHelloMsg
	didHRR        bool
	sentCCS       bool

	minVers, maxVers uint16
	serverHello12    *serverHelloMsg // the server chose TLS 1.2

	early, handshake, master []byte
	clientHS, serverHS       []byte
	clientAP                 []byte
}

func (c *Conn) clientHandshake(ctx context.Context) error {
	if c.ccfg == nil {
		return localAlert(AlertInternalError, "psk: nil ClientConfig")
	}
	lo, hi, err := versionRange(c.ccfg.MinVersion, c.ccfg.MaxVersion)
	if err != nil {
		return err
	}
	hs := &clientHandshakeState{c: c, ctx: ctx, cfg: c.ccfg, hash: c.ccfg.Hash, minVers: lo, maxVers: hi}
	defer hs.wipe()
	if err := runSteps(hs.getKey, hs.makeClientHello, hs.sendClientHello, hs.readServerHello); err != nil {
		return err
	}
	if hs.serverHello12 != nil {
		return hs.handshake12()
	}
	if err := runSteps(hs.establishHandshakeKeys, hs.readEncryptedExtensions, hs.readServerFinished, hs.sendClientFinished); err != nil {
		return err
	}
	c.state.CipherSuite = hs.suite.id
	c.state.Identity = hs.identity
	c.state.Hash = hs.hash
	c.state.Group = hs.sh.keyShare.group
	c.state.DidHelloRetryRequest = hs.didHRR
	c.state.ServerName = hs.hello.serverName
	return nil
}

// wipe clears the copies of secret material this handshake made.
func (hs *clientHandshakeState) wipe() {
	for _, b := range [][]byte{hs.key, hs.early, hs.handshake, hs.master, hs.clientHS, hs.serverHS} {
		clear(b)
	}
}

// getKey obtains the identity and key, from the hook (Qt's
// preSharedKeyAuthenticationRequired; the hint is empty in TLS 1.3) or
// the static fields, and validates them: over-long values are refused,
// never truncated.
func (hs *clientHandshakeState) getKey() error {
	if !hs.hash.valid() {
		return localAlert(AlertInternalError, "psk: unknown PSK hash")
	}
	if hs.maxVers < VersionTLS13 && hs.cfg.GetKey != nil {
		return nil // TLS 1.2 only: asked after ServerHelloDone, with the hint
	}
	id, key := hs.cfg.Identity, hs.cfg.Key
	if hs.cfg.GetKey != nil {
		var err error
		id, key, err = hs.cfg.GetKey(hs.ctx, nil)
		if err != nil {
			return wrapAlert(AlertInternalError, fmt.Errorf("psk: client key hook: %w", err))
		}
	}
	if err := CheckIdentity(id); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	if err := CheckKey(key); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	hs.identity = slices.Clone(id)
	hs.key = slices.Clone(key)
	return nil
}

// makeClientHello builds the first ClientHello (§4.1.2) with
// supported_versions, supported_groups, key_share, psk_key_exchange_modes
// and, last, pre_shared_key (§4.2.11).
func (hs *clientHandshakeState) makeClientHello() error {
	cfg := hs.cfg
	if hs.maxVers < VersionTLS13 {
		return hs.makeClientHello12()
	}
	rnd := randReader(cfg.Rand)
	m := &clientHelloMsg{
		vers:               versionTLS12,
		random:             make([]byte, 32),
		sessionID:          make([]byte, 32), // middlebox compatibility mode (§D.4)
		compressionMethods: []uint8{0},
		supportedVersions:  []uint16{VersionTLS13},
		serverName:         cfg.ServerName,
		alpnProtocols:      cfg.NextProtos,
	}
	if _, err := io.ReadFull(rnd, m.random); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	if _, err := io.ReadFull(rnd, m.sessionID); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	if net.ParseIP(m.serverName) != nil {
		m.serverName = "" // RFC 6066 §3: no IP literals in SNI
	}
	m.cipherSuites = suitesFor(cfg.CipherSuites, hs.hash)
	if len(m.cipherSuites) == 0 {
		return localAlert(AlertInternalError, "psk: no configured cipher suite matches the PSK hash "+hs.hash.String())
	}
	modes := cfg.Modes
	if len(modes) == 0 {
		modes = []Mode{ModeDHE}
	}
	dhe := false
	for _, md := range modes {
		if md != ModeDHE && md != ModePSKOnly {
			return localAlert(AlertInternalError, "psk: unknown key exchange mode")
		}
		if !slices.Contains(m.pskModes, uint8(md)) {
			m.pskModes = append(m.pskModes, uint8(md))
		}
		dhe = dhe || md == ModeDHE
	}
	hs.keyShares = make(map[CurveID]*ecdh.PrivateKey)
	if dhe {
		m.supportedGroups = groupsOr(cfg.Groups)
		shares := cfg.KeyShares
		if len(shares) == 0 {
			shares = m.supportedGroups
		}
		for _, g := range m.supportedGroups {
			if !supportedGroup(g) {
				return localAlert(AlertInternalError, "psk: unsupported group "+g.String())
			}
		}
		for _, g := range shares {
			if !slices.Contains(m.supportedGroups, g) {
				return localAlert(AlertInternalError, "psk: key share for a group not in Groups: "+g.String())
			}
			if err := hs.addKeyShare(m, g); err != nil {
				return err
			}
		}
	}
	if hs.minVers <= VersionTLS12 {
		if err := hs.addTLS12(m); err != nil {
			return err
		}
	}
	m.identities = []pskIdentity{{identity: hs.identity, age: 0}} // external: age 0 (§4.2.11)
	m.binders = [][]byte{make([]byte, hs.hash.size())}
	hs.hello = m
	hs.transcript = newTranscript(hs.hash)
	hs.early = earlySecret(hs.hash, hs.key)
	return nil
}

func (hs *clientHandshakeState) addKeyShare(m *clientHelloMsg, g CurveID) error {
	priv, err := generateKeyShare(g, randReader(hs.cfg.Rand))
	if err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	hs.keyShares[g] = priv
	m.keyShares = append(m.keyShares, keyShare{group: g, data: priv.PublicKey().Bytes()})
	return nil
}

// sendClientHello fills in the binder over the transcript so far plus the
// truncated ClientHello (§4.2.11.2, label "ext binder") and sends it.
func (hs *clientHandshakeState) sendClientHello() error {
	raw, err := hs.hello.marshal()
	if err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	if len(hs.hello.identities) == 0 { // TLS 1.2 only: no binder
		hs.hello.raw = raw
		if err := hs.c.writeHandshakeLocked(raw, nil); err != nil {
			return err
		}
		return hs.c.flushLocked()
	}
	truncated := raw[:len(raw)-hs.hello.bindersLen()]
	binder := finishedMAC(hs.hash, binderKey(hs.hash, hs.early, true), hs.transcript.sumWith(truncated))
	hs.hello.binders = [][]byte{binder}
	if raw, err = hs.hello.marshal(); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	hs.hello.raw = raw
	hs.c.ccsOK = true
	if err := hs.c.writeHandshakeLocked(raw, hs.transcript); err != nil {
		return err
	}
	return hs.c.flushLocked()
}

// readServerHello reads the ServerHello, handling one HelloRetryRequest
// (§4.1.4) on the way.
func (hs *clientHandshakeState) readServerHello() error {
	sh, err := readMessage(hs.c, typeServerHello, parseServerHello)
	if err != nil {
		return err
	}
	if sh.tls12 && hs.minVers <= VersionTLS12 {
		hs.serverHello12 = sh
		return nil
	}
	if sh.isHRR() {
		if err := hs.processHelloRetryRequest(sh); err != nil {
			return err
		}
		if sh, err = readMessage(hs.c, typeServerHello, parseServerHello); err != nil {
			return err
		}
		if sh.tls12 && hs.minVers <= VersionTLS12 {
			return illegal("TLS 1.2 ServerHello after a HelloRetryRequest")
		}
		if sh.isHRR() {
			return localAlert(AlertUnexpectedMessage, "second HelloRetryRequest")
		}
	}
	return hs.processServerHello(sh)
}

// checkServerHelloCommon applies the checks HelloRetryRequest and
// ServerHello share (§4.1.3).
func (hs *clientHandshakeState) checkServerHelloCommon(sh *serverHelloMsg) error {
	if !sh.hasSupportedVers || sh.supportedVersion != VersionTLS13 {
		if sh.hasSupportedVers {
			return illegal("server selected version 0x%04x", sh.supportedVersion)
		}
		return localAlert(AlertProtocolVersion, "server does not speak TLS 1.3")
	}
	if sh.vers != versionTLS12 {
		return illegal("ServerHello legacy_version 0x%04x", sh.vers)
	}
	if !hmac.Equal(sh.sessionID, hs.hello.sessionID) {
		return illegal("ServerHello does not echo legacy_session_id")
	}
	if sh.compression != 0 {
		return illegal("ServerHello compression %d", sh.compression)
	}
	if !slices.Contains(hs.hello.cipherSuites, sh.cipherSuite) {
		return illegal("server chose cipher suite 0x%04x that was not offered", sh.cipherSuite)
	}
	if hs.suite != nil && hs.suite.id != sh.cipherSuite {
		return illegal("ServerHello changes the HelloRetryRequest cipher suite")
	}
	hs.suite = suiteByID(sh.cipherSuite)
	return nil
}

// processHelloRetryRequest answers a HelloRetryRequest with a second
// ClientHello carrying the requested key share and a recomputed binder over
// message_hash(CH1) || HRR || truncated CH2 (§4.1.4, §4.4.1).
func (hs *clientHandshakeState) processHelloRetryRequest(hrr *serverHelloMsg) error {
	if err := hs.checkServerHelloCommon(hrr); err != nil {
		return err
	}
	m := hs.hello
	changed := len(hrr.cookie) > 0
	if hrr.hasKeyShare {
		g := hrr.selectedGroup
		if !slices.Contains(m.supportedGroups, g) {
			return illegal("HelloRetryRequest selects group %v that was not offered", g)
		}
		if _, ok := hs.keyShares[g]; ok {
			return illegal("HelloRetryRequest selects group %v we already sent a share for", g)
		}
		hs.keyShares = make(map[CurveID]*ecdh.PrivateKey)
		m.keyShares = nil
		if err := hs.addKeyShare(m, g); err != nil {
			return err
		}
		changed = true
	}
	if !changed {
		return illegal("HelloRetryRequest would not change the ClientHello")
	}
	m.cookie = hrr.cookie
	m.earlyData = false
	hs.didHRR = true
	hs.transcript.restartForHRR()
	hs.transcript.Write(hrr.raw)
	// Compatibility mode: ChangeCipherSpec before the second flight (§D.4).
	hs.c.writeChangeCipherSpecLocked()
	hs.sentCCS = true
	m.binders = [][]byte{make([]byte, hs.hash.size())}
	return hs.sendClientHello()
}

// processServerHello checks the ServerHello (§4.1.3, §4.2.11): the PSK
// accepted, a suite with the PSK's hash, and a key share for an offered
// group unless psk_ke was offered.
func (hs *clientHandshakeState) processServerHello(sh *serverHelloMsg) error {
	if err := hs.checkServerHelloCommon(sh); err != nil {
		return err
	}
	if hs.suite.hash != hs.hash {
		return illegal("cipher suite hash differs from the PSK hash")
	}
	if !sh.hasPSK {
		return localAlert(AlertHandshakeFailure, "server did not accept the pre-shared key (it wants certificates)")
	}
	if sh.selectedIdentity != 0 {
		return illegal("server selected PSK identity %d of 1", sh.selectedIdentity)
	}
	if sh.hasKeyShare {
		if !slices.Contains(hs.hello.pskModes, modePSKDHEKE) {
			return wrapAlert(AlertUnsupportedExtension, errors.New("key_share in a psk_ke ServerHello"))
		}
		if _, ok := hs.keyShares[sh.keyShare.group]; !ok {
			return illegal("server key share for group %v that has no client share", sh.keyShare.group)
		}
	} else if !slices.Contains(hs.hello.pskModes, modePSKKE) {
		return localAlert(AlertMissingExtension, "ServerHello without key_share, and psk_ke was not offered")
	}
	hs.sh = sh
	hs.transcript.Write(sh.raw)
	return nil
}

// establishHandshakeKeys computes the handshake secret and installs the
// handshake traffic keys (§7.1).
func (hs *clientHandshakeState) establishHandshakeKeys() error {
	c := hs.c
	var shared []byte
	if hs.sh.hasKeyShare {
		var err error
		shared, err = sharedSecret(hs.keyShares[hs.sh.keyShare.group], hs.sh.keyShare.group, hs.sh.keyShare.data)
		if err != nil {
			return err
		}
		defer clear(shared)
	}
	if !hs.sentCCS {
		c.writeChangeCipherSpecLocked()
		hs.sentCCS = true
	}
	if err := c.atRecordBoundary(); err != nil {
		return err
	}
	hs.handshake, hs.clientHS, hs.serverHS = handshakeTrafficSecrets(hs.hash, hs.early, shared, hs.transcript.Sum())
	return c.setTrafficSecrets(hs.suite, hs.serverHS, hs.clientHS)
}

// readEncryptedExtensions reads EncryptedExtensions (§4.3.1); no
// Certificate follows in a PSK handshake.
func (hs *clientHandshakeState) readEncryptedExtensions() error {
	ee, err := readMessage(hs.c, typeEncryptedExtensions, parseEncryptedExtensions)
	if err != nil {
		return err
	}
	if ee.alpnProtocol != "" {
		if !slices.Contains(hs.hello.alpnProtocols, ee.alpnProtocol) {
			return wrapAlert(AlertUnsupportedExtension, fmt.Errorf("server selected ALPN protocol %q that was not offered", ee.alpnProtocol))
		}
		hs.c.state.NegotiatedProtocol = ee.alpnProtocol
	}
	if ee.serverNameAck && hs.hello.serverName == "" {
		return wrapAlert(AlertUnsupportedExtension, errors.New("server_name acknowledged but not sent"))
	}
	hs.transcript.Write(ee.raw)
	return nil
}

// readServerFinished verifies the server's Finished (§4.4.4) in constant
// time and derives the application traffic secrets (§7.1).
func (hs *clientHandshakeState) readServerFinished() error {
	c := hs.c
	msg, err := c.readHandshake(typeFinished)
	if err != nil {
		return err
	}
	if err := verifyFinished(msg, hs.hash, hs.serverHS, hs.transcript.Sum(), "server"); err != nil {
		return err
	}
	hs.transcript.Write(msg)
	if err := c.atRecordBoundary(); err != nil {
		return err
	}
	hs.master = masterSecret(hs.hash, hs.handshake)
	th := hs.transcript.Sum()
	serverAP := deriveSecret(hs.hash, hs.master, "s ap traffic", th)
	hs.clientAP = deriveSecret(hs.hash, hs.master, "c ap traffic", th)
	if err := c.in.setTrafficSecret(hs.suite, serverAP); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	return nil
}

// sendClientFinished sends the client Finished under the client handshake
// key, then switches to the client application key.
func (hs *clientHandshakeState) sendClientFinished() error {
	c := hs.c
	verify := finishedMAC(hs.hash, hs.clientHS, hs.transcript.Sum())
	if err := c.writeHandshakeLocked(marshalFinished(verify), hs.transcript); err != nil {
		return err
	}
	if err := c.out.setTrafficSecret(hs.suite, hs.clientAP); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	return c.flushLocked()
}
