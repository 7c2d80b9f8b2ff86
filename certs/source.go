package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Source is where a TLS listener gets its certificates from. All
// implementations in this package are safe for concurrent use, and
// GetCertificate never blocks on a reload.
type Source interface {
	// GetCertificate returns the certificate for a ClientHello; it has the
	// signature of tls.Config.GetCertificate.
	GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error)
	// Reload re-reads the source (files, ACME storage). On failure the
	// previously loaded certificate stays in use and the error says why.
	Reload(ctx context.Context) error
	// Describe returns a one-line, human-readable description of the
	// source and what it currently serves, for logs and status output.
	Describe() string
}

// nextProtoer is implemented by sources that must see extra ALPN protocols
// offered by the listener (ACME's "acme-tls/1").
type nextProtoer interface {
	NextProtos() []string
}

// TLSConfig returns a server configuration that serves src: a clone of base
// (or a fresh config with TLS 1.2 as minimum when base is nil) with
// GetCertificate set to src.GetCertificate and, for sources that answer
// TLS-ALPN-01 challenges, their ALPN protocol appended to NextProtos.
// Certificates and GetCertificate already set in base are replaced.
func TLSConfig(src Source, base *tls.Config) *tls.Config {
	var cfg *tls.Config
	if base == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		cfg = base.Clone()
	}
	cfg.Certificates = nil
	cfg.GetCertificate = src.GetCertificate
	if np, ok := src.(nextProtoer); ok {
		for _, p := range np.NextProtos() {
			if !slices.Contains(cfg.NextProtos, p) {
				cfg.NextProtos = append(cfg.NextProtos, p)
			}
		}
	}
	return cfg
}

// StateDir returns wssproxy's directory for persistent state:
// $XDG_STATE_HOME/wssproxy when XDG_STATE_HOME is set to an absolute path,
// else ~/.local/state/wssproxy. It does not create the directory.
func StateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "wssproxy"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("certs: state dir: %w", err)
	}
	if home == "" {
		return "", errors.New("certs: state dir: no home directory")
	}
	return filepath.Join(home, ".local", "state", "wssproxy"), nil
}

// The sources of this package.
var (
	_ Source = (*FileSource)(nil)
	_ Source = (*ACMESource)(nil)
)
