package etcdstore

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
)

// Key layout under PREFIX/trust/ (see doc.go).
const (
	trustDir = "/trust/"
	pinsDir  = "pins/"
	pskDir   = "psk/"
)

// maxValueSize bounds a stored value the Store parses.
const maxValueSize = 64 << 10

// pinKey returns the key (relative to PREFIX/trust/) of server's pin:
// pins/SERVER/spki-sha256:HEX or pins/SERVER/cert-sha256:HEX, with SERVER
// in lower case ('%' and '/' escaped as %25 and %2F).
func pinKey(server string, p tlsconf.Pin) string {
	name := strings.NewReplacer("%", "%25", "/", "%2F").Replace(strings.ToLower(server))
	kind := "spki-sha256:"
	if p.Kind == tlsconf.PinCertificate {
		kind = "cert-sha256:"
	}
	return pinsDir + name + "/" + kind + hex.EncodeToString(p.Sum[:])
}

// pskKey returns the key (relative to PREFIX/trust/) of identity.
func pskKey(identity string) string { return pskDir + identity }

// checkIdentity applies the PSK key file's identity rules: those of
// psk.CheckIdentity, and an identity that an "identity:hexkey" line can
// hold (no ':', no control character, no white space at either end, not
// starting with '#').
func checkIdentity(id string) error {
	if err := psk.CheckIdentity([]byte(id)); err != nil {
		return fmt.Errorf("etcdstore: %w", err)
	}
	switch {
	case strings.Contains(id, ":"):
		return fmt.Errorf("etcdstore: identity %q holds ':' (a PSK key file could not hold it)", id)
	case strings.ContainsFunc(id, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return fmt.Errorf("etcdstore: identity %q holds a control character", id)
	case strings.TrimSpace(id) != id:
		return fmt.Errorf("etcdstore: identity %q starts or ends with white space", id)
	case id[0] == '#':
		return fmt.Errorf("etcdstore: identity %q starts with '#'", id)
	}
	return nil
}

// item is one stored value, parsed: a pin entry or a PSK key, or why it
// is malformed.
type item struct {
	raw    []byte
	pin    tlsconf.PinEntry
	isPin  bool
	pskID  string
	pskKey []byte
	err    error
}

// parseItem parses the value stored under key (relative to PREFIX/trust/).
// Its errors never hold the value: it may be a PSK key.
func parseItem(key string, value []byte) *item {
	it := &item{raw: value}
	if len(value) > maxValueSize {
		it.err = fmt.Errorf("value of %d bytes exceeds %d", len(value), maxValueSize)
		return it
	}
	switch {
	case strings.HasPrefix(key, pinsDir):
		var e tlsconf.PinEntry
		if err := json.Unmarshal(value, &e); err != nil {
			it.err = fmt.Errorf("want a JSON pin entry: %w", err)
			return it
		}
		if err := e.Validate(); err != nil {
			it.err = err
			return it
		}
		if want := pinKey(e.Server, e.Pin); key != want {
			it.err = fmt.Errorf("the key does not match the entry's server and pin (want %s)", want)
			return it
		}
		e.Line = 0
		it.pin, it.isPin = e, true
	case strings.HasPrefix(key, pskDir):
		id := key[len(pskDir):]
		if err := checkIdentity(id); err != nil {
			it.err = err
			return it
		}
		text := bytes.TrimSpace(value)
		k := make([]byte, hex.DecodedLen(len(text)))
		if _, err := hex.Decode(k, text); err != nil {
			it.err = errors.New("the key is not one hex string (generate one with: openssl rand -hex 32)")
			return it
		}
		if err := psk.CheckKey(k); err != nil {
			it.err = err
			return it
		}
		it.pskID, it.pskKey = id, k
	default:
		it.err = errors.New("unknown key: want pins/SERVER/PIN or psk/IDENTITY under the prefix's trust/")
	}
	return it
}
