package certs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/tlsconf"
)

// DefaultPollInterval is how often [FileSource.Watch] looks at the files
// when FileOptions.PollInterval is zero.
const DefaultPollInterval = 5 * time.Second

// FileOptions configures a [FileSource]: the files, and how they are
// watched. CertFile is required.
type FileOptions struct {
	// CertFile is the PEM certificate chain, leaf first.
	CertFile string
	// KeyFile is the PEM private key; "" means the key is in CertFile.
	KeyFile string
	// PollInterval is how often Watch compares the files' identity
	// (inode), size and modification time with the loaded ones (and, when
	// they differ, their content hash). Zero means DefaultPollInterval.
	PollInterval time.Duration
	// Logger receives reload outcomes and validity warnings. The zero value
	// logs nothing.
	Logger zerolog.Logger
	// Now returns the current time for validity warnings; nil means
	// time.Now.
	Now func() time.Time
}

// FileSource serves a certificate chain and private key read from PEM
// files. The chain file holds the leaf first, then any intermediates; the
// key (PKCS #8, PKCS #1 or SEC 1; RSA, ECDSA or Ed25519; not encrypted) may
// be in its own file or in the chain file.
//
// The files are read again by Reload and, while Watch runs, whenever their
// size or modification time changes. A reload that fails (unreadable file,
// key that does not match, bad PEM) keeps the previous certificate. An
// expired or not yet valid certificate is loaded and served, with a
// warning in the log.
type FileSource struct {
	certFile, keyFile string
	opts              FileOptions

	cur atomic.Pointer[fileState] // read lock-free by GetCertificate

	mu   sync.Mutex // serializes reloads; guards seen
	seen fileStamp  // size and mtime of the files at the last reload attempt
}

type fileState struct {
	cert *tls.Certificate
	sum  [sha256.Size]byte // of the cert and key file contents
}

// fileStamp identifies the files' versions: which file (inode, so a
// rename over the path is seen even with a preserved mtime), size and
// modification time. A file that cannot be stat'ed is nil.
type fileStamp struct {
	cert, key os.FileInfo
}

func (a fileStamp) equal(b fileStamp) bool {
	return sameVersion(a.cert, b.cert) && sameVersion(a.key, b.key)
}

func sameVersion(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// NewFileSource loads opts.CertFile and opts.KeyFile and returns a source
// serving them; opts is copied. It fails when opts or its CertFile is
// missing, or when the files cannot be read or do not hold a matching
// certificate and key; an expired certificate is only logged. Call Watch
// to follow file changes.
func NewFileSource(opts *FileOptions) (*FileSource, error) {
	if opts == nil || opts.CertFile == "" {
		return nil, errors.New("certs: FileOptions.CertFile is required")
	}
	s := &FileSource{certFile: opts.CertFile, keyFile: opts.KeyFile, opts: *opts}
	if s.opts.PollInterval <= 0 {
		s.opts.PollInterval = DefaultPollInterval
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	if s.keyFile == "" {
		s.keyFile = s.certFile
	}
	if err := s.reload("initial load"); err != nil {
		return nil, err
	}
	return s, nil
}

// GetCertificate returns the currently loaded certificate whatever the
// ClientHello asks for. It has the signature of tls.Config.GetCertificate
// and takes no lock.
func (s *FileSource) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cur.Load().cert, nil
}

// GetClientCertificate returns the currently loaded certificate, for
// clients that authenticate with it (mutual TLS). It has the signature of
// tls.Config.GetClientCertificate and takes no lock.
func (s *FileSource) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return s.cur.Load().cert, nil
}

// Leaf returns the leaf certificate currently served.
func (s *FileSource) Leaf() *x509.Certificate {
	return s.cur.Load().cert.Leaf
}

// Reload reads the files again and, if their content changed and is valid,
// serves the new certificate from the next handshake on. On failure the
// previous certificate stays in use and the error says why.
func (s *FileSource) Reload(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.reload("explicit reload")
}

// Describe returns the file names and the served leaf's subject, expiry
// and SPKI pin.
func (s *FileSource) Describe() string {
	leaf := s.Leaf()
	return fmt.Sprintf("files cert=%s key=%s subject=%q not_after=%s pin=%s",
		s.certFile, s.keyFile, leaf.Subject.String(),
		leaf.NotAfter.UTC().Format(time.RFC3339), tlsconf.SPKIPin(leaf))
}

// Watch polls the files every PollInterval and reloads them when their
// inode, size or modification time changes, until ctx is cancelled; it then returns
// ctx.Err(). Failed reloads are logged, not returned; a failure is retried
// only after the files change again. Run it in its own goroutine; it starts
// none itself.
func (s *FileSource) Watch(ctx context.Context) error {
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		st := s.stat()
		s.mu.Lock()
		changed := !st.equal(s.seen)
		s.mu.Unlock()
		if changed {
			_ = s.reload("files changed") // logged by reload
		}
	}
}

// stat returns the files' current stamp (following symbolic links, so a
// Kubernetes-style symlink swap is a change).
func (s *FileSource) stat() fileStamp {
	var st fileStamp
	if fi, err := os.Stat(s.certFile); err == nil {
		st.cert = fi
	}
	if fi, err := os.Stat(s.keyFile); err == nil {
		st.key = fi
	}
	return st
}

func (s *FileSource) reload(reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = s.stat() // before reading, so a later write is noticed
	old := s.cur.Load()
	log := s.opts.Logger.With().Str("cert_file", s.certFile).Str("key_file", s.keyFile).Str("reason", reason).Logger()
	fail := func(err error) error {
		if old != nil {
			err = fmt.Errorf("%w (keeping the previously loaded certificate)", err)
		}
		log.Error().Err(err).Msg("certs: loading certificate files failed")
		return err
	}
	certPEM, err := os.ReadFile(s.certFile)
	if err != nil {
		return fail(fmt.Errorf("certs: read certificate: %w", err))
	}
	keyPEM := certPEM
	if s.keyFile != s.certFile {
		if keyPEM, err = os.ReadFile(s.keyFile); err != nil {
			return fail(fmt.Errorf("certs: read key: %w", err))
		}
	}
	h := sha256.New()
	h.Write(certPEM)
	h.Write([]byte{0})
	h.Write(keyPEM)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	if old != nil && bytes.Equal(sum[:], old.sum[:]) {
		log.Debug().Msg("certs: certificate files unchanged")
		return nil
	}
	cert, err := keyPair(certPEM, keyPEM, s.certFile, s.keyFile)
	if err != nil {
		return fail(err)
	}
	s.cur.Store(&fileState{cert: cert, sum: sum})
	leaf := cert.Leaf
	log.Info().Str("subject", leaf.Subject.String()).Time("not_after", leaf.NotAfter).
		Str("pin", tlsconf.SPKIPin(leaf)).Msg("certs: certificate loaded")
	warnValidity(log, leaf, s.opts.Now())
	return nil
}

// warnValidity logs a warning for a leaf outside its validity period.
func warnValidity(log zerolog.Logger, leaf *x509.Certificate, now time.Time) {
	switch {
	case now.After(leaf.NotAfter):
		log.Warn().Time("not_after", leaf.NotAfter).Str("subject", leaf.Subject.String()).
			Msg("certs: certificate has expired; clients will reject it")
	case now.Before(leaf.NotBefore):
		log.Warn().Time("not_before", leaf.NotBefore).Str("subject", leaf.Subject.String()).
			Msg("certs: certificate is not valid yet; clients will reject it")
	}
}
