package tlsconf

import (
	"encoding/pem"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// ParseCertificates keeps the CERTIFICATE blocks in order and skips the
// others; data without one is ErrNoCertificate; a block that does not
// parse is named by its position. LoadCertificates adds the file's name.
func TestParseCertificates(t *testing.T) {
	t.Parallel()
	ca := newCert(t, caSpec("parse CA"), nil)
	leaf := newCert(t, leafSpec("parse.test"), ca)
	other := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})

	got, err := ParseCertificates(slices.Concat(other, pemOf(leaf.cert), other, pemOf(ca.cert)))
	if err != nil || len(got) != 2 || !got[0].Equal(leaf.cert) || !got[1].Equal(ca.cert) {
		t.Fatalf("ParseCertificates = %d certificates, %v; want the leaf then the CA", len(got), err)
	}
	for _, data := range [][]byte{nil, []byte("no PEM here"), other} {
		if _, err := ParseCertificates(data); !errors.Is(err, ErrNoCertificate) {
			t.Errorf("ParseCertificates(%q) = %v, want ErrNoCertificate", data, err)
		}
	}
	broken := slices.Concat(pemOf(leaf.cert), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}))
	if _, err := ParseCertificates(broken); err == nil || !strings.Contains(err.Error(), "certificate 2: ") {
		t.Errorf("a broken second certificate: %v", err)
	}

	dir := t.TempDir()
	if got, err := LoadCertificates(writePEM(t, dir, "chain.pem", leaf.cert, ca.cert)); err != nil || len(got) != 2 {
		t.Errorf("LoadCertificates = %d certificates, %v", len(got), err)
	}
	empty := writePEM(t, dir, "empty.pem")
	if _, err := LoadCertificates(empty); !errors.Is(err, ErrNoCertificate) || !strings.Contains(err.Error(), empty) {
		t.Errorf("LoadCertificates of a file without certificates: %v", err)
	}
	if _, err := LoadCertificates(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("LoadCertificates of a missing file succeeded")
	}
}
