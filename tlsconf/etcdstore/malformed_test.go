package etcdstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// Values written by hand that the Store cannot use are skipped, each
// logged once naming its key (never the value), listed in
// Status.Malformed; the good ones are served, by a running Store and by
// one opened afterwards; a fixed value is picked up.
func TestMalformedValues(t *testing.T) {
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{Members: 1})
	ctx := context.Background()
	logs := new(testpeer.Buffer)
	a := openStore(t, c, "/bad", func(o *Options) { o.Logger = zerolog.New(logs) })
	aw := a.Watch(ctx)

	good := tlsconf.PinEntry{Server: "good.example:443", Pin: testPin(1), Source: tlsconf.SourceOperator}
	goodJSON, _ := json.Marshal(good)
	other, _ := json.Marshal(tlsconf.PinEntry{Server: "other.example:443", Pin: testPin(3)})
	noPin, _ := json.Marshal(map[string]string{"server": "nopin.example:443"})
	secret := "00112233445566778899aabbccddeeff0011223344556677g8" // not hex: one 'g'
	base := "/bad/trust/"
	put := map[string]string{
		base + pinKey(good.Server, good.Pin):              string(goodJSON),
		base + pinKey("x.example:443", testPin(2)):        "not json",
		base + pinKey("x.example:443", testPin(4)):        string(other), // key of another entry
		base + pinKey("nopin.example:443", testPin(5)):    string(noPin),
		base + "pins/x.example:443":                       "{}",
		base + "psk/dev-good":                             hex.EncodeToString(testKey(1)) + "\n",
		base + "psk/dev-bad":                              secret,
		base + "psk/dev-short":                            "0011223344556677",
		base + "psk/dev:colon":                            hex.EncodeToString(testKey(2)),
		base + "psk/":                                     hex.EncodeToString(testKey(3)),
		base + "other/thing":                              "x",
		"/bad/acme/certificate":                           "not the trust store's",
		base + "pins/big.example:443/spki-sha256:" + "00": strings.Repeat("x", maxValueSize+1),
	}
	for k, v := range put {
		if _, err := a.Client().Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	wantBad := []string{
		base + "other/thing",
		base + pinKey("nopin.example:443", testPin(5)),
		base + "pins/big.example:443/spki-sha256:00",
		base + pinKey("x.example:443", testPin(2)),
		base + pinKey("x.example:443", testPin(4)),
		base + "pins/x.example:443",
		base + "psk/",
		base + "psk/dev-bad",
		base + "psk/dev-short",
		base + "psk/dev:colon",
	}
	slices.Sort(wantBad)
	testpeer.WaitFor(t, 2*time.Second, "every value written to be seen", func() bool {
		ids, _ := a.PSKIdentities(ctx)
		pins, _ := a.Pins(ctx)
		return slices.Equal(a.Status().Malformed, wantBad) && len(ids) == 1 && len(pins) == 1
	})
	waitSignal(t, aw, time.Second, "the values written by hand")
	check := func(s *Store) {
		t.Helper()
		pins, err := s.Pins(ctx)
		if err != nil || len(pins) != 1 || pins[0].Server != good.Server {
			t.Fatalf("pins %+v %v", pins, err)
		}
		ids, err := s.PSKIdentities(ctx)
		if err != nil || !slices.Equal(ids, []string{"dev-good"}) {
			t.Fatalf("identities %q %v", ids, err)
		}
	}
	check(a)
	b := openStore(t, c, "/bad", nil)
	check(b)
	if got := b.Status().Malformed; !slices.Equal(got, wantBad) {
		t.Fatalf("b malformed %q", got)
	}

	out := logs.String()
	for _, k := range wantBad {
		if n := strings.Count(out, `"key":"`+k+`"`); n != 1 {
			t.Errorf("%s logged %d times:\n%s", k, n, out)
		}
	}
	if strings.Contains(out, secret[:16]) || strings.Contains(out, hex.EncodeToString(testKey(1))[:16]) {
		t.Fatalf("a key value was logged:\n%s", out)
	}
	if want := "(want " + pinKey("other.example:443", testPin(3)) + ")"; !strings.Contains(out, want) {
		t.Fatalf("mismatched key not explained:\n%s", out)
	}

	// Fixing a value by hand makes it count.
	if _, err := a.Client().Put(ctx, base+"psk/dev-bad", hex.EncodeToString(testKey(4))); err != nil {
		t.Fatal(err)
	}
	testpeer.WaitFor(t, time.Second, "the fixed identity", func() bool {
		k, _ := b.GetKey(ctx, []byte("dev-bad"))
		return k != nil && !slices.Contains(b.Status().Malformed, base+"psk/dev-bad")
	})
}

// The API refuses what it could not store: invalid entries, identities
// a PSK key file could not hold, keys out of bounds; errors never hold a
// key.
func TestBadInput(t *testing.T) {
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{Members: 1})
	ctx := context.Background()
	s := openStore(t, c, "/input", nil)
	for _, e := range []tlsconf.PinEntry{
		{Server: "", Pin: testPin(1)},
		{Server: "a b:443", Pin: testPin(1)},
		{Server: "a:443"},
		{Server: "a:443", Pin: testPin(1), By: "x y"},
	} {
		if err := s.PutPin(ctx, e); err == nil {
			t.Errorf("PutPin(%+v) accepted", e)
		}
	}
	for _, id := range []string{"", "a:b", " lead", "trail ", "#hash", "nul\x00", "tab\tin", strings.Repeat("i", 256)} {
		if err := s.PutPSK(ctx, id, testKey(1)); err == nil {
			t.Errorf("PutPSK(%q) accepted", id)
		}
	}
	short := []byte("0123456789abcde") // 15 bytes
	if err := s.PutPSK(ctx, "dev", short); err == nil || strings.Contains(err.Error(), string(short)) || strings.Contains(err.Error(), hex.EncodeToString(short)) {
		t.Fatalf("short key: %v", err)
	}
	if err := s.PutPSK(ctx, "dev", make([]byte, 513)); err == nil {
		t.Fatal("long key accepted")
	}
	if ids, _ := s.PSKIdentities(ctx); len(ids) != 0 {
		t.Fatalf("identities %q", ids)
	}
	if k, err := s.GetKey(ctx, []byte(strings.Repeat("i", 300))); k != nil || err != nil {
		t.Fatalf("long identity lookup: %v %v", k, err)
	}

	// Options: what Open refuses before dialing.
	for _, o := range []*Options{
		nil,
		{Endpoints: []string{"no-port"}},
		{Endpoints: c.Endpoints(), Username: "u"},
		{Endpoints: c.Endpoints(), Prefix: "/a\nb"},
	} {
		if _, err := Open(ctx, o); err == nil {
			t.Errorf("Open(%+v) accepted", o)
		}
	}

	// A closed Store says so.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pins(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Pins after Close: %v", err)
	}
	if err := s.PutPSK(ctx, "dev", testKey(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("PutPSK after Close: %v", err)
	}
	if _, ok := <-s.Watch(ctx); ok {
		t.Fatal("Watch after Close not closed")
	}
}
