package testpeer

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// squidHelpers is where Debian's squid keeps its authentication helpers.
const squidHelpers = "/usr/lib/squid"

// SquidOptions configures StartSquid. Each non-empty field offers one
// authentication scheme; with none, the proxy asks for no credentials.
// The challenges are listed weakest first (Basic, Digest, NTLM,
// Negotiate), so a client that picks the strongest cannot rely on the
// order.
type SquidOptions struct {
	// Basic users and passwords, checked by basic_ncsa_auth (the file
	// holds APR1 hashes made by openssl passwd).
	Basic map[string]string
	// Digest users and passwords, checked by digest_file_auth.
	Digest map[string]string
	// NTLM offers NTLM through ntlm_fake_auth, which runs the real NTLM
	// message exchange and accepts any user (restrict them with Users).
	NTLM bool
	// KDC, with NegotiateKeytab, offers Negotiate through
	// negotiate_kerberos_auth for the service principal NegotiateSPN
	// (e.g. HTTP/localhost@TEST.WSSPROXY).
	KDC             *KDC
	NegotiateKeytab string
	NegotiateSPN    string
	// Users, when set, are the only user names let through (a proxy_auth
	// ACL that ends the deny rule, so that squid challenges again; a
	// Kerberos user is user@REALM, an NTLM one as sent); anyone else gets
	// 407 again.
	Users []string
}

// Squid is a running squid.
type Squid struct {
	// Addr is its host:port on 127.0.0.1.
	Addr string
	log  string
}

// AccessLog returns the access log so far: one line per request, "user
// method target status" ("-" for no user).
func (s *Squid) AccessLog() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// StartSquid runs squid (Debian package squid) in the foreground on a
// free 127.0.0.1 port with a generated configuration and its own
// directory; it allows CONNECT to any port for authenticated users (or
// anyone, without schemes) and stops when the test ends. Run as root,
// squid drops to the "proxy" user, so its files are made readable to it.
// Missing squid or helpers skip the test, or fail it under CI.
func StartSquid(t testing.TB, opts SquidOptions) *Squid {
	t.Helper()
	const install = "apt-get install squid"
	bin := LookPath(t, "squid", install)
	dir := worldTempDir(t, "squid")
	port := FreePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s := &Squid{Addr: addr, log: filepath.Join(dir, "access.log")}

	var conf bytes.Buffer
	fmt.Fprintf(&conf, `http_port %s
pid_filename %[2]s/squid.pid
cache_log %[2]s/cache.log
logformat wssproxy %%un %%rm %%ru %%>Hs
access_log stdio:%[2]s/access.log wssproxy
buffered_logs off
cache deny all
cache_mem 8 MB
coredump_dir %[2]s
netdb_filename none
pinger_enable off
shutdown_lifetime 1 seconds
via off
`, addr, dir)
	if os.Geteuid() == 0 {
		conf.WriteString("cache_effective_user proxy\n")
	}
	helper := func(name string) string {
		p := filepath.Join(squidHelpers, name)
		if _, err := os.Stat(p); err != nil {
			Missing(t, p, install)
		}
		return p
	}
	authed := false
	if len(opts.Basic) > 0 {
		var pw bytes.Buffer
		for _, u := range sortedKeys(opts.Basic) {
			out, err := exec.Command(LookPath(t, "openssl", "apt-get install openssl"), "passwd", "-apr1", opts.Basic[u]).Output()
			if err != nil {
				t.Fatalf("openssl passwd: %v", err)
			}
			fmt.Fprintf(&pw, "%s:%s\n", u, bytes.TrimSpace(out))
		}
		f := writeWorld(t, dir, "basic.passwd", pw.Bytes())
		fmt.Fprintf(&conf, "auth_param basic program %s %s\nauth_param basic realm wssproxy-test\n", helper("basic_ncsa_auth"), f)
		authed = true
	}
	if len(opts.Digest) > 0 {
		var pw bytes.Buffer
		for _, u := range sortedKeys(opts.Digest) {
			fmt.Fprintf(&pw, "%s:%s\n", u, opts.Digest[u])
		}
		f := writeWorld(t, dir, "digest.passwd", pw.Bytes())
		fmt.Fprintf(&conf, "auth_param digest program %s %s\nauth_param digest realm wssproxy-test\n", helper("digest_file_auth"), f)
		authed = true
	}
	if opts.NTLM {
		fmt.Fprintf(&conf, "auth_param ntlm program %s\nauth_param ntlm keep_alive on\n", helper("ntlm_fake_auth"))
		authed = true
	}
	var env []string
	if opts.KDC != nil {
		fmt.Fprintf(&conf, "auth_param negotiate program %s -s %s -k %s\nauth_param negotiate keep_alive on\n",
			helper("negotiate_kerberos_auth"), opts.NegotiateSPN, opts.NegotiateKeytab)
		env = []string{"KRB5_CONFIG=" + opts.KDC.Conf, "KRB5RCACHETYPE=none"}
		authed = true
	}
	switch {
	case len(opts.Users) > 0:
		fmt.Fprintf(&conf, "acl users proxy_auth %s\nhttp_access deny !users\nhttp_access allow all\n", strings.Join(opts.Users, " "))
	case authed:
		conf.WriteString("acl users proxy_auth REQUIRED\nhttp_access allow users\nhttp_access deny all\n")
	default:
		conf.WriteString("http_access allow localhost\nhttp_access deny all\n")
	}
	path := writeWorld(t, dir, "squid.conf", conf.Bytes())
	if os.Geteuid() == 0 {
		// Logs and the pid file are written after squid dropped root.
		if u, err := user.Lookup("proxy"); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			if err := os.Chown(dir, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	startDaemon(t, "squid", addr, env, bin, "-N", "-f", path)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "cache.log"))
			t.Logf("squid.conf:\n%s\ncache.log:\n%s\naccess.log:\n%s", conf.String(), b, s.AccessLog())
		}
	})
	return s
}

// writeWorld writes a world-readable file in dir and returns its path.
func writeWorld(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
