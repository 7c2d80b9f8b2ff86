package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func pskServerConfig() *psk.ServerConfig {
	return &psk.ServerConfig{GetKey: func(_ context.Context, id []byte) ([]byte, error) {
		if string(id) == "device-1" {
			return testKey, nil
		}
		return nil, nil
	}}
}

// One port serves a PSK device and a certificate client; a PSK upstream
// sits behind the proxy. The route chain: client -> proxy (PSK or cert)
// -> proxy 2 (PSK only) -> echo.
func TestPSKLegs(t *testing.T) {
	t.Parallel()
	pki := devpki.New(t)
	up := startUpstream(t, nil, echoHandle)
	// Proxy 2: PSK-only wss in front of the echo backend.
	inner, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url()}}, PSK: pskServerConfig()})
	innerWSS := "wss://" + strings.TrimPrefix(inner, "ws://")
	// Proxy 1: PSK and certificates on one port, PSK towards proxy 2.
	outer, _ := startProxyTLS(t, Options{
		TLS: serverTLS(t, pki), PSK: pskServerConfig(),
		Routes: []Route{{Upstream: innerWSS, UpstreamPSK: &psk.ClientConfig{Identity: []byte("device-1"), Key: testKey}}},
	})

	device := &psk.ClientConfig{Identity: []byte("device-1"), Key: testKey}
	for name, opts := range map[string]*ws.DialOptions{
		"psk device":         {TLSClient: device.TLSClient},
		"certificate client": {TLSConfig: &tls.Config{RootCAs: testpeer.CertPool(t, pki.CACertFile)}},
	} {
		c := dial(t, outer, opts)
		if err := c.WriteMessage(ctxT(t), ws.MessageText, []byte(name)); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := c.ReadMessage(ctxT(t)); err != nil || string(msg) != name {
			t.Fatalf("%s: %q %v", name, msg, err)
		}
		c.Close(ws.StatusNormalClosure, "")
	}

	// A wrong key is refused in the TLS handshake; nothing is relayed.
	wrong := &psk.ClientConfig{Identity: []byte("device-1"), Key: []byte("wrong-key-wrong-key-wrong-key-00")}
	_, _, err := ws.Dial(ctxT(t), outer, &ws.DialOptions{TLSClient: wrong.TLSClient})
	var alert *psk.AlertError
	if !errors.As(err, &alert) {
		t.Fatalf("wrong key: %v", err)
	}
	// Routes refuse PSK on a ws:// upstream or together with UpstreamTLS.
	if _, err := New(&Options{Routes: []Route{{Upstream: "ws://x", UpstreamPSK: device}}}); err == nil {
		t.Fatal("PSK upstream over ws:// accepted")
	}
}
