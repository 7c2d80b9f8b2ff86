package tlsconf_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wssproxy/wssproxy/tlsconf"
)

// A FileStore keeps remembered pins in a known_hosts-like file; a
// Registry given it writes the pins remembered on resume there and loads
// them at start.
func ExampleFileStore() {
	dir, _ := os.MkdirTemp("", "pins")
	defer os.RemoveAll(dir)
	store, err := tlsconf.NewFileStore(filepath.Join(dir, tlsconf.DefaultPinsFileName), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	pin := tlsconf.Pin{Kind: tlsconf.PinSPKI, Sum: sha256.Sum256([]byte("a public key"))}
	err = store.PutPin(ctx, tlsconf.PinEntry{
		Server: "upstream.example:443", Pin: pin, Kinds: []tlsconf.ErrorKind{tlsconf.SelfSigned},
		Added: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), Source: tlsconf.SourceOperator,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	data, _ := os.ReadFile(store.Path())
	fmt.Print(string(data))

	reg := tlsconf.NewRegistryWithOptions(&tlsconf.RegistryOptions{Store: store})
	if err := reg.LoadPins(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(reg.RememberedPins("upstream.example:443")), "pin remembered")
	// Output:
	// upstream.example:443 sha256//C3NI+gOJcMSOwHzXO2JX857IEPYPFu5zti48biYQq8Y= kinds=self-signed added=2026-11-28T12:00:00Z source=operator
	// 1 pin remembered
}
