// Package certs provides the certificates that wssproxy's TLS listeners
// serve, behind one small interface, [Source]:
//
//   - [FileSource]: a PEM certificate chain and private key (RSA, ECDSA or
//     Ed25519) read from files, reloaded when the files change and on an
//     explicit [FileSource.Reload] (the command wires SIGHUP to it).
//   - [ACMESource]: certificates obtained and renewed over ACME (RFC 8555)
//     through github.com/caddyserver/certmagic, with HTTP-01 and
//     TLS-ALPN-01 (RFC 8737) challenges answered by wssproxy's own
//     listeners, and on-demand issuance restricted to an allow-list.
//     Its state lives in a directory by default; for a fleet of instances,
//     ACMEOptions.Storage takes a shared certmagic.Storage such as
//     certs/etcdstorage, so each certificate is obtained once.
//   - [DevCA]: a local development CA and a short-lived leaf for
//     localhost, written once to a directory and reused afterwards; serve
//     the leaf with a FileSource.
//
// Every source keeps its current certificate behind an atomic pointer (or,
// for ACME, certmagic's cache), so TLS handshakes never wait on a reload,
// and a reload that fails keeps serving the previous certificate and
// reports why.
//
// The package also has the pin tooling behind "wssproxy certs pin":
// [SummarizePEM] lists the subject, SHA-256 fingerprint and SPKI pin
// of each certificate in PEM data, and [ProbeChain] fetches the chain a TLS
// server presents without trusting it.
//
// Default file locations live under the user's state directory, see
// [StateDir].
package certs
