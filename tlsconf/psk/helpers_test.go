package psk

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// testKeyHex is the key of the captured transcripts and the research
// notes: the bytes 00..1f.
const testKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

const testIdentity = "Client_identity"

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testKey(t testing.TB) []byte { return mustHex(t, testKeyHex) }

// staticKeys is a ServerConfig.GetKey over a map.
func staticKeys(m map[string][]byte) func(context.Context, []byte) ([]byte, error) {
	return func(_ context.Context, id []byte) ([]byte, error) { return m[string(id)], nil }
}

func testServerConfig(t testing.TB) *ServerConfig {
	return &ServerConfig{GetKey: staticKeys(map[string][]byte{testIdentity: testKey(t)})}
}

func testClientConfig(t testing.TB) *ClientConfig {
	return &ClientConfig{Identity: []byte(testIdentity), Key: testKey(t)}
}

// openPair returns a client and a server Conn that completed a handshake
// with the test configurations, both closed when the test ends.
func openPair(t testing.TB) (c, s *Conn) {
	t.Helper()
	c, s, cerr, serr := handshakePair(t, testClientConfig(t), testServerConfig(t))
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	t.Cleanup(func() { s.Close(); c.Close() })
	return c, s
}

// handshakePair runs both handshakes concurrently and returns both errors.
func handshakePair(t testing.TB, ccfg *ClientConfig, scfg *ServerConfig) (*Conn, *Conn, error, error) {
	t.Helper()
	cc, sc := testpeer.TCPPair(t)
	c, s := Client(cc, ccfg), Server(sc, scfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	serr := make(chan error, 1)
	go func() {
		err := s.HandshakeContext(ctx)
		if err != nil {
			s.Close() // unblocks a client still waiting
		}
		serr <- err
	}()
	cerr := c.HandshakeContext(ctx)
	if cerr != nil {
		c.Close()
	}
	return c, s, cerr, <-serr
}

// echoOnce writes msg on a, echoes it on b and reads it back on a.
func echoOnce(t testing.TB, a, b net.Conn, msg []byte) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(b, buf); err != nil {
			done <- err
			return
		}
		_, err := b.Write(buf)
		done <- err
	}()
	if _, err := a.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(a, got); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo mismatch")
	}
}

func alertOf(err error) (Alert, bool, bool) {
	var ae *AlertError
	if errors.As(err, &ae) {
		return ae.Alert, ae.Remote, true
	}
	return 0, false, false
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// dialConn connects to addr and returns a PSK client connection with
// cfg, closed when the test ends; the handshake is the caller's.
func dialConn(t *testing.T, addr string, cfg *ClientConfig) *Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := Client(nc, cfg)
	t.Cleanup(func() { c.Close() })
	return c
}

// wantAlert fails t unless err carries alert, received from the peer
// (remote) or sent by us.
func wantAlert(t *testing.T, err error, alert Alert, remote bool) {
	t.Helper()
	if a, r, ok := alertOf(err); !ok || r != remote || a != alert {
		verb := "sent"
		if remote {
			verb = "received"
		}
		t.Fatalf("error %v, want %s %v", err, verb, alert)
	}
}

// expectHandshake checks the error of our client's handshake against the
// case's alert. With alert set, err must be that alert, received from the
// server, and the server peer p (if not nil) must exit; it returns false:
// the case ends there. Without, err must be nil and it returns true.
func expectHandshake(t *testing.T, err error, alert Alert, p *peer) bool {
	t.Helper()
	if alert != 0 {
		wantAlert(t, err, alert, true)
		if p != nil {
			p.wait(t, 5*time.Second)
		}
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// tweakedConfigs returns the test client and server configurations with
// client and server (each may be nil) applied.
func tweakedConfigs(t testing.TB, client func(*ClientConfig), server func(*ServerConfig)) (*ClientConfig, *ServerConfig) {
	ccfg, scfg := testClientConfig(t), testServerConfig(t)
	if client != nil {
		client(ccfg)
	}
	if server != nil {
		server(scfg)
	}
	return ccfg, scfg
}

// recordServerHello parses the ServerHello that the handshake record rec
// starts with, failing t when it holds none.
func recordServerHello(t *testing.T, rec []byte) *serverHelloMsg {
	t.Helper()
	if rec[0] != recordHandshake || rec[recordHeaderLen] != typeServerHello {
		t.Fatalf("answer % x, want a ServerHello", rec[:min(len(rec), 12)])
	}
	body := rec[recordHeaderLen:]
	sh, err := parseServerHello(body[:4+int(body[3])])
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// readRecord reads one TLS record from c and returns its content type and
// body, failing t when c ends first.
func readRecord(t *testing.T, c net.Conn) (byte, []byte) {
	t.Helper()
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatalf("reading a record: %v", err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatalf("reading a record: %v", err)
	}
	return hdr[0], body
}
