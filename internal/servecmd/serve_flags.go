package servecmd

import (
	"flag"
	"fmt"
	"io"

	"github.com/wssproxy/wssproxy/internal/cli"
	"github.com/wssproxy/wssproxy/internal/config"
)

const serveUsage = `Usage: wssproxy serve [flags]
       wssproxy serve --config FILE [--log-format F] [--log-level L] [--grace D]

Relays WebSocket connections from a listener (ws, or wss with a certificate)
to an upstream (ws or wss, verified, pinned or with an ignore policy).

With no listener, certificate or upstream flag it runs the embedded default: wss on 127.0.0.1:8443
with a development certificate (a local CA created once under the state
directory), relaying to the built-in echo server; it prints the URL, the
certificate's pin and a command to try it.

--listen alone serves plain ws; --cert/--key, --acme-domain or --dev-cert
make it wss, and --psk-file accepts TLS-PSK devices (on the same port, or
alone). Without --upstream the built-in echo server is the upstream.

--config FILE reads several listeners and routes from a YAML file (see
docs/config.md); it excludes the single-route flags, while --log-format,
--log-level, --grace, --admin, --admin-token-file, --pause-max-pending,
--pause-max-waiters, --store and --store-etcd-* override the file.

--admin ADDR serves the admin API (docs/admin.md): connections, paused
handshakes, /metrics, /healthz, /readyz. On host:port it needs
--admin-token-file (a bearer token, mode 0600); on unix:/path the socket's
permissions guard it. --pause-on-ssl-errors holds upstream handshakes with
certificate problems until they are resumed or aborted there; handshakes
meeting the same certificate wait on one decision, and at most
--pause-max-pending decisions (--pause-max-pending-per-route per route)
are pending at once, each with at most --pause-max-waiters handshakes:
beyond, clients get 503. A key remembered on resume (remember_as_pin) is
kept in the trust store, --store file:PATH (default upstream_pins in the
state directory), read at start and watched; GET /v1/pins lists the
pins, DELETE /v1/pins/SERVER/PIN revokes one.

--store etcd://HOST:PORT,…/PREFIX makes the instance a fleet member: pins,
PSK identities (--psk-from-store), ACME certificates and paused
handshakes are shared through etcd (--store-etcd-ca-file, -cert-file,
-key-file for TLS, -username and -password-file for auth). While etcd is
away, serve goes on from its cache file (-cache-file), /readyz says
degraded and writes are queued.

SIGTERM or SIGINT drains every listener (1001 to both legs, then up to
--grace); SIGHUP reloads every certificate source.

Flags:
`

// parseServeFlags parses serve's arguments. With --config it returns the
// file's path and a Config holding only the overriding flags; otherwise
// the single-listener configuration (see config.ServeFlags).
func parseServeFlags(args []string, stderr io.Writer) (config.Config, string, map[string]bool, error) {
	fs := flag.NewFlagSet("wssproxy serve", flag.ContinueOnError)
	sf := config.NewServeFlags(fs)
	if err := cli.ParseFlags(fs, serveUsage, args, stderr); err != nil {
		return config.Config{}, "", nil, err
	}
	if fs.NArg() > 0 {
		return config.Config{}, "", nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return sf.Config()
}
