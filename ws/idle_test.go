package ws_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// An idle connection waits on the socket without a read buffer; over TLS,
// a record that crypto/tls read together with an earlier one is already
// off the socket, and must still be found (the socket will not signal
// it). The server sends two messages in two TLS records back to back; the
// client reads them only once both have arrived, so one socket read takes
// both records.
func TestIdleWaitFindsBufferedTLSRecord(t *testing.T) {
	t.Parallel()
	send := make(chan struct{})
	c, sent := dialTwoRecords(t, send)
	close(send)
	<-sent
	time.Sleep(100 * time.Millisecond) // both records in the socket
	for _, want := range []string{"first", "second"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, got, err := c.ReadMessage(ctx)
		cancel()
		if err != nil || string(got) != want {
			t.Fatalf("got %q, %v; want %q (a record buffered by crypto/tls was missed)", got, err, want)
		}
	}
}

// dialTwoRecords dials a wss server that, once send is closed, sends the
// text messages "first" and "second" in two TLS records back to back
// (sent is closed then), and reads until the client goes.
func dialTwoRecords(t *testing.T, send <-chan struct{}) (c *ws.Conn, sent <-chan struct{}) {
	t.Helper()
	written := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.Abort()
		<-send
		for _, m := range []string{"first", "second"} { // one flush, one TLS record each
			if err := c.WriteMessage(r.Context(), ws.MessageText, []byte(m)); err != nil {
				return
			}
		}
		close(written)
		c.ReadMessage(r.Context()) // until the client goes
	}))
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c, _, err := ws.Dial(ctxT(t), "wss"+strings.TrimPrefix(srv.URL, "https"), &ws.DialOptions{TLSConfig: &tls.Config{RootCAs: roots}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Abort)
	return c, written
}
