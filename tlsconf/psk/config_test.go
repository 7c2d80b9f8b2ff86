package psk

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// Client and Server copy their configuration: changing it after the
// call (here while the handshake has not started) does not change the
// connection.
func TestConfigCopiedOnEntry(t *testing.T) {
	t.Parallel()
	ccfg, scfg := testClientConfig(t), testServerConfig(t)
	cc, sc := testpeer.TCPPair(t)
	c, s := Client(cc, ccfg), Server(sc, scfg)
	ccfg.Identity = []byte("someone else")
	ccfg.MinVersion = 0x0301 // unsupported: would fail the handshake
	scfg.GetKey = nil
	scfg.MaxVersion = 0x0301

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	serr := make(chan error, 1)
	go func() { serr <- s.HandshakeContext(ctx) }()
	if err := c.HandshakeContext(ctx); err != nil {
		t.Fatalf("client: %v", err)
	}
	if err := <-serr; err != nil {
		t.Fatalf("server: %v", err)
	}
	if id := s.ConnectionState().Identity; string(id) != testIdentity {
		t.Fatalf("identity %q", id)
	}
	echoOnce(t, c, s, []byte("copied"))
	c.Close()
	s.Close()

	// TLSClient copies too, and leaves the caller's value alone.
	ccfg = testClientConfig(t)
	cc, sc = testpeer.TCPPair(t)
	s = Server(sc, testServerConfig(t))
	go func() { serr <- s.HandshakeContext(ctx) }()
	pc, err := ccfg.TLSClient(ctx, cc, "example.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := <-serr; err != nil {
		t.Fatal(err)
	}
	if ccfg.ServerName != "" || ccfg.NextProtos != nil {
		t.Fatalf("TLSClient changed the caller's config: %q %q", ccfg.ServerName, ccfg.NextProtos)
	}
	if st := s.ConnectionState(); st.ServerName != "example.test" || st.NegotiatedProtocol != "" && st.NegotiatedProtocol != "http/1.1" {
		t.Fatalf("server saw %+v", st)
	}
	pc.Close()
	s.Close()
}

// A nil configuration means the zero one: no panic, and a handshake that
// fails with a clear error because there is no key.
func TestNilConfig(t *testing.T) {
	t.Parallel()
	t.Run("client", func(t *testing.T) {
		t.Parallel()
		_, _, cerr, serr := handshakePair(t, nil, testServerConfig(t))
		if !errors.Is(cerr, ErrKeyRefused) {
			t.Fatalf("client with nil config: %v", cerr)
		}
		if serr == nil {
			t.Fatal("server completed a handshake with a keyless client")
		}
	})
	t.Run("server", func(t *testing.T) {
		t.Parallel()
		_, _, cerr, serr := handshakePair(t, testClientConfig(t), nil)
		if serr == nil || cerr == nil {
			t.Fatalf("handshake with a nil server config: client %v, server %v", cerr, serr)
		}
		var a *AlertError
		if !errors.As(serr, &a) || a.Remote || a.Alert != AlertInternalError {
			t.Fatalf("server error %v, want a local internal_error alert", serr)
		}
	})
	t.Run("listener", func(t *testing.T) {
		t.Parallel()
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		accepted := make(chan error, 1)
		addr := testpeer.Serve(t, NewListener(inner, nil, nil), func(ctx context.Context, nc net.Conn) {
			defer nc.Close()
			accepted <- nc.(*MuxConn).HandshakeContext(ctx)
		})
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := Client(nc, testClientConfig(t))
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.HandshakeContext(ctx); err == nil {
			t.Fatal("a listener without GetKey accepted a PSK client")
		}
		if err := <-accepted; err == nil {
			t.Fatal("server side succeeded")
		}
	})
}
