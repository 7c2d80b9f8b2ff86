package tlsconf_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/wssproxy/wssproxy/tlsconf"
)

// Trust on first use for an embedder: the first handshake with an
// unknown self-signed server asks Decide (here: remember), later ones
// are decided by the remembered key alone, and another key is refused.
func Example_trustOnFirstUse() {
	now := time.Now()
	cert, _ := selfSigned("device.local", now.Add(-time.Hour), now.Add(time.Hour))
	addr, stop := serve(cert)
	defer stop()
	_, port, _ := net.SplitHostPort(addr)

	dir, _ := os.MkdirTemp("", "tofu")
	defer os.RemoveAll(dir)
	store, err := tlsconf.NewFileStore(filepath.Join(dir, "known_pins"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	tofu := &tlsconf.TOFU{
		Store:  store,
		Server: "device.local:" + port,
		Decide: func(ctx context.Context, req tlsconf.TOFURequest) (tlsconf.TOFUDecision, error) {
			// A program would show req.Chain and req.Errors to a person.
			fmt.Println("first contact, errors:", req.Errors[0].Kind)
			return tlsconf.TOFURemember, nil
		},
	}
	client, err := tlsconf.NewClient(&tlsconf.ClientOptions{ServerName: "device.local", TOFU: tofu})
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, err := client.DialContext(ctx, "tcp", addr)
		cancel()
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("connected")
		conn.Close()
	}

	// The same name, another key.
	other, _ := selfSigned("device.local", now.Add(-time.Hour), now.Add(time.Hour))
	addr2, stop2 := serve(other)
	defer stop2()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = client.DialContext(ctx, "tcp", addr2)
	var changed *tlsconf.KeyChangedError
	fmt.Println("changed key refused:", errors.As(err, &changed))
	// Output:
	// first contact, errors: self-signed
	// connected
	// connected
	// changed key refused: true
}
