package admin

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/ws"
)

type pinsAnswer struct {
	Pins []struct {
		Server string   `json:"server"`
		Pin    string   `json:"pin"`
		Kinds  []string `json:"kinds"`
		Source string   `json:"source"`
		By     string   `json:"by"`
		Added  string   `json:"added"`
		Path   string   `json:"path"`
	} `json:"pins"`
}

// A pin remembered on resume lands in the registry's file store and is
// listed by GET /v1/pins (with the token only); DELETE on its path
// revokes it in the file and in memory, after which the upstream's
// handshake pauses again; bad pins and unknown pins are 400 and 404.
func TestPinsListRevoke(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pins")
	store, err := tlsconf.NewFileStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, tlsconf.NewRegistryWithOptions(&tlsconf.RegistryOptions{Store: store}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if got := decode[pinsAnswer](t, e.do("GET", "/v1/pins", ""), 200); len(got.Pins) != 0 {
		t.Fatalf("pins before any: %+v", got)
	}
	for _, auth := range []string{"", "Bearer wrong"} {
		if w := do(e.h, "GET", "/v1/pins", auth, ""); w.Code != http.StatusUnauthorized {
			t.Fatalf("GET /v1/pins with %q: %d", auth, w.Code)
		}
	}
	done := e.dialPaused(ctx)
	id, _, pin := e.waitPaused(t)
	e.do("POST", "/v1/paused/"+id+"/resume", `{"remember_as_pin":true}`)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	r.c.Close(ws.StatusNormalClosure, "")

	got := decode[pinsAnswer](t, e.do("GET", "/v1/pins", ""), 200)
	if len(got.Pins) != 1 {
		t.Fatalf("pins %+v", got)
	}
	p := got.Pins[0]
	if p.Server != "127.0.0.1" || p.Pin != pin || strings.Join(p.Kinds, ",") != "self-signed" || p.Source != "resume" ||
		!strings.HasPrefix(p.By, "admin@") || p.Added == "" || !strings.HasPrefix(p.Path, "/v1/pins/127.0.0.1/spki-sha256:") {
		t.Fatalf("pin %+v", p)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "127.0.0.1 "+pin+" kinds=self-signed added=") {
		t.Fatalf("file %q", data)
	}
	if w := do(e.h, "DELETE", p.Path, "", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("DELETE without a token: %d", w.Code)
	}
	decode[errorAnswer](t, e.do("DELETE", "/v1/pins/127.0.0.1/not-a-pin", ""), http.StatusBadRequest)
	decode[errorAnswer](t, e.do("DELETE", "/v1/pins/other.example:443/"+strings.TrimPrefix(p.Path, "/v1/pins/127.0.0.1/"), ""), http.StatusNotFound)
	// The base64 form, percent-encoded, names the pin too.
	if a := decode[errorAnswer](t, e.do("DELETE", "/v1/pins/other.example:443/"+url.PathEscape(pin), ""), http.StatusNotFound); a.Error != "no pin "+pin+" remembered for other.example:443" {
		t.Fatalf("escaped base64 pin: %q", a.Error)
	}
	decode[errorAnswer](t, e.do("POST", p.Path, ""), http.StatusMethodNotAllowed)
	type revoked struct {
		Revoked bool   `json:"revoked"`
		Pin     string `json:"pin"`
	}
	if a := decode[revoked](t, e.do("DELETE", p.Path, ""), 200); !a.Revoked || a.Pin != pin {
		t.Fatalf("revoke answer %+v", a)
	}
	decode[errorAnswer](t, e.do("DELETE", p.Path, ""), http.StatusNotFound)
	if got := decode[pinsAnswer](t, e.do("GET", "/v1/pins", ""), 200); len(got.Pins) != 0 {
		t.Fatalf("pins after revoke: %+v", got)
	}
	// Revoked: the next handshake pauses again.
	done = e.dialPaused(ctx)
	id, _, _ = e.waitPaused(t)
	e.do("POST", "/v1/paused/"+id+"/abort", "")
	if r := <-done; r.err == nil {
		r.c.Abort()
		t.Fatal("dial passed after abort")
	}

	// A store that cannot be written: resume with remember is 500 and the
	// handshake stays paused.
	os.Chmod(path, 0o644)
	done = e.dialPaused(ctx)
	id, _, _ = e.waitPaused(t)
	if a := decode[errorAnswer](t, e.do("POST", "/v1/paused/"+id+"/resume", `{"remember_as_pin":true}`), http.StatusInternalServerError); !strings.Contains(a.Error, "stays paused") {
		t.Fatalf("resume over a bad store: %q", a.Error)
	}
	decode[errorAnswer](t, e.do("GET", "/v1/pins", ""), http.StatusInternalServerError)
	e.do("POST", "/v1/paused/"+id+"/abort", "")
	if r := <-done; r.err == nil {
		r.c.Abort()
		t.Fatal("dial passed after abort")
	}
}
