package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
)

// browserPage opens PROXY (wss) from the page and echoes messages through
// it: a text message with multi-byte characters, a 70,000-byte binary
// message and a 1 MiB + 1 binary message (split by the proxy), then
// closes with 4000 and a reason. run() resolves to what it saw.
const browserPage = `<!doctype html>
<meta charset="utf-8">
<title>wssproxy e2e</title>
<script>
const PROXY = %q;
function pattern(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = i %% 251;
  return b;
}
function same(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
function run() {
  return new Promise((resolve) => {
    const out = { opened: false, echoes: [], close: null, errors: 0 };
    const sent = ['hello ✓ from chromium 😀', pattern(70000), pattern((1 << 20) + 1)];
    const ws = new WebSocket(PROXY + '?from=chromium');
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      out.opened = true;
      for (const m of sent) ws.send(m);
    };
    ws.onmessage = (ev) => {
      const want = sent[out.echoes.length];
      if (typeof ev.data === 'string') {
        out.echoes.push({ type: 'text', len: ev.data.length, ok: ev.data === want });
      } else {
        const got = new Uint8Array(ev.data);
        out.echoes.push({ type: 'binary', len: got.length, ok: typeof want !== 'string' && same(got, want) });
      }
      if (out.echoes.length === sent.length) ws.close(4000, 'bye ✓ from chromium');
    };
    ws.onerror = () => { out.errors++; };
    ws.onclose = (ev) => {
      out.close = { code: ev.code, reason: ev.reason, clean: ev.wasClean };
      resolve(out);
    };
  });
}
</script>
<p>wssproxy end-to-end test page</p>
`

type browserResult struct {
	Opened bool `json:"opened"`
	Echoes []struct {
		Type string `json:"type"`
		Len  int    `json:"len"`
		OK   bool   `json:"ok"`
	} `json:"echoes"`
	Close struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
		Clean  bool   `json:"clean"`
	} `json:"close"`
	Errors int `json:"errors"`
}

// Headless Chromium opens wss through the binary (trusting the dev leaf by
// its SPKI hash) to "wssproxy echo" from a page served on 127.0.0.1, and
// echoes text and binary messages; the same page from another origin
// (localhost) is refused by --allowed-origin.
func TestChromium(t *testing.T) {
	t.Parallel()
	chromium := testpeer.LookPath(t, "chromium", "apt-get install chromium (scripts/peers/e2e.apt)")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	origin := fmt.Sprintf("http://127.0.0.1:%d", port)
	// The same port accepts TLS-PSK devices (checked at the end).
	pskFile := filepath.Join(t.TempDir(), "psk.txt")
	if err := os.WriteFile(pskFile, []byte("device-1:"+hex.EncodeToString(browserPSK)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	px := startServe(t, append(devCert(), "--upstream", startEcho(t), "--allowed-origin", origin, "--psk-file", pskFile)...)
	page := fmt.Sprintf(browserPage, px.url)
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, page)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	profile, err := os.MkdirTemp("", "wssproxy-e2e-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Chromium's helpers may still write there for a moment.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // as root
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", strings.TrimPrefix(env.dev.SPKIPin, "sha256//")),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	// Bound everything, the browser's start included (chromedp wants no
	// deadline on the first Run's context, so this cancels it instead).
	watchdog := time.AfterFunc(45*time.Second, cancel)
	defer watchdog.Stop()

	run := func(url string) browserResult {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
			t.Fatalf("navigating to %s: %v", url, err)
		}
		res, err := chromedp.Run(ctx, chromedp.Evaluate[browserResult](`run()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("running the page at %s: %v", url, err)
		}
		return res
	}

	start := time.Now()
	res := run(origin + "/")
	t.Logf("chromium through wssproxy: %+v (%v)", res, time.Since(start).Round(time.Millisecond))
	if !res.Opened || res.Errors != 0 {
		t.Fatalf("the page's WebSocket did not open cleanly: %+v", res)
	}
	if len(res.Echoes) != 3 {
		t.Fatalf("%d echoes, want 3: %+v", len(res.Echoes), res.Echoes)
	}
	for i, e := range res.Echoes {
		if !e.OK {
			t.Errorf("echo %d (%s, %d) differs from what was sent", i, e.Type, e.Len)
		}
	}
	if res.Close.Code != 4000 || res.Close.Reason != "bye ✓ from chromium" || !res.Close.Clean {
		t.Errorf("close %+v, want a clean 4000 with the reason echoed", res.Close)
	}

	// The same page from another origin: refused with 403 before open.
	other := run(fmt.Sprintf("http://localhost:%d/", port))
	if other.Opened || other.Close.Code != 1006 {
		t.Errorf("page from another origin: %+v, want no open and 1006", other)
	}
	px.waitStderr(t, "origin refused")

	// A device with a PSK on the port the browser used with a certificate.
	device := &psk.ClientConfig{Identity: []byte("device-1"), Key: browserPSK}
	c, _, err := ws.Dial(context.Background(), px.url, &ws.DialOptions{
		TLSClient: device.TLSClient, Header: http.Header{"Origin": {origin}},
	})
	if err != nil {
		t.Fatalf("PSK device on the browser's port: %v", err)
	}
	defer c.Abort()
	if err := c.WriteMessage(context.Background(), ws.MessageText, []byte("from a device")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(context.Background()); err != nil || string(msg) != "from a device" {
		t.Fatalf("PSK echo: %q %v", msg, err)
	}
	c.Close(ws.StatusNormalClosure, "")
}

// browserPSK is the device key of TestChromium's shared port.
var browserPSK = []byte("0123456789abcdef0123456789abcdef")
