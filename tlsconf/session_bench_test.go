package tlsconf

import (
	"crypto/tls"
	"net"
	"testing"
)

// BenchmarkClientHandshake runs client handshakes (both ends in this
// process, over loopback TCP) against a server with a CA-signed ECDSA P-256
// leaf, verified with a CA file: full handshakes, and resumed ones with a session
// cache. Compare the two with -cpuprofile and focus on Client methods
// for the client's own share.
func BenchmarkClientHandshake(b *testing.B) {
	ca := newCert(b, caSpec("bench ca"), nil)
	leaf := newCert(b, leafSpec("localhost"), ca)
	srvCfg := &tls.Config{Certificates: []tls.Certificate{tlsCert(leaf, ca)}}
	caFile := writePEM(b, b.TempDir(), "ca.pem", ca.cert)
	for _, tc := range []struct {
		name string
		size int
	}{{"full", 0}, {"resumed", DefaultSessionCacheSize}} {
		b.Run(tc.name, func(b *testing.B) {
			c := mustClient(b, &ClientOptions{CAFile: caFile, SessionCacheSize: tc.size})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			benchHandshake(b, c, ln, srvCfg) // the first one caches the session
			b.ReportAllocs()
			for b.Loop() {
				if resumed := benchHandshake(b, c, ln, srvCfg); resumed != (tc.size > 0) {
					b.Fatalf("resumed %v", resumed)
				}
			}
		})
	}
}

// benchHandshake runs one handshake of c with a server on ln and
// reports whether it resumed.
func benchHandshake(b *testing.B, c *Client, ln net.Listener, srvCfg *tls.Config) bool {
	done := acceptHandshake(b.Context(), ln, srvCfg, func(s *tls.Conn) error {
		// The client's read below takes the session ticket.
		_, err := s.Write([]byte{1})
		return err
	})
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	tc, err := c.Handshake(b.Context(), nc, "localhost")
	if err != nil {
		b.Fatal(err)
	}
	var one [1]byte
	if _, err := tc.Read(one[:]); err != nil {
		b.Fatal(err)
	}
	resumed := tc.ConnectionState().DidResume
	_ = tc.Close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return resumed
}
