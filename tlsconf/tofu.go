package tlsconf

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"
)

// TOFU is trust on first use for a client, in the manner of OpenSSH's
// known_hosts: the keys a server may present are remembered in a
// TrustStore under one name (Server). Set in ClientOptions.TOFU, it
// changes how NewClient's handshakes decide:
//
//   - A server with remembered keys must present one of them as its leaf
//     (SPKI or certificate pin, compared in constant time). The remembered
//     key replaces CA verification, as a pin with Policy.PinOnly does;
//     another key fails the handshake with a VerificationError holding a
//     pin-mismatch (never ignorable: Decide is not asked) and a
//     *KeyChangedError naming the remembered entries and the key
//     presented.
//   - A server without remembered keys (first contact) is verified as
//     usual, then Decide is asked, with the complete SSL error list, the
//     chain and the key that would be remembered: abort, accept once, or
//     accept and remember the leaf's SPKI pin (a PinEntry with source
//     tofu, the error kinds accepted and the time). An error that cannot
//     be ignored (pin-mismatch) fails without asking.
//
// Decide runs bounded by the handshake's context (see Client.Config) and
// by Timeout; when either ends first the handshake fails with that
// cause, and Decide's context ends too. Store reads and writes are
// bounded by the handshake's context and DefaultStoreTimeout; a store
// that cannot be read, or a key that cannot be remembered, fails the
// handshake with the store's error (nothing is accepted that the caller
// asked to remember but was not).
//
// TOFU excludes Policy.Pins (explicit pins decide) and pause mode (Decide
// is the question asked).
type TOFU struct {
	// Store keeps the remembered keys; required.
	Store TrustStore
	// Server is the name the keys are remembered under, normally
	// HOST:PORT (wssproxy client uses the URL's, the port defaulting to
	// 443). Empty means the name the certificate is verified against.
	Server string
	// Decide is asked about a first contact; nil accepts and remembers
	// every first contact (OpenSSH's StrictHostKeyChecking=accept-new). It
	// is called on the handshake's goroutine's behalf from a goroutine of
	// its own and must return once ctx ends. An error fails the handshake.
	Decide func(ctx context.Context, req TOFURequest) (TOFUDecision, error)
	// Timeout bounds Decide; zero means DefaultPauseTimeout.
	Timeout time.Duration
	// By is recorded as PinEntry.By (who accepted: a user name); a word
	// without white space, '#' or '=', or empty.
	By string
	// OnRemembered, if set, is called after a key was written to Store.
	OnRemembered func(PinEntry)
}

// TOFUDecision is the answer about a server met for the first time.
type TOFUDecision uint8

const (
	// TOFUAbort fails the handshake (ErrTOFUAborted). It is the zero
	// value.
	TOFUAbort TOFUDecision = iota
	// TOFUAcceptOnce continues this handshake and remembers nothing.
	TOFUAcceptOnce
	// TOFURemember continues and remembers the leaf's key in the store.
	TOFURemember
)

// String returns "abort", "accept-once" or "remember".
func (d TOFUDecision) String() string {
	return enumString(d, "TOFUDecision", []string{TOFUAbort: "abort", TOFUAcceptOnce: "accept-once", TOFURemember: "remember"})
}

// TOFURequest describes a first contact for TOFU.Decide.
type TOFURequest struct {
	// Server is the name the key would be remembered under.
	Server string
	// ServerName is the name the certificate was verified against.
	ServerName string
	// Peer is the remote address, when known.
	Peer string
	// Chain summarizes the certificates the server sent, leaf first:
	// subject, issuer, validity, SHA-256 fingerprint and SPKI pin.
	Chain []CertSummary
	// Certificates are the certificates themselves.
	Certificates []*x509.Certificate
	// Errors is every SSL problem found (empty when the chain verified).
	Errors []SSLError
	// Unignored is the part of Errors the ignore policy does not accept.
	Unignored []SSLError
	// Pin is the leaf's SPKI pin: the key TOFURemember remembers.
	Pin Pin
}

// Causes of a VerificationError when a first contact was not accepted.
var (
	// ErrTOFUAborted: TOFU.Decide answered TOFUAbort.
	ErrTOFUAborted = errors.New("tlsconf: first use of the server not accepted")
	// ErrTOFUTimeout: TOFU.Decide gave no answer within TOFU.Timeout.
	ErrTOFUTimeout = errors.New("tlsconf: no decision about the first use of the server in time")
)

// KeyChangedError is the cause of a VerificationError when a server with
// remembered keys presented another one (OpenSSH's "REMOTE HOST
// IDENTIFICATION HAS CHANGED"). Find it with errors.As.
type KeyChangedError struct {
	// Server is the name the keys are remembered under.
	Server string
	// Remembered are the store's entries for Server (with their line
	// numbers when the store is a FileStore).
	Remembered []PinEntry
	// Presented is the leaf the server sent (nil if none).
	Presented *x509.Certificate
}

// Error names the server and the key presented.
func (e *KeyChangedError) Error() string {
	presented := "no certificate"
	if e.Presented != nil {
		presented = SPKIPinOf(e.Presented).String()
	}
	return fmt.Sprintf("tlsconf: the key of %s has changed: it presented %s, %d other key(s) remembered", e.Server, presented, len(e.Remembered))
}

// validate checks t for NewClient.
func (t *TOFU) validate(pol *Policy) error {
	switch {
	case t.Store == nil:
		return errors.New("tlsconf: TOFU needs a Store")
	case len(pol.Pins) > 0:
		return errors.New("tlsconf: TOFU excludes Policy.Pins (explicit pins decide)")
	case pol.Pause != PauseNever:
		return errors.New("tlsconf: TOFU excludes pause mode (TOFU.Decide is the question asked)")
	case t.Server != "" && !storeToken(t.Server):
		return fmt.Errorf("tlsconf: TOFU server %q must be a word without white space, '#' or '='", t.Server)
	case t.By != "" && !storeToken(t.By):
		return fmt.Errorf("tlsconf: TOFU by %q must be a word without white space, '#' or '='", t.By)
	case t.Timeout < 0:
		return fmt.Errorf("tlsconf: TOFU timeout %v is negative", t.Timeout)
	}
	return nil
}

// checkTOFU is check's body for a client with TOFU: the remembered keys
// decide, or the first contact is decided.
func (v *verifier) checkTOFU(ctx context.Context, chain []*x509.Certificate, name, peer, sni string) error {
	t := v.tofu
	log := v.p.Logger
	server := t.Server
	if server == "" {
		server = name
	}
	if server == "" || !storeToken(server) {
		return fmt.Errorf("tlsconf: TOFU: no usable server name (%q) to remember keys under (set TOFU.Server)", server)
	}
	sctx, cancel := context.WithTimeout(ctx, DefaultStoreTimeout)
	remembered, err := t.Store.PinsFor(sctx, server)
	cancel()
	if err != nil {
		return fmt.Errorf("tlsconf: TOFU: reading the remembered keys of %s: %w", server, err)
	}
	if len(remembered) > 0 {
		pins := make([]Pin, len(remembered))
		for i, e := range remembered {
			pins[i] = e.Pin
		}
		errs := Verify(chain, VerifyOptions{CurrentTime: v.now(), KeyUsages: v.keyUsages, Pins: pins, PinMatch: PinMatchLeaf, PinOnly: true})
		if len(errs) == 0 {
			log.Debug().Str("peer", peer).Str("sni", sni).Str("server", server).Msg("tlsconf: certificate accepted by a remembered key")
			return nil
		}
		kc := &KeyChangedError{Server: server, Remembered: remembered}
		if len(chain) > 0 {
			kc.Presented = chain[0]
		}
		log.Warn().Str("peer", peer).Str("sni", sni).Str("server", server).Interface("ssl_errors", errs).Msg("tlsconf: the server's key is not the one remembered")
		return &VerificationError{Errors: errs, Unignored: errs, Cause: kc}
	}

	errs := v.problems(chain, name, true, v.now())
	unignored := v.p.Ignore.Unignored(errs)
	if len(chain) == 0 || slices.ContainsFunc(unignored, func(e SSLError) bool { return !e.Kind.Ignorable() }) {
		return &VerificationError{Errors: errs, Unignored: unignored}
	}
	req := TOFURequest{
		Server: server, ServerName: name, Peer: peer, Chain: Summarize(chain),
		Certificates: slices.Clone(chain), Errors: errs, Unignored: unignored, Pin: SPKIPinOf(chain[0]),
	}
	d, err := t.decide(ctx, req)
	if err != nil {
		log.Warn().Err(err).Str("peer", peer).Str("server", server).Msg("tlsconf: first use of the server undecided")
		return &VerificationError{Errors: errs, Unignored: unignored, Cause: err}
	}
	switch d {
	case TOFUAcceptOnce:
		log.Info().Str("peer", peer).Str("server", server).Interface("ssl_errors", errs).Msg("tlsconf: first use of the server accepted once")
		return nil
	case TOFURemember:
		kinds := make([]ErrorKind, 0, len(errs))
		for _, e := range errs {
			if !slices.Contains(kinds, e.Kind) {
				kinds = append(kinds, e.Kind)
			}
		}
		entry := PinEntry{
			Server: server, Pin: req.Pin, Kinds: kinds, Added: v.now().UTC().Truncate(time.Second),
			Source: SourceTOFU, By: t.By, Note: chain[0].Subject.String(),
		}
		sctx, cancel := context.WithTimeout(ctx, DefaultStoreTimeout)
		err := t.Store.PutPin(sctx, entry)
		cancel()
		if err != nil {
			return fmt.Errorf("tlsconf: TOFU: remembering the key of %s: %w", server, err)
		}
		log.Info().Str("peer", peer).Str("server", server).Str("spki_pin", req.Pin.String()).Msg("tlsconf: first use of the server: key remembered")
		if t.OnRemembered != nil {
			t.OnRemembered(entry)
		}
		return nil
	}
	return &VerificationError{Errors: errs, Unignored: unignored, Cause: ErrTOFUAborted}
}

// decide asks t.Decide (nil: remember) within ctx and the timeout. Decide
// runs on a goroutine of its own so that the handshake never waits
// beyond them, whatever Decide does.
func (t *TOFU) decide(ctx context.Context, req TOFURequest) (TOFUDecision, error) {
	if t.Decide == nil {
		return TOFURemember, nil
	}
	timeout := t.Timeout
	if timeout == 0 {
		timeout = DefaultPauseTimeout
	}
	dctx, cancel := context.WithTimeoutCause(ctx, timeout, ErrTOFUTimeout)
	defer cancel()
	type answer struct {
		d   TOFUDecision
		err error
	}
	done := make(chan answer, 1)
	go func() {
		d, err := t.Decide(dctx, req)
		done <- answer{d, err}
	}()
	select {
	case a := <-done:
		if a.err != nil {
			return TOFUAbort, fmt.Errorf("tlsconf: TOFU decision: %w", a.err)
		}
		return a.d, nil
	case <-dctx.Done():
		return TOFUAbort, context.Cause(dctx)
	}
}
