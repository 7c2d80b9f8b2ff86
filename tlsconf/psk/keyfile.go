package psk

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Built-in key sources: a server PSK file and a client key file.

// ErrInsecureKeyFile is returned for a key file that the group or others
// may access (any of the permission bits 0o077).
var ErrInsecureKeyFile = errors.New("psk: key file is accessible by group or others (chmod 600)")

const (
	maxKeyFileSize       = 1 << 20
	maxClientKeyFileSize = 4 << 10
)

// readSecretFile reads a key file, refusing it if the group or others may
// access it, and bounding its size.
func readSecretFile(path string, limit int64) ([]byte, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("psk: %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, nil, fmt.Errorf("%w: %s has mode %v", ErrInsecureKeyFile, path, fi.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(data)) > limit {
		return nil, nil, fmt.Errorf("psk: %s exceeds %d bytes", path, limit)
	}
	return data, fi, nil
}

// ParseKeyFile parses PSK file content: one "identity:hexkey" per line,
// as stunnel's PSKsecrets (whose hex keys it converts the same way).
// Blank lines and lines starting with '#' are ignored; spaces around
// fields are trimmed. The identity is everything before the first ':' and
// must pass CheckIdentity; the key is hex and must pass CheckKey. A
// duplicate identity is an error. Errors name the line, never the key.
func ParseKeyFile(data []byte) (map[string][]byte, error) {
	keys := make(map[string][]byte)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		id, hexKey, ok := strings.Cut(line, ":")
		id, hexKey = strings.TrimSpace(id), strings.TrimSpace(hexKey)
		if !ok {
			return nil, fmt.Errorf("psk: line %d: want identity:hexkey", n)
		}
		if err := CheckIdentity([]byte(id)); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		key, err := hex.DecodeString(hexKey)
		if err != nil {
			return nil, fmt.Errorf("psk: line %d: the key is not hex (generate one with: openssl rand -hex 32)", n)
		}
		if err := CheckKey(key); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("psk: line %d: identity %q appears twice", n, id)
		}
		keys[id] = key
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("psk: %w", err)
	}
	return keys, nil
}

// KeyFileOptions configures OpenKeyFile. nil means defaults.
type KeyFileOptions struct {
	// CheckInterval is how often, at most, a lookup checks whether the
	// file changed (default 1 s).
	CheckInterval time.Duration
	// Logger receives reloads (Info) and failed reloads (Warn), with the
	// number of identities and never a key.
	Logger zerolog.Logger
}

// KeyFile is a server key source backed by a PSK file (see ParseKeyFile),
// reloaded when its modification time, size or inode changes. A reload
// that fails (bad syntax, insecure mode, file gone) keeps the previous
// keys and is logged. Its GetKey method is a ServerConfig.GetKey.
type KeyFile struct {
	path     string
	interval time.Duration
	log      zerolog.Logger

	mu      sync.Mutex // serializes reloads
	keys    atomic.Pointer[map[string][]byte]
	info    os.FileInfo
	checked atomic.Int64 // unix nanos of the last check
}

// OpenKeyFile loads a PSK file. The file must be accessible by its owner
// only (mode 0600 or stricter): ErrInsecureKeyFile otherwise.
func OpenKeyFile(path string, opts *KeyFileOptions) (*KeyFile, error) {
	var o KeyFileOptions
	if opts != nil {
		o = *opts
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = time.Second
	}
	f := &KeyFile{path: path, interval: o.CheckInterval, log: o.Logger}
	if err := f.load(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *KeyFile) load() error {
	data, fi, err := readSecretFile(f.path, maxKeyFileSize)
	if err != nil {
		return err
	}
	keys, err := ParseKeyFile(data)
	clear(data)
	if err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	f.keys.Store(&keys)
	f.info = fi
	f.checked.Store(time.Now().UnixNano())
	return nil
}

// Identities returns the identities currently loaded, sorted.
func (f *KeyFile) Identities() []string {
	m := *f.keys.Load()
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// GetKey returns a copy of the key for identity, or nil when the identity
// is unknown. It checks the file for changes at most every CheckInterval.
func (f *KeyFile) GetKey(ctx context.Context, identity []byte) ([]byte, error) {
	f.maybeReload()
	k := (*f.keys.Load())[string(identity)]
	if k == nil {
		return nil, nil
	}
	return slices.Clone(k), nil
}

func (f *KeyFile) maybeReload() {
	now := time.Now().UnixNano()
	if now-f.checked.Load() < int64(f.interval) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if now-f.checked.Load() < int64(f.interval) {
		return
	}
	f.checked.Store(now)
	fi, err := os.Stat(f.path)
	if err != nil {
		f.log.Warn().Err(err).Str("path", f.path).Msg("psk: key file not reloaded; keeping the previous keys")
		return
	}
	if os.SameFile(fi, f.info) && fi.ModTime().Equal(f.info.ModTime()) && fi.Size() == f.info.Size() && fi.Mode() == f.info.Mode() {
		return
	}
	if err := f.load(); err != nil {
		f.log.Warn().Err(err).Str("path", f.path).Msg("psk: key file not reloaded; keeping the previous keys")
		return
	}
	f.log.Info().Str("path", f.path).Int("identities", len(*f.keys.Load())).Msg("psk: key file reloaded")
}

// ClientKeyFile returns a ClientConfig.GetKey that offers identity with
// the key held in hex (one line, e.g. from "openssl rand -hex 32") in the
// file at path. The file must be accessible by its owner only. It is read
// now, to report mistakes early, and again at every handshake, so a
// rotated key is used without a restart.
func ClientKeyFile(identity []byte, path string) (func(ctx context.Context, hint []byte) (id, key []byte, err error), error) {
	if err := CheckIdentity(identity); err != nil {
		return nil, err
	}
	identity = slices.Clone(identity)
	read := func() ([]byte, error) {
		data, _, err := readSecretFile(path, maxClientKeyFileSize)
		if err != nil {
			return nil, err
		}
		defer clear(data)
		text := bytes.TrimSpace(data)
		key := make([]byte, hex.DecodedLen(len(text)))
		if _, err := hex.Decode(key, text); err != nil {
			return nil, fmt.Errorf("psk: %s: the key is not one hex string (generate one with: openssl rand -hex 32)", path)
		}
		if err := CheckKey(key); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return key, nil
	}
	k, err := read()
	if err != nil {
		return nil, err
	}
	clear(k)
	return func(ctx context.Context, hint []byte) ([]byte, []byte, error) {
		key, err := read()
		if err != nil {
			return nil, nil, err
		}
		return slices.Clone(identity), key, nil
	}, nil
}
