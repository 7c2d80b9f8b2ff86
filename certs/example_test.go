package certs_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// DevCA creates a development CA and a localhost leaf once, and reuses
// them afterwards.
func ExampleDevCA() {
	dir, err := os.MkdirTemp("", "devca")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	r, err := certs.DevCA(&certs.DevCAOptions{Dir: dir, Hosts: []string{"ws.example.test"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created CA:", r.CreatedCA, "issued leaf:", r.IssuedLeaf)
	fmt.Println("hosts:", r.Hosts)
	fmt.Println("trust:", filepath.Base(r.CACertFile))
	fmt.Println("serve:", filepath.Base(r.CertFile), filepath.Base(r.KeyFile))
	fmt.Println("pin form:", strings.HasPrefix(r.SPKIPin, "sha256//"))

	again, err := certs.DevCA(&certs.DevCAOptions{Dir: dir, Hosts: []string{"ws.example.test"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("rerun created CA:", again.CreatedCA, "issued leaf:", again.IssuedLeaf, "same pin:", again.SPKIPin == r.SPKIPin)
	// Output:
	// created CA: true issued leaf: true
	// hosts: [localhost 127.0.0.1 ::1 ws.example.test]
	// trust: ca.pem
	// serve: cert.pem key.pem
	// pin form: true
	// rerun created CA: false issued leaf: false same pin: true
}

// devCertFiles gives the examples that start from certificate files a
// development CA and a localhost leaf in a new temporary directory, which
// cleanup removes.
func devCertFiles() (dev *certs.DevCAResult, cleanup func()) {
	dir, err := os.MkdirTemp("", "certs-example")
	if err != nil {
		log.Fatal(err)
	}
	dev, err = certs.DevCA(&certs.DevCAOptions{Dir: dir})
	if err != nil {
		os.RemoveAll(dir)
		log.Fatal(err)
	}
	return dev, func() { os.RemoveAll(dir) }
}

// NewFileSource serves PEM files; Watch follows replacements and Reload
// (wired to SIGHUP by the command) reloads on demand.
func ExampleNewFileSource() {
	dev, cleanup := devCertFiles()
	defer cleanup()

	src, err := certs.NewFileSource(&certs.FileOptions{CertFile: dev.CertFile, KeyFile: dev.KeyFile})
	if err != nil {
		log.Fatal(err) // unreadable files, no certificate, key mismatch, …
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go src.Watch(ctx) // stops when ctx is cancelled

	srv := &http.Server{TLSConfig: certs.TLSConfig(src, nil)}
	_ = srv // srv.ListenAndServeTLS("", "") serves src's certificate

	if err := src.Reload(ctx); err != nil {
		log.Print(err) // the previous certificate stays in use
	}
	fmt.Println(src.Leaf().Subject.CommonName)
	// Output: localhost
}

// SummarizePEM lists the pins to put in a client's configuration.
func ExampleSummarizePEM() {
	dev, cleanup := devCertFiles()
	defer cleanup()
	pemBytes, err := os.ReadFile(dev.CertFile)
	if err != nil {
		log.Fatal(err)
	}
	infos, err := certs.SummarizePEM(pemBytes)
	if err != nil {
		log.Fatal(err)
	}
	for _, ci := range infos {
		fmt.Println(ci.Subject, ci.SPKIPin == dev.SPKIPin, len(ci.Fingerprint))
	}
	// certs.WriteSummaries(os.Stdout, infos) prints the "certs pin" form.
	// Output: CN=localhost,O=wssproxy development certificate true 64
}

// ProbeChain shows what a server presents, without trusting it.
func ExampleProbeChain() {
	res, err := certs.ProbeChain(context.Background(), "example.com:443", &certs.ProbeOptions{SNI: "example.com"})
	if err != nil {
		log.Fatal(err)
	}
	_ = certs.WriteSummaries(os.Stdout, tlsconf.Summarize(res.Chain))
	_ = tls.VersionName(res.State.Version)
}

// NewACMESource obtains certificates over ACME; wssproxy's own listeners
// answer the challenges. (Not run: it needs a reachable ACME CA.)
func ExampleNewACMESource() {
	src, err := certs.NewACMESource(&certs.ACMEOptions{
		Domains:          []string{"ws.example.com"},
		OnDemandAllow:    []string{"*.devices.example.com"}, // never arbitrary SNI
		CA:               certs.LetsEncryptStaging,
		Email:            "ops@example.com",
		ReusePrivateKeys: true, // clients pin the SPKI
		ClientsPinSPKI:   true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	// HTTP-01 on :80, everything else redirected to https.
	go http.ListenAndServe(":80", src.HTTPHandler(http.RedirectHandler("https://ws.example.com/", http.StatusMovedPermanently)))
	// TLS-ALPN-01 and the wss traffic on :443: TLSConfig adds acme-tls/1.
	srv := &http.Server{Addr: ":443", TLSConfig: certs.TLSConfig(src, nil)}
	go srv.ListenAndServeTLS("", "")

	ctx := context.Background()
	if err := src.Manage(ctx); err != nil { // obtain or load, then renew in the background
		log.Fatal(err)
	}
	fmt.Println(src.Describe())
}
