package tlsconf

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// PinSource says why a pin was remembered.
type PinSource uint8

const (
	// SourceUnknown is a pin whose line gives no source (edited by hand
	// without one).
	SourceUnknown PinSource = iota
	// SourceResume is a pin remembered when an operator resumed a paused
	// handshake (Registry.Resume with rememberAsPin).
	SourceResume
	// SourceTOFU is a pin remembered on first use (wssproxy client --tofu).
	SourceTOFU
	// SourceOperator is a pin an operator added directly.
	SourceOperator
)

var pinSourceNames = [...]string{SourceUnknown: "unknown", SourceResume: "resume", SourceTOFU: "tofu", SourceOperator: "operator"}

// String returns "resume", "tofu", "operator" or "unknown".
func (s PinSource) String() string {
	return enumString(s, "PinSource", pinSourceNames[:])
}

// MarshalText encodes the source as its name.
func (s PinSource) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a source name.
func (s *PinSource) UnmarshalText(b []byte) error { return unmarshalText(s, b, ParsePinSource) }

// ParsePinSource parses "resume", "tofu", "operator" or "unknown".
func ParsePinSource(name string) (PinSource, error) {
	for i, n := range pinSourceNames {
		if strings.EqualFold(name, n) {
			return PinSource(i), nil
		}
	}
	return 0, fmt.Errorf("tlsconf: unknown pin source %q (want resume, tofu or operator)", name)
}

// PinEntry is one remembered pin in a TrustStore: the key a server may
// present, with who remembered it, when and why.
type PinEntry struct {
	// Server is the name the pin is for: HOST:PORT for the client's
	// connections, the TLS server name for the proxy's pause registry.
	// It holds no white space or '#'.
	Server string `json:"server"`
	// Pin is the remembered key (normally an SPKI pin).
	Pin Pin `json:"pin"`
	// Kinds are the certificate errors the pin was accepted with; a
	// Registry accepts a handshake by this pin only if its unaccepted
	// errors are among them. Empty accepts any ignorable error.
	Kinds []ErrorKind `json:"kinds,omitempty"`
	// Added is when the pin was remembered (zero: not recorded).
	Added time.Time `json:"added,omitzero"`
	// Source is why.
	Source PinSource `json:"source"`
	// By is who, if known (an admin client's address, a user name); no
	// white space or '#'.
	By string `json:"by,omitempty"`
	// Note is free text kept with the entry (a "#" comment at the end of
	// its line in a FileStore), such as the certificate's subject.
	Note string `json:"note,omitempty"`
	// Line is the entry's line number when read from a FileStore (0
	// otherwise); ignored when storing.
	Line int `json:"-"`
}

// Validate checks that e can be stored and read back.
func (e PinEntry) Validate() error {
	if e.Server == "" || !storeToken(e.Server) {
		return fmt.Errorf("tlsconf: pin entry: server %q must be a non-empty word without '#' or '='", e.Server)
	}
	if e.Pin == (Pin{}) {
		return errors.New("tlsconf: pin entry for " + e.Server + ": no pin")
	}
	if e.By != "" && !storeToken(e.By) {
		return fmt.Errorf("tlsconf: pin entry for %s: by %q must be a word without '#' or '='", e.Server, e.By)
	}
	for _, k := range e.Kinds {
		if !k.Valid() {
			return fmt.Errorf("tlsconf: pin entry for %s: invalid error kind %d", e.Server, k)
		}
	}
	return nil
}

// accepts reports whether the entry accepts a handshake whose
// unaccepted errors are unignored.
func (e PinEntry) accepts(unignored []SSLError) bool {
	if len(e.Kinds) == 0 {
		return true
	}
	for _, u := range unignored {
		if !slices.Contains(e.Kinds, u.Kind) {
			return false
		}
	}
	return true
}

// storeToken reports whether s can be one field of a store line.
func storeToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, "#= \t\r\n\v\f") && !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f })
}

// TrustStore keeps the trust decisions that outlive a process: the pins
// remembered per server name (and, later, PSK identities). Its methods are
// safe for concurrent use and honour their context. The file backend is
// FileStore.
type TrustStore interface {
	// Pins lists every remembered pin, in the store's order.
	Pins(ctx context.Context) ([]PinEntry, error)
	// PinsFor lists the pins remembered for one server name.
	PinsFor(ctx context.Context, server string) ([]PinEntry, error)
	// PutPin remembers e (replacing the entry with the same server and
	// pin, if any).
	PutPin(ctx context.Context, e PinEntry) error
	// DeletePin forgets the pin for server; it reports whether it was
	// there.
	DeletePin(ctx context.Context, server string, pin Pin) (bool, error)
	// Watch returns a channel that receives a value (coalesced) after
	// the store changed, by this process or another, and is closed when
	// ctx ends. Readers list again on each value.
	Watch(ctx context.Context) <-chan struct{}
}
