package etcdstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/wssproxy/wssproxy/tlsconf"
)

var _ tlsconf.TrustStore = (*Store)(nil)

// Pins lists every remembered pin, sorted by server name then pin, from
// memory: it never waits for etcd.
func (s *Store) Pins(ctx context.Context) ([]tlsconf.PinEntry, error) {
	if err := s.readable(ctx); err != nil {
		return nil, err
	}
	return cloneEntries(s.view.Load().pins), nil
}

// PinsFor lists the pins remembered for server (compared without regard
// to letter case), from memory.
func (s *Store) PinsFor(ctx context.Context, server string) ([]tlsconf.PinEntry, error) {
	if err := s.readable(ctx); err != nil {
		return nil, err
	}
	var out []tlsconf.PinEntry
	for _, e := range s.view.Load().pins {
		if strings.EqualFold(e.Server, server) {
			out = append(out, e)
		}
	}
	return cloneEntries(out), nil
}

// PutPin stores e under PREFIX/trust/pins/SERVER/PIN, replacing the entry
// with the same server (without regard to case) and pin; if e has no note
// the replaced entry's note is kept, as in tlsconf.FileStore. While etcd
// is away the write is queued (see Store).
func (s *Store) PutPin(ctx context.Context, e tlsconf.PinEntry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	e.Line = 0
	e.Kinds = slices.Clone(e.Kinds)
	if e.Note == "" {
		for _, old := range s.view.Load().pins {
			if strings.EqualFold(old.Server, e.Server) && old.Pin == e.Pin {
				e.Note = old.Note
			}
		}
	}
	value, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("etcdstore: encoding the pin entry for %s: %w", e.Server, err)
	}
	_, err = s.write(ctx, pinKey(e.Server, e.Pin), value)
	return err
}

// DeletePin forgets server's pin; it reports whether the Store held it.
// While etcd is away the delete is queued (see Store).
func (s *Store) DeletePin(ctx context.Context, server string, pin tlsconf.Pin) (bool, error) {
	return s.write(ctx, pinKey(server, pin), nil)
}

// readable checks that the Store is open and ctx live.
func (s *Store) readable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("etcdstore: %w", err)
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

func cloneEntries(in []tlsconf.PinEntry) []tlsconf.PinEntry {
	out := slices.Clone(in)
	for i := range out {
		out[i].Kinds = slices.Clone(out[i].Kinds)
	}
	return out
}
