package tlsconf

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PauseMode selects whether a handshake with SSL errors is failed at once
// or held for a decision (Qt's QAbstractSocket::PauseOnSslErrors).
type PauseMode uint8

const (
	// PauseNever (the default) fails a handshake with unignored errors.
	PauseNever PauseMode = iota
	// PauseOnSSLErrors holds such a handshake in a Registry until
	// Registry.Resume, Registry.Abort, the pause timeout or the end of the
	// connection's context. Handshakes whose errors include a pin mismatch
	// are never held: no decision could accept them.
	PauseOnSSLErrors
)

// String returns "never" or "on-ssl-errors".
func (m PauseMode) String() string {
	return enumString(m, "PauseMode", []string{PauseNever: "never", PauseOnSSLErrors: "on-ssl-errors"})
}

// DefaultPauseTimeout is how long a paused handshake waits for a decision
// before it is aborted, unless Policy.PauseTimeout says otherwise.
const DefaultPauseTimeout = 30 * time.Second

// DefaultMaxPending bounds the pending decisions of a Registry unless
// RegistryOptions.MaxPending says otherwise.
const DefaultMaxPending = 16

// DefaultMaxWaiters bounds the handshakes waiting on one decision unless
// RegistryOptions.MaxWaiters says otherwise. Each holds its connection
// (and, in wssproxy, its client's) until the decision.
const DefaultMaxWaiters = 64

// DefaultMaxPendingPerPolicy bounds the pending decisions the handshakes
// of one Client or server configuration (in wssproxy: one route) may wait
// on, unless Policy.MaxPending says otherwise.
const DefaultMaxPendingPerPolicy = 4

// ErrTooManyPending is the cause of a VerificationError when a handshake
// would have paused but its Registry, or its policy's share of it, already
// holds as many pending decisions as allowed (RegistryOptions.MaxPending,
// Policy.MaxPending), or the decision it would join has as many waiters
// as allowed (RegistryOptions.MaxWaiters). The handshake fails at once instead of waiting, so
// that unauthenticated peers cannot fill the registry and bury a pause an
// operator must decide.
var ErrTooManyPending = errors.New("tlsconf: too many paused handshakes awaiting a decision")

// PausedHandshake describes a pending decision in a Registry: the
// handshakes to one server name with one leaf certificate and the same
// unaccepted errors wait on it together. It is a snapshot; act on it with
// Registry.Resume or Registry.Abort and its ID.
type PausedHandshake struct {
	// ID identifies the pending decision in the registry (random, URL-safe).
	ID string `json:"id"`
	// Peer is the remote address of the handshake that opened it.
	Peer string `json:"peer"`
	// ServerName is the SNI name (server side: the name the client asked
	// for; client side: the name verified).
	ServerName string `json:"server_name"`
	// Chain summarises the peer's certificates, leaf first.
	Chain []CertSummary `json:"chain"`
	// Errors is every problem found; Unignored those the policy did not
	// accept.
	Errors    []SSLError `json:"errors"`
	Unignored []SSLError `json:"unignored"`
	// Waiters is the number of handshakes waiting on the decision (1 in
	// the snapshot given to Policy.OnPause).
	Waiters int `json:"waiters"`
	// Since is when the decision was opened; Deadline when the pause
	// timeout of the handshake that opened it ends every wait on it.
	Since    time.Time `json:"since"`
	Deadline time.Time `json:"deadline"`
}

// decision is what Resume or Abort gives the waiting handshakes.
type decision struct {
	resume   bool
	ignore   []ExpectedError // nil: accept the errors shown
	remember bool
	entry    *PinEntry // the pin to remember, if remember
}

// pending is one decision and the handshakes waiting on it. Its fields
// are guarded by Registry.mu, except done (closed once decided) and d,
// which is written before done is closed and read after.
type pending struct {
	info    PausedHandshake
	key     string
	leaf    *x509.Certificate
	waiters int
	owners  map[*verifier]int // waiters per policy
	done    chan struct{}
	d       decision
	decided bool
	dropped bool // no longer in the registry: decided, expired or abandoned
}

// RegistryOptions configure a Registry; nil or zero fields mean the
// defaults.
type RegistryOptions struct {
	// MaxPending bounds the decisions pending at once, over every policy
	// sharing the Registry; default DefaultMaxPending (16). A handshake
	// that would open one more fails at once with ErrTooManyPending;
	// handshakes joining a pending decision are not refused by it.
	MaxPending int
	// MaxWaiters bounds the handshakes waiting on one decision; default
	// DefaultMaxWaiters (64). A handshake that would join a decision
	// with that many waiters fails at once with ErrTooManyPending.
	MaxWaiters int
	// Store, if set, keeps the pins remembered on resume: Resume with
	// rememberAsPin writes them to it before releasing the handshakes,
	// LoadPins and WatchPins read them back, Revoke deletes them.
	Store TrustStore
	// StoreTimeout bounds each Store operation Resume and Revoke make
	// without a context of their own; default DefaultStoreTimeout.
	StoreTimeout time.Duration
}

// DefaultStoreTimeout bounds a Registry's Store operations unless
// RegistryOptions.StoreTimeout says otherwise.
const DefaultStoreTimeout = 5 * time.Second

// Registry holds pending decisions about paused handshakes and the pins
// remembered on resume. Handshakes that pause for the same server name,
// leaf certificate and unaccepted errors wait on one decision: the
// registry lists it once (with a count of waiters), and Resume or Abort
// of it releases them all. The decisions pending are bounded, in all
// (RegistryOptions.MaxPending) and per policy (Policy.MaxPending), and so
// are the handshakes waiting on each (RegistryOptions.MaxWaiters). It is
// safe for concurrent use; the zero value is ready and uses the defaults.
// Share one Registry between the configurations whose pauses one operator
// (or admin API) decides.
type Registry struct {
	mu         sync.Mutex
	maxPending int
	maxWaiters int
	pending    map[string]*pending   // by ID
	byKey      map[string]*pending   // by server name, leaf and unaccepted errors
	perOwner   map[*verifier]int     // decisions each policy has handshakes waiting on
	remembered map[string][]PinEntry // by server name
	store      TrustStore
	storeWait  time.Duration
}

// NewRegistry returns an empty Registry with the default limits.
func NewRegistry() *Registry { return &Registry{} }

// NewRegistryWithOptions returns an empty Registry configured by opts (nil
// means defaults). opts is copied.
func NewRegistryWithOptions(opts *RegistryOptions) *Registry {
	r := &Registry{}
	if opts != nil {
		r.maxPending, r.maxWaiters = opts.MaxPending, opts.MaxWaiters
		r.store, r.storeWait = opts.Store, opts.StoreTimeout
	}
	if r.storeWait <= 0 {
		r.storeWait = DefaultStoreTimeout
	}
	return r
}

// MaxPending returns the bound on pending decisions.
func (r *Registry) MaxPending() int {
	if r.maxPending > 0 {
		return r.maxPending
	}
	return DefaultMaxPending
}

// MaxWaiters returns the bound on handshakes waiting on one decision.
func (r *Registry) MaxWaiters() int {
	if r.maxWaiters > 0 {
		return r.maxWaiters
	}
	return DefaultMaxWaiters
}

// List returns the pending decisions, oldest first.
func (r *Registry) List() []PausedHandshake {
	r.mu.Lock()
	out := make([]PausedHandshake, 0, len(r.pending))
	for _, p := range r.pending {
		out = append(out, p.snapshot())
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b PausedHandshake) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	return out
}

// Pending returns how many decisions are pending and how many handshakes
// wait on them.
func (r *Registry) Pending() (decisions, handshakes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.pending {
		handshakes += p.waiters
	}
	return len(r.pending), handshakes
}

// Get returns the pending decision with the given id.
func (r *Registry) Get(id string) (PausedHandshake, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.pending[id]
	if !ok {
		return PausedHandshake{}, false
	}
	return p.snapshot(), true
}

func (p *pending) snapshot() PausedHandshake {
	info := p.info
	info.Waiters = p.waiters
	return info
}

// Resume lets every handshake waiting on decision id continue. With
// ignore nil, the errors it was paused for are accepted (operator
// approval); otherwise only the errors ignore covers are, on top of each
// policy's own list, and a handshake still fails if any remain. With
// rememberAsPin, the leaf's public-key pin is remembered for the server
// name: later handshakes through this registry whose leaf has that key
// are accepted without a pause, whatever their ignorable errors (trust on
// first use). With a Store, the pin is written there first (within
// RegistryOptions.StoreTimeout); if that fails, the error is returned and
// the handshakes stay paused. It returns ErrNotPaused if id is not
// pending (any more).
func (r *Registry) Resume(id string, ignore []ExpectedError, rememberAsPin bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), r.storeTimeout())
	defer cancel()
	return r.ResumeBy(ctx, id, ignore, rememberAsPin, "")
}

// ResumeBy is Resume with a context bounding the Store write and who
// decided (by, recorded with a remembered pin: a word without '#' or
// '=', or empty).
func (r *Registry) ResumeBy(ctx context.Context, id string, ignore []ExpectedError, rememberAsPin bool, by string) error {
	d := decision{resume: true, ignore: slices.Clone(ignore), remember: rememberAsPin}
	if rememberAsPin {
		r.mu.Lock()
		p, ok := r.pending[id]
		var e PinEntry
		if ok && p.leaf != nil {
			e = PinEntry{Server: p.info.ServerName, Pin: SPKIPinOf(p.leaf), Added: time.Now().UTC().Truncate(time.Second),
				Source: SourceResume, By: by, Note: oneLine(p.leaf.Subject.String())}
			for _, u := range p.info.Unignored {
				if !slices.Contains(e.Kinds, u.Kind) {
					e.Kinds = append(e.Kinds, u.Kind)
				}
			}
		}
		r.mu.Unlock()
		if !ok {
			return fmt.Errorf("%w: %q", ErrNotPaused, id)
		}
		if e.Server != "" {
			if r.store != nil {
				before, err := r.store.PinsFor(ctx, e.Server)
				if err == nil {
					err = r.store.PutPin(ctx, e)
				}
				if err != nil {
					return fmt.Errorf("tlsconf: remembering the pin of %s (the handshake stays paused): %w", e.Server, err)
				}
				if err := r.decide(id, decision{resume: true, ignore: d.ignore, remember: true, entry: &e}); err != nil {
					// Decided (or timed out) meanwhile: the pin was not
					// approved, so it goes unless it was there before.
					if !slices.ContainsFunc(before, func(x PinEntry) bool { return x.Pin == e.Pin }) {
						_, _ = r.store.DeletePin(ctx, e.Server, e.Pin)
					}
					return err
				}
				return nil
			}
			d.entry = &e
		}
	}
	return r.decide(id, d)
}

func (r *Registry) storeTimeout() time.Duration {
	if r.storeWait > 0 {
		return r.storeWait
	}
	return DefaultStoreTimeout
}

// Abort fails every handshake waiting on decision id with
// ErrPauseAborted. It returns ErrNotPaused if id is not pending (any
// more).
func (r *Registry) Abort(id string) error {
	return r.decide(id, decision{})
}

func (r *Registry) decide(id string, d decision) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.pending[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotPaused, id)
	}
	r.dropLocked(p)
	if d.resume && d.remember && d.entry != nil {
		r.rememberLocked(*d.entry)
	}
	p.d, p.decided = d, true
	close(p.done) // wakes every waiter; they read p.d
	return nil
}

// dropLocked removes p from the registry and releases the policies'
// shares it held. Waiters still blocked on it find it dropped.
func (r *Registry) dropLocked(p *pending) {
	if p.dropped {
		return
	}
	p.dropped = true
	delete(r.pending, p.info.ID)
	if r.byKey[p.key] == p {
		delete(r.byKey, p.key)
	}
	for o := range p.owners {
		r.releaseOwnerLocked(o)
	}
	p.owners = nil
}

func (r *Registry) releaseOwnerLocked(o *verifier) {
	if r.perOwner[o] <= 1 {
		delete(r.perOwner, o)
		return
	}
	r.perOwner[o]--
}

// Remember adds a trusted pin for serverName, accepting any ignorable
// error, in memory only (not in the Store); use it to restore pins saved
// from RememberedPins.
func (r *Registry) Remember(serverName string, pin Pin) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rememberLocked(PinEntry{Server: serverName, Pin: pin, Source: SourceOperator})
}

func (r *Registry) rememberLocked(e PinEntry) {
	if r.remembered == nil {
		r.remembered = make(map[string][]PinEntry)
	}
	list := r.remembered[e.Server]
	for i, x := range list {
		if x.Pin == e.Pin {
			list[i] = e
			return
		}
	}
	r.remembered[e.Server] = append(list, e)
}

// RememberedPins returns the pins remembered for serverName.
func (r *Registry) RememberedPins(serverName string) []Pin {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Pin
	for _, e := range r.remembered[serverName] {
		out = append(out, e.Pin)
	}
	return out
}

// remembers reports whether a pin remembered for serverName matches leaf
// and accepts the unignored errors.
func (r *Registry) remembers(serverName string, leaf *x509.Certificate, unignored []SSLError) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.remembered[serverName] {
		if e.Pin.Matches(leaf) && e.accepts(unignored) {
			return true
		}
	}
	return false
}

// pauseKey identifies the decision a paused handshake waits on: the server
// name, the leaf and the unaccepted errors (kind, depth, certificate), so
// that one decision never accepts errors its entry does not show.
func pauseKey(info PausedHandshake, leaf *x509.Certificate) string {
	var b strings.Builder
	b.WriteString(info.ServerName)
	b.WriteByte(0)
	if leaf != nil {
		b.WriteString(Fingerprint(leaf))
	}
	for _, e := range info.Unignored {
		b.WriteByte(0)
		b.WriteString(e.Kind.String())
		b.WriteByte('@')
		b.WriteString(strconv.Itoa(e.Depth))
		if e.Cert != nil {
			b.WriteByte(':')
			b.WriteString(Fingerprint(e.Cert))
		}
	}
	return b.String()
}

// pauseHooks are called by wait without the registry's lock held, before
// it blocks: opened when the handshake opened a new decision (with its
// snapshot), joined when it joined a pending one.
type pauseHooks struct {
	opened func(PausedHandshake)
	joined func(PausedHandshake)
}

// wait makes the handshake wait on the decision for info and leaf,
// opening it (and calling hooks.opened) unless one is pending, and blocks
// until a decision, the timeout (its own, or the decision's deadline if
// sooner) or ctx's end. owner is the policy the handshake belongs to and
// maxOwner its share of the registry. A handshake that would exceed a
// limit fails at once with an error wrapping ErrTooManyPending. The
// handshake's waiter is removed as soon as it stops waiting, and a
// decision nobody waits on any more is dropped. It starts no goroutine.
func (r *Registry) wait(ctx context.Context, owner *verifier, maxOwner int, info PausedHandshake, leaf *x509.Certificate, timeout time.Duration, hooks pauseHooks) (decision, error) {
	key := pauseKey(info, leaf)
	now := time.Now()
	r.mu.Lock()
	if r.pending == nil {
		r.pending = make(map[string]*pending)
		r.byKey = make(map[string]*pending)
		r.perOwner = make(map[*verifier]int)
	}
	p := r.byKey[key]
	if p != nil && !now.Before(p.info.Deadline) {
		// Timed out; its waiters are waking up. Start afresh.
		r.dropLocked(p)
		p = nil
	}
	opened := p == nil
	switch {
	case opened && len(r.pending) >= r.MaxPending():
		n := len(r.pending)
		r.mu.Unlock()
		return decision{}, fmt.Errorf("%w: %d decisions pending, the registry's limit", ErrTooManyPending, n)
	case !opened && p.waiters >= r.MaxWaiters():
		n := p.waiters
		r.mu.Unlock()
		return decision{}, fmt.Errorf("%w: %d handshakes wait on this decision, the registry's limit", ErrTooManyPending, n)
	case (opened || p.owners[owner] == 0) && r.perOwner[owner] >= maxOwner:
		n := r.perOwner[owner]
		r.mu.Unlock()
		return decision{}, fmt.Errorf("%w: %d decisions pending for this policy (route), its limit", ErrTooManyPending, n)
	}
	if opened {
		info.ID = rand.Text()
		info.Since = now
		info.Deadline = now.Add(timeout)
		p = &pending{info: info, key: key, leaf: leaf, owners: make(map[*verifier]int), done: make(chan struct{})}
		r.pending[info.ID] = p
		r.byKey[key] = p
	}
	if p.owners[owner] == 0 {
		r.perOwner[owner]++
	}
	p.owners[owner]++
	p.waiters++
	snap := p.snapshot()
	r.mu.Unlock()

	deadline := now.Add(timeout)
	if snap.Deadline.Before(deadline) {
		deadline = snap.Deadline
	}
	if opened && hooks.opened != nil {
		hooks.opened(snap)
	} else if !opened && hooks.joined != nil {
		hooks.joined(snap)
	}

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var cause error
	select {
	case <-p.done:
		return p.d, nil
	case <-timer.C:
		cause = ErrPauseTimeout
	case <-ctx.Done():
		cause = context.Cause(ctx)
	}
	// A decision may have raced the timeout or cancellation: it wins if
	// it was taken first.
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.decided {
		return p.d, nil
	}
	if !p.dropped {
		p.waiters--
		if p.owners[owner]--; p.owners[owner] <= 0 {
			delete(p.owners, owner)
			r.releaseOwnerLocked(owner)
		}
		if p.waiters <= 0 || !time.Now().Before(p.info.Deadline) {
			r.dropLocked(p)
		}
	}
	return decision{}, cause
}
