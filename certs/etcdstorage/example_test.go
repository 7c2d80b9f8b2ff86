package etcdstorage_test

import (
	"fmt"
	"log"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/certs/etcdstorage"
)

// Every instance of a fleet builds the same storage on the same etcd
// cluster and prefix and gives it to its ACME source: the instances then
// obtain and renew ws.example.com's certificate once and all serve it.
// Nothing here contacts etcd or the CA yet; src.Manage(ctx) would.
func ExampleNew() {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: []string{"127.0.0.1:2379", "127.0.0.2:2379", "127.0.0.3:2379"},
		// TLS: &tls.Config{…} and Username/Password for a real cluster.
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close() // the client is the caller's; the storage never closes it

	st, err := etcdstorage.New(cli, "/wssproxy", nil) // lock TTL 15 s, 5 s per request
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close() // releases the locks it still holds

	src, err := certs.NewACMESource(&certs.ACMEOptions{
		Domains: []string{"ws.example.com"},
		Email:   "ops@example.com",
		Storage: st,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	fmt.Println(st)
	fmt.Println(src.Describe())
	// Output:
	// etcd:/wssproxy/acme/
	// acme ca=https://acme-v02.api.letsencrypt.org/directory domains=[ws.example.com] on_demand=[] storage=etcd:/wssproxy/acme/ reuse_keys=false
}
