package psk

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// Benchmarks: PSK handshakes and records against crypto/tls certificate
// handshakes and records in the same run, over in-memory connections
// (net.Pipe), so that only the TLS work and the copying are measured.
//
//	go test -run '^$' -bench . -count 5 ./tlsconf/psk/
//
// The crypto/tls side uses an ECDSA P-256 leaf that the client verifies
// against its root pool, X25519 only (Go's default would add the
// X25519MLKEM768 hybrid) and no session tickets.

type certPair struct{ server, client *tls.Config }

func benchCert(b *testing.B) certPair {
	b.Helper()
	cert, pool := testpeer.SelfSigned(b, "bench.example")
	curves := []tls.CurveID{tls.X25519}
	return certPair{
		server: &tls.Config{
			Certificates:           []tls.Certificate{cert},
			MinVersion:             tls.VersionTLS12,
			CurvePreferences:       curves,
			SessionTicketsDisabled: true,
		},
		client: &tls.Config{
			RootCAs: pool, ServerName: "bench.example", MinVersion: tls.VersionTLS12, CurvePreferences: curves,
		},
	}
}

// handshaker is what both stacks' connections offer.
type handshaker interface {
	net.Conn
	HandshakeContext(context.Context) error
}

// pairOver runs both handshakes over a fresh net.Pipe.
func pairOver(b *testing.B, client func(net.Conn) handshaker, server func(net.Conn) handshaker) (handshaker, handshaker, func()) {
	cc, sc := net.Pipe()
	c, s := client(cc), server(sc)
	ctx := context.Background()
	errc := make(chan error, 1)
	go func() { errc <- s.HandshakeContext(ctx) }()
	if err := c.HandshakeContext(ctx); err != nil {
		b.Fatal(err)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	// Close the pipes, not the TLS connections: an unread close_notify
	// would block on net.Pipe.
	return c, s, func() { cc.Close(); sc.Close() }
}

type benchStack struct {
	name           string
	client, server func(net.Conn) handshaker
}

func benchStacks(b *testing.B) []benchStack {
	key := testKey(b)
	scfg := &ServerConfig{GetKey: staticKeys(map[string][]byte{testIdentity: key}), AllowPSKOnly: true, Groups: []CurveID{X25519}}
	dhe := &ClientConfig{Identity: []byte(testIdentity), Key: key, Groups: []CurveID{X25519}}
	ke := &ClientConfig{Identity: []byte(testIdentity), Key: key, Modes: []Mode{ModePSKOnly}}
	cp := benchCert(b)
	pskServer := func(nc net.Conn) handshaker { return Server(nc, scfg) }
	return []benchStack{
		{"psk_dhe_ke-X25519", func(nc net.Conn) handshaker { return Client(nc, dhe) }, pskServer},
		{"psk_ke", func(nc net.Conn) handshaker { return Client(nc, ke) }, pskServer},
		{"crypto-tls-ECDSA-P256-TLS13",
			func(nc net.Conn) handshaker { return tls.Client(nc, cp.client) },
			func(nc net.Conn) handshaker { return tls.Server(nc, cp.server) }},
	}
}

// BenchmarkHandshake measures complete client+server handshakes (both
// sides run in the benchmark; handshakes/s = 1e9 / ns/op).
func BenchmarkHandshake(b *testing.B) {
	stacks := benchStacks(b)
	for _, st := range benchStacks12(b) {
		switch st.name {
		case "psk-TLS12-AES128GCM":
			st.name = "TLS12-PSK"
		case "psk-TLS12-ECDHE-PSK-CHACHA20":
			st.name = "TLS12-ECDHE-PSK-X25519"
		default:
			continue
		}
		stacks = append(stacks, st)
	}
	for _, st := range stacks {
		b.Run(st.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _, done := pairOver(b, st.client, st.server)
				done()
			}
		})
	}
}

// BenchmarkRecords measures 16 KiB application-data records written on
// one side and read on the other.
func BenchmarkRecords(b *testing.B) {
	key := testKey(b)
	scfg := &ServerConfig{GetKey: staticKeys(map[string][]byte{testIdentity: key})}
	cp := benchCert(b)
	pskWith := func(suite uint16) func(net.Conn) handshaker {
		cfg := &ClientConfig{Identity: []byte(testIdentity), Key: key, CipherSuites: []uint16{suite}}
		return func(nc net.Conn) handshaker { return Client(nc, cfg) }
	}
	tlsServer := func(nc net.Conn) handshaker { return tls.Server(nc, cp.server) }
	tls12 := cp.client.Clone()
	tls12.MaxVersion = tls.VersionTLS12
	tls12.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
	stacks := []benchStack{
		{"psk-TLS13-AES128GCM", pskWith(TLS_AES_128_GCM_SHA256), func(nc net.Conn) handshaker { return Server(nc, scfg) }},
		{"psk-TLS13-CHACHA20", pskWith(TLS_CHACHA20_POLY1305_SHA256), func(nc net.Conn) handshaker { return Server(nc, scfg) }},
		// crypto/tls picks AES-128-GCM in TLS 1.3 on AES hardware and has no
		// knob for TLS 1.3 suites: its ChaCha20 records are measured in
		// TLS 1.2 (ECDHE-ECDSA-CHACHA20-POLY1305, same AEAD and record size).
		{"crypto-tls-TLS13-AES128GCM", func(nc net.Conn) handshaker { return tls.Client(nc, cp.client) }, tlsServer},
		{"crypto-tls-TLS12-CHACHA20", func(nc net.Conn) handshaker { return tls.Client(nc, tls12) }, tlsServer},
	}
	stacks = append(stacks, benchStacks12(b)...)
	for _, st := range stacks {
		b.Run(st.name, func(b *testing.B) {
			c, s, done := pairOver(b, st.client, st.server)
			defer done()
			const size = 16 << 10
			buf := make([]byte, size)
			rbuf := make([]byte, size)
			b.SetBytes(size)
			b.ReportAllocs()
			errc := make(chan error, 1)
			n := b.N
			go func() {
				for i := 0; i < n; i++ {
					if _, err := io.ReadFull(s, rbuf); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			b.ResetTimer()
			for i := 0; i < n; i++ {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
		})
	}
}

// benchStacks12 are the TLS 1.2 PSK record benchmarks.
func benchStacks12(b *testing.B) []benchStack {
	key := testKey(b)
	scfg := &ServerConfig{GetKey: staticKeys(map[string][]byte{testIdentity: key}), MinVersion: VersionTLS12}
	with := func(suite uint16) func(net.Conn) handshaker {
		cfg := &ClientConfig{Identity: []byte(testIdentity), Key: key, MinVersion: VersionTLS12, MaxVersion: VersionTLS12,
			TLS12CipherSuites: []uint16{suite}}
		return func(nc net.Conn) handshaker { return Client(nc, cfg) }
	}
	server := func(nc net.Conn) handshaker { return Server(nc, scfg) }
	return []benchStack{
		{"psk-TLS12-AES128GCM", with(TLS_PSK_WITH_AES_128_GCM_SHA256), server},
		{"psk-TLS12-CHACHA20", with(TLS_PSK_WITH_CHACHA20_POLY1305_SHA256), server},
		{"psk-TLS12-ECDHE-PSK-CHACHA20", with(TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256), server},
	}
}
