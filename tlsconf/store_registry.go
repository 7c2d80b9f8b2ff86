package tlsconf

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrNoStore is returned by the Registry methods that need a Store when
// it has none.
var ErrNoStore = errors.New("tlsconf: the registry has no trust store")

// LoadPins replaces the registry's remembered pins with the Store's: pins
// deleted from the store (by Revoke, another process or a person editing
// the file) are no longer trusted. Without a Store it returns ErrNoStore.
func (r *Registry) LoadPins(ctx context.Context) error {
	if r.store == nil {
		return ErrNoStore
	}
	entries, err := r.store.Pins(ctx)
	if err != nil {
		return fmt.Errorf("loading remembered pins: %w", err)
	}
	m := make(map[string][]PinEntry)
	for _, e := range entries {
		m[e.Server] = append(m[e.Server], e)
	}
	r.mu.Lock()
	r.remembered = m
	r.mu.Unlock()
	return nil
}

// WatchPins reloads the pins (LoadPins) once when it starts watching and
// then each time the Store reports a change, until ctx ends; a failed
// reload keeps the pins in memory and is given to onError (which may be
// nil). It returns when ctx ends, and
// at once with ErrNoStore without a Store.
func (r *Registry) WatchPins(ctx context.Context, onError func(error)) error {
	if r.store == nil {
		return ErrNoStore
	}
	changes := r.store.Watch(ctx)
	// Once more now that the watch runs: a change made since the
	// caller's LoadPins is not missed.
	for first := true; ; first = false {
		if !first {
			if _, ok := <-changes; !ok {
				return nil
			}
		}
		if err := r.LoadPins(ctx); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
	}
}

// Pins lists the remembered pins: the Store's, or without one those in
// memory, by server name.
func (r *Registry) Pins(ctx context.Context) ([]PinEntry, error) {
	if r.store != nil {
		return r.store.Pins(ctx)
	}
	r.mu.Lock()
	var out []PinEntry
	for _, list := range r.remembered {
		out = append(out, list...)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b PinEntry) int {
		if c := strings.Compare(a.Server, b.Server); c != 0 {
			return c
		}
		return strings.Compare(a.Pin.String(), b.Pin.String())
	})
	return out, nil
}

// Revoke forgets the pin remembered for server, in the Store (if any)
// and in memory: the next handshake presenting that key is verified (and
// paused) again. It reports whether the pin was remembered.
func (r *Registry) Revoke(ctx context.Context, server string, pin Pin) (bool, error) {
	found := false
	if r.store != nil {
		var err error
		if found, err = r.store.DeletePin(ctx, server, pin); err != nil {
			return false, fmt.Errorf("tlsconf: revoking the pin of %s: %w", server, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, list := range r.remembered {
		if !strings.EqualFold(name, server) {
			continue
		}
		kept := slices.DeleteFunc(slices.Clone(list), func(e PinEntry) bool { return e.Pin == pin })
		if len(kept) != len(list) {
			found = true
		}
		if len(kept) == 0 {
			delete(r.remembered, name)
		} else {
			r.remembered[name] = kept
		}
	}
	return found, nil
}
