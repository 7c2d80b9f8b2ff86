package servecmd

import (
	"context"
	"crypto/tls"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

// serve --acme-domain obtains its certificate from a real ACME server
// (Pebble, validating TLS-ALPN-01 against the serve listener itself) and
// then serves wss with it.
func TestServeACMEWithPebble(t *testing.T) {
	free := testpeer.FreePorts(t, 2)
	port := free[0]
	p := testpeer.StartPebble(t, free[1], port)

	const name = "ws.wssproxy.test"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := spawnServe(ctx, "--listen", "127.0.0.1:"+strconv.Itoa(port),
		"--acme-domain", name, "--acme-ca", p.DirURL, "--acme-ca-root", p.APIRootsFile,
		"--acme-storage", t.TempDir(), "--acme-email", "ops@wssproxy.test", "--log-level", "warn")
	if l := srv.line(t, 20*time.Second); !strings.HasPrefix(l, "wssproxy: serving wss://") {
		t.Fatalf("printed %q", l)
	}
	roots := p.IssuingRoots(t)
	url := "wss://127.0.0.1:" + strconv.Itoa(port) + "/"
	var c *ws.Conn
	var err error
	deadline := time.Now().Add(45 * time.Second)
	for {
		c, _, err = ws.Dial(ctx, url, &ws.DialOptions{TLSConfig: &tls.Config{ServerName: name, RootCAs: roots}})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate from Pebble in time: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	defer c.Abort()
	testpeer.Echo(ctx, t, c, ws.MessageText, "acme")
	c.Close(ws.StatusNormalClosure, "")
	cancel()
	srv.exitOK(t, 10*time.Second)
}
