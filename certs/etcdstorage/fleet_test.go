package etcdstorage

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// fleetFront stands for the load balancer in front of a fleet: the CA's
// HTTP-01 requests and TLS-ALPN-01 handshakes arrive on its two
// listeners, and each goes to the next instance in turn, so challenges
// are often answered by an instance that did not order the certificate
// (certmagic then finds the challenge in the shared storage).
type fleetFront struct {
	httpPort, tlsPort int

	mu        sync.Mutex
	instances []*certs.ACMESource
	next      atomic.Uint64

	// gate, when set, holds the next challenge requests: arrived is
	// closed at the first, and they are answered once release is closed.
	gate atomic.Pointer[challengeGate]
}

type challengeGate struct {
	once     sync.Once
	arrived  chan struct{}
	release  chan struct{}
	answered chan struct{}
}

func startFleetFront(t *testing.T) *fleetFront {
	t.Helper()
	f := &fleetFront{}
	hl, tl := testpeer.Listen(t), testpeer.Listen(t)
	f.httpPort, f.tlsPort = hl.Addr().(*net.TCPAddr).Port, tl.Addr().(*net.TCPAddr).Port
	hs := &http.Server{Handler: http.HandlerFunc(f.serveHTTP), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { _ = hs.Serve(hl); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
	})
	testpeer.ServeTLSOn(t, tl, &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{certs.ACMETLSALPNProto},
		GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) { return f.pick().GetCertificate(h) },
	})
	return f
}

// setInstances sets the instances the front sends to.
func (f *fleetFront) setInstances(srcs ...*certs.ACMESource) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.instances = srcs
}

func (f *fleetFront) pick() *certs.ACMESource {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.instances[f.next.Add(1)%uint64(len(f.instances))]
}

func (f *fleetFront) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if g := f.gate.Load(); g != nil && strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
		g.once.Do(func() { close(g.arrived) })
		select {
		case <-g.release:
		case <-r.Context().Done():
			return
		}
		defer func() {
			select {
			case <-g.answered:
			default:
				close(g.answered)
			}
		}()
	}
	f.pick().HTTPHandler(nil).ServeHTTP(w, r)
}

// fleetInstance is one wssproxy instance's ACME source on a shared etcd
// storage.
type fleetInstance struct {
	src  *certs.ACMESource
	st   *Storage
	logs *testpeer.Buffer
	addr string // a TLS listener serving src's certificates
}

// acmeOptions are the options every fleet instance uses.
func acmeOptions(p *testpeer.Pebble, f *fleetFront, name string, st *Storage, log zerolog.Logger) *certs.ACMEOptions {
	return &certs.ACMEOptions{
		Domains:    []string{name},
		CA:         p.DirURL,
		RootCAs:    p.APIRoots,
		Email:      "fleet@wssproxy.test",
		Storage:    st,
		ListenHost: "127.0.0.1",
		HTTPPort:   f.httpPort,
		TLSPort:    f.tlsPort,
		Logger:     log,
	}
}

// startFleetInstance makes an ACME source for name on its own etcd client
// and Storage under prefix, serving TLS on its own listener.
func startFleetInstance(t *testing.T, c *testpeer.EtcdCluster, prefix string, p *testpeer.Pebble, f *fleetFront, name string) *fleetInstance {
	t.Helper()
	st := newStorage(t, newClient(t, c), prefix, nil)
	logs := new(testpeer.Buffer)
	src, err := certs.NewACMESource(acmeOptions(p, f, name, st, zerolog.New(logs).Level(zerolog.InfoLevel)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return &fleetInstance{src: src, st: st, logs: logs, addr: testpeer.ServeTLS(t, certs.TLSConfig(src, nil))}
}

// servedLeaf makes a verified TLS handshake for name with the instance and
// returns the certificate it serves.
func (in *fleetInstance) servedLeaf(t *testing.T, name string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	d := tls.Dialer{Config: &tls.Config{ServerName: name, RootCAs: roots, MinVersion: tls.VersionTLS12}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", in.addr)
	if err != nil {
		t.Fatalf("handshake for %s: %v", name, err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0]
}

// manageAll runs Manage on every instance at once and fails on any error.
func manageAll(t *testing.T, ctx context.Context, ins ...*fleetInstance) {
	t.Helper()
	errs := make([]error, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Go(func() { errs[i] = in.src.Manage(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v\n%s", i, err, ins[i].logs.String())
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// expectOneCertificate checks that Pebble issued exactly one more
// certificate (want serials in total) and that every instance serves it.
func expectOneCertificate(t *testing.T, p *testpeer.Pebble, issuedBefore int, name string, ins ...*fleetInstance) {
	t.Helper()
	issued := p.Issued()
	if len(issued) != issuedBefore+1 {
		t.Fatalf("Pebble issued %d certificates for %s, want 1 (serials %q)", len(issued)-issuedBefore, name, issued[issuedBefore:])
	}
	roots := p.IssuingRoots(t)
	for i, in := range ins {
		leaf := in.servedLeaf(t, name, roots)
		if serial := hex.EncodeToString(leaf.SerialNumber.Bytes()); serial != issued[issuedBefore] {
			t.Errorf("instance %d serves serial %s, Pebble issued %s", i, serial, issued[issuedBefore])
		}
	}
}

// TestFleetIssuance: three ACME sources sharing one etcd storage and one
// Pebble obtain a certificate for one name at the same time: Pebble
// issues it once and all three serve it. Then an instance in another
// process takes the issuance lock for a second name and is SIGKILLed
// while the CA validates its challenge; the other instances, already
// waiting for the lock, get it when the dead holder's lease expires and
// one of them finishes: again one certificate, served by all.
func TestFleetIssuance(t *testing.T) {
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{})
	f := startFleetFront(t)
	p := testpeer.StartPebble(t, f.httpPort, f.tlsPort)
	const prefix = "/fleet"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// All three at once.
	const first = "fleet.wssproxy.test"
	var ins []*fleetInstance
	for range 3 {
		ins = append(ins, startFleetInstance(t, c, prefix, p, f, first))
	}
	f.setInstances(ins[0].src, ins[1].src, ins[2].src)
	manageAll(t, ctx, ins...)
	expectOneCertificate(t, p, 0, first, ins...)

	// The lock holder killed mid-issuance.
	const second = "killed.wssproxy.test"
	gate := &challengeGate{arrived: make(chan struct{}), release: make(chan struct{}), answered: make(chan struct{})}
	f.gate.Store(gate)
	child := startChild(t, "TestFleetInstanceProcess", c, prefix, second,
		envFleetDir+"="+p.DirURL, envFleetRoots+"="+p.APIRootsFile,
		envFleetPorts+"="+strconv.Itoa(f.httpPort)+","+strconv.Itoa(f.tlsPort))
	select {
	case <-gate.arrived: // the child holds the lock and the CA is validating its order
	case <-child.Exited():
		t.Fatalf("child exited:\n%s", child.Output())
	case <-ctx.Done():
		t.Fatalf("the child's challenge never reached the front:\n%s", child.Output())
	}
	st := newStorage(t, newClient(t, c), prefix, nil)
	if ok, err := st.TryLock(ctx, "issue_cert_"+second); err != nil || ok {
		t.Fatalf("the issuance lock is free while the child validates (%t, %v)", ok, err)
	}
	// Two instances of this process join in and wait for the lock.
	ins2 := []*fleetInstance{startFleetInstance(t, c, prefix, p, f, second), startFleetInstance(t, c, prefix, p, f, second)}
	f.setInstances(ins2[0].src, ins2[1].src)
	managed := make(chan struct{})
	go func() { defer close(managed); manageAll(t, ctx, ins2...) }()
	time.Sleep(500 * time.Millisecond)
	child.Kill()
	killed := time.Now()
	if n := len(p.Issued()); n != 1 {
		t.Fatalf("the child finished its order before it was killed (%d issued)", n)
	}
	// The dead child's challenge is still answered, from the shared
	// storage, by an instance that never saw it.
	close(gate.release)
	select {
	case <-gate.answered:
	case <-ctx.Done():
		t.Fatal("the held challenge request was never answered")
	}
	f.gate.Store(nil)
	<-managed
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("the other instances finished %v after the holder was killed", time.Since(killed).Round(time.Millisecond))
	expectOneCertificate(t, p, 1, second, ins2...)
	if !slices.ContainsFunc(ins2, func(in *fleetInstance) bool { return strings.Contains(in.logs.String(), `"distributed":true`) }) {
		t.Error("no challenge answered from the shared storage")
	}
}

// Environment of TestFleetInstanceProcess beyond startChild's: Pebble's
// directory URL and API roots file, and the front's ports.
const (
	envFleetDir   = "WSSPROXY_TEST_FLEET_ACME_DIR"
	envFleetRoots = "WSSPROXY_TEST_FLEET_ACME_ROOTS"
	envFleetPorts = "WSSPROXY_TEST_FLEET_PORTS"
)

// TestFleetInstanceProcess is not a test: run by TestFleetIssuance as a
// child process, it is one more fleet instance (an etcd storage whose
// locks have a 3 s lease) obtaining a certificate for the name in its
// environment, until it is killed.
func TestFleetInstanceProcess(t *testing.T) {
	st := childStorage(t, "TestFleetIssuance", 3*time.Second)
	var httpPort, tlsPort int
	if _, err := fmt.Sscanf(os.Getenv(envFleetPorts), "%d,%d", &httpPort, &tlsPort); err != nil {
		t.Fatal(err)
	}
	p := &testpeer.Pebble{DirURL: os.Getenv(envFleetDir), APIRoots: testpeer.CertPool(t, os.Getenv(envFleetRoots))}
	o := acmeOptions(p, &fleetFront{httpPort: httpPort, tlsPort: tlsPort}, os.Getenv(envChildName), st, zerolog.New(os.Stdout).Level(zerolog.InfoLevel))
	// Only HTTP-01, which the front holds at the gate.
	o.DisableTLSALPN01 = true
	src, err := certs.NewACMESource(o)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Fatalf("Manage returned before the child was killed: %v", src.Manage(ctx))
}

// TestFleetEtcdDown: with the etcd cluster stopped, the instances keep
// serving the certificates they loaded; a renewal and a reload fail
// (within their timeouts) and keep the current certificate; once etcd is
// back, one instance renews, Pebble issues once, and the others pick the
// renewed certificate up from the storage.
func TestFleetEtcdDown(t *testing.T) {
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{})
	f := startFleetFront(t)
	p := testpeer.StartPebble(t, f.httpPort, f.tlsPort)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const name = "down.wssproxy.test"
	ins := []*fleetInstance{startFleetInstance(t, c, "/down", p, f, name), startFleetInstance(t, c, "/down", p, f, name)}
	f.setInstances(ins[0].src, ins[1].src)
	manageAll(t, ctx, ins...)
	expectOneCertificate(t, p, 0, name, ins...)
	roots := p.IssuingRoots(t)
	before := ins[0].servedLeaf(t, name, roots)

	c.Stop()
	start := time.Now()
	if err := ins[0].src.Renew(ctx, name, true); err == nil {
		t.Fatal("renewed with etcd down")
	}
	if err := ins[1].src.Reload(ctx); err == nil {
		t.Fatal("reloaded with etcd down")
	}
	t.Logf("renewal and reload failed after %v with etcd down", time.Since(start).Round(time.Millisecond))
	for i, in := range ins {
		if leaf := in.servedLeaf(t, name, roots); !leaf.Equal(before) {
			t.Fatalf("instance %d serves another certificate with etcd down", i)
		}
	}
	if n := len(p.Issued()); n != 1 {
		t.Fatalf("%d certificates issued with etcd down", n)
	}

	c.Restart()
	// Until its client has reconnected, Exists answers false, and
	// certmagic would then take a renewal for a first issuance that finds
	// the certificate already there and does nothing.
	for _, in := range ins {
		testpeer.WaitFor(t, 30*time.Second, "the storage to answer again", func() bool {
			return in.st.Exists(ctx, "certificates")
		})
	}
	if err := ins[0].src.Renew(ctx, name, true); err != nil {
		t.Fatal(err)
	}
	if err := ins[1].src.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	expectOneCertificate(t, p, 1, name, ins...)
}
