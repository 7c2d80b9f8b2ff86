package psk_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"

	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
)

// A PSK server and client on loopback. Keys come from
// "openssl rand -hex 32"; this one is fixed for the example.
func Example() {
	key := []byte("0123456789abcdef0123456789abcdef")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	serverCfg := &psk.ServerConfig{
		GetKey: func(ctx context.Context, identity []byte) ([]byte, error) {
			if string(identity) == "device-1" {
				return key, nil
			}
			return nil, nil // unknown identity: handshake_failure
		},
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		c := psk.Server(nc, serverCfg)
		defer c.Close()
		_, _ = io.Copy(c, io.LimitReader(c, 5))
	}()

	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	c := psk.Client(nc, &psk.ClientConfig{Identity: []byte("device-1"), Key: key})
	defer c.Close()
	if err := c.HandshakeContext(context.Background()); err != nil {
		log.Fatal(err)
	}
	st := c.ConnectionState()
	fmt.Println(psk.CipherSuiteName(st.CipherSuite), st.Group, string(st.Identity))
	c.Write([]byte("hello"))
	buf := make([]byte, 5)
	io.ReadFull(c, buf)
	fmt.Println(string(buf))
	<-done
	// Output:
	// TLS_AES_128_GCM_SHA256 X25519 device-1
	// hello
}

// Dialing wss:// with a PSK: ClientConfig.TLSClient is a
// ws.DialOptions.TLSClient.
func ExampleClientConfig_TLSClient() {
	cfg := &psk.ClientConfig{Identity: []byte("device-1"), Key: []byte("0123456789abcdef0123456789abcdef")}
	opts := &ws.DialOptions{TLSClient: cfg.TLSClient}
	_ = opts // ws.Dial(ctx, "wss://proxy.example:443/", opts)
	fmt.Println("ok")
	// Output: ok
}

// A server reading its keys from a stunnel-style PSK file.
func ExampleOpenKeyFile() {
	dir, _ := os.MkdirTemp("", "psk")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "psk.txt")
	// Lines: identity:hexkey (openssl rand -hex 32). Mode 0600 or refused.
	os.WriteFile(path, []byte("# devices\ndevice-1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"), 0o600)
	kf, err := psk.OpenKeyFile(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	cfg := &psk.ServerConfig{GetKey: kf.GetKey}
	_ = cfg
	fmt.Println(kf.Identities())
	// Output: [device-1]
}

// One port for PSK devices and certificate browsers.
func ExampleNewListener() {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	pskCfg := &psk.ServerConfig{GetKey: func(context.Context, []byte) ([]byte, error) { return nil, nil }}
	certCfg := &tls.Config{ /* Certificates or GetCertificate */ }
	ln := psk.NewListener(inner, pskCfg, certCfg)
	defer ln.Close()
	// Serve ln like any listener: each Accept returns a *psk.MuxConn that
	// routes itself on first use; ws.ReadUpgrade(ctx, conn, nil) works on it.
	fmt.Println(ln.Addr().Network())
	// Output: tcp
}
