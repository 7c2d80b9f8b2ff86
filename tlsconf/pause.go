package tlsconf

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"slices"
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
	switch m {
	case PauseNever:
		return "never"
	case PauseOnSSLErrors:
		return "on-ssl-errors"
	}
	return fmt.Sprintf("PauseMode(%d)", uint8(m))
}

// DefaultPauseTimeout is how long a paused handshake waits for a decision
// before it is aborted, unless Policy.PauseTimeout says otherwise.
const DefaultPauseTimeout = 30 * time.Second

// PausedHandshake describes a handshake held in a Registry. It is a
// snapshot; act on it with Registry.Resume or Registry.Abort and its ID.
type PausedHandshake struct {
	// ID identifies the paused handshake in the registry (random, URL-safe).
	ID string `json:"id"`
	// Peer is the remote address.
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
	// Since is when the handshake was paused; Deadline when the pause
	// timeout aborts it.
	Since    time.Time `json:"since"`
	Deadline time.Time `json:"deadline"`
}

// decision is what Resume or Abort sends to a waiting handshake.
type decision struct {
	resume   bool
	ignore   []ExpectedError // nil: accept the errors shown
	remember bool
}

type pending struct {
	info PausedHandshake
	leaf *x509.Certificate
	ch   chan decision // buffered, capacity 1
}

// Registry holds paused handshakes and the pins remembered on resume. It is
// safe for concurrent use; the zero value is ready. Share one Registry
// between the configurations whose pauses one operator (or admin API)
// decides.
type Registry struct {
	mu         sync.Mutex
	pending    map[string]*pending
	remembered map[string][]Pin // by server name
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{} }

// List returns the paused handshakes, oldest first.
func (r *Registry) List() []PausedHandshake {
	r.mu.Lock()
	out := make([]PausedHandshake, 0, len(r.pending))
	for _, p := range r.pending {
		out = append(out, p.info)
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

// Get returns the paused handshake with the given id.
func (r *Registry) Get(id string) (PausedHandshake, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.pending[id]
	if !ok {
		return PausedHandshake{}, false
	}
	return p.info, true
}

// Resume lets the paused handshake id continue. With ignore nil, the
// errors it was paused for are accepted (operator approval); otherwise only
// the errors ignore covers are, on top of the policy's own list, and the
// handshake still fails if any remain. With rememberAsPin, the leaf's
// public-key pin is remembered for the server name: later handshakes
// through this registry whose leaf has that key are accepted without a
// pause, whatever their ignorable errors (trust on first use). It returns
// ErrNotPaused if id is not paused (any more).
func (r *Registry) Resume(id string, ignore []ExpectedError, rememberAsPin bool) error {
	return r.decide(id, decision{resume: true, ignore: ignore, remember: rememberAsPin})
}

// Abort fails the paused handshake id with ErrPauseAborted. It returns
// ErrNotPaused if id is not paused (any more).
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
	delete(r.pending, id)
	if d.resume && d.remember && p.leaf != nil {
		r.rememberLocked(p.info.ServerName, SPKIPinOf(p.leaf))
	}
	p.ch <- d // capacity 1, sent once: never blocks
	return nil
}

// Remember adds a trusted pin for serverName, as Resume with rememberAsPin
// does; use it to restore pins saved from RememberedPins.
func (r *Registry) Remember(serverName string, pin Pin) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rememberLocked(serverName, pin)
}

func (r *Registry) rememberLocked(serverName string, pin Pin) {
	if r.remembered == nil {
		r.remembered = make(map[string][]Pin)
	}
	if !slices.Contains(r.remembered[serverName], pin) {
		r.remembered[serverName] = append(r.remembered[serverName], pin)
	}
}

// RememberedPins returns the pins remembered for serverName.
func (r *Registry) RememberedPins(serverName string) []Pin {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.remembered[serverName])
}

func (r *Registry) remembers(serverName string, leaf *x509.Certificate) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.remembered[serverName] {
		if p.Matches(leaf) {
			return true
		}
	}
	return false
}

// wait publishes info, calls onPause, and blocks until a decision, the
// timeout or ctx's end. It starts no goroutine.
func (r *Registry) wait(ctx context.Context, info PausedHandshake, leaf *x509.Certificate, timeout time.Duration, onPause func(PausedHandshake)) (decision, error) {
	info.ID = rand.Text()
	info.Since = time.Now()
	info.Deadline = info.Since.Add(timeout)
	p := &pending{info: info, leaf: leaf, ch: make(chan decision, 1)}
	r.mu.Lock()
	if r.pending == nil {
		r.pending = make(map[string]*pending)
	}
	r.pending[info.ID] = p
	r.mu.Unlock()

	if onPause != nil {
		onPause(info)
	}

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var cause error
	select {
	case d := <-p.ch:
		return d, nil
	case <-timer.C:
		cause = ErrPauseTimeout
	case <-ctx.Done():
		cause = context.Cause(ctx)
	}
	// A decision may have raced the timeout or cancellation: whoever
	// removes the entry from the map wins.
	r.mu.Lock()
	_, still := r.pending[info.ID]
	delete(r.pending, info.ID)
	r.mu.Unlock()
	if !still {
		return <-p.ch, nil
	}
	return decision{}, cause
}
