package psk

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

// wsEchoServer serves WebSocket echo over a Listener (PSK and
// certificates on one port) with ws.ReadUpgrade on the routed connection.
func wsEchoServer(t *testing.T, psk *ServerConfig, cert *tls.Config) string {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(inner, psk, cert)
	testpeer.Serve(t, ln, func(ctx context.Context, nc net.Conn) {
		defer nc.Close()
		u, err := ws.ReadUpgrade(ctx, nc, nil)
		if err != nil {
			return
		}
		c, err := u.Accept(ctx, "", "", nil)
		if err != nil {
			return
		}
		defer c.Abort()
		for {
			typ, msg, err := c.ReadMessage(ctx)
			if err != nil {
				return
			}
			if err := c.WriteMessage(ctx, typ, msg); err != nil {
				return
			}
		}
	})
	return ln.Addr().String()
}

// TestWebSocketOverPSK: our ws client (DialOptions.TLSClient) to our ws
// server (ws.ReadUpgrade on the PSK connection), end to end.
func TestWebSocketOverPSK(t *testing.T) {
	cert, pool, _ := testCert(t)
	addr := wsEchoServer(t, testServerConfig(t), &tls.Config{Certificates: []tls.Certificate{cert}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var state ConnectionState
	ccfg := testClientConfig(t)
	hook := func(ctx context.Context, nc net.Conn, serverName string) (net.Conn, error) {
		c, err := ccfg.TLSClient(ctx, nc, serverName)
		if err == nil {
			state = c.(*Conn).ConnectionState()
		}
		return c, err
	}
	c, _, err := ws.Dial(ctx, "wss://localhost:"+portOf(addr)+"/echo", &ws.DialOptions{TLSClient: hook})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(ctx, ws.MessageText, []byte("over psk")); err != nil {
		t.Fatal(err)
	}
	typ, msg, err := c.ReadMessage(ctx)
	if err != nil || typ != ws.MessageText || string(msg) != "over psk" {
		t.Fatalf("echo %v %q %v", typ, msg, err)
	}
	if string(state.Identity) != testIdentity || state.ServerName != "localhost" || state.NegotiatedProtocol != "" {
		t.Fatalf("state %+v", state)
	}
	if err := c.Close(ws.StatusNormalClosure, ""); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}

	// And a browser-like certificate client on the same port.
	cc, _, err := ws.Dial(ctx, "wss://localhost:"+portOf(addr)+"/echo", &ws.DialOptions{TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.WriteMessage(ctx, ws.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := cc.ReadMessage(ctx); err != nil || string(msg) != "\x01\x02\x03" {
		t.Fatalf("cert echo %q %v", msg, err)
	}
	_ = cc.Close(ws.StatusNormalClosure, "")
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// TestWebSocketOpenSSLClient: openssl s_client -psk carries a raw
// WebSocket upgrade and one masked text frame to our ws server.
func TestWebSocketOpenSSLClient(t *testing.T) {
	bin := lookPeer(t, "openssl", "openssl")
	addr := wsEchoServer(t, testServerConfig(t), nil)
	p := startPeer(t, bin, "s_client", "-connect", addr, "-psk", testKeyHex, "-psk_identity", testIdentity, "-brief", "-crlf", "-tls1_3")
	if !p.waitOrExit("CONNECTION ESTABLISHED", 10*time.Second) {
		t.Fatalf("no connection:\n%s", p.out.String())
	}
	// -crlf turns each \n into \r\n.
	req := "GET /echo HTTP/1.1\nHost: 127.0.0.1\nUpgrade: websocket\nConnection: Upgrade\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n"
	if _, err := p.stdin.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 5*time.Second) // RFC 6455 §1.3
	if !strings.Contains(p.out.String(), "HTTP/1.1 101") {
		t.Fatalf("no 101:\n%s", p.out.String())
	}
	// FIN+text, masked, 5 bytes, key 01 02 03 04, "hello" masked (no 0x0a
	// byte, which -crlf would expand).
	frame := []byte{0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1}
	if _, err := p.stdin.Write(frame); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, "\x81\x05hello", 5*time.Second)
	p.stdin.Close()
	p.wait(t, 5*time.Second)
}
