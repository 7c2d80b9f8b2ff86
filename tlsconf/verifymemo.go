package tlsconf

import (
	"crypto/x509"
	"slices"
	"sync"
	"time"
)

// maxMemoEntries bounds a verifyMemo; when full it starts afresh.
const maxMemoEntries = 64

// verifyMemo remembers, for a client with session resumption, the
// certificate chains its policy found without any problem, so that a
// resumed handshake (which presents the very chain, the same
// *x509.Certificate values, of the full handshake its session comes
// from) is not verified again while the answer cannot have changed.
//
// Verify depends on the time only through the validity periods of the
// certificates it may use: the chain and the trust anchors (crypto/x509
// uses VerifyOptions.CurrentTime for nothing else, and neither does
// Verify). A memo is therefore kept only by a verifier that knows every
// anchor it may use (a CA file without a caller's pool: never the system
// roots), and an entry holds until the first instant after it was made
// at which one of those certificates becomes valid or stops being valid.
// Only problem-free results are kept: everything after the chain check
// (ignore policy, remembered pins, pauses) runs on every handshake.
type verifyMemo struct {
	anchors []*x509.Certificate // every trust anchor the verifier may use

	mu      sync.Mutex
	entries map[*x509.Certificate][]memoEntry // by leaf
	n       int
}

type memoEntry struct {
	chain       []*x509.Certificate
	name        string
	hostCheck   bool
	from, until time.Time // the result holds for from <= now < until
}

// clean reports whether chain (compared certificate by certificate, as
// pointers) was found without problems for name and hostCheck at a time
// whose answer still holds at now.
func (m *verifyMemo) clean(chain []*x509.Certificate, name string, hostCheck bool, now time.Time) bool {
	if len(chain) == 0 {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.entries[chain[0]] {
		if e.name == name && e.hostCheck == hostCheck && slices.Equal(e.chain, chain) &&
			!now.Before(e.from) && now.Before(e.until) {
			return true
		}
	}
	return false
}

// record notes that chain was found without problems at now.
func (m *verifyMemo) record(chain []*x509.Certificate, name string, hostCheck bool, now time.Time) {
	if len(chain) == 0 || slices.Contains(chain, nil) {
		return
	}
	until := now.Add(100 * 365 * 24 * time.Hour)
	for _, set := range [][]*x509.Certificate{chain, m.anchors} {
		for _, c := range set {
			// Valid from NotBefore through NotAfter (crypto/x509's rule):
			// the answer may change when one starts or ends.
			if c.NotBefore.After(now) && c.NotBefore.Before(until) {
				until = c.NotBefore
			}
			if !now.After(c.NotAfter) && c.NotAfter.Before(until) {
				until = c.NotAfter
			}
		}
	}
	if !now.Before(until) {
		return
	}
	e := memoEntry{chain: slices.Clone(chain), name: name, hostCheck: hostCheck, from: now, until: until}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil || m.n >= maxMemoEntries {
		m.entries, m.n = make(map[*x509.Certificate][]memoEntry), 0
	}
	list := m.entries[chain[0]]
	for i, x := range list {
		if x.name == name && x.hostCheck == hostCheck && slices.Equal(x.chain, chain) {
			list[i] = e
			return
		}
	}
	m.entries[chain[0]] = append(list, e)
	m.n++
}
