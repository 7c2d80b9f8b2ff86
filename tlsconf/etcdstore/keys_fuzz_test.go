package etcdstore

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/tlsconf"
)

// Any key and value, as a person might write them with etcdctl, parse
// into a pin entry stored under its own key, a usable PSK key, or an
// error: never a panic, and never an error that repeats a PSK value.
func FuzzParseItem(f *testing.F) {
	pinJSON, _ := json.Marshal(tlsconf.PinEntry{Server: "a.example:443", Pin: testPin(1), Kinds: []tlsconf.ErrorKind{tlsconf.Expired}})
	f.Add(pinKey("a.example:443", testPin(1)), pinJSON)
	f.Add("pins/a.example:443/spki-sha256:00", []byte(`{"server":"a.example:443","pin":"sha256//AAAA"}`))
	f.Add("psk/dev", []byte(hex.EncodeToString(testKey(1))))
	f.Add("psk/dev", []byte("zz112233445566778899aabbccddeeff"))
	f.Add("psk/a:b", []byte("00"))
	f.Add("other", []byte{})
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		it := parseItem(key, value)
		switch {
		case it.err != nil:
			// The key (identities are public) may contain the value's
			// bytes by chance: only a value that the key does not hold
			// must stay out of the error.
			// The error's own wording may hold them too (the value "psk:"
			// and the prefix "etcdstore: psk: "): the value leaks only if
			// the error for another value of its length does not hold it.
			if strings.HasPrefix(key, pskDir) && len(value) >= 4 && !strings.Contains(key, string(value)) &&
				strings.Contains(it.err.Error(), string(value)) {
				other := parseItem(key, bytes.Repeat([]byte{'#'}, len(value)))
				if other.err == nil || !strings.Contains(other.err.Error(), string(value)) {
					t.Fatalf("error %q repeats the value", it.err)
				}
			}
		case it.isPin:
			if err := it.pin.Validate(); err != nil || pinKey(it.pin.Server, it.pin.Pin) != key {
				t.Fatalf("pin %+v under %q: %v", it.pin, key, err)
			}
		default:
			if key != pskKey(it.pskID) || checkIdentity(it.pskID) != nil || len(it.pskKey) < 16 {
				t.Fatalf("identity %q key of %d bytes under %q", it.pskID, len(it.pskKey), key)
			}
			if got, _ := hex.DecodeString(string(bytes.TrimSpace(value))); !bytes.Equal(got, it.pskKey) {
				t.Fatal("key differs from the value")
			}
		}
	})
}
