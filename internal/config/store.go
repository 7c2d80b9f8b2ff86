package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/wssproxy/wssproxy/certs"
)

// DefaultStoreFileName is serve's trust store file in the state
// directory: the pins of upstreams remembered when an operator resumed a
// paused handshake. (The client's own is tlsconf.DefaultPinsFileName.)
const DefaultStoreFileName = "upstream_pins"

// ErrStoreNotSupported is returned for a trust store URL of a backend
// this version cannot use yet (etcd://).
var ErrStoreNotSupported = errors.New("not supported yet")

// Store is a parsed trust store location (--store, the file's store key).
type Store struct {
	// Kind is "file" (the only backend so far).
	Kind string
	// Path is the file of a "file" store.
	Path string
}

// String returns the location as --store takes it.
func (s Store) String() string { return s.Kind + ":" + s.Path }

// ParseStore parses a trust store location: "" for the default file
// ($XDG_STATE_HOME/wssproxy/upstream_pins, else
// ~/.local/state/wssproxy/upstream_pins), "file:PATH", or a bare path.
// "etcd://host:2379,…/prefix" is recognised and refused with
// ErrStoreNotSupported; other schemes are errors.
func ParseStore(s string) (Store, error) {
	switch {
	case s == "":
		dir, err := certs.StateDir()
		if err != nil {
			return Store{}, fmt.Errorf("trust store: no state directory for the default file (%w); give file:PATH", err)
		}
		return Store{Kind: "file", Path: filepath.Join(dir, DefaultStoreFileName)}, nil
	case strings.HasPrefix(strings.ToLower(s), "etcd://"):
		return Store{}, fmt.Errorf("trust store %q: the etcd backend is %w; use file:PATH (the default is a file in the state directory)", s, ErrStoreNotSupported)
	case strings.HasPrefix(s, "file:"):
		path := strings.TrimPrefix(s, "file:")
		if path == "" {
			return Store{}, errors.New("trust store file: needs a path (file:/var/lib/wssproxy/upstream_pins)")
		}
		return Store{Kind: "file", Path: filepath.Clean(path)}, nil
	case strings.Contains(s, "://"):
		scheme, _, _ := strings.Cut(s, "://")
		return Store{}, fmt.Errorf("trust store %q: unknown scheme %q (want file:PATH; etcd:// is not supported yet)", s, scheme)
	default:
		return Store{Kind: "file", Path: filepath.Clean(s)}, nil
	}
}
