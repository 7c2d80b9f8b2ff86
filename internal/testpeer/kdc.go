package testpeer

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// KDC is a throwaway MIT Kerberos realm served by krb5kdc on loopback
// (Debian krb5-kdc; kadmin.local from krb5-admin-server).
type KDC struct {
	// Realm is the realm's name, TEST.WSSPROXY.
	Realm string
	// Conf is the krb5.conf for clients (and squid's helper): the realm
	// is the default one and its KDC this one, over TCP.
	Conf string
	dir  string
	env  []string
}

// StartKDC creates a realm in a fresh directory (kdb5_util create) and
// serves it with krb5kdc on a free 127.0.0.1 port until the test ends.
// Missing programs skip the test, or fail it under CI.
func StartKDC(t testing.TB) *KDC {
	t.Helper()
	const install = "apt-get install krb5-kdc krb5-admin-server"
	kdb5 := LookPath(t, "kdb5_util", install)
	kdcBin := LookPath(t, "krb5kdc", install)
	LookPath(t, "kadmin.local", install)
	dir := worldTempDir(t, "kdc")
	port := FreePort(t)
	k := &KDC{Realm: "TEST.WSSPROXY", Conf: filepath.Join(dir, "krb5.conf"), dir: dir}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	krb5conf := fmt.Sprintf(`[libdefaults]
  default_realm = %[1]s
  dns_lookup_kdc = false
  dns_lookup_realm = false
  rdns = false
  udp_preference_limit = 1
  default_ccache_name = FILE:%[2]s/ccache-default
[realms]
  %[1]s = {
    kdc = %[3]s
  }
[domain_realm]
  localhost = %[1]s
`, k.Realm, dir, addr)
	kdcconf := fmt.Sprintf(`[kdcdefaults]
  kdc_listen = %[3]s
  kdc_tcp_listen = %[3]s
[realms]
  %[1]s = {
    database_name = %[2]s/principal
    key_stash_file = %[2]s/stash
    acl_file = %[2]s/kadm5.acl
    kdc_listen = %[3]s
    kdc_tcp_listen = %[3]s
  }
[logging]
  kdc = FILE:%[2]s/kdc.log
`, k.Realm, dir, addr)
	if err := os.WriteFile(k.Conf, []byte(krb5conf), 0o644); err != nil {
		t.Fatal(err)
	}
	kdcPath := filepath.Join(dir, "kdc.conf")
	if err := os.WriteFile(kdcPath, []byte(kdcconf), 0o600); err != nil {
		t.Fatal(err)
	}
	k.env = []string{"KRB5_CONFIG=" + k.Conf, "KRB5_KDC_PROFILE=" + kdcPath}
	k.run(t, kdb5, "create", "-s", "-r", k.Realm, "-P", "test-master-key")
	startDaemon(t, "krb5kdc", addr, k.env, kdcBin, "-n", "-r", k.Realm)
	return k
}

// run runs a Kerberos admin program against the realm.
func (k *KDC) run(t testing.TB, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), k.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// worldTempDir returns a fresh directory that other users may traverse
// and read (a squid started as root runs as its cache_effective_user),
// removed when the test ends. t.TempDir's parent is private to root.
func worldTempDir(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wssproxy-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// kadmin runs one kadmin.local query.
func (k *KDC) kadmin(t testing.TB, query string) {
	t.Helper()
	k.run(t, "kadmin.local", "-r", k.Realm, "-q", query)
}

// AddUser adds the principal name@REALM with a password.
func (k *KDC) AddUser(t testing.TB, name, password string) {
	t.Helper()
	k.kadmin(t, fmt.Sprintf("addprinc -pw %s %s", password, name))
}

// AddService adds the principal name@REALM (e.g. HTTP/localhost) with a
// random key and returns a keytab file holding it, readable by all (for a
// squid that dropped root).
func (k *KDC) AddService(t testing.TB, name string) string {
	t.Helper()
	k.kadmin(t, "addprinc -randkey "+name)
	path := filepath.Join(k.dir, strings.NewReplacer("/", "_", "@", "_").Replace(name)+".keytab")
	k.kadmin(t, fmt.Sprintf("ktadd -k %s %s", path, name))
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Keytab writes a keytab with the keys of user@REALM, keeping its
// password valid (-norandkey), and returns its path.
func (k *KDC) Keytab(t testing.TB, user string) string {
	t.Helper()
	path := filepath.Join(k.dir, user+".keytab")
	k.kadmin(t, fmt.Sprintf("ktadd -norandkey -k %s %s", path, user))
	return path
}

// Kinit logs user in with kinit (krb5-user) and returns the credentials
// cache file it filled.
func (k *KDC) Kinit(t testing.TB, user, password string) string {
	t.Helper()
	bin := LookPath(t, "kinit", "apt-get install krb5-user")
	path := filepath.Join(k.dir, "ccache-"+user)
	cmd := exec.Command(bin, "-c", "FILE:"+path, user)
	cmd.Env = append(os.Environ(), k.env...)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kinit %s: %v\n%s", user, err, out)
	}
	return path
}
