package tlsconf

import (
	"context"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// opensslKinds maps OpenSSL X509_V_ERR_* codes onto tlsconf kinds.
var opensslKinds = map[int]ErrorKind{
	2:  UnknownAuthority,  // unable to get issuer certificate
	7:  SignatureFailure,  // certificate signature failure
	9:  NotYetValid,       // certificate is not yet valid
	10: Expired,           // certificate has expired
	18: SelfSigned,        // self-signed certificate (depth 0)
	19: SelfSignedInChain, // self-signed certificate in certificate chain
	20: UnknownAuthority,  // unable to get local issuer certificate
	21: UnknownAuthority,  // unable to verify the first certificate
	24: InvalidPurpose,    // invalid CA certificate (OpenSSL 1.1)
	25: PathLengthExceeded,
	26: InvalidPurpose, // unsupported certificate purpose
	27: UntrustedRoot,  // certificate not trusted
	28: UntrustedRoot,  // certificate rejected
	47: NameConstraints,
	48: NameConstraints,
	49: NameConstraints,
	51: NameConstraints,
	32: InvalidPurpose, // key usage does not include certificate signing
	62: HostnameMismatch,
	64: HostnameMismatch, // IP address mismatch
	79: InvalidPurpose,   // invalid CA certificate (OpenSSL 3)
}

var opensslErrLine = regexp.MustCompile(`error (\d+) at (\d+) depth lookup`)

// parseOpenSSLVerify returns the kinds and depths of the "error N at D
// depth lookup" lines of `openssl verify`, deduplicated, in Verify's order.
func parseOpenSSLVerify(t *testing.T, out string) []SSLError {
	t.Helper()
	var errs []SSLError
	for _, m := range opensslErrLine.FindAllStringSubmatch(out, -1) {
		code, _ := strconv.Atoi(m[1])
		depth, _ := strconv.Atoi(m[2])
		k, ok := opensslKinds[code]
		if !ok {
			t.Errorf("openssl error %d has no tlsconf kind; output:\n%s", code, out)
			continue
		}
		errs = insertSorted(errs, SSLError{Kind: k, Depth: depth})
	}
	return errs
}

// TestOpenSSLVerifyAgrees runs `openssl verify` on every generated chain
// and requires the same kinds (and depths) as Verify.
func TestOpenSSLVerifyAgrees(t *testing.T) {
	t.Parallel()
	openssl := testpeer.LookPath(t, "openssl", "apt-get install openssl")
	dir := t.TempDir()
	for _, sc := range scenarios(t) {
		leafFile := writePEM(t, dir, sc.name+"-leaf.pem", sc.served[0].cert)
		caFile := writePEM(t, dir, sc.name+"-ca.pem", certsOf(sc.roots...)...)
		args := []string{"verify", "-no-CApath", "-no-CAstore", "-CAfile", caFile, "-purpose", "sslserver"}
		if strings.Contains(sc.host, ".") && sc.host[0] >= '0' && sc.host[0] <= '9' {
			args = append(args, "-verify_ip", sc.host)
		} else {
			args = append(args, "-verify_hostname", sc.host)
		}
		if len(sc.served) > 1 {
			args = append(args, "-untrusted", writePEM(t, dir, sc.name+"-untrusted.pem", certsOf(sc.served[1:]...)...))
		}
		args = append(args, leafFile)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, openssl, args...).CombinedOutput()
		cancel()
		got := parseOpenSSLVerify(t, string(out))
		if len(sc.want) == 0 {
			if err != nil || len(got) != 0 {
				t.Errorf("%s: openssl verify failed on a valid chain: %v\n%s", sc.name, err, out)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: openssl verify accepted a chain with %v:\n%s", sc.name, sc.want, out)
			continue
		}
		if sc.opensslStops {
			for _, e := range got {
				if !slices.Contains(sc.want, e.Kind) {
					t.Errorf("%s: openssl reports %v, not among %v:\n%s", sc.name, e.Kind, sc.want, out)
				}
			}
			continue
		}
		want := sc.want
		if sc.opensslWant != nil {
			want = sc.opensslWant
		}
		if !slices.Equal(kindsOf(got), want) || !slices.Equal(depthsOf(got), sc.wantDepths) {
			t.Errorf("%s: openssl verify reports %v at depths %v, want %v at %v:\n%s", sc.name, kindsOf(got), depthsOf(got), want, sc.wantDepths, out)
		}
	}
}

var sClientVerifyErr = regexp.MustCompile(`verify error:num=(\d+):`)

// TestOpenSSLSClientAgrees serves every generated chain from a Go server
// and connects `openssl s_client -verify_return_error`: it must accept the
// valid chains and reject the others with an error whose kind Verify also
// reports (s_client stops at its first error).
func TestOpenSSLSClientAgrees(t *testing.T) {
	t.Parallel()
	openssl := testpeer.LookPath(t, "openssl", "apt-get install openssl")
	dir := t.TempDir()
	for _, sc := range scenarios(t) {
		s := serveChain(t, sc.served...)
		caFile := writePEM(t, dir, sc.name+"-ca.pem", certsOf(sc.roots...)...)
		args := []string{"s_client", "-connect", s.addr(), "-verify_return_error", "-no-CApath", "-no-CAstore", "-CAfile", caFile}
		if net.ParseIP(sc.host) != nil {
			args = append(args, "-verify_ip", sc.host)
		} else {
			args = append(args, "-servername", sc.host, "-verify_hostname", sc.host)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, openssl, args...)
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		cancel()
		s.close()
		m := sClientVerifyErr.FindStringSubmatch(string(out))
		if len(sc.want) == 0 {
			if err != nil || m != nil || !strings.Contains(string(out), "Verify return code: 0 (ok)") {
				t.Errorf("%s: s_client rejected a valid chain: %v\n%s", sc.name, err, out)
			}
			continue
		}
		if err == nil || m == nil {
			t.Errorf("%s: s_client did not fail verification (want %v): %v\n%s", sc.name, sc.want, err, out)
			continue
		}
		code, _ := strconv.Atoi(m[1])
		want := sc.want
		if sc.opensslWant != nil {
			want = sc.opensslWant
		}
		if k, ok := opensslKinds[code]; !ok || !slices.Contains(want, k) {
			t.Errorf("%s: s_client verify error %d (%v), want one of %v\n%s", sc.name, code, k, want, out)
		}
	}
}
