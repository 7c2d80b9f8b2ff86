package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/wssproxy/wssproxy/internal/testpeer"
)

func TestFileSourceKeyTypes(t *testing.T) {
	t.Parallel()
	for _, kt := range []string{"rsa", "ecdsa", "ed25519"} {
		t.Run(kt, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tc := validCert(t, kt, "files-"+kt)
			certFile, keyFile := writePair(t, dir, tc)
			src, err := NewFileSource(&FileOptions{CertFile: certFile, KeyFile: keyFile})
			if err != nil {
				t.Fatal(err)
			}
			addr := serveTLS(t, TLSConfig(src, nil))
			leaf, err := handshakeLeaf(t, addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !leaf.Equal(tc.cert) {
				t.Fatalf("served %q, want %q", leaf.Subject, tc.cert.Subject)
			}
			if d := src.Describe(); !strings.Contains(d, "CN=files-"+kt) || !strings.Contains(d, "pin=sha256//") {
				t.Errorf("Describe() = %q", d)
			}
		})
	}
}

// writePair writes tc's certificate and key as cert.pem and key.pem in
// dir and returns their paths.
func writePair(t *testing.T, dir string, tc testCert) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, tc.certPEM)
	writeFile(t, keyFile, tc.keyPEM)
	return certFile, keyFile
}

// combinedSource loads a FileSource from one file holding the PEM
// blocks, a key and a certificate in either order.
func combinedSource(t *testing.T, blocks ...[]byte) *FileSource {
	t.Helper()
	file := filepath.Join(t.TempDir(), "both.pem")
	writeFile(t, file, bytes.Join(blocks, nil))
	src, err := NewFileSource(&FileOptions{CertFile: file})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestFileSourceKeyInCertFile(t *testing.T) {
	t.Parallel()
	tc := validCert(t, "ecdsa", "combined")
	src := combinedSource(t, tc.keyPEM, tc.certPEM)
	if !src.Leaf().Equal(tc.cert) {
		t.Fatal("wrong leaf")
	}
}

func TestFileSourceErrors(t *testing.T) {
	t.Parallel()
	a := validCert(t, "ecdsa", "a")
	b := validCert(t, "ed25519", "b")
	cases := []struct {
		name      string
		cert, key []byte // nil: file missing
		want      error
	}{
		{"key mismatch", a.certPEM, b.keyPEM, ErrKeyMismatch},
		{"missing cert", nil, a.keyPEM, fs.ErrNotExist},
		{"missing key", a.certPEM, nil, fs.ErrNotExist},
		{"no certificate", a.keyPEM, a.keyPEM, ErrNoCertificate},
		{"no key", a.certPEM, a.certPEM, ErrNoPrivateKey},
		{"encrypted key", a.certPEM, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), ErrUnsupportedKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			if c.cert != nil {
				writeFile(t, certFile, c.cert)
			}
			if c.key != nil {
				writeFile(t, keyFile, c.key)
			}
			_, err := NewFileSource(&FileOptions{CertFile: certFile, KeyFile: keyFile})
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			t.Logf("error text: %v", err)
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		t.Parallel()
		if os.Geteuid() == 0 {
			t.Skip("root reads files regardless of mode")
		}
		dir := t.TempDir()
		certFile, keyFile := writePair(t, dir, a)
		if err := os.Chmod(keyFile, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := NewFileSource(&FileOptions{CertFile: certFile, KeyFile: keyFile}); !errors.Is(err, fs.ErrPermission) {
			t.Fatalf("err = %v, want permission error", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if _, err := NewFileSource(&FileOptions{CertFile: dir, KeyFile: dir}); err == nil {
			t.Fatal("loading a directory succeeded")
		}
	})
	t.Run("no certificate file", func(t *testing.T) {
		t.Parallel()
		for _, opts := range []*FileOptions{nil, {KeyFile: "key.pem"}} {
			if src, err := NewFileSource(opts); err == nil || src != nil {
				t.Fatalf("NewFileSource(%+v) = %v, %v", opts, src, err)
			}
		}
	})
}

func TestFileSourceExpiredWarns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := newTestCert(t, "ecdsa", "expired", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	certFile, keyFile := writePair(t, dir, old)
	var logs testpeer.Buffer
	src, err := NewFileSource(&FileOptions{CertFile: certFile, KeyFile: keyFile, Logger: zerolog.New(&logs)})
	if err != nil {
		t.Fatalf("an expired certificate must load (with a warning): %v", err)
	}
	if !src.Leaf().Equal(old.cert) {
		t.Fatal("wrong leaf")
	}
	if !strings.Contains(logs.String(), `"level":"warn"`) || !strings.Contains(logs.String(), "expired") {
		t.Fatalf("no expiry warning in logs: %s", logs.String())
	}
}

// TestFileSourceReloadUnderListener replaces the files under a running TLS
// listener: new handshakes get the new certificate, and broken
// replacements keep the old one.
func TestFileSourceReloadUnderListener(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	install := func(tc testCert) {
		writeFile(t, keyFile, tc.keyPEM)
		writeFile(t, certFile, tc.certPEM)
	}
	first := validCert(t, "ecdsa", "first")
	install(first)

	var logs testpeer.Buffer
	src, err := NewFileSource(&FileOptions{CertFile: certFile, KeyFile: keyFile, PollInterval: 20 * time.Millisecond, Logger: zerolog.New(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	watchDone := make(chan error)
	go func() { watchDone <- src.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-watchDone; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v", err)
		}
	})
	addr := serveTLS(t, TLSConfig(src, nil))

	served := func() string {
		leaf, err := handshakeLeaf(t, addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		return leaf.Subject.CommonName
	}
	if got := served(); got != "first" {
		t.Fatalf("served %q, want first", got)
	}

	// Watch picks up a replacement (a different key type, too).
	second := validCert(t, "rsa", "second")
	install(second)
	eventually(t, 5*time.Second, "the second certificate", func() bool { return served() == "second" })

	// A broken replacement (key of another certificate) keeps serving the
	// previous one, through Watch and through Reload.
	third := validCert(t, "ecdsa", "third")
	writeFile(t, certFile, third.certPEM) // key not replaced: mismatch
	eventually(t, 5*time.Second, "the failed reload to be logged", func() bool {
		return strings.Contains(logs.String(), ErrKeyMismatch.Error())
	})
	if got := served(); got != "second" {
		t.Fatalf("after a broken replacement served %q, want second", got)
	}
	err = src.Reload(context.Background())
	if !errors.Is(err, ErrKeyMismatch) || !strings.Contains(err.Error(), "keeping the previously loaded certificate") {
		t.Fatalf("Reload = %v, want key mismatch that keeps the old certificate", err)
	}
	writeFile(t, certFile, []byte("not PEM at all"))
	if err := src.Reload(context.Background()); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("Reload of garbage = %v, want ErrNoCertificate", err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if err := src.Reload(context.Background()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Reload without key = %v, want not-exist", err)
	}
	if got := served(); got != "second" {
		t.Fatalf("after broken replacements served %q, want second", got)
	}

	// Completing the replacement recovers.
	install(third)
	if err := src.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := served(); got != "third" {
		t.Fatalf("served %q, want third", got)
	}
}

// TestFileSourceWatchSeesPreservedMtime replaces a file with one of the
// same size and modification time (cp -p style): the new inode is noticed.
func TestFileSourceWatchSeesPreservedMtime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	a := validCert(t, "ed25519", "same-a")
	b := validCert(t, "ed25519", "same-b")
	if len(a.certPEM) != len(b.certPEM) || len(a.keyPEM) != len(b.keyPEM) {
		t.Skip("PEM sizes differ; nothing to show")
	}
	writeFile(t, certFile, a.certPEM)
	writeFile(t, keyFile, a.keyPEM)
	mtime := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	src, err := NewFileSource(&FileOptions{CertFile: certFile, KeyFile: keyFile, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = src.Watch(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	for _, r := range []struct {
		name string
		data []byte
	}{{keyFile, b.keyPEM}, {certFile, b.certPEM}} {
		tmp := r.name + ".new"
		if err := os.WriteFile(tmp, r.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, r.name); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "the replacement with a preserved mtime", func() bool {
		return src.Leaf().Subject.CommonName == "same-b"
	})
}

func TestFileSourceReloadCancelled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tc := validCert(t, "ecdsa", "c")
	certFile, keyFile := writePair(t, dir, tc)
	src, err := NewFileSource(&FileOptions{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := src.Reload(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Reload = %v", err)
	}
	if err := src.Watch(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch = %v", err)
	}
}

func TestTLSConfigKeepsBase(t *testing.T) {
	t.Parallel()
	tc := validCert(t, "ecdsa", "c")
	src := combinedSource(t, tc.certPEM, tc.keyPEM)
	base := &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{"http/1.1"}}
	cfg := TLSConfig(src, base)
	if cfg.MinVersion != tls.VersionTLS13 || len(cfg.NextProtos) != 1 || cfg.GetCertificate == nil {
		t.Fatalf("TLSConfig = %+v", cfg)
	}
	if base.GetCertificate != nil {
		t.Fatal("TLSConfig modified its base")
	}
}
