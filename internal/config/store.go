package config

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/wssproxy/wssproxy/certs"
)

// DefaultStoreFileName is serve's trust store file in the state
// directory: the pins of upstreams remembered when an operator resumed a
// paused handshake. (The client's own is tlsconf.DefaultPinsFileName.)
const DefaultStoreFileName = "upstream_pins"

// DefaultEtcdPrefix is the key prefix of an etcd store URL without one.
const DefaultEtcdPrefix = "/wssproxy"

// Store is a parsed trust store location (--store, the file's store key).
type Store struct {
	// Kind is "file" or "etcd".
	Kind string
	// Path is the file of a "file" store.
	Path string
	// Endpoints are the etcd members (host:port) of an "etcd" store, and
	// Prefix the deployment's key prefix ("/wssproxy").
	Endpoints []string
	Prefix    string
}

// String returns the location as --store takes it.
func (s Store) String() string {
	if s.Kind == "etcd" {
		return "etcd://" + strings.Join(s.Endpoints, ",") + s.Prefix
	}
	return s.Kind + ":" + s.Path
}

// ParseStore parses a trust store location: "" for the default file
// ($XDG_STATE_HOME/wssproxy/upstream_pins, else
// ~/.local/state/wssproxy/upstream_pins), "file:PATH", a bare path, or
// "etcd://host:2379,host2:2379/prefix" (the prefix defaults to
// DefaultEtcdPrefix). Other schemes are errors.
func ParseStore(s string) (Store, error) {
	switch {
	case s == "":
		dir, err := certs.StateDir()
		if err != nil {
			return Store{}, fmt.Errorf("trust store: no state directory for the default file (%w); give file:PATH", err)
		}
		return Store{Kind: "file", Path: filepath.Join(dir, DefaultStoreFileName)}, nil
	case strings.HasPrefix(strings.ToLower(s), "etcd://"):
		return parseEtcdStore(s)
	case strings.HasPrefix(s, "file:"):
		path := strings.TrimPrefix(s, "file:")
		if path == "" {
			return Store{}, errors.New("trust store file: needs a path (file:/var/lib/wssproxy/upstream_pins)")
		}
		return Store{Kind: "file", Path: filepath.Clean(path)}, nil
	case strings.Contains(s, "://"):
		scheme, _, _ := strings.Cut(s, "://")
		return Store{}, fmt.Errorf("trust store %q: unknown scheme %q (want file:PATH or etcd://HOST:PORT,…/PREFIX)", s, scheme)
	default:
		return Store{Kind: "file", Path: filepath.Clean(s)}, nil
	}
}

// parseEtcdStore parses etcd://HOST:PORT[,HOST:PORT…][/PREFIX].
func parseEtcdStore(s string) (Store, error) {
	rest := s[len("etcd://"):]
	hosts, prefix, _ := strings.Cut(rest, "/")
	st := Store{Kind: "etcd", Prefix: "/" + strings.Trim(prefix, "/")}
	if st.Prefix == "/" {
		st.Prefix = DefaultEtcdPrefix
	}
	if strings.ContainsAny(st.Prefix, "?# \t\r\n") || strings.ContainsFunc(st.Prefix, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return Store{}, fmt.Errorf("trust store %q: the key prefix %q must be a path without spaces, '?', '#' or control characters", s, st.Prefix)
	}
	if strings.Contains(hosts, "@") {
		return Store{}, fmt.Errorf("trust store %q: no credentials in the URL; give store_etcd.username and password_file (--store-etcd-username, --store-etcd-password-file)", s)
	}
	if hosts == "" {
		return Store{}, fmt.Errorf("trust store %q: no etcd endpoint (etcd://10.0.0.1:2379,10.0.0.2:2379/wssproxy)", s)
	}
	for _, h := range strings.Split(hosts, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" || port == "" {
			return Store{}, fmt.Errorf("trust store %q: endpoint %q: want HOST:PORT", s, h)
		}
		st.Endpoints = append(st.Endpoints, h)
	}
	return st, nil
}

// DefaultEtcdCacheFile is the cache of an etcd store's state kept in the
// state directory when store_etcd.cache_file is not set: one file per key
// prefix, etcd_cache followed by the prefix with '/' as '_'.
func DefaultEtcdCacheFile(prefix string) (string, error) {
	dir, err := certs.StateDir()
	if err != nil {
		return "", fmt.Errorf("etcd store cache: no state directory (%w); give store_etcd.cache_file (--store-etcd-cache-file)", err)
	}
	return filepath.Join(dir, "etcd_cache"+strings.ReplaceAll(prefix, "/", "_")), nil
}
