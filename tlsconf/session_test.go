package tlsconf

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// ticketServer is a TLS server on 127.0.0.1 with fixed session ticket
// keys: a new ticketServer with other keys on the same address is a
// restarted server that lost its sessions; one with the same keys
// resumes them whatever certificate it now has. It records, per
// handshake, whether a session was offered (and which it could open)
// and whether the handshake resumed.
type ticketServer struct {
	ln      net.Listener
	cfg     *tls.Config
	wg      sync.WaitGroup
	mu      sync.Mutex
	offered int // sessions offered by clients
	opened  int // of those, sessions this server could decrypt
	resumed []bool
}

// newTicketKey returns a random session ticket key.
func newTicketKey(t testing.TB) [32]byte {
	t.Helper()
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		t.Fatal(err)
	}
	return k
}

// startTicketServer serves chain on addr ("" for a free port) with the
// ticket key key, up to TLS version maxVersion (0: TLS 1.3).
func startTicketServer(t testing.TB, addr string, key [32]byte, maxVersion uint16, chain ...*testCert) *ticketServer {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &ticketServer{ln: ln}
	s.cfg = &tls.Config{Certificates: []tls.Certificate{tlsCert(chain...)}, MaxVersion: maxVersion}
	s.cfg.SetSessionTicketKeys([][32]byte{key})
	s.cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		st, err := s.cfg.DecryptTicket(identity, cs)
		s.mu.Lock()
		if len(identity) > 0 { // TLS 1.2 servers ask about an empty ticket too
			s.offered++
		}
		if st != nil {
			s.opened++
		}
		s.mu.Unlock()
		return st, err
	}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() { s.handle(c) })
		}
	})
	t.Cleanup(s.close)
	return s
}

// handle completes the handshake, waits for the client's byte, answers
// with one and closes: the client reads the session tickets (sent after
// a TLS 1.3 server's Finished) before the answer.
func (s *ticketServer) handle(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Server(c, s.cfg)
	if err := tc.Handshake(); err != nil {
		return
	}
	s.mu.Lock()
	s.resumed = append(s.resumed, tc.ConnectionState().DidResume)
	s.mu.Unlock()
	var b [1]byte
	if _, err := io.ReadFull(tc, b[:]); err == nil {
		_, _ = tc.Write(b[:])
	}
}

func (s *ticketServer) addr() string { return s.ln.Addr().String() }

func (s *ticketServer) close() {
	_ = s.ln.Close()
	s.wg.Wait()
}

// stats returns the sessions offered and opened so far.
func (s *ticketServer) stats() (offered, opened int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offered, s.opened
}

// handshakeTo connects c to addr verifying name, exchanges one byte (so
// that the session ticket is read and cached) and returns the
// connection's state. It may run on any goroutine.
func handshakeTo(c *Client, addr, name string) (tls.ConnectionState, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	tc, err := c.Handshake(ctx, nc, name)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer tc.Close()
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	if _, err := tc.Write([]byte{'x'}); err != nil {
		return tls.ConnectionState{}, fmt.Errorf("after the handshake: %w", err)
	}
	if _, err := io.ReadFull(tc, b[:]); err != nil {
		return tls.ConnectionState{}, fmt.Errorf("after the handshake: %w", err)
	}
	return tc.ConnectionState(), nil
}

// within returns the next value from ch, failing the test after 15 s.
func within[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(15 * time.Second):
		t.Fatalf("no %s within 15 s", what)
		panic("unreachable")
	}
}

// mustResume runs a handshake that must succeed and resume, or not.
func mustResume(t testing.TB, c *Client, addr, name string, resumed bool) tls.ConnectionState {
	t.Helper()
	cs, err := handshakeTo(c, addr, name)
	if err != nil {
		t.Fatalf("handshake (resumption expected %v): %v", resumed, err)
	}
	if cs.DidResume != resumed {
		t.Fatalf("DidResume = %v, want %v", cs.DidResume, resumed)
	}
	return cs
}

// A Client with a session cache resumes its sessions, over TLS 1.3 and
// TLS 1.2, as the server sees too; without one it never offers any.
func TestSessionResumption(t *testing.T) {
	t.Parallel()
	ca := newCert(t, caSpec("resume ca"), nil)
	leaf := newCert(t, leafSpec("localhost"), ca)
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			t.Parallel()
			s := startTicketServer(t, "", newTicketKey(t), v, leaf)
			c := mustClient(t, &ClientOptions{Policy: Policy{Roots: pool(ca)}, SessionCacheSize: DefaultSessionCacheSize})
			mustResume(t, c, s.addr(), "localhost", false)
			for range 3 {
				cs := mustResume(t, c, s.addr(), "localhost", true)
				if cs.Version != v || len(cs.PeerCertificates) == 0 || !cs.PeerCertificates[0].Equal(leaf.cert) {
					t.Fatalf("resumed %s with chain %v", tls.VersionName(cs.Version), cs.PeerCertificates)
				}
			}
			s.mu.Lock()
			seen := slices.Clone(s.resumed)
			s.mu.Unlock()
			if !slices.Equal(seen, []bool{false, true, true, true}) {
				t.Fatalf("server saw resumptions %v", seen)
			}

			off := mustClient(t, &ClientOptions{Policy: Policy{Roots: pool(ca)}})
			before, _ := s.stats()
			mustResume(t, off, s.addr(), "localhost", false)
			mustResume(t, off, s.addr(), "localhost", false)
			if after, _ := s.stats(); after != before {
				t.Fatalf("a Client without a cache offered %d sessions", after-before)
			}
		})
	}
}

// A pin remembered in the Registry lets a session be made and resumed;
// once revoked, the resumed handshake (offered, and opened by the
// server) is refused like a full one, and in pause mode it pauses again:
// what a pause accepted once is not accepted by resuming its session.
func TestResumedSessionAfterRevokedPin(t *testing.T) {
	t.Parallel()
	leaf := newCert(t, leafSpec("localhost"), nil)
	s := startTicketServer(t, "", newTicketKey(t), 0, leaf)
	reg := NewRegistry()
	paused := make(chan PausedHandshake, 4)
	c := mustClient(t, &ClientOptions{SessionCacheSize: 4, Policy: Policy{
		Registry: reg, Pause: PauseOnSSLErrors, PauseTimeout: 10 * time.Second,
		OnPause: func(p PausedHandshake) { paused <- p },
	}})
	pin := SPKIPinOf(leaf.cert)
	reg.Remember("localhost", pin)
	mustResume(t, c, s.addr(), "localhost", false)
	mustResume(t, c, s.addr(), "localhost", true)

	if ok, err := reg.Revoke(context.Background(), "localhost", pin); !ok || err != nil {
		t.Fatalf("revoke: %v %v", ok, err)
	}
	offered, opened := s.stats()
	type result struct {
		cs  tls.ConnectionState
		err error
	}
	done := make(chan result, 1)
	go func() {
		cs, err := handshakeTo(c, s.addr(), "localhost")
		done <- result{cs, err}
	}()
	p := within(t, paused, "pause")
	if !slices.Equal(kindsOf(p.Unignored), []ErrorKind{SelfSigned}) {
		t.Fatalf("paused on %v", p.Unignored)
	}
	if o, op := s.stats(); o != offered+1 || op != opened+1 {
		t.Fatalf("the paused handshake was not a resumption: offered %d->%d, opened %d->%d", offered, o, opened, op)
	}
	if err := reg.Abort(p.ID); err != nil {
		t.Fatal(err)
	}
	r := within(t, done, "handshake result")
	if ve := verificationError(t, r.err); !errors.Is(r.err, ErrPauseAborted) || !slices.Equal(ve.Kinds(), []ErrorKind{SelfSigned}) {
		t.Fatalf("aborted resumed handshake: %v", r.err)
	}

	// The refused session is gone: the next handshake is a full one,
	// and accepting it once does not let the next resume unverified.
	for i, decide := range []func(id string) error{
		func(id string) error { return reg.Resume(id, nil, false) },
		func(id string) error { return reg.Abort(id) },
	} {
		offered, _ := s.stats()
		go func() {
			cs, err := handshakeTo(c, s.addr(), "localhost")
			done <- result{cs, err}
		}()
		p := within(t, paused, "pause")
		if err := decide(p.ID); err != nil {
			t.Fatal(err)
		}
		r := within(t, done, "handshake result")
		o, _ := s.stats()
		switch i {
		case 0:
			if r.err != nil || r.cs.DidResume || o != offered {
				t.Fatalf("after the refusal: resumed %v (offered %d->%d): %v", r.cs.DidResume, offered, o, r.err)
			}
		case 1:
			if !errors.Is(r.err, ErrPauseAborted) || o != offered+1 {
				t.Fatalf("the session of a handshake accepted once: offered %d->%d: %v", offered, o, r.err)
			}
		}
	}
}

// TOFU: a session made with a remembered key is not resumed once the
// store holds another key for the server: KeyChangedError, as a full
// handshake would fail.
func TestResumedSessionAfterTOFUKeyChange(t *testing.T) {
	t.Parallel()
	leaf := newCert(t, leafSpec("localhost"), nil)
	other := newCert(t, leafSpec("localhost"), nil)
	s := startTicketServer(t, "", newTicketKey(t), 0, leaf)
	store := tofuStore(t)
	c := mustClient(t, &ClientOptions{SessionCacheSize: 4, TOFU: &TOFU{Store: store, Server: "srv"}})
	mustResume(t, c, s.addr(), "localhost", false)
	mustResume(t, c, s.addr(), "localhost", true)

	ctx := context.Background()
	if ok, err := store.DeletePin(ctx, "srv", SPKIPinOf(leaf.cert)); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if err := store.PutPin(ctx, PinEntry{Server: "srv", Pin: SPKIPinOf(other.cert), Source: SourceOperator}); err != nil {
		t.Fatal(err)
	}
	offered, opened := s.stats()
	_, err := handshakeTo(c, s.addr(), "localhost")
	var kc *KeyChangedError
	if ve := verificationError(t, err); !errors.As(err, &kc) || !slices.Equal(ve.Kinds(), []ErrorKind{PinMismatch}) {
		t.Fatalf("resumed after the key changed: %v", err)
	}
	if o, op := s.stats(); o != offered+1 || op != opened+1 {
		t.Fatalf("not a resumption: offered %d->%d, opened %d->%d", offered, o, opened, op)
	}
}

// A server that now has another certificate: restarted (its sessions
// lost), it gets a full handshake, verified on the new certificate: a pin
// on the old key refuses it, a CA that signed both accepts it. Still
// holding the session (same ticket keys), it resumes on the chain the
// session was verified with, under today's rules (the documented limit).
func TestResumedSessionServerCertificateChanged(t *testing.T) {
	t.Parallel()
	ca := newCert(t, caSpec("rotating ca"), nil)
	oldLeaf := newCert(t, leafSpec("localhost"), ca)
	newLeaf := newCert(t, leafSpec("localhost"), ca)
	key := newTicketKey(t)

	pinned := mustClient(t, &ClientOptions{SessionCacheSize: 4, Policy: Policy{Pins: []Pin{SPKIPinOf(oldLeaf.cert)}, PinOnly: true}})
	byCA := mustClient(t, &ClientOptions{SessionCacheSize: 4, Policy: Policy{Roots: pool(ca)}})
	s := startTicketServer(t, "", key, 0, oldLeaf)
	addr := s.addr()
	for _, c := range []*Client{pinned, byCA} {
		mustResume(t, c, addr, "localhost", false)
		mustResume(t, c, addr, "localhost", true)
	}
	s.close()

	restarted := startTicketServer(t, addr, newTicketKey(t), 0, newLeaf)
	_, err := handshakeTo(pinned, addr, "localhost")
	if ve := verificationError(t, err); !slices.Equal(ve.Kinds(), []ErrorKind{PinMismatch}) {
		t.Fatalf("pinned client after the restart: %v", err)
	}
	cs := mustResume(t, byCA, addr, "localhost", false)
	if !cs.PeerCertificates[0].Equal(newLeaf.cert) {
		t.Fatal("full handshake did not see the new certificate")
	}
	if o, op := restarted.stats(); o != 2 || op != 0 {
		t.Fatalf("restarted server: %d sessions offered, %d opened; want 2, 0", o, op)
	}
	restarted.close()

	// Same ticket keys, new certificate: the session is resumed on the
	// chain it was made with, which the pin still accepts.
	s = startTicketServer(t, "", key, 0, oldLeaf)
	addr = s.addr()
	mustResume(t, pinned, addr, "localhost", false)
	s.close()
	startTicketServer(t, addr, key, 0, newLeaf)
	cs = mustResume(t, pinned, addr, "localhost", true)
	if !cs.PeerCertificates[0].Equal(oldLeaf.cert) {
		t.Fatal("a resumed session reports another chain than its own")
	}
}

// Sessions stay with the server name and the Client that made them: a
// session for "localhost" is not offered to "127.0.0.1" on the same
// server, and Clients sharing Base.ClientSessionCache never see each
// other's.
func TestSessionScope(t *testing.T) {
	t.Parallel()
	ca := newCert(t, caSpec("scope ca"), nil)
	spec := leafSpec("localhost")
	spec.ips = []net.IP{net.IPv4(127, 0, 0, 1)}
	leaf := newCert(t, spec, ca)
	s := startTicketServer(t, "", newTicketKey(t), 0, leaf)

	c := mustClient(t, &ClientOptions{Policy: Policy{Roots: pool(ca)}, SessionCacheSize: 4})
	mustResume(t, c, s.addr(), "localhost", false)
	mustResume(t, c, s.addr(), "localhost", true)
	offered, _ := s.stats()
	mustResume(t, c, s.addr(), "127.0.0.1", false)
	if o, _ := s.stats(); o != offered {
		t.Fatal("the session for localhost was offered to 127.0.0.1")
	}
	mustResume(t, c, s.addr(), "127.0.0.1", true)
	mustResume(t, c, s.addr(), "localhost", true)

	shared := tls.NewLRUClientSessionCache(8)
	a := mustClient(t, &ClientOptions{Base: &tls.Config{ClientSessionCache: shared}, Policy: Policy{Roots: pool(ca)}})
	b := mustClient(t, &ClientOptions{Base: &tls.Config{ClientSessionCache: shared}, Policy: Policy{Roots: pool(ca)}})
	mustResume(t, a, s.addr(), "localhost", false)
	mustResume(t, a, s.addr(), "localhost", true)
	offered, _ = s.stats()
	mustResume(t, b, s.addr(), "localhost", false)
	if o, _ := s.stats(); o != offered {
		t.Fatal("a Client was offered another Client's session")
	}
	mustResume(t, b, s.addr(), "localhost", true)
	if _, ok := shared.Get("localhost"); ok {
		t.Fatal("a shared cache holds a session under the bare server name")
	}
}

// Even a session that reached a Client with other pins (the per-Client
// scope bypassed here on purpose) is refused on resumption, over TLS 1.3
// and 1.2: the policy runs in VerifyConnection, which crypto/tls calls on
// resumed sessions.
func TestResumedSessionOtherPins(t *testing.T) {
	t.Parallel()
	leaf := newCert(t, leafSpec("localhost"), nil)
	other := newCert(t, leafSpec("localhost"), nil)
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		s := startTicketServer(t, "", newTicketKey(t), v, leaf)
		trusting := mustClient(t, &ClientOptions{SessionCacheSize: 4, Policy: Policy{PinOnly: true, Pins: []Pin{SPKIPinOf(leaf.cert)}}})
		mustResume(t, trusting, s.addr(), "localhost", false)
		mustResume(t, trusting, s.addr(), "localhost", true)

		pinning := mustClient(t, &ClientOptions{Policy: Policy{PinOnly: true, Pins: []Pin{SPKIPinOf(other.cert)}}})
		pinning.base.ClientSessionCache = trusting.base.ClientSessionCache
		offered, opened := s.stats()
		_, err := handshakeTo(pinning, s.addr(), "localhost")
		if ve := verificationError(t, err); !slices.Equal(ve.Kinds(), []ErrorKind{PinMismatch}) {
			t.Fatalf("%s: kinds %v", tls.VersionName(v), ve.Kinds())
		}
		if o, op := s.stats(); o != offered+1 || op != opened+1 {
			t.Fatalf("%s: not a resumption: offered %d->%d, opened %d->%d", tls.VersionName(v), offered, o, opened, op)
		}
	}
}

// A cached session whose certificate has expired since is not offered;
// the full handshake then reports the expiry.
func TestResumedSessionExpiredCertificate(t *testing.T) {
	t.Parallel()
	ca := newCert(t, caSpec("expiry ca"), nil)
	spec := leafSpec("localhost")
	spec.notAfter = time.Now().Add(time.Hour)
	leaf := newCert(t, spec, ca)
	s := startTicketServer(t, "", newTicketKey(t), 0, leaf)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := mustClient(t, &ClientOptions{Base: &tls.Config{Time: clock}, SessionCacheSize: 4, Policy: Policy{Roots: pool(ca)}})
	mustResume(t, c, s.addr(), "localhost", false)
	mustResume(t, c, s.addr(), "localhost", true)
	mu.Lock()
	now = leaf.cert.NotAfter.Add(time.Minute)
	mu.Unlock()
	offered, _ := s.stats()
	_, err := handshakeTo(c, s.addr(), "localhost")
	if ve := verificationError(t, err); !slices.Equal(ve.Kinds(), []ErrorKind{Expired}) {
		t.Fatalf("kinds %v", ve.Kinds())
	}
	if o, _ := s.stats(); o != offered {
		t.Fatal("a session with an expired certificate was offered")
	}
}

// Options that would make resumption unsafe or contradict themselves
// are refused with an error that says why.
func TestSessionOptionsRefused(t *testing.T) {
	t.Parallel()
	verifyPeer := func([][]byte, [][]*x509.Certificate) error { return nil }
	for _, tc := range []struct {
		name string
		opts ClientOptions
		want string
	}{
		{"negative", ClientOptions{SessionCacheSize: -1}, "want 0 (no resumption) to 4096"},
		{"too large", ClientOptions{SessionCacheSize: MaxSessionCacheSize + 1}, "want 0 (no resumption) to 4096"},
		{"two caches", ClientOptions{SessionCacheSize: 1, Base: &tls.Config{ClientSessionCache: tls.NewLRUClientSessionCache(1)}}, "exclude each other"},
		{"tickets disabled", ClientOptions{SessionCacheSize: 1, Base: &tls.Config{SessionTicketsDisabled: true}}, "SessionTicketsDisabled"},
		{"VerifyPeerCertificate", ClientOptions{SessionCacheSize: 1, Base: &tls.Config{VerifyPeerCertificate: verifyPeer}}, "VerifyPeerCertificate"},
		{"VerifyPeerCertificate, Base cache", ClientOptions{Base: &tls.Config{VerifyPeerCertificate: verifyPeer, ClientSessionCache: tls.NewLRUClientSessionCache(1)}}, "VerifyPeerCertificate"},
	} {
		if _, err := NewClient(&tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	// Without resumption, VerifyPeerCertificate stays allowed.
	if _, err := NewClient(&ClientOptions{Base: &tls.Config{VerifyPeerCertificate: verifyPeer}}); err != nil {
		t.Fatal(err)
	}
}

// With a CA file (every anchor known) a resumed handshake reuses the
// clean verification of its chain, but only while no certificate of the
// chain or the anchors has started or stopped being valid since: once
// the CA has expired (its leaf has not, so crypto/tls still offers the
// session), the resumed handshake is verified again and refused.
func TestResumedSessionAnchorExpired(t *testing.T) {
	t.Parallel()
	caSp := caSpec("short-lived ca")
	caSp.notAfter = time.Now().Add(time.Hour)
	ca := newCert(t, caSp, nil)
	leaf := newCert(t, leafSpec("localhost"), ca)
	s := startTicketServer(t, "", newTicketKey(t), 0, leaf)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := mustClient(t, &ClientOptions{Base: &tls.Config{Time: clock}, SessionCacheSize: 4, CAFile: writePEM(t, t.TempDir(), "ca.pem", ca.cert)})
	if c.v.memo == nil {
		t.Fatal("no verification memo with a CA file")
	}
	mustResume(t, c, s.addr(), "localhost", false)
	cs := mustResume(t, c, s.addr(), "localhost", true)
	if !c.v.memo.clean(cs.PeerCertificates, "localhost", true, clock()) {
		t.Fatal("the memo does not hold the clean chain")
	}
	mu.Lock()
	now = ca.cert.NotAfter.Add(time.Minute)
	mu.Unlock()
	offered, opened := s.stats()
	_, err := handshakeTo(c, s.addr(), "localhost")
	if ve := verificationError(t, err); !slices.Contains(ve.Kinds(), Expired) {
		t.Fatalf("kinds %v", ve.Kinds())
	}
	if o, op := s.stats(); o != offered+1 || op != opened+1 {
		t.Fatalf("not a resumption: offered %d->%d, opened %d->%d", offered, o, opened, op)
	}
}

// The memo never answers "clean" where Verify would not: chains of a
// leaf, an intermediate and a root with staggered validity periods,
// recorded at each moment they verify, asked at every moment around each
// period's start and end.
func TestVerifyMemoMatchesVerify(t *testing.T) {
	t.Parallel()
	base := time.Now().Truncate(time.Second)
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	rootSp := caSpec("memo root")
	rootSp.notBefore, rootSp.notAfter = at(-10), at(10)
	root := newCert(t, rootSp, nil)
	midSp := caSpec("memo intermediate")
	midSp.notBefore, midSp.notAfter = at(-8), at(6)
	mid := newCert(t, midSp, root)
	leafSp := leafSpec("localhost")
	leafSp.notBefore, leafSp.notAfter = at(-4), at(8)
	leaf := newCert(t, leafSp, mid)
	other := newCert(t, caSpec("unrelated anchor"), nil) // its period bounds entries too
	chain := []*x509.Certificate{leaf.cert, mid.cert}
	anchors := []*x509.Certificate{root.cert, other.cert}
	var moments []time.Time
	for _, c := range []*x509.Certificate{root.cert, mid.cert, leaf.cert, other.cert} {
		for _, b := range []time.Time{c.NotBefore, c.NotAfter} {
			moments = append(moments, b.Add(-time.Second), b, b.Add(time.Second))
		}
	}
	verify := func(now time.Time) []SSLError {
		return Verify(chain, VerifyOptions{Roots: pool(root), RootCerts: anchors, CurrentTime: now, DNSName: "localhost"})
	}
	recorded := 0
	for _, t0 := range moments {
		if len(verify(t0)) != 0 {
			continue
		}
		m := &verifyMemo{anchors: anchors}
		m.record(chain, "localhost", true, t0)
		if m.n == 0 {
			continue // at the very end of a period: nothing to remember
		}
		recorded++
		for _, t1 := range moments {
			if m.clean(chain, "localhost", true, t1) && len(verify(t1)) != 0 {
				t.Errorf("recorded at %v, the memo answers clean at %v where Verify finds %v", t0.Sub(base), t1.Sub(base), kindsOf(verify(t1)))
			}
		}
		if !m.clean(chain, "localhost", true, t0) || m.clean(chain, "other.example", true, t0) || m.clean(chain[:1], "localhost", true, t0) {
			t.Errorf("recorded at %v: the memo answers for another name or chain, or not for its own", t0.Sub(base))
		}
	}
	if recorded == 0 {
		t.Fatal("the chain never verified: the test proves nothing")
	}
}
