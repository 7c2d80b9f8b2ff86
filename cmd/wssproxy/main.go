// Command wssproxy is a TLS-focused WebSocket proxy, echo server and
// client. Run "wssproxy help" for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"syscall"
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
		return runServe(ctx, args[1:], stdout, stderr)
	case "client":
		return runClient(ctx, args[1:], os.Stdin, stdout, stderr)
	case "echo":
		return runEcho(ctx, args[1:], stdout, stderr)
	case "certs":
		return runCerts(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		return runVersion(stdout)
	case "completion":
		return runCompletion(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "wssproxy: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// usageExit turns the outcome of parsing a command's flags or options into
// an exit: done with 0 for --help, done with 2 (the error printed, with
// the command's usage line when parseFlags found it) for a usage error,
// not done when err is nil.
func usageExit(stderr io.Writer, cmd string, err error) (code int, done bool) {
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	}
	fmt.Fprintf(stderr, "wssproxy %s: %v\n", cmd, err)
	var uerr *usageError
	if errors.As(err, &uerr) {
		fmt.Fprintf(stderr, "%s (--help lists the flags)\n", uerr.line)
	}
	return 2, true
}

// usageError is a mistyped command line: the error, and the usage line
// to print under it.
type usageError struct {
	err  error
	line string
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// parseFlags parses args with fs, which prints nothing itself: --help
// writes usage (its first line is the command's usage line) and every
// flag, spelled with two dashes, to w and returns flag.ErrHelp; a
// mistyped flag returns a *usageError naming the flag.
func parseFlags(fs *flag.FlagSet, usage string, args []string, w io.Writer) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(w, usage)
		printFlags(w, fs)
		return err
	}
	if err != nil {
		line, _, _ := strings.Cut(usage, "\n")
		return &usageError{flagError(err), line}
	}
	return nil
}

// flagMessages are the flag package's parse errors, reworded to name the
// flag as the documentation writes it (--name).
var flagMessages = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`^flag provided but not defined: -+(.*)$`), "unknown flag --$1"},
	{regexp.MustCompile(`^flag needs an argument: -+(.*)$`), "--$1 needs a value"},
	{regexp.MustCompile(`^invalid boolean value ("(?:[^"\\]|\\.)*") for -+([^:]*): .*$`), "--$2: $1 is not true or false"},
	{regexp.MustCompile(`^invalid value ("(?:[^"\\]|\\.)*") for flag -+([^:]*): (.*)$`), "--$2: invalid value $1: $3"},
}

func flagError(err error) error {
	msg := err.Error()
	for _, m := range flagMessages {
		if m.re.MatchString(msg) {
			out := m.re.ReplaceAllString(msg, m.with)
			// A value's own message that quotes it already says enough.
			if sub := m.re.FindStringSubmatch(msg); len(sub) == 4 && strings.Contains(sub[3], sub[1]) {
				out = "--" + sub[2] + ": " + sub[3]
			}
			return errors.New(out)
		}
	}
	return err
}

// printFlags lists fs's flags as flag.PrintDefaults does, but with two
// dashes.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		if !slices.Contains([]string{"", "false", "0", "0s", "[]"}, f.DefValue) {
			line += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintln(w, line)
	})
}
