package ws_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/ws"
)

func TestDialTLS(t *testing.T) {
	t.Parallel()
	urls := make(chan string, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Accept(w, r, nil)
		if err != nil {
			return
		}
		urls <- c.URL().String()
		typ, msg, err := c.ReadMessage(r.Context())
		if err == nil {
			c.WriteMessage(r.Context(), typ, msg)
		}
		c.Close(ws.StatusNormalClosure, "")
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	wsURL := "wss" + strings.TrimPrefix(srv.URL, "https") + "/secure"

	t.Run("verified", func(t *testing.T) {
		c, _, err := ws.Dial(ctxT(t), wsURL, &ws.DialOptions{TLSConfig: &tls.Config{RootCAs: roots}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Abort()
		if _, ok := c.NetConn().(*tls.Conn); !ok {
			t.Fatalf("NetConn is %T", c.NetConn())
		}
		if got := <-urls; !strings.HasPrefix(got, "wss://") || !strings.HasSuffix(got, "/secure") {
			t.Fatalf("server URL %q", got)
		}
		c.WriteMessage(ctxT(t), ws.MessageText, []byte("over TLS"))
		if _, msg, err := c.ReadMessage(ctxT(t)); err != nil || string(msg) != "over TLS" {
			t.Fatalf("%q %v", msg, err)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		_, _, err := ws.Dial(ctxT(t), wsURL, nil)
		var verr *tls.CertificateVerificationError
		if !errors.As(err, &verr) {
			t.Fatalf("got %v, want a certificate verification error", err)
		}
	})
	t.Run("TLSClient hook", func(t *testing.T) {
		var sawName string
		c, _, err := ws.Dial(ctxT(t), wsURL, &ws.DialOptions{
			TLSClient: func(ctx context.Context, nc net.Conn, serverName string) (net.Conn, error) {
				sawName = serverName
				tc := tls.Client(nc, &tls.Config{RootCAs: roots, ServerName: "example.com"})
				return tc, tc.HandshakeContext(ctx)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		<-urls
		c.Abort()
		if sawName != "127.0.0.1" {
			t.Fatalf("hook got server name %q", sawName)
		}
	})
}
