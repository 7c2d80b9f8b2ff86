package main

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// knownPinsName is the file, in the state directory, where the client
// remembers server keys (--known-pins overrides it).
const knownPinsName = "known_pins"

// maxKnownPinsSize bounds the known-pins file read.
const maxKnownPinsSize = 4 << 20

// knownPin is one line of the known-pins file.
type knownPin struct {
	pin  tlsconf.Pin
	line int
}

// knownPins is the client's memory of server keys, in the manner of
// OpenSSH's known_hosts: one "HOST:PORT PIN" line per remembered key
// (several lines for a host accept any of their keys), "#" comments.
// A person may edit it.
type knownPins struct {
	file string
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
	return filepath.Join(dir, knownPinsName), nil
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
	k := &knownPins{file: file, host: host}
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("known pins: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKnownPinsSize+1))
	if err != nil {
		return nil, fmt.Errorf("known pins: %w", err)
	}
	if len(data) > maxKnownPinsSize {
		return nil, fmt.Errorf("known pins: %s is larger than %d bytes", file, maxKnownPinsSize)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("known pins: %s:%d: want \"HOST:PORT PIN\"", file, n)
		}
		if !strings.EqualFold(fields[0], host) {
			continue
		}
		p, err := tlsconf.ParsePin(fields[1])
		if err != nil {
			return nil, fmt.Errorf("known pins: %s:%d: %w", file, n, err)
		}
		k.pins = append(k.pins, knownPin{pin: p, line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("known pins: %s: %w", file, err)
	}
	return k, nil
}

// pinStrings returns the remembered pins for the TLS policy.
func (k *knownPins) pinStrings() []string {
	s := make([]string, len(k.pins))
	for i, p := range k.pins {
		s[i] = p.pin.String()
	}
	return s
}

// remember appends the key of leaf for the host. One short append is a
// single write, so concurrent clients do not interleave their lines.
func (k *knownPins) remember(leaf *x509.Certificate) error {
	if err := os.MkdirAll(filepath.Dir(k.file), 0o700); err != nil {
		return fmt.Errorf("known pins: %w", err)
	}
	f, err := os.OpenFile(k.file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("known pins: %w", err)
	}
	line := fmt.Sprintf("%s %s # %s, first seen %s\n", k.host, tlsconf.SPKIPinOf(leaf), sanitizeComment(leaf.Subject.String()), time.Now().UTC().Format(time.RFC3339))
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("known pins: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("known pins: %w", err)
	}
	return nil
}

// sanitizeComment keeps a certificate's subject on one comment line.
func sanitizeComment(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// changedKeyMessage is the warning printed when a remembered server
// presents another key (OpenSSH's "REMOTE HOST IDENTIFICATION HAS
// CHANGED").
func (k *knownPins) changedKeyMessage(presented *x509.Certificate) string {
	var b strings.Builder
	fmt.Fprintf(&b, "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n")
	fmt.Fprintf(&b, "@    WARNING: THE KEY OF %s HAS CHANGED!\n", k.host)
	fmt.Fprintf(&b, "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n")
	fmt.Fprintf(&b, "Someone could be in the middle of this connection, or the server has a new key.\n")
	for _, p := range k.pins {
		fmt.Fprintf(&b, "remembered (%s:%d): %s\n", k.file, p.line, p.pin)
	}
	if presented != nil {
		fmt.Fprintf(&b, "presented now:  %s (%s)\n", tlsconf.SPKIPinOf(presented), presented.Subject)
	}
	fmt.Fprintf(&b, "Not connecting. If the new key is right (check it out of band), delete the line(s) above and run again with --tofu, or pass --pin.\n")
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
