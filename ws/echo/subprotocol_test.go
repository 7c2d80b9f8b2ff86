package echo_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

// nodeClient connects Node's ws package (tests/interop/node, installed by
// scripts/peers/node.sh) to url offering protocols, sends one message and
// returns what it saw: the selected protocol and the echo, or the error.
const nodeClient = `
const WebSocket = require('ws');
const [url, ...protocols] = process.argv.slice(1);
const ws = new WebSocket(url, protocols);
const out = {};
ws.on('open', () => { out.protocol = ws.protocol; ws.send('hello'); });
ws.on('message', (d) => { out.echo = d.toString(); ws.close(1000); });
ws.on('error', (e) => { out.error = e.message; });
ws.on('close', (code) => { out.close = code; console.log(JSON.stringify(out)); });
setTimeout(() => { out.error = 'timeout'; console.log(JSON.stringify(out)); process.exit(1); }, 10000).unref();
`

type nodeResult struct {
	Protocol string `json:"protocol"`
	Echo     string `json:"echo"`
	Error    string `json:"error"`
	Close    int    `json:"close"`
}

func runNode(t *testing.T, url string, protocols ...string) nodeResult {
	t.Helper()
	node := testpeer.LookPath(t, "node", "apt-get install nodejs npm")
	mods, err := filepath.Abs(filepath.Join("..", "..", "tests", "interop", "node", "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mods, "ws", "package.json")); err != nil {
		testpeer.Missing(t, "node ws", "bash scripts/peers/node.sh")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"-e", nodeClient, url}, protocols...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var r nodeResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("node printed %q: %v", out, err)
	}
	return r
}

// The echo server selects the first subprotocol a client offers, so a
// Node ws client offering some connects (it failed with "Server sent no
// subprotocol" before); with AcceptOptions.Subprotocols it selects from
// those only, and a client offering none of them gets none.
func TestSubprotocolNode(t *testing.T) {
	s := echo.Start(listen(t), nil, nil)
	defer s.Shutdown(context.Background(), ws.StatusGoingAway, "")
	url := "ws://" + s.Addr().String() + "/"

	for _, offer := range [][]string{{"chat.v1"}, {"mqtt", "chat.v1"}} {
		r := runNode(t, url, offer...)
		if r.Error != "" || r.Protocol != offer[0] || r.Echo != "hello" || r.Close != 1000 {
			t.Errorf("offering %q: %+v, want protocol %q, the echo and 1000", offer, r, offer[0])
		}
	}
	if r := runNode(t, url); r.Error != "" || r.Protocol != "" || r.Echo != "hello" {
		t.Errorf("offering none: %+v", r)
	}

	strict := echo.Start(listen(t), &echo.Handler{Accept: &ws.AcceptOptions{Subprotocols: []string{"chat.v2", "chat.v1"}}}, nil)
	defer strict.Shutdown(context.Background(), ws.StatusGoingAway, "")
	surl := "ws://" + strict.Addr().String() + "/"
	if r := runNode(t, surl, "chat.v1", "chat.v2"); r.Error != "" || r.Protocol != "chat.v2" || r.Echo != "hello" {
		t.Errorf("server preference: %+v, want chat.v2", r)
	}
	if r := runNode(t, surl, "mqtt"); !strings.Contains(r.Error, "no subprotocol") || r.Echo != "" {
		t.Errorf("offering only an unsupported protocol: %+v, want Node's no-subprotocol error", r)
	}
}

// The Go client sees the same selection.
func TestSubprotocolGo(t *testing.T) {
	s := echo.Start(listen(t), nil, nil)
	defer s.Shutdown(context.Background(), ws.StatusGoingAway, "")
	c, _, err := ws.Dial(t.Context(), "ws://"+s.Addr().String()+"/", &ws.DialOptions{Subprotocols: []string{"b", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	if c.Subprotocol() != "b" {
		t.Fatalf("subprotocol %q, want b", c.Subprotocol())
	}
}
