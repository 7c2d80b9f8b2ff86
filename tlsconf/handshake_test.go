package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// dial connects a Client to s with a bounded context.
func dial(t testing.TB, c *Client, s *server) (*tls.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := c.DialContext(ctx, "tcp", s.addr())
	if err == nil {
		t.Cleanup(func() { _ = conn.Close() })
	}
	return conn, err
}

func mustClient(t testing.TB, o *ClientOptions) *Client {
	t.Helper()
	c, err := NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func verificationError(t testing.TB, err error) *VerificationError {
	t.Helper()
	var ve *VerificationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *VerificationError", err, err)
	}
	return ve
}

// TestHandshakeScenarios runs every generated chain through a real TLS
// handshake on loopback and checks the exact error list.
func TestHandshakeScenarios(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios(t) {
		t.Run(sc.name, func(t *testing.T) {
			s := serveChain(t, sc.served...)
			o := &ClientOptions{Policy: Policy{Roots: pool(sc.roots...)}}
			if sc.host != "127.0.0.1" {
				o.ServerName = sc.host
			}
			_, err := dial(t, mustClient(t, o), s)
			if len(sc.want) == 0 {
				if err != nil {
					t.Fatalf("handshake failed: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("handshake succeeded, want %v", sc.want)
			}
			ve := verificationError(t, err)
			if got := kindsOf(ve.Errors); !slices.Equal(got, sc.want) {
				t.Fatalf("kinds = %v, want %v (%v)", got, sc.want, err)
			}
			if !slices.Equal(ve.Kinds(), sc.want) {
				t.Fatalf("unignored = %v, want %v", ve.Kinds(), sc.want)
			}
		})
	}
}

// TestHandshakeIgnorePolicy checks ignore none / list / all over real
// handshakes with the expired self-signed wrong-host certificate.
func TestHandshakeIgnorePolicy(t *testing.T) {
	t.Parallel()
	spec := leafSpec("wrong.example")
	spec.notBefore, spec.notAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)
	bad := newCert(t, spec, nil)
	other := newCert(t, leafSpec("localhost"), nil)
	s := serveChain(t, bad)
	fp := Fingerprint(bad.cert)
	all := []ErrorKind{SelfSigned, Expired, HostnameMismatch}

	cases := []struct {
		name      string
		policy    string
		unignored []ErrorKind // nil: handshake succeeds
	}{
		{"none", "none", all},
		{"all", "all", nil},
		{"list-all-three", "self-signed,expired,hostname-mismatch", nil},
		{"list-bound-to-cert", "self-signed:" + fp + ",expired:" + fp + ",hostname-mismatch:" + fp, nil},
		{"list-partial", "self-signed,expired", []ErrorKind{HostnameMismatch}},
		{"list-other-cert", "self-signed:" + Fingerprint(other.cert) + ",expired,hostname-mismatch", []ErrorKind{SelfSigned}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pol, err := ParseIgnorePolicy(tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			c := mustClient(t, &ClientOptions{ServerName: "localhost", Policy: Policy{Roots: x509.NewCertPool(), Ignore: pol}})
			_, err = dial(t, c, s)
			if tc.unignored == nil {
				if err != nil {
					t.Fatalf("handshake failed: %v", err)
				}
				return
			}
			ve := verificationError(t, err)
			if !slices.Equal(kindsOf(ve.Errors), all) || !slices.Equal(ve.Kinds(), tc.unignored) {
				t.Fatalf("errors %v unignored %v, want %v and %v", kindsOf(ve.Errors), ve.Kinds(), all, tc.unignored)
			}
		})
	}
}

// TestIgnoreAllLogsWarn: ignore-all is logged at warn level on every
// connection, with the errors it let through.
func TestIgnoreAllLogsWarn(t *testing.T) {
	t.Parallel()
	s := serveChain(t, newCert(t, leafSpec("localhost"), nil))
	var buf testpeer.Buffer
	c := mustClient(t, &ClientOptions{ServerName: "localhost", Policy: Policy{
		Roots: x509.NewCertPool(), Ignore: IgnorePolicy{Mode: IgnoreAll}, Logger: zerolog.New(&buf),
	}})
	for range 2 {
		conn, err := dial(t, c, s)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.Close()
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want one per connection:\n%s", len(lines), buf.String())
	}
	for _, l := range lines {
		if !strings.Contains(l, `"level":"warn"`) || !strings.Contains(l, "INSECURE") || !strings.Contains(l, `"kind":"self-signed"`) {
			t.Fatalf("log line %s", l)
		}
	}
}
