package servecmd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/clientcmd"
	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

const testPSK = "8f0a4c1be2d39a5746b1c0de55aa33cc8f0a4c1be2d39a5746b1c0de55aa33cc"

// pskFiles writes a server PSK file and a client key file (mode 0600).
func pskFiles(t *testing.T) (server, client string) {
	t.Helper()
	dir := t.TempDir()
	server, client = filepath.Join(dir, "psk.txt"), filepath.Join(dir, "device.key")
	if err := os.WriteFile(server, []byte("# devices\ndevice-1:"+testPSK+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(client, []byte(testPSK+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return server, client
}

// startServe runs "serve args…" on a free port and returns its address,
// stopping it (and checking it exits 0) at the end of the test.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := spawnServe(ctx, append([]string{"--listen", "127.0.0.1:0", "--log-level", "error"}, args...)...)
	addr := testpeer.AwaitServing(t, p.lines.C, p.done, p.logs)
	t.Cleanup(func() {
		cancel()
		p.exitOK(t, 10*time.Second)
	})
	return addr
}

// A PSK device and a certificate client on one port; a second proxy
// reaches the first over PSK.
func TestServePSK(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	pskFile, keyFile := pskFiles(t)
	front := startServe(t, "--dev-cert", "--psk-file", pskFile)
	ca := filepath.Join(os.Getenv("XDG_STATE_HOME"), "wssproxy", "devca", "ca.pem")
	chained := startServe(t, "--upstream", "wss://"+front+"/", "--upstream-psk-identity", "device-1", "--upstream-psk-key-file", keyFile)

	cases := []struct {
		name string
		args []string
	}{
		{"psk device", []string{"wss://" + front + "/", "--psk-identity", "device-1", "--psk-key-file", keyFile}},
		{"certificate client", []string{"wss://" + front + "/", "--ca", ca}},
		{"through a PSK upstream", []string{"ws://" + chained + "/"}},
	}
	for _, tc := range cases {
		var out, errb bytes.Buffer
		code := clientcmd.Run(context.Background(), append(tc.args, "--proxy", "direct"), strings.NewReader(tc.name+"\n"), &out, &errb)
		if code != 0 || out.String() != tc.name+"\n" {
			t.Errorf("%s: exit %d, %q, %q", tc.name, code, out.String(), errb.String())
		}
	}
	// An unknown identity is refused during the handshake.
	other := filepath.Join(t.TempDir(), "other.key")
	os.WriteFile(other, []byte(testPSK), 0o600)
	var out, errb bytes.Buffer
	if code := clientcmd.Run(context.Background(), []string{"wss://" + front + "/", "--psk-identity", "stranger", "--psk-key-file", other, "--proxy", "direct"},
		strings.NewReader(""), &out, &errb); code != clientcmd.ExitTLS || !strings.Contains(errb.String(), "TLS handshake") {
		t.Errorf("unknown identity: exit %d, %q", code, errb.String())
	}
	// A world-readable key file is refused before connecting.
	loose := filepath.Join(t.TempDir(), "loose.key")
	os.WriteFile(loose, []byte(testPSK), 0o644)
	errb.Reset()
	if code := clientcmd.Run(context.Background(), []string{"wss://" + front + "/", "--psk-identity", "device-1", "--psk-key-file", loose}, strings.NewReader(""), &out, &errb); code != 2 {
		t.Errorf("loose key file: exit %d, %q", code, errb.String())
	}
}

// openssl s_client with a PSK (TLS 1.3, and TLS 1.2 with --psk-tls12)
// carries a WebSocket upgrade and one masked text frame through the proxy
// to the echo server and back.
func TestOpenSSLPSKClientThroughServe(t *testing.T) {
	openssl := testpeer.LookPath(t, "openssl", "apt-get install openssl")
	pskFile, _ := pskFiles(t)
	addr := startServe(t, "--psk-file", pskFile, "--psk-tls12", "--psk-identity-hint", "wssproxy")
	_, port, _ := net.SplitHostPort(addr)
	for _, version := range [][]string{{"-tls1_3"}, {"-tls1_2", "-cipher", "PSK-AES128-GCM-SHA256"}, {"-tls1_2", "-cipher", "ECDHE-PSK-CHACHA20-POLY1305"}} {
		t.Run(strings.Join(version, " "), func(t *testing.T) { opensslUpgrade(t, openssl, port, version) })
	}
}

func opensslUpgrade(t *testing.T, openssl, port string, version []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append([]string{"s_client", "-connect", "127.0.0.1:" + port}, version...)
	cmd := exec.CommandContext(ctx, openssl, append(args, "-psk", testPSK, "-psk_identity", "device-1", "-quiet", "-no_ign_eof")...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()

	fmt.Fprintf(stdin, "GET /psk HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", port)
	br := bufio.NewReader(stdout)
	status, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 101") {
		t.Fatalf("status %q %v; openssl: %s", status, err, stderr.String())
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	// One masked text frame, as a browser would send it.
	key := [4]byte{1, 2, 3, 4}
	payload := []byte("hello over PSK")
	frame := append([]byte{0x81, 0x80 | byte(len(payload))}, key[:]...)
	masked := append([]byte(nil), payload...)
	ws.Mask(key, 0, masked)
	stdin.Write(append(frame, masked...))
	var hdr [ws.MaxHeaderSize]byte
	h, err := ws.ReadHeader(br, &hdr)
	if err != nil || h.OpCode != ws.OpText || h.Masked {
		t.Fatalf("echo header %+v %v", h, err)
	}
	got := make([]byte, h.Length)
	if _, err := io.ReadFull(br, got); err != nil || string(got) != string(payload) {
		t.Fatalf("echo %q %v", got, err)
	}
}
