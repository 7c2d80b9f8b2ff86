package servecmd

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

// runningServe is a serve started by startServeAdmin.
type runningServe struct {
	proxyURL string
	admin    *adminClient
	done     chan int
	logs     *testpeer.Buffer
	cancel   context.CancelFunc
}

// startServeAdmin runs serve with args (plus an admin API on TCP with
// tokenFile) until stop, and waits for its URLs.
func startServeAdmin(t *testing.T, tokenFile string, args ...string) *runningServe {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // should the banner never come
	p := spawnServe(ctx, append([]string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--admin-token-file", tokenFile,
		"--log-format", "json", "--log-level", "info", "--grace", "2s"}, args...)...)
	s := &runningServe{done: p.done, logs: p.logs, cancel: cancel}
	proxyURL, admin := p.banner(t, "admin API:")
	adminURL := strings.TrimSuffix(strings.Fields(admin)[0], "/")
	s.proxyURL = proxyURL
	s.admin = &adminClient{t: t, base: adminURL, token: adminToken, hc: &http.Client{Timeout: 10 * time.Second}}
	return s
}

func (s *runningServe) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		if code != 0 {
			t.Fatalf("serve exit %d: %s", code, s.logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	s.admin.hc.CloseIdleConnections()
}

// dialAsync dials through the proxy in the background.
func (s *runningServe) dialAsync(ctx context.Context) chan error {
	ch := make(chan error, 1)
	go func() {
		c, _, err := ws.Dial(ctx, s.proxyURL, nil)
		if err == nil {
			c.Close(ws.StatusNormalClosure, "")
		}
		ch <- err
	}()
	return ch
}

type pinList struct {
	Pins []struct {
		Server string `json:"server"`
		Pin    string `json:"pin"`
		Source string `json:"source"`
		Path   string `json:"path"`
	} `json:"pins"`
}

// A pin remembered when the operator resumes a pause survives a restart
// of serve: it is written to the trust store (by default upstream_pins in
// the state directory; --store file:PATH names the same file), so the
// restarted proxy's next handshake to that upstream passes without a
// pause. GET /v1/pins lists it (401 without the token); DELETE revokes it
// and the handshake after pauses again, and after another restart too.
func TestServeRememberedPinsSurviveRestart(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	storeFile := filepath.Join(state, "wssproxy", "upstream_pins")
	upstream := startTLSEcho(t)
	tokenFile := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(tokenFile, []byte(adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pauseArgs := []string{"--upstream", upstream, "--pause-on-ssl-errors", "--pause-timeout", "20s"}

	// First run, default store: pause, resume and remember.
	s := startServeAdmin(t, tokenFile, pauseArgs...)
	first := s.dialAsync(ctx)
	id, _ := s.admin.waitPaused()
	var resumed struct {
		RememberedPin string `json:"remembered_pin"`
	}
	s.admin.json("POST", "/v1/paused/"+id+"/resume", `{"remember_as_pin":true}`, 200, &resumed)
	if err := <-first; err != nil {
		t.Fatalf("resumed: %v", err)
	}
	data, err := os.ReadFile(storeFile)
	if err != nil || !strings.HasPrefix(string(data), "127.0.0.1 "+resumed.RememberedPin+" kinds=self-signed added=") ||
		!strings.Contains(string(data), " source=resume by=admin@127.0.0.1:") {
		t.Fatalf("store file %s: %q %v", storeFile, data, err)
	}
	if fi, _ := os.Stat(storeFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("store mode %v", fi.Mode())
	}
	s.stop(t)

	// Restart, naming the same file with --store: no pause.
	s = startServeAdmin(t, tokenFile, append(pauseArgs, "--store", "file:"+storeFile)...)
	if err := <-s.dialAsync(ctx); err != nil {
		t.Fatalf("after restart: %v\n%s", err, s.logs.String())
	}
	if !strings.Contains(s.logs.String(), "certificate accepted by a remembered pin") {
		t.Fatalf("no remembered-pin log:\n%s", s.logs.String())
	}
	if code, _ := (&adminClient{t: t, base: s.admin.base, hc: s.admin.hc}).do("GET", "/v1/pins", ""); code != http.StatusUnauthorized {
		t.Fatalf("GET /v1/pins without the token: %d", code)
	}
	var pins pinList
	s.admin.json("GET", "/v1/pins", "", 200, &pins)
	if len(pins.Pins) != 1 || pins.Pins[0].Pin != resumed.RememberedPin || pins.Pins[0].Server != "127.0.0.1" || pins.Pins[0].Source != "resume" {
		t.Fatalf("pins %+v", pins)
	}
	s.admin.json("DELETE", pins.Pins[0].Path, "", 200, nil)
	s.admin.json("GET", "/v1/pins", "", 200, &pins)
	if len(pins.Pins) != 0 {
		t.Fatalf("pins after DELETE: %+v", pins)
	}
	// Revoked: the next handshake pauses again.
	again := s.dialAsync(ctx)
	id, _ = s.admin.waitPaused()
	s.admin.json("POST", "/v1/paused/"+id+"/abort", "", 200, nil)
	if err := <-again; err == nil {
		t.Fatal("dial passed after abort")
	}
	s.stop(t)

	// And after a restart.
	s = startServeAdmin(t, tokenFile, pauseArgs...)
	again = s.dialAsync(ctx)
	id, _ = s.admin.waitPaused()
	s.admin.json("POST", "/v1/paused/"+id+"/abort", "", 200, nil)
	if err := <-again; err == nil {
		t.Fatal("dial passed after abort")
	}
	s.stop(t)
}

// serve refuses a store it cannot use before listening: an unreachable
// etcd without a cache file (from the flag and the file, with the file's
// dial_timeout), bad store_etcd keys (named by file and line), an etcd
// password file others may read (its content never shown), psk_store
// without the etcd store, another scheme, a malformed line (named by file
// and line, also by --check) and a file others may write.
func TestServeStoreErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad_pins")
	os.WriteFile(bad, []byte("# fine\n127.0.0.1 not-a-pin\n"), 0o600)
	open := filepath.Join(dir, "open_pins")
	os.WriteFile(open, []byte(""), 0o600)
	os.Chmod(open, 0o666)
	pw := filepath.Join(dir, "etcd-password")
	os.WriteFile(pw, []byte("hunter2-secret\n"), 0o644)
	routes := "listeners:\n  - listen: 127.0.0.1:0\n    routes:\n      - upstream: ws://127.0.0.1:1/\n"
	write := func(name, body string) string {
		f := filepath.Join(dir, name)
		os.WriteFile(f, []byte(body), 0o600)
		return f
	}
	unreachable := write("unreachable.yaml", "store: etcd://127.0.0.1:1/wssproxy\nstore_etcd:\n  dial_timeout: 500ms\n  cache_file: no-cache\n"+routes)
	badKey := write("badkey.yaml", "store: etcd://127.0.0.1:1/wssproxy\nstore_etcd:\n  username: proxy\n"+routes)
	pskFileStore := write("psk.yaml", "listeners:\n  - listen: 127.0.0.1:0\n    tls:\n      psk_store: true\n    routes:\n      - upstream: ws://127.0.0.1:1/\n")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--listen", "127.0.0.1:0", "--store", "etcd://127.0.0.1:1,127.0.0.1:2/wssproxy"}, 1, "trust store etcd://127.0.0.1:1,127.0.0.1:2/wssproxy: "},
		{[]string{"--config", unreachable}, 1, "trust store etcd://127.0.0.1:1/wssproxy: "},
		{[]string{"--config", unreachable}, 1, "no cache file yet at " + filepath.Join(dir, "no-cache")},
		{[]string{"--config", badKey}, 2, badKey + ":3: store_etcd.username: needs password_file"},
		{[]string{"--listen", "127.0.0.1:0", "--store", "etcd://127.0.0.1:1/p", "--store-etcd-username", "u", "--store-etcd-password-file", pw}, 1, "etcd password file is accessible by group or others (chmod 600): " + pw + " has mode -rw-r--r--"},
		{[]string{"--store-etcd-ca-file", pw}, 2, "--store-etcd-ca-file needs --store etcd://"},
		{[]string{"--config", pskFileStore}, 1, pskFileStore + ":2: listeners[0]: psk_store (--psk-from-store) needs the etcd trust store"},
		{[]string{"--config", pskFileStore, "--check"}, 2, "psk_store (--psk-from-store) needs the etcd trust store"},
		{[]string{"--store", "s3://bucket/pins"}, 2, `unknown scheme "s3"`},
		{[]string{"--listen", "127.0.0.1:0", "--store", "file:" + bad}, 1, bad + ":2: "},
		{[]string{"--listen", "127.0.0.1:0", "--store", "file:" + bad, "--check"}, 2, bad + ":2: "},
		{[]string{"--listen", "127.0.0.1:0", "--store", open}, 1, "accessible by group or others"},
	} {
		var out, errb bytes.Buffer
		start := time.Now()
		code := Run(context.Background(), tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: exit %d, %q; want %d with %q", tc.args, code, errb.String(), tc.code, tc.msg)
		}
		if strings.Contains(errb.String(), "hunter2") {
			t.Errorf("%v: the password shows: %s", tc.args, errb.String())
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("%v: took %v", tc.args, d)
		}
	}
}
