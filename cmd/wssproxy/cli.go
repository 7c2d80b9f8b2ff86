package main

import (
	"flag"
	"io"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/internal/cli"
	"github.com/wssproxy/wssproxy/proxy/netproxy"
)

// The command-line machinery lives in internal/cli; these names keep the
// commands still in this package (serve, client) calling it unchanged.

func parseFlags(fs *flag.FlagSet, usage string, args []string, w io.Writer) error {
	return cli.ParseFlags(fs, usage, args, w)
}

func usageExit(stderr io.Writer, cmd string, err error) (int, bool) {
	return cli.UsageExit(stderr, cmd, err)
}

func proxyDialer(flagName, value, scheme string) (netproxy.DialFunc, error) {
	return cli.ProxyDialer(flagName, value, scheme)
}

// logFlags are the --log-format and --log-level flags (cli.LogFlags).
type logFlags struct{ format, level string }

func (f logFlags) logger(w io.Writer) (zerolog.Logger, error) {
	return cli.LogFlags{Format: f.format, Level: f.level}.Logger(w)
}

func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	return cli.ParseInterspersed(fs, args)
}

func shellQuote(s string) string { return cli.ShellQuote(s) }
