package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"slices"
	"time"

	"github.com/rs/zerolog"
)

// Policy is the verification model shared by ClientOptions and
// ServerOptions (for client certificates): trust anchors, ignore policy,
// pins and pause. The zero value verifies against the system roots,
// ignores nothing, pins nothing and never pauses.
type Policy struct {
	// Roots are the trust anchors; nil means the system roots (or only the
	// CA file's certificates when the options name one).
	Roots *x509.CertPool
	// RootCerts are further trust anchors; see VerifyOptions.RootCerts.
	RootCerts []*x509.Certificate
	// Ignore decides which SSL errors are accepted.
	Ignore IgnorePolicy
	// Pins, when not empty, must match the peer (see PinMatch). A
	// mismatch is never ignorable.
	Pins []Pin
	// PinMatch selects the certificates pins match: leaf (default) or
	// any certificate of the chain.
	PinMatch PinMatch
	// PinOnly makes the pins replace CA verification (see
	// VerifyOptions.PinOnly); it requires Pins.
	PinOnly bool
	// Pause selects pause-on-SSL-errors; it requires Registry.
	Pause PauseMode
	// PauseTimeout bounds a pause; zero means DefaultPauseTimeout. When it
	// passes, the handshake is aborted with ErrPauseTimeout. A handshake
	// joining a pending decision waits at most until that decision's
	// deadline.
	PauseTimeout time.Duration
	// MaxPending bounds the decisions pending in the Registry that this
	// policy's handshakes wait on (its share of the registry: in
	// wssproxy, one route's); zero means DefaultMaxPendingPerPolicy (4).
	// Beyond it, a handshake that would pause fails at once with a
	// VerificationError whose Cause wraps ErrTooManyPending. The share is
	// counted per built Client or server configuration.
	MaxPending int
	// Registry lists paused handshakes and takes decisions about them. It
	// also keeps the pins remembered on resume: with a Registry, a leaf
	// whose key was remembered for the server name is accepted even
	// without pause mode.
	Registry *Registry
	// OnPause, if set, is called on the handshake's goroutine when a
	// handshake opens a new decision, before it waits; handshakes that
	// join a pending decision (same server name, leaf and unaccepted
	// errors) do not call it again. It must not block; it may call
	// Registry.Resume or Registry.Abort (also later, from elsewhere).
	OnPause func(PausedHandshake)
	// Logger receives verification events: Warn for every connection in
	// ignore-all mode and for pauses, Info for accepted ignored errors,
	// Debug otherwise. The zero value logs nothing.
	Logger zerolog.Logger
}

// Sentinel configuration errors.
var (
	errPinOnlyWithoutPins = errors.New("tlsconf: PinOnly needs at least one pin")
	errPauseNoRegistry    = errors.New("tlsconf: pause mode needs a Registry")
)

// verifier enforces a Policy; it is immutable once built.
type verifier struct {
	p         Policy
	tofu      *TOFU       // trust on first use (clients only), nil if off
	memo      *verifyMemo // clean chains, for resumed handshakes; nil if off
	keyUsages []x509.ExtKeyUsage
	now       func() time.Time
}

func newVerifier(p *Policy, usage x509.ExtKeyUsage, now func() time.Time) (*verifier, error) {
	var pol Policy
	if p != nil {
		pol = *p
	}
	pol.RootCerts = slices.Clone(pol.RootCerts)
	pol.Pins = slices.Clone(pol.Pins)
	pol.Ignore.Expected = slices.Clone(pol.Ignore.Expected)
	if pol.PinOnly && len(pol.Pins) == 0 {
		return nil, errPinOnlyWithoutPins
	}
	if pol.Pause != PauseNever && pol.Registry == nil {
		return nil, errPauseNoRegistry
	}
	if pol.PauseTimeout <= 0 {
		pol.PauseTimeout = DefaultPauseTimeout
	}
	if pol.MaxPending <= 0 {
		pol.MaxPending = DefaultMaxPendingPerPolicy
	}
	if now == nil {
		now = time.Now
	}
	return &verifier{p: pol, keyUsages: []x509.ExtKeyUsage{usage}, now: now}, nil
}

// check is the body of tls.Config.VerifyConnection. ctx bounds a pause;
// name is the host name to verify ("" for client certificates); peer and
// sni describe the connection in logs and the registry.
func (v *verifier) check(ctx context.Context, cs tls.ConnectionState, name, peer, sni string, hostCheck bool) error {
	chain := cs.PeerCertificates
	if v.tofu != nil {
		return v.checkTOFU(ctx, chain, name, peer, sni)
	}
	log := v.p.Logger
	errs := v.chainProblems(cs.DidResume, chain, name, hostCheck)
	if v.p.Ignore.Mode == IgnoreAll {
		log.Warn().Str("peer", peer).Str("sni", sni).Interface("ssl_errors", errs).
			Msg("tlsconf: INSECURE: ignore-all policy, certificate problems are not checked")
	}
	if len(errs) == 0 {
		log.Debug().Str("peer", peer).Str("sni", sni).Msg("tlsconf: certificate verified")
		return nil
	}
	unignored := v.p.Ignore.Unignored(errs)
	if len(unignored) == 0 {
		if v.p.Ignore.Mode != IgnoreAll {
			log.Info().Str("peer", peer).Str("sni", sni).Interface("ssl_errors", errs).Msg("tlsconf: certificate problems ignored by policy")
		}
		return nil
	}
	key := name
	if key == "" {
		key = sni
	}
	ignorable := !slices.ContainsFunc(unignored, func(e SSLError) bool { return !e.Kind.Ignorable() })
	if ignorable && v.p.Registry != nil && len(chain) > 0 && v.p.Registry.remembers(key, chain[0], unignored) {
		log.Info().Str("peer", peer).Str("sni", sni).Str("spki_pin", SPKIPin(chain[0])).Msg("tlsconf: certificate accepted by a remembered pin")
		return nil
	}
	if !ignorable || v.p.Pause == PauseNever {
		return &VerificationError{Errors: errs, Unignored: unignored}
	}

	info := PausedHandshake{Peer: peer, ServerName: key, Chain: Summarize(chain), Errors: errs, Unignored: unignored}
	var leaf *x509.Certificate
	if len(chain) > 0 {
		leaf = chain[0]
	}
	hooks := pauseHooks{
		opened: func(p PausedHandshake) {
			log.Warn().Str("peer", peer).Str("sni", sni).Str("paused_id", p.ID).Interface("ssl_errors", unignored).Msg("tlsconf: handshake paused on SSL errors")
			if v.p.OnPause != nil {
				v.p.OnPause(p)
			}
		},
		joined: func(p PausedHandshake) {
			log.Debug().Str("peer", peer).Str("sni", sni).Str("paused_id", p.ID).Int("waiters", p.Waiters).Msg("tlsconf: handshake waits on a pending decision")
		},
	}
	d, cause := v.p.Registry.wait(ctx, v, v.p.MaxPending, info, leaf, v.p.PauseTimeout, hooks)
	if errors.Is(cause, ErrTooManyPending) {
		log.Debug().Err(cause).Str("peer", peer).Str("sni", sni).Msg("tlsconf: handshake not paused")
		return &VerificationError{Errors: errs, Unignored: unignored, Cause: cause}
	}
	if cause != nil {
		log.Warn().Err(cause).Str("peer", peer).Msg("tlsconf: paused handshake ended without a decision")
		return &VerificationError{Errors: errs, Unignored: unignored, Cause: cause}
	}
	if !d.resume {
		log.Warn().Str("peer", peer).Msg("tlsconf: paused handshake aborted")
		return &VerificationError{Errors: errs, Unignored: unignored, Cause: ErrPauseAborted}
	}
	if d.ignore != nil {
		var rest []SSLError
		for _, e := range unignored {
			if !coveredBy(d.ignore, e) {
				rest = append(rest, e)
			}
		}
		if len(rest) > 0 {
			log.Warn().Str("peer", peer).Interface("ssl_errors", rest).Msg("tlsconf: resumed handshake still has unaccepted errors")
			return &VerificationError{Errors: errs, Unignored: rest}
		}
	}
	log.Warn().Str("peer", peer).Interface("ssl_errors", unignored).Msg("tlsconf: paused handshake resumed, errors accepted")
	return nil
}

// chainProblems is problems at the current time, answered from the
// memo (if any) for a resumed handshake whose chain it holds as clean.
func (v *verifier) chainProblems(resumed bool, chain []*x509.Certificate, name string, hostCheck bool) []SSLError {
	now := v.now()
	if v.memo != nil && resumed && v.memo.clean(chain, name, hostCheck, now) {
		return nil
	}
	errs := v.problems(chain, name, hostCheck, now)
	if v.memo != nil && len(errs) == 0 {
		v.memo.record(chain, name, hostCheck, now)
	}
	return errs
}

// problems returns every SSL error of chain at now under the policy's
// anchors and pins, with the host name check when hostCheck is set (and
// the pins do not replace CA verification).
func (v *verifier) problems(chain []*x509.Certificate, name string, hostCheck bool, now time.Time) []SSLError {
	opts := VerifyOptions{
		Roots: v.p.Roots, RootCerts: v.p.RootCerts, CurrentTime: now,
		KeyUsages: v.keyUsages, Pins: v.p.Pins, PinMatch: v.p.PinMatch, PinOnly: v.p.PinOnly,
	}
	errs := Verify(chain, opts)
	if hostCheck && !v.p.PinOnly && len(chain) > 0 {
		if name == "" {
			errs = insertSorted(errs, SSLError{Kind: HostnameMismatch, Cert: chain[0], Depth: 0,
				Detail: "no server name to verify the certificate against (set ServerName)"})
		} else if err := chain[0].VerifyHostname(name); err != nil {
			errs = insertSorted(errs, SSLError{Kind: HostnameMismatch, Cert: chain[0], Depth: 0,
				Detail: "certificate is valid for " + certNames(chain[0]) + ", not " + name, Err: err})
		}
	}
	return errs
}

func insertSorted(errs []SSLError, e SSLError) []SSLError {
	for _, x := range errs {
		if x.Kind == e.Kind && x.Depth == e.Depth {
			return errs
		}
	}
	i := 0
	for i < len(errs) && (errs[i].Kind < e.Kind || errs[i].Kind == e.Kind && errs[i].Depth <= e.Depth) {
		i++
	}
	return slices.Insert(errs, i, e)
}
