// Package clientcmd is the "wssproxy client" command: a WebSocket client
// for the terminal and for scripts (lines, binary, JSON lines, echo and
// raw frames), with certificate pins, SSL error policies, TLS-PSK, client
// certificates, proxies, pause on SSL errors and remembered server keys
// (trust on first use). cmd/wssproxy dispatches to Run.
package clientcmd
