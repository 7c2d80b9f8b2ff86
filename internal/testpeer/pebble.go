package testpeer

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"go/build"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PebbleInstall says how to install Pebble for tests.
const PebbleInstall = "bash scripts/peers/pebble.sh (go install github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.1 and .../pebble-challtestsrv@v2.10.1)"

// Pebble is a running Pebble ACME server (github.com/letsencrypt/pebble)
// with its own DNS server (pebble-challtestsrv) answering 127.0.0.1 for
// every name, so that it validates challenges for real against the test's
// listeners on 127.0.0.1.
type Pebble struct {
	// DirURL is the ACME directory URL.
	DirURL string
	// APIRoots trusts Pebble's HTTPS endpoints; APIRootsFile is the same
	// as a PEM file.
	APIRoots     *x509.CertPool
	APIRootsFile string

	mgmt string
	out  *Buffer
}

// StartPebble starts pebble-challtestsrv and Pebble for one test, Pebble
// validating HTTP-01 on 127.0.0.1:httpPort and TLS-ALPN-01 on
// 127.0.0.1:tlsPort. Both stop when the test ends. Missing binaries skip
// the test, or fail it under CI.
func StartPebble(t testing.TB, httpPort, tlsPort int) *Pebble {
	t.Helper()
	pebbleBin := GoBin(t, "pebble", PebbleInstall)
	challBin := GoBin(t, "pebble-challtestsrv", PebbleInstall)
	dir := t.TempDir()
	certFile, keyFile, rootsFile := selfSignedLocalhost(t, dir)
	roots := x509.NewCertPool()
	pemBytes, err := os.ReadFile(rootsFile)
	if err != nil {
		t.Fatal(err)
	}
	roots.AppendCertsFromPEM(pemBytes)

	free := FreePorts(t, 4)
	dnsPort, challMgmt := free[0], free[1]
	startDaemon(t, "pebble-challtestsrv", "127.0.0.1:"+strconv.Itoa(challMgmt), nil, challBin,
		"-dnsserver", "127.0.0.1:"+strconv.Itoa(dnsPort),
		"-management", "127.0.0.1:"+strconv.Itoa(challMgmt),
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "")

	apiPort, mgmtPort := free[2], free[3]
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  "127.0.0.1:" + strconv.Itoa(apiPort),
		"managementListenAddress":        "127.0.0.1:" + strconv.Itoa(mgmtPort),
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"profiles": map[string]any{
			"default": map[string]any{"description": "test", "validityPeriod": 7776000},
		},
	}}
	cfgFile := filepath.Join(dir, "pebble-config.json")
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out := startDaemon(t, "pebble", "127.0.0.1:"+strconv.Itoa(apiPort), []string{
		"PEBBLE_VA_NOSLEEP=1",      // validate at once instead of after a random delay
		"PEBBLE_WFE_NONCEREJECT=0", // no random badNonce rejections (they only cost retries)
		"PEBBLE_AUTHZREUSE=0",      // every order validates its challenges afresh
	}, pebbleBin, "-config", cfgFile, "-dnsserver", "127.0.0.1:"+strconv.Itoa(dnsPort))

	p := &Pebble{
		DirURL:       fmt.Sprintf("https://127.0.0.1:%d/dir", apiPort),
		APIRoots:     roots,
		APIRootsFile: rootsFile,
		mgmt:         fmt.Sprintf("https://127.0.0.1:%d", mgmtPort),
		out:          out,
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := p.httpClient().Get(p.DirURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not serve its directory within 15s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *Pebble) httpClient() *http.Client {
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.APIRoots}, DisableKeepAlives: true},
	}
}

// IssuingRoots returns Pebble's certificate-issuing roots (new at each
// Pebble start), to verify the certificates it issued.
func (p *Pebble) IssuingRoots(t testing.TB) *x509.CertPool {
	t.Helper()
	resp, err := p.httpClient().Get(p.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return PEMPool(t, "pebble roots", b)
}

// GoBin returns the path of a go-installed program ($GOBIN, each
// $GOPATH/bin, then PATH), or skips/fails the test (see Missing).
func GoBin(t testing.TB, name, install string) string {
	t.Helper()
	var dirs []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	for _, p := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(p, "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return LookPath(t, name, install)
}

// selfSignedLocalhost writes a self-signed ECDSA certificate for
// 127.0.0.1 and localhost (Pebble's HTTPS), returning the certificate,
// key and (the same certificate as) roots files.
func selfSignedLocalhost(t testing.TB, dir string) (certFile, keyFile, rootsFile string) {
	t.Helper()
	cert, _ := SelfSigned(t, "localhost", "127.0.0.1")
	der, key := cert.Certificate[0], cert.PrivateKey
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "api-cert.pem"), filepath.Join(dir, "api-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, certFile
}

// Issued returns the serial numbers (hex, as Pebble logs them) of the
// certificates Pebble has issued so far, in order: a count of real
// issuances, whoever ordered them.
func (p *Pebble) Issued() []string {
	var serials []string
	for _, line := range strings.Split(p.out.String(), "\n") {
		_, rest, ok := strings.Cut(line, "Issued certificate serial ")
		if !ok {
			continue
		}
		if serial, _, ok := strings.Cut(rest, " "); ok {
			serials = append(serials, serial)
		}
	}
	return serials
}
