package e2e

import (
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crossPair is a client/server pairing of the close tests.
type crossPair struct {
	client, server peer
	clientLeg      string
	upstream       upstreamLeg
}

// crossPairs are the client/server pairings of the close tests: each
// implementation once on each side of the binary, each leg kind once.
func crossPairs(t *testing.T) []crossPair {
	node, python := nodePeer(t), pythonPeer(t)
	return []crossPair{
		{node, python, "wss", upstreamLegs[1]},
		{python, node, "ws", upstreamLegs[0]},
	}
}

// eachCrossPair runs test as a parallel subtest per cross pair, named
// CLIENT-client/SERVER-server, with the pair's upstream server and the
// binary in front of it (with the extra flags) started.
func eachCrossPair(t *testing.T, extra []string, test func(t *testing.T, pc crossPair, srv *peerServer, px *serveProc)) {
	for _, pc := range crossPairs(t) {
		t.Run(pc.client.name+"-client/"+pc.server.name+"-server", func(t *testing.T) {
			t.Parallel()
			srv := startPeerServer(t, pc.server, pc.upstream.secure)
			test(t, pc, srv, startServe(t, serveArgs(srv, pc.clientLeg, pc.upstream, extra...)...))
		})
	}
}

// wantUpstreamClose checks that the upstream server saw connection id
// closed with code, and logs what it got.
func wantUpstreamClose(t *testing.T, srv *peerServer, id string, code int) {
	t.Helper()
	if e := srv.waitEvent(t, id, "close"); e.Code != code {
		t.Errorf("upstream: close %d %q, want %d", e.Code, e.Reason, code)
	} else {
		t.Logf("upstream got %d %q", e.Code, e.Reason)
	}
}

// serveArgs are the flags of a proxy in front of srv with these legs.
func serveArgs(srv *peerServer, clientLeg string, ul upstreamLeg, extra ...string) []string {
	args := append([]string{"--upstream", srv.url + "/"}, ul.flags()...)
	if clientLeg == "wss" {
		args = append(args, devCert()...)
	}
	return append(args, extra...)
}

// The upstream process is killed (SIGKILL) after it sent the first
// fragment of a message: the client gets 1014 with a reason.
func TestUpstreamKilledMidMessage(t *testing.T) {
	t.Parallel()
	eachCrossPair(t, nil, func(t *testing.T, pc crossPair, srv *peerServer, px *serveProc) {
		const id = "killed-upstream"
		done := make(chan map[string]clientResult, 1)
		go func() {
			done <- runPeerClient(t, pc.client, []clientCase{{ID: id, Op: "await-close", URL: px.url + "partial?id=" + id}})
		}()
		defer func() { <-done }() // bounded by runPeerClient's timeout
		srv.waitEvent(t, id, "partial")
		srv.kill()
		var res map[string]clientResult
		select {
		case res = <-done:
			done <- res
		case <-time.After(waitTimeout):
			t.Fatal("the client did not finish")
		}
		r := res[id]
		if r.Error != "" || r.Code != 1014 || r.Reason == "" {
			t.Fatalf("client: close %d %q (error %q), want 1014 with a reason", r.Code, r.Reason, r.Error)
		}
		t.Logf("client got %d %q", r.Code, r.Reason)
	})
}

// The client process is killed (SIGKILL) while its connection is open:
// the upstream gets 1001.
func TestClientKilled(t *testing.T) {
	t.Parallel()
	eachCrossPair(t, nil, func(t *testing.T, pc crossPair, srv *peerServer, px *serveProc) {
		const id = "killed-client"
		cl := holdPeerClient(t, pc.client, px.url+"echo?id="+id)
		cl.kill()
		wantUpstreamClose(t, srv, id, 1001)
	})
}

// SIGTERM to the binary drains: both legs of every connection get 1001,
// and the binary exits 0.
func TestDrainOnSIGTERM(t *testing.T) {
	t.Parallel()
	for _, pc := range crossPairs(t) {
		t.Run(pc.server.name+"-server", func(t *testing.T) {
			t.Parallel()
			srv := startPeerServer(t, pc.server, pc.upstream.secure)
			px := startServe(t, serveArgs(srv, pc.clientLeg, pc.upstream, "--grace", "5s")...)
			clients := map[string]*proc{}
			for _, cp := range []peer{pc.client, pc.server} {
				id := "drain-" + cp.name
				clients[id] = holdPeerClient(t, cp, px.url+"echo?id="+id)
			}
			start := time.Now()
			if err := px.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			for id, cl := range clients {
				if e := cl.waitEvent(t, "", "close"); e.Code != 1001 {
					t.Errorf("%s: client got close %d %q, want 1001", id, e.Code, e.Reason)
				}
				if e := srv.waitEvent(t, id, "close"); e.Code != 1001 {
					t.Errorf("%s: upstream got close %d %q, want 1001", id, e.Code, e.Reason)
				}
			}
			if code := px.wait(t, 10*time.Second); code != 0 {
				t.Fatalf("wssproxy exited %d after SIGTERM, want 0", code)
			}
			t.Logf("drained and exited 0 in %v", time.Since(start).Round(time.Millisecond))
			if !strings.Contains(px.stderr.String(), "shutting down") {
				t.Errorf("no shutdown log line")
			}
		})
	}
}

// SIGTERM while a client is still in its handshake (here: connected, no
// ClientHello yet) still exits 0 within the grace period.
func TestDrainDuringHandshake(t *testing.T) {
	t.Parallel()
	px := startServe(t, append(devCert(), "--grace", "1s")...)
	nc, err := net.DialTimeout("tcp", px.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// The proxy has accepted it once a normal client got through after it.
	if got, body := request(t, px, upgradeHead()); got != 101 {
		t.Fatalf("normal client: %d %q", got, body)
	}
	start := time.Now()
	if err := px.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := px.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("wssproxy exited %d after SIGTERM, want 0", code)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("exited %v after SIGTERM with --grace 1s", d.Round(100*time.Millisecond))
	} else {
		t.Logf("exited 0 after %v", d.Round(10*time.Millisecond))
	}
}
