package psk

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"slices"
)

// serverHandshakeState is the server side of a PSK handshake. Its step
// methods run in protocol order (RFC 8446 §2, Figure 1 with a PSK).
type serverHandshakeState struct {
	c   *Conn
	ctx context.Context
	cfg *ServerConfig

	ch         *clientHelloMsg
	firstHello *clientHelloMsg // set when a HelloRetryRequest was sent
	identity   []byte
	key        []byte
	selected   int // index of the accepted identity in ch.identities
	hash       Hash
	suite      *cipherSuite
	dhe        bool
	group      CurveID
	peerShare  []byte
	hrrGroup   CurveID
	alpn       string
	transcript *transcript
	sentCCS    bool

	early, handshake, master []byte
	clientHS, serverHS       []byte
	clientAP                 []byte
}

func (c *Conn) serverHandshake(ctx context.Context) error {
	defer c.releasePreKeys() // the keys a Listener looked up: not kept after the handshake
	if c.scfg == nil || c.scfg.GetKey == nil {
		return localAlert(AlertInternalError, "psk: ServerConfig without GetKey")
	}
	lo, hi, err := versionRange(c.scfg.MinVersion, c.scfg.MaxVersion)
	if err != nil {
		return err
	}
	hs := &serverHandshakeState{c: c, ctx: ctx, cfg: c.scfg, hash: c.scfg.Hash}
	defer hs.wipe()
	if err := hs.readClientHello(); err != nil {
		hs.logFailure(err)
		return err
	}
	if hs.negotiatesTLS12(lo, hi) {
		if err := hs.handshake12(hi); err != nil {
			hs.logFailure(err)
			return err
		}
		hs.cfg.Logger.Debug().Str("identity", fmt.Sprintf("%q", hs.identity)).
			Str("suite", CipherSuiteName(c.state.CipherSuite)).Stringer("group", c.state.Group).
			Str("remote", c.conn.RemoteAddr().String()).Msg("psk: TLS 1.2 handshake complete")
		return nil
	}
	if hi < VersionTLS13 {
		err := localAlert(AlertProtocolVersion, "client does not offer TLS 1.2")
		hs.logFailure(err)
		return err
	}
	err = runSteps(
		hs.processClientHello,
		hs.sendHelloRetryRequestIfNeeded,
		hs.verifyBinder,
		hs.sendServerHello,
		hs.sendEncryptedExtensions,
		hs.sendServerFinished,
		hs.readClientFinished,
	)
	if err != nil {
		hs.logFailure(err)
		return err
	}
	c.state.CipherSuite = hs.suite.id
	c.state.Identity = hs.identity
	c.state.Hash = hs.hash
	c.state.Group = hs.group
	c.state.DidHelloRetryRequest = hs.firstHello != nil
	c.state.NegotiatedProtocol = hs.alpn
	c.state.ServerName = hs.ch.serverName
	hs.cfg.Logger.Debug().Str("identity", fmt.Sprintf("%q", hs.identity)).
		Str("suite", CipherSuiteName(hs.suite.id)).Stringer("group", hs.group).
		Str("remote", c.conn.RemoteAddr().String()).Msg("psk: handshake complete")
	return nil
}

func (hs *serverHandshakeState) logFailure(err error) {
	ev := hs.cfg.Logger.Debug().Err(err).Str("remote", hs.c.conn.RemoteAddr().String())
	if hs.identity != nil {
		ev = ev.Str("identity", fmt.Sprintf("%q", hs.identity))
	}
	ev.Msg("psk: handshake failed")
}

func (hs *serverHandshakeState) wipe() {
	for _, b := range [][]byte{hs.key, hs.early, hs.handshake, hs.master, hs.clientHS, hs.serverHS} {
		clear(b)
	}
}

// readClientHello reads the first ClientHello (§4.1.2).
func (hs *serverHandshakeState) readClientHello() error {
	ch, err := readMessage(hs.c, typeClientHello, parseClientHello)
	if err != nil {
		return err
	}
	hs.c.ccsOK = true // §5: a ChangeCipherSpec may follow from now on
	hs.ch = ch
	return nil
}

// processClientHello validates the ClientHello and makes every choice:
// version (§4.2.1), PSK identity (§4.2.11), cipher suite, key exchange
// mode (§4.2.9), group (§4.2.8) and ALPN (RFC 7301).
func (hs *serverHandshakeState) processClientHello() error {
	ch := hs.ch
	if !slices.Contains(ch.supportedVersions, VersionTLS13) {
		return localAlert(AlertProtocolVersion, "client does not offer TLS 1.3")
	}
	if ch.vers != versionTLS12 {
		return illegal("ClientHello legacy_version 0x%04x", ch.vers)
	}
	if len(ch.compressionMethods) != 1 || ch.compressionMethods[0] != 0 {
		return illegal("TLS 1.3 ClientHello with compression methods %v", ch.compressionMethods)
	}
	if len(ch.identities) == 0 {
		// §9.2: a TLS 1.3 ClientHello without pre_shared_key must carry
		// signature_algorithms and supported_groups, missing_extension
		// otherwise. A well-formed one asks for a certificate, which is
		// not served here: OpenSSL without a certificate answers
		// handshake_failure too. (A Listener hands such clients to
		// crypto/tls when it has a certificate configuration.)
		if !ch.signatureAlgs || !ch.has(extSupportedGroups) {
			return localAlert(AlertMissingExtension, "TLS 1.3 ClientHello without pre_shared_key, signature_algorithms or supported_groups")
		}
		return localAlert(AlertHandshakeFailure, "ClientHello without a pre-shared key (certificates are not served here)")
	}
	if len(ch.pskModes) == 0 {
		return localAlert(AlertMissingExtension, "pre_shared_key without psk_key_exchange_modes")
	}
	if !hs.hash.valid() {
		return localAlert(AlertInternalError, "psk: unknown PSK hash")
	}
	if err := hs.selectPSK(); err != nil {
		return err
	}
	if err := hs.selectSuite(); err != nil {
		return err
	}
	if err := hs.selectKeyExchange(); err != nil {
		return err
	}
	alpn, err := negotiateALPN(hs.cfg.NextProtos, ch.alpnProtocols)
	if err != nil {
		return err
	}
	hs.alpn = alpn
	if ch.earlyData {
		// 0-RTT is refused: skip the client's early records (§4.2.10).
		hs.c.earlySkip = maxEarlyDataSkip
	}
	return nil
}

// selectPSK looks up the offered identities in order and keeps the first
// with a key (§4.2.11). Unknown identities are skipped; none known is
// handshake_failure, as OpenSSL answers.
func (hs *serverHandshakeState) selectPSK() error {
	for i, id := range hs.ch.identities {
		if i == maxIdentities {
			break
		}
		if CheckIdentity(id.identity) != nil {
			continue
		}
		key, err := hs.c.lookupKey(hs.ctx, hs.cfg, id.identity)
		if err != nil {
			hs.identity = id.identity
			return wrapAlert(AlertInternalError, fmt.Errorf("psk: key lookup: %w", err))
		}
		if len(key) == 0 {
			continue
		}
		hs.identity = slices.Clone(id.identity)
		if err := CheckKey(key); err != nil {
			return wrapAlert(AlertInternalError, err)
		}
		hs.key = slices.Clone(key)
		hs.selected = i
		return nil
	}
	return localAlert(AlertHandshakeFailure, "no offered PSK identity is known")
}

// selectSuite picks the server's most preferred suite the client offers
// whose hash is the PSK's hash (§4.2.11).
func (hs *serverHandshakeState) selectSuite() error {
	for _, id := range suitesFor(hs.cfg.CipherSuites, hs.hash) {
		if slices.Contains(hs.ch.cipherSuites, id) {
			hs.suite = suiteByID(id)
			return nil
		}
	}
	return localAlert(AlertHandshakeFailure, "no cipher suite in common for a "+hs.hash.String()+" PSK")
}

// selectKeyExchange prefers psk_dhe_ke (as OpenSSL does), accepts psk_ke
// only when configured, and chooses the group: the first of the server's
// groups the client sent a share for, else the first it supports, which
// needs a HelloRetryRequest.
func (hs *serverHandshakeState) selectKeyExchange() error {
	ch := hs.ch
	switch {
	case slices.Contains(ch.pskModes, modePSKDHEKE):
		hs.dhe = true
	case slices.Contains(ch.pskModes, modePSKKE) && hs.cfg.AllowPSKOnly:
		return nil
	default:
		return localAlert(AlertHandshakeFailure, "no acceptable PSK key exchange mode")
	}
	if !ch.has(extSupportedGroups) || !ch.has(extKeyShare) {
		return localAlert(AlertMissingExtension, "psk_dhe_ke without supported_groups and key_share")
	}
	for _, ks := range ch.keyShares {
		if !slices.Contains(ch.supportedGroups, ks.group) {
			return illegal("key share for group %v not in supported_groups", ks.group)
		}
	}
	groups := groupsOr(hs.cfg.Groups)
	for _, g := range groups {
		for _, ks := range ch.keyShares {
			if ks.group == g && supportedGroup(g) {
				hs.group, hs.peerShare = g, ks.data
				return nil
			}
		}
	}
	for _, g := range groups {
		if slices.Contains(ch.supportedGroups, g) && supportedGroup(g) {
			hs.hrrGroup = g
			return nil
		}
	}
	return localAlert(AlertHandshakeFailure, "no (EC)DHE group in common")
}

// sendHelloRetryRequestIfNeeded asks for a key share of hs.hrrGroup
// (§4.1.4) and reads the second ClientHello, which must keep everything
// but the key share, the binders and early_data.
func (hs *serverHandshakeState) sendHelloRetryRequestIfNeeded() error {
	hs.transcript = newTranscript(hs.hash)
	if hs.hrrGroup == 0 {
		return nil
	}
	c := hs.c
	hs.transcript.Write(hs.ch.raw)
	hs.transcript.restartForHRR()
	hrr := &serverHelloMsg{
		vers:             versionTLS12,
		random:           helloRetryRequestRandom[:],
		sessionID:        hs.ch.sessionID,
		cipherSuite:      hs.suite.id,
		supportedVersion: VersionTLS13,
		selectedGroup:    hs.hrrGroup,
	}
	if err := hs.writeServerHello(hrr); err != nil {
		return err
	}
	if err := c.flushLocked(); err != nil {
		return err
	}

	ch2, err := readMessage(c, typeClientHello, parseClientHello)
	if err != nil {
		return err
	}
	first := hs.ch
	if !hmac.Equal(ch2.sessionID, first.sessionID) || ch2.vers != first.vers ||
		!slices.Equal(ch2.cipherSuites, first.cipherSuites) ||
		!slices.Equal(ch2.supportedVersions, first.supportedVersions) ||
		!slices.Equal(ch2.pskModes, first.pskModes) {
		return illegal("second ClientHello differs from the first")
	}
	if ch2.earlyData {
		return illegal("early_data in the second ClientHello")
	}
	if len(ch2.keyShares) != 1 || ch2.keyShares[0].group != hs.hrrGroup {
		return illegal("second ClientHello lacks a single %v key share", hs.hrrGroup)
	}
	if !slices.Contains(ch2.supportedGroups, hs.hrrGroup) {
		return illegal("second ClientHello drops group %v", hs.hrrGroup)
	}
	idx := -1
	for i, id := range ch2.identities {
		if i < maxIdentities && string(id.identity) == string(hs.identity) {
			idx = i
			break
		}
	}
	if idx < 0 {
		return illegal("second ClientHello drops the selected PSK identity")
	}
	hs.firstHello, hs.ch, hs.selected = first, ch2, idx
	hs.group, hs.peerShare = hs.hrrGroup, ch2.keyShares[0].data
	return nil
}

// verifyBinder checks the selected identity's binder (§4.2.11.2) in
// constant time. A wrong key is illegal_parameter, as OpenSSL answers.
func (hs *serverHandshakeState) verifyBinder() error {
	ch := hs.ch
	binder := ch.binders[hs.selected]
	truncated := ch.raw[:len(ch.raw)-ch.bindersLen()]
	hs.early = earlySecret(hs.hash, hs.key)
	want := finishedMAC(hs.hash, binderKey(hs.hash, hs.early, true), hs.transcript.sumWith(truncated))
	if len(binder) != len(want) || !hmac.Equal(binder, want) {
		return localAlert(AlertIllegalParameter, "PSK binder does not verify (wrong key)")
	}
	hs.transcript.Write(ch.raw)
	return nil
}

// writeServerHello writes a ServerHello or HelloRetryRequest, then, in
// compatibility mode (§D.4: the client sent a session ID), the one
// ChangeCipherSpec that follows the first of them.
func (hs *serverHandshakeState) writeServerHello(m *serverHelloMsg) error {
	raw, err := m.marshal()
	if err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	if err := hs.c.writeHandshakeLocked(raw, hs.transcript); err != nil {
		return err
	}
	if !hs.sentCCS && len(hs.ch.sessionID) > 0 {
		hs.c.writeChangeCipherSpecLocked()
		hs.sentCCS = true
	}
	return nil
}

// sendServerHello sends the ServerHello with the selected identity and
// our key share, then installs the handshake keys (§7.1).
func (hs *serverHandshakeState) sendServerHello() error {
	c := hs.c
	sh := &serverHelloMsg{
		vers:             versionTLS12,
		random:           make([]byte, 32),
		sessionID:        hs.ch.sessionID,
		cipherSuite:      hs.suite.id,
		supportedVersion: VersionTLS13,
		hasPSK:           true,
		selectedIdentity: uint16(hs.selected),
	}
	if _, err := io.ReadFull(randReader(hs.cfg.Rand), sh.random); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	var shared []byte
	if hs.dhe {
		priv, err := generateKeyShare(hs.group, randReader(hs.cfg.Rand))
		if err != nil {
			return wrapAlert(AlertInternalError, err)
		}
		if shared, err = sharedSecret(priv, hs.group, hs.peerShare); err != nil {
			return err
		}
		defer clear(shared)
		sh.keyShare = keyShare{group: hs.group, data: priv.PublicKey().Bytes()}
	}
	if err := hs.writeServerHello(sh); err != nil {
		return err
	}
	if err := c.atRecordBoundary(); err != nil {
		return err
	}
	hs.handshake, hs.clientHS, hs.serverHS = handshakeTrafficSecrets(hs.hash, hs.early, shared, hs.transcript.Sum())
	if err := c.setTrafficSecrets(hs.suite, hs.clientHS, hs.serverHS); err != nil {
		return err
	}
	// Refused 0-RTT records fail to decrypt under the handshake key and are
	// skipped, up to a bound (§4.2.10). Not after a HelloRetryRequest.
	c.skipFailed = hs.ch.earlyData && hs.firstHello == nil
	return nil
}

// sendEncryptedExtensions sends EncryptedExtensions (§4.3.1): ALPN only.
func (hs *serverHandshakeState) sendEncryptedExtensions() error {
	ee := &encryptedExtensionsMsg{alpnProtocol: hs.alpn}
	raw, err := ee.marshal()
	if err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	return hs.c.writeHandshakeLocked(raw, hs.transcript)
}

// sendServerFinished sends Finished (§4.4.4), derives the application
// secrets and installs the server's application write key.
func (hs *serverHandshakeState) sendServerFinished() error {
	c := hs.c
	verify := finishedMAC(hs.hash, hs.serverHS, hs.transcript.Sum())
	if err := c.writeHandshakeLocked(marshalFinished(verify), hs.transcript); err != nil {
		return err
	}
	if err := c.flushLocked(); err != nil {
		return err
	}
	hs.master = masterSecret(hs.hash, hs.handshake)
	th := hs.transcript.Sum()
	hs.clientAP = deriveSecret(hs.hash, hs.master, "c ap traffic", th)
	serverAP := deriveSecret(hs.hash, hs.master, "s ap traffic", th)
	if err := c.out.setTrafficSecret(hs.suite, serverAP); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	return nil
}

// readClientFinished verifies the client's Finished (§4.4.4) and installs
// the client application read key.
func (hs *serverHandshakeState) readClientFinished() error {
	c := hs.c
	msg, err := c.readHandshake(typeFinished)
	if err != nil {
		var ae *AlertError
		if errors.As(err, &ae) && ae.Alert == AlertBadRecordMAC && !ae.Remote {
			ae.Err = errors.New("client Finished does not decrypt: the client derived other keys")
		}
		return err
	}
	if err := verifyFinished(msg, hs.hash, hs.clientHS, hs.transcript.Sum(), "client"); err != nil {
		return err
	}
	if err := c.atRecordBoundary(); err != nil {
		return err
	}
	c.skipFailed, c.earlySkip = false, 0
	if err := c.in.setTrafficSecret(hs.suite, hs.clientAP); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	return nil
}

// lookupCache holds key lookups a Listener made while routing, so the
// handshake does not repeat them. The keys are copies, zeroed by release
// when the handshake ends.
type lookupCache struct {
	keys map[string][]byte
}

// release zeroes and drops the cached keys; a nil cache is a no-op.
func (l *lookupCache) release() {
	if l == nil {
		return
	}
	for _, k := range l.keys {
		clear(k)
	}
	l.keys = nil
}

// releasePreKeys drops the Listener's lookups (handshake over, or the
// connection was not handed out).
func (c *Conn) releasePreKeys() {
	c.preKeys.release()
	c.preKeys = nil
}

// lookupKey calls the server hook with a deadline (or uses the cache).
func (c *Conn) lookupKey(ctx context.Context, cfg *ServerConfig, identity []byte) ([]byte, error) {
	if c.preKeys != nil {
		if k, ok := c.preKeys.keys[string(identity)]; ok {
			return k, nil
		}
	}
	return callGetKey(ctx, cfg, identity)
}

func callGetKey(ctx context.Context, cfg *ServerConfig, identity []byte) ([]byte, error) {
	timeout := cfg.KeyLookupTimeout
	if timeout <= 0 {
		timeout = DefaultKeyLookupTimeout
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return cfg.GetKey(lctx, slices.Clone(identity))
}

// negotiateALPN picks the first of the server's protocols (ours) that the
// client offers. With no protocols on either side there is nothing to
// negotiate; with some on both but none in common the handshake fails
// with no_application_protocol (RFC 7301 §3.2). Both TLS versions' servers
// use it.
func negotiateALPN(ours, offered []string) (string, error) {
	if len(ours) == 0 || len(offered) == 0 {
		return "", nil
	}
	var alpn string
	for _, p := range ours {
		if slices.Contains(offered, p) {
			alpn = p
			break
		}
	}
	if alpn == "" {
		return "", localAlert(AlertNoApplicationProtocol, "no ALPN protocol in common")
	}
	return alpn, nil
}
