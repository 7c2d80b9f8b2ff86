package etcdstore

import (
	"bytes"
	"slices"
	"strings"

	"github.com/wssproxy/wssproxy/tlsconf"
)

// The in-memory state: what etcd held when last seen (remote), overlaid
// with this Store's writes (ops) until the watch has shown them, parsed
// into items; readers see an immutable view built from the items.

// op is one write: a put (value not nil) or a delete of key (relative to
// PREFIX/trust/).
type op struct {
	key   string
	value []byte
	// landed is the etcd revision the write landed at; 0 while it is
	// queued. A landed op stays in the overlay until the watch has
	// reached its revision, so readers never see the value flip back.
	landed int64
}

// view is what readers see: immutable once published.
type view struct {
	pins      []tlsconf.PinEntry // sorted by server, then pin
	psk       map[string][]byte
	malformed []string // full keys, sorted
}

// effective returns the value readers see for key: the last queued op,
// else the landed op of the highest revision, else etcd's. Called with
// s.mu held.
func (s *Store) effective(key string) ([]byte, bool) {
	var best *op
	for _, o := range s.ops {
		if o.key != key {
			continue
		}
		switch {
		case o.landed == 0:
			best = o // queued ops win, the last one most
		case best == nil || (best.landed != 0 && o.landed >= best.landed):
			best = o
		}
	}
	if best != nil {
		return best.value, best.value != nil
	}
	v, ok := s.remote[key]
	return v, ok
}

// refresh recomputes key's item; it reports whether what readers see
// changed. Called with s.mu held.
func (s *Store) refresh(key string) bool {
	v, ok := s.effective(key)
	old, had := s.items[key]
	if !ok {
		delete(s.items, key)
		return had
	}
	if had && bytes.Equal(old.raw, v) {
		return false
	}
	it := parseItem(key, v)
	s.items[key] = it
	if it.err != nil {
		s.log.Error().Str("key", s.base+key).Str("reason", it.err.Error()).
			Msg("etcdstore: malformed value skipped")
	}
	return true
}

// refreshAll recomputes every item (after the remote state was replaced).
// Called with s.mu held.
func (s *Store) refreshAll() bool {
	keys := make(map[string]bool, len(s.remote)+len(s.items))
	for k := range s.remote {
		keys[k] = true
	}
	for k := range s.items {
		keys[k] = true
	}
	for _, o := range s.ops {
		keys[o.key] = true
	}
	changed := false
	for k := range keys {
		if s.refresh(k) {
			changed = true
		}
	}
	return changed
}

// publish builds the readers' view from the items and tells the
// watchers. Called with s.mu held.
func (s *Store) publish() {
	v := &view{psk: make(map[string][]byte)}
	for k, it := range s.items {
		switch {
		case it.err != nil:
			v.malformed = append(v.malformed, s.base+k)
		case it.isPin:
			v.pins = append(v.pins, it.pin)
		default:
			v.psk[it.pskID] = it.pskKey
		}
	}
	slices.SortFunc(v.pins, func(a, b tlsconf.PinEntry) int {
		if c := strings.Compare(strings.ToLower(a.Server), strings.ToLower(b.Server)); c != 0 {
			return c
		}
		return strings.Compare(a.Pin.String(), b.Pin.String())
	})
	slices.Sort(v.malformed)
	s.view.Store(v)
	for ch := range s.watchers {
		select {
		case ch <- struct{}{}:
		default: // one pending signal is enough
		}
	}
}

// pendingCount returns the number of queued (not landed) ops. Called with
// s.mu held.
func (s *Store) pendingCount() int {
	n := 0
	for _, o := range s.ops {
		if o.landed == 0 {
			n++
		}
	}
	return n
}

// dropLanded removes the landed ops the remote state has caught up with
// (revision rev) and reports whether what readers see changed. Called
// with s.mu held.
func (s *Store) dropLanded(rev int64) bool {
	var touched []string
	s.ops = slices.DeleteFunc(s.ops, func(o *op) bool {
		if o.landed != 0 && o.landed <= rev {
			touched = append(touched, o.key)
			return true
		}
		return false
	})
	changed := false
	for _, k := range touched {
		if s.refresh(k) {
			changed = true
		}
	}
	return changed
}
