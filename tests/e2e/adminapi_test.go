package e2e

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// adminFlags writes a fresh bearer token (mode 0600) and returns the serve
// flags of an admin API on a free loopback port, and the token.
func adminFlags(t *testing.T) ([]string, string) {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	file := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--admin", "127.0.0.1:0", "--admin-token-file", file}, token
}

// adminURL is the admin API's base URL, from serve's "admin API:" line
// (without the trailing slash).
func (px *serveProc) adminURL(t *testing.T) string {
	t.Helper()
	l := px.waitLine(t, "the admin API line", func(l string) bool { return strings.HasPrefix(l, "admin API:") })
	f := strings.Fields(l)
	if len(f) < 3 || !strings.HasPrefix(f[2], "http://") {
		t.Fatalf("admin line %q", l)
	}
	return strings.TrimSuffix(f[2], "/")
}

// adminClient makes one request per connection, so no idle connection
// (and goroutine) outlives a test.
var adminClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// adminDo sends a request to the admin API with the given Authorization
// header value ("" for none) and returns the status and body.
func adminDo(t *testing.T, method, url, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, string(body)
}

// metricSum fetches /metrics and returns the sum of every series of the
// named metric (prefix included), and whether it exists.
func metricSum(t *testing.T, adminURL, token, name string) (float64, bool) {
	t.Helper()
	code, body := adminDo(t, http.MethodGet, adminURL+"/metrics", "Bearer "+token)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %q", code, body)
	}
	var sum float64
	found := false
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, name) || len(l) > len(name) && l[len(name)] != ' ' && l[len(name)] != '{' {
			continue
		}
		f := strings.Fields(l)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", l, err)
		}
		sum += v
		found = true
	}
	return sum, found
}
