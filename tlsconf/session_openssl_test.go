package tlsconf

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// sServer runs `openssl s_server -www` with leaf on addr (127.0.0.1:0
// for a free port) until the test ends or stop is called, and returns
// the address it listens on.
func sServer(t *testing.T, openssl, addr string, leaf *testCert) (string, func()) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, openssl, "s_server", "-accept", addr, "-www",
		"-cert", writePEM(t, dir, "leaf.pem", leaf.cert), "-key", writeKey(t, dir, "leaf.key", leaf.key))
	lines := testpeer.NewLines(64)
	cmd.Stdout, cmd.Stderr = lines, lines
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	timeout := time.After(20 * time.Second)
	var seen []string
	for {
		select {
		case l := <-lines.C:
			if a, ok := strings.CutPrefix(l, "ACCEPT "); ok {
				return a, stop
			}
			if l == "ACCEPT" { // a given port is not repeated
				return addr, stop
			}
			seen = append(seen, l)
		case <-timeout:
			t.Fatalf("openssl s_server printed no ACCEPT line:\n%s", strings.Join(seen, "\n"))
		}
	}
}

var sServerSession = regexp.MustCompile(`(?m)^(New|Reused), (TLSv1\.[23]),`)

// sServerGet connects c to an s_server -www, verifying name, and returns
// the connection's state and what the page says of the session: "New"
// or "Reused", and the version.
func sServerGet(c *Client, addr, name string) (tls.ConnectionState, []string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, nil, err
	}
	tc, err := c.Handshake(ctx, nc, name)
	if err != nil {
		return tls.ConnectionState{}, nil, err
	}
	defer tc.Close()
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(tc, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		return tls.ConnectionState{}, nil, err
	}
	page, err := io.ReadAll(tc)
	if err != nil {
		return tls.ConnectionState{}, nil, err
	}
	m := sServerSession.FindStringSubmatch(string(page))
	if m == nil {
		return tc.ConnectionState(), nil, nil
	}
	return tc.ConnectionState(), m[1:], nil
}

// Resumption against OpenSSL: the second handshake of a Client with a
// session cache is "Reused" for s_server too (TLS 1.3 and 1.2), and a
// restarted s_server with another certificate gets full handshakes,
// verified on it: the old pin refuses it, the CA accepts it.
func TestSessionResumptionOpenSSL(t *testing.T) {
	t.Parallel()
	openssl := testpeer.LookPath(t, "openssl", "apt-get install openssl")
	ca := newCert(t, caSpec("openssl resume ca"), nil)
	leaf := newCert(t, leafSpec("localhost"), ca)
	newLeaf := newCert(t, leafSpec("localhost"), ca)
	addr, stop := sServer(t, openssl, "127.0.0.1:0", leaf)

	get := func(c *Client, want string, version uint16) {
		t.Helper()
		cs, page, err := sServerGet(c, addr, "localhost")
		if err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		vname := strings.ReplaceAll(tls.VersionName(version), " ", "v")
		if !slices.Equal(page, []string{want, vname}) || cs.DidResume != (want == "Reused") || cs.Version != version {
			t.Fatalf("s_server says %v, client DidResume %v over %s; want %s over %s", page, cs.DidResume, tls.VersionName(cs.Version), want, vname)
		}
	}
	pinned := mustClient(t, &ClientOptions{SessionCacheSize: 4, Policy: Policy{Pins: []Pin{SPKIPinOf(leaf.cert)}, PinOnly: true}})
	byCA := mustClient(t, &ClientOptions{SessionCacheSize: 4, Policy: Policy{Roots: pool(ca)}})
	tls12 := mustClient(t, &ClientOptions{Base: &tls.Config{MaxVersion: tls.VersionTLS12}, SessionCacheSize: 4, Policy: Policy{Roots: pool(ca)}})
	for _, c := range []*Client{pinned, byCA} {
		get(c, "New", tls.VersionTLS13)
		get(c, "Reused", tls.VersionTLS13)
	}
	get(tls12, "New", tls.VersionTLS12)
	get(tls12, "Reused", tls.VersionTLS12)

	stop()
	sServer(t, openssl, addr, newLeaf)
	_, _, err := sServerGet(pinned, addr, "localhost")
	if ve := verificationError(t, err); !slices.Equal(ve.Kinds(), []ErrorKind{PinMismatch}) {
		t.Fatalf("pinned client after the restart: %v", err)
	}
	cs, page, err := sServerGet(byCA, addr, "localhost")
	if err != nil || cs.DidResume || len(page) == 0 || page[0] != "New" || !cs.PeerCertificates[0].Equal(newLeaf.cert) {
		t.Fatalf("CA client after the restart: %v, DidResume %v: %v", page, cs.DidResume, err)
	}
}
