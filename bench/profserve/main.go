// Command profserve is a bench-only stand-in for `wssproxy serve --listen
// ADDR --cert F --key F --upstream URL` that also serves net/http/pprof on
// a loopback address, so that bench/compare.sh can take heap and CPU
// profiles of the relay under load. It builds the same proxy.Server the
// serve command builds for those flags (certificate file source, tlsconf
// server defaults, one route with every default), without the serve
// command's signal reloads and admin API. Production binaries never serve
// pprof.
//
//	go run ./bench/profserve --listen 127.0.0.1:19443 --cert cert.pem --key key.pem \
//	    --upstream ws://127.0.0.1:19080/ --pprof 127.0.0.1:19460
//	go tool pprof -top -sample_index=inuse_space http://127.0.0.1:19460/debug/pprof/heap
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/ws"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "profserve:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends; ready, if set, gets the proxy's and pprof's
// addresses once both listen.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(proxyAddr, pprofAddr string)) error {
	fs := flag.NewFlagSet("profserve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:19443", "address of the wss listener")
	certFile := fs.String("cert", "", "PEM certificate chain")
	keyFile := fs.String("key", "", "PEM private key")
	upstream := fs.String("upstream", "", "ws:// or wss:// upstream URL")
	pprofAddr := fs.String("pprof", "127.0.0.1:19460", "loopback address for net/http/pprof")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *certFile == "" || *keyFile == "" || *upstream == "" {
		return errors.New("--cert, --key and --upstream are required")
	}
	host, _, err := net.SplitHostPort(*pprofAddr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--pprof %s: only a loopback address is allowed", *pprofAddr)
	}

	src, err := certs.NewFileSource(&certs.FileOptions{CertFile: *certFile, KeyFile: *keyFile})
	if err != nil {
		return err
	}
	tlsCfg, err := tlsconf.ServerConfig(&tlsconf.ServerOptions{Base: certs.TLSConfig(src, &tls.Config{NextProtos: []string{"http/1.1"}})})
	if err != nil {
		return err
	}
	srv, err := proxy.New(&proxy.Options{Routes: []proxy.Route{{Upstream: *upstream}}, TLS: tlsCfg})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	pln, err := net.Listen("tcp", *pprofAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listening for pprof: %w", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	hdone := make(chan struct{})
	go func() { defer close(hdone); _ = hs.Serve(pln) }()

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(sctx, ln) }()
	if ready != nil {
		ready(ln.Addr().String(), pln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
		errc <- nil
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	_ = hs.Shutdown(dctx)
	<-hdone
	if serr := srv.Shutdown(dctx, ws.StatusGoingAway, "shutting down"); serr != nil && err == nil {
		err = serr
	}
	cancel()
	if serr := <-errc; serr != nil && err == nil {
		err = serr
	}
	return err
}
