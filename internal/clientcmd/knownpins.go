package clientcmd

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// knownPin is one remembered key that applies to the connection.
type knownPin = tlsconf.PinEntry

// knownPins is the client's memory of server keys, in the manner of
// OpenSSH's known_hosts: a tlsconf.FileStore whose lines are "HOST:PORT
// PIN [kinds=…] [added=…] [source=…]" (several lines for a host accept
// any of their keys), "#" comments. A person may edit it.
type knownPins struct {
	store *tlsconf.FileStore
	file  string
	// host is the HOST:PORT of the URL (lower-case host, default port
	// 443), the key of the lines that apply.
	host string
	pins []knownPin
}

// defaultKnownPinsFile returns $XDG_STATE_HOME/wssproxy/known_pins (or
// ~/.local/state/wssproxy/known_pins).
func defaultKnownPinsFile() (string, error) {
	dir, err := certs.StateDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, tlsconf.DefaultPinsFileName), nil
}

// knownPinsHost returns the HOST:PORT key of a wss URL.
func knownPinsHost(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port), nil
}

// loadKnownPins reads the lines of file that apply to host. A missing
// file is empty; a malformed line is an error naming it.
func loadKnownPins(file, host string) (*knownPins, error) {
	store, err := tlsconf.NewFileStore(file, nil)
	if err != nil {
		return nil, fmt.Errorf("known pins: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), tlsconf.DefaultStoreTimeout)
	defer cancel()
	pins, err := store.PinsFor(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("known pins: %w", err)
	}
	return &knownPins{store: store, file: file, host: host, pins: pins}, nil
}

// pinStrings returns the remembered pins for the TLS policy.
func (k *knownPins) pinStrings() []string {
	s := make([]string, len(k.pins))
	for i, p := range k.pins {
		s[i] = p.Pin.String()
	}
	return s
}

// changedKeyMessage is the warning printed when a remembered server
// presents another key (OpenSSH's "REMOTE HOST IDENTIFICATION HAS
// CHANGED").
func changedKeyMessage(file, host string, remembered []knownPin, presented *x509.Certificate) string {
	var b strings.Builder
	fmt.Fprintf(&b, "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n")
	fmt.Fprintf(&b, "@    WARNING: THE KEY OF %s HAS CHANGED!\n", host)
	fmt.Fprintf(&b, "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n")
	fmt.Fprintf(&b, "Someone could be in the middle of this connection, or the server has a new key.\n")
	for _, p := range remembered {
		fmt.Fprintf(&b, "remembered (%s:%d): %s\n", file, p.Line, p.Pin)
	}
	pin := "PIN"
	if presented != nil {
		pin = tlsconf.SPKIPinOf(presented).String()
		fmt.Fprintf(&b, "presented now:  %s (%s)\n", pin, presented.Subject)
	}
	fmt.Fprintf(&b, "Not connecting. If the new key is right (check it out of band), delete the line(s) above from %s\n", file)
	fmt.Fprintf(&b, "and run again with --tofu to remember it, or connect once with --pin %s --pin-only.\n", pin)
	return b.String()
}

// presentedLeaf returns the leaf certificate a failed handshake's
// verification error names for a pin mismatch, if any.
func presentedLeaf(err error) *x509.Certificate {
	var ve *tlsconf.VerificationError
	if !errors.As(err, &ve) {
		return nil
	}
	for _, e := range ve.Errors {
		if e.Kind == tlsconf.PinMismatch {
			if e.Cert != nil {
				return e.Cert
			}
		}
	}
	return nil
}

// isPinMismatch reports whether err is a verification failure with a pin
// mismatch among its errors.
func isPinMismatch(err error) bool {
	var ve *tlsconf.VerificationError
	if !errors.As(err, &ve) {
		return false
	}
	for _, e := range ve.Errors {
		if e.Kind == tlsconf.PinMismatch {
			return true
		}
	}
	return false
}
