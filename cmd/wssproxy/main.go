// Command wssproxy is a TLS-focused WebSocket proxy, echo server and
// client. Run "wssproxy help" for the commands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wssproxy/wssproxy/internal/cli"
	"github.com/wssproxy/wssproxy/internal/clientcmd"
	"github.com/wssproxy/wssproxy/internal/servecmd"
)

const usage = `wssproxy: a TLS-focused WebSocket proxy, echo server and client.

Usage:
  wssproxy serve [flags]                            the proxy (no flags: wss on 127.0.0.1:8443 -> echo)
  wssproxy serve --config FILE [--check]            listeners and routes from YAML (--check: validate, exit)
  wssproxy client URL [flags]                       send stdin lines, print messages (pins, SSL policies)
  wssproxy echo [--listen ADDR] [--cert F --key F]   WebSocket echo server
  wssproxy certs dev [--dir D] [--host NAME...]      create/reuse a development CA and certificate
  wssproxy certs pin FILE                            fingerprints and SPKI pins of a PEM file
  wssproxy certs pin HOST:PORT [--sni NAME] [--proxy URL]
                                                     a server's chain, pins, SSL errors and config lines
  wssproxy version                                   print the version, VCS revision and Go version
  wssproxy completion bash|zsh                       print a shell completion script
  wssproxy help                                      this text

Run "wssproxy COMMAND --help" for a command's flags.
`

// version is the release, set at build time with
// -ldflags "-X main.version=v1.2.3"; empty means: take it from the
// module's build information (go install …@v1.2.3 stamps it, a build in a
// Git checkout stamps a pseudo-version).
var version string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command and returns the process exit code: 0 on
// success, 1 on failure, 2 on a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return servecmd.Run(ctx, args[1:], stdout, stderr)
	case "client":
		return clientcmd.Run(ctx, args[1:], os.Stdin, stdout, stderr)
	case "echo":
		return cli.RunEcho(ctx, args[1:], stdout, stderr)
	case "certs":
		return cli.RunCerts(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		return cli.RunVersion(stdout, version)
	case "completion":
		return cli.RunCompletion(args[1:], stdout, stderr, run)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "wssproxy: unknown command %q\n\n%s", args[0], usage)
	return 2
}
