package servecmd

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// tcpFront stands for the load balancer in front of a fleet: each
// connection to it goes to the next address in turn, so the CA's
// TLS-ALPN-01 validation often reaches an instance that did not order
// the certificate.
type tcpFront struct {
	port  int
	mu    sync.Mutex
	addrs []string
	next  atomic.Uint64
}

func startTCPFront(t *testing.T) *tcpFront {
	t.Helper()
	f := &tcpFront{}
	ln := testpeer.Listen(t)
	f.port = ln.Addr().(*net.TCPAddr).Port
	testpeer.Serve(t, ln, func(ctx context.Context, c net.Conn) {
		defer c.Close()
		f.mu.Lock()
		addrs := f.addrs
		f.mu.Unlock()
		if len(addrs) == 0 {
			return
		}
		d := net.Dialer{Timeout: 5 * time.Second}
		u, err := d.DialContext(ctx, "tcp", addrs[f.next.Add(1)%uint64(len(addrs))])
		if err != nil {
			return
		}
		defer u.Close()
		stop := context.AfterFunc(ctx, func() { c.Close(); u.Close() })
		defer stop()
		// Bounded: a validation handshake lasts far less.
		deadline := time.Now().Add(30 * time.Second)
		c.SetDeadline(deadline)
		u.SetDeadline(deadline)
		done := make(chan struct{})
		go func() { _, _ = io.Copy(u, c); u.Close(); close(done) }()
		_, _ = io.Copy(c, u)
		c.Close()
		<-done
	})
	return f
}

// Three serve instances with --acme-domain on one etcd store and one
// Pebble (behind a round-robin front), each with its own --acme-storage
// folder (ignored with the etcd store): one certificate order for the
// name, and all three serve that certificate (its serial is the one
// Pebble issued). Without the etcd storage each orders its own.
func TestFleetACMEOneOrder(t *testing.T) {
	t.Parallel()
	env := newFleetEnv(t, 3, "acme-test")
	front := startTCPFront(t)
	free := testpeer.FreePorts(t, 4)
	p := testpeer.StartPebble(t, free[0], front.port)
	const name = "fleet.wssproxy.test"
	var addrs []string
	for _, port := range free[1:] {
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(port))
	}
	front.mu.Lock()
	front.addrs = addrs
	front.mu.Unlock()
	var s []*runningServe
	for i, n := range []string{"a", "b", "c"} {
		s = append(s, env.start(t, n, "--listen", addrs[i], "--acme-domain", name, "--acme-ca", p.DirURL,
			"--acme-ca-root", p.APIRootsFile, "--acme-email", "ops@wssproxy.test",
			// Each its own folder, as on separate machines: only etcd is shared.
			"--acme-storage", t.TempDir()))
	}
	roots := p.IssuingRoots(t)
	serials := make([]string, len(addrs))
	for i, addr := range addrs {
		testpeer.WaitFor(t, 90*time.Second, "instance "+strconv.Itoa(i)+" serving the ACME certificate", func() bool {
			d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: &tls.Config{ServerName: name, RootCAs: roots}}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return false
			}
			defer c.Close()
			serials[i] = c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
			return true
		})
	}
	issued := p.Issued()
	if len(issued) != 1 {
		t.Fatalf("Pebble issued %d certificates (%v), want 1", len(issued), issued)
	}
	for i, serial := range serials {
		if serial != issued[0] && "0"+serial != issued[0] {
			t.Errorf("instance %d serves serial %s, Pebble issued %s", i, serial, issued[0])
		}
	}
	for _, sv := range s {
		sv.stop(t)
	}
}
