package testpeer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// EtcdInstall says how to install etcd for tests.
const EtcdInstall = "apt-get install etcd-server (scripts/peers/etcd.apt)"

// EtcdOptions configures StartEtcd.
type EtcdOptions struct {
	// Members is the cluster size (default 3).
	Members int
	// TLS makes clients and members speak TLS with client certificates
	// (a CA made for the test; see EtcdCluster.ClientTLS and the files).
	TLS bool
}

// EtcdCluster is a real etcd cluster (Debian's etcd-server) on loopback,
// started for one test and stopped when it ends. Members can be killed,
// stopped and started again to test a client's behaviour while etcd is
// away.
type EtcdCluster struct {
	// CAFile, CertFile and KeyFile are the client's trust anchor and
	// client certificate when started with TLS ("" otherwise).
	CAFile, CertFile, KeyFile string

	t       testing.TB
	bin     string
	members []*etcdMember
	tls     *tls.Config
}

type etcdMember struct {
	name   string
	client string // host:port
	args   []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	out    *Buffer
	exited chan struct{}
}

// StartEtcd starts an etcd cluster for one test and waits until every
// member is healthy. A missing etcd binary skips the test, or fails it
// under CI.
func StartEtcd(t testing.TB, opts EtcdOptions) *EtcdCluster {
	t.Helper()
	bin := LookPath(t, "etcd", EtcdInstall)
	n := opts.Members
	if n <= 0 {
		n = 3
	}
	dir := t.TempDir()
	c := &EtcdCluster{t: t, bin: bin}
	scheme := "http"
	var tlsArgs []string
	if opts.TLS {
		scheme = "https"
		c.CAFile, c.CertFile, c.KeyFile, tlsArgs = etcdPKI(t, dir)
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pemBytes, err := os.ReadFile(c.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool.AppendCertsFromPEM(pemBytes)
		c.tls = &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	type ports struct{ client, peer int }
	ps := make([]ports, n)
	var initial []string
	free := FreePorts(t, 2*n)
	for i := range ps {
		ps[i] = ports{free[2*i], free[2*i+1]}
		initial = append(initial, fmt.Sprintf("m%d=%s://127.0.0.1:%d", i, scheme, ps[i].peer))
	}
	for i, p := range ps {
		clientURL := fmt.Sprintf("%s://127.0.0.1:%d", scheme, p.client)
		peerURL := fmt.Sprintf("%s://127.0.0.1:%d", scheme, p.peer)
		args := []string{
			"--name", fmt.Sprintf("m%d", i),
			"--data-dir", filepath.Join(dir, fmt.Sprintf("m%d", i)),
			"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
			"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new", "--initial-cluster-token", "wssproxy-test",
			"--heartbeat-interval", "50", "--election-timeout", "500",
			"--logger", "zap", "--log-level", "warn",
		}
		args = append(args, tlsArgs...)
		c.members = append(c.members, &etcdMember{name: fmt.Sprintf("m%d", i), client: fmt.Sprintf("127.0.0.1:%d", p.client), args: args})
	}
	for i := range c.members {
		c.Start(i)
	}
	t.Cleanup(func() {
		for i := range c.members {
			c.Kill(i)
		}
	})
	c.WaitHealthy(30 * time.Second)
	return c
}

// Endpoints lists the members' client addresses (host:port).
func (c *EtcdCluster) Endpoints() []string {
	eps := make([]string, len(c.members))
	for i, m := range c.members {
		eps[i] = m.client
	}
	return eps
}

// URL returns a store location for wssproxy: etcd://host:port,…/prefix.
func (c *EtcdCluster) URL(prefix string) string {
	return "etcd://" + strings.Join(c.Endpoints(), ",") + "/" + strings.TrimPrefix(prefix, "/")
}

// ClientTLS returns the TLS configuration a client needs (nil without
// TLS). Each call returns a new copy.
func (c *EtcdCluster) ClientTLS() *tls.Config {
	if c.tls == nil {
		return nil
	}
	return c.tls.Clone()
}

// Start starts member i (again); it does not wait for it to be healthy.
func (c *EtcdCluster) Start(i int) {
	c.t.Helper()
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return
	}
	cmd := exec.Command(c.bin, m.args...)
	out := new(Buffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("starting etcd member %s: %v", m.name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	m.cmd, m.out, m.exited = cmd, out, exited
}

// Kill stops member i with SIGKILL (as a crash would) and waits for it to
// exit. Killing a stopped member does nothing.
func (c *EtcdCluster) Kill(i int) {
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.exited
	if c.t.Failed() {
		c.t.Logf("etcd member %s output:\n%s", m.name, m.out.String())
	}
	m.cmd = nil
}

// Stop stops every member.
func (c *EtcdCluster) Stop() {
	for i := range c.members {
		c.Kill(i)
	}
}

// Restart starts every stopped member and waits until all are healthy.
func (c *EtcdCluster) Restart() {
	c.t.Helper()
	for i := range c.members {
		c.Start(i)
	}
	c.WaitHealthy(30 * time.Second)
}

// WaitHealthy waits until every running member reports healthy (a
// leader elected and the member serving), failing the test after d.
func (c *EtcdCluster) WaitHealthy(d time.Duration) {
	c.t.Helper()
	scheme := "http"
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: time.Second}).DialContext}
	if c.tls != nil {
		scheme = "https"
		tr.TLSClientConfig = c.tls.Clone()
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	healthy := func(m *etcdMember) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+m.client+"/health", nil)
		resp, err := hc.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var b [256]byte
		n, _ := resp.Body.Read(b[:])
		return resp.StatusCode == http.StatusOK && strings.Contains(string(b[:n]), `"health":"true"`)
	}
	deadline := time.Now().Add(d)
	for _, m := range c.members {
		m.mu.Lock()
		running := m.cmd != nil
		exited := m.exited
		m.mu.Unlock()
		if !running {
			continue
		}
		for !healthy(m) {
			select {
			case <-exited:
				c.t.Fatalf("etcd member %s exited:\n%s", m.name, m.out.String())
			default:
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("etcd member %s not healthy after %v:\n%s", m.name, d, m.out.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// etcdPKI writes a CA, one certificate for members (server and client
// use, 127.0.0.1) and one client certificate, and returns the client's
// files and the members' TLS flags.
func etcdPKI(t testing.TB, dir string) (caFile, certFile, keyFile string, args []string) {
	t.Helper()
	caKey := P256Key(t)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wssproxy test etcd CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	ca := CreateCertificate(t, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	issue := func(serial int64, cn string, ips []net.IP, usage ...x509.ExtKeyUsage) (string, string) {
		key := P256Key(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage, IPAddresses: ips, DNSNames: []string{"localhost"},
		}
		der := CreateCertificate(t, tmpl, ca, &key.PublicKey, caKey).Raw
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		cf := filepath.Join(dir, cn+".pem")
		kf := filepath.Join(dir, cn+"-key.pem")
		writePEM(t, cf, "CERTIFICATE", der)
		writePEM(t, kf, "PRIVATE KEY", keyDER)
		return cf, kf
	}
	caFile = filepath.Join(dir, "etcd-ca.pem")
	writePEM(t, caFile, "CERTIFICATE", ca.Raw)
	memberCert, memberKey := issue(2, "member", []net.IP{net.IPv4(127, 0, 0, 1)}, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
	certFile, keyFile = issue(3, "client", nil, x509.ExtKeyUsageClientAuth)
	args = []string{
		"--cert-file", memberCert, "--key-file", memberKey, "--trusted-ca-file", caFile, "--client-cert-auth",
		"--peer-cert-file", memberCert, "--peer-key-file", memberKey, "--peer-trusted-ca-file", caFile, "--peer-client-cert-auth",
	}
	return caFile, certFile, keyFile, args
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
