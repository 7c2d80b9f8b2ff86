package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// UsageExit turns the outcome of parsing a command's flags or options into
// an exit: done with 0 for --help, done with 2 (the error printed, with
// the command's usage line when ParseFlags found it) for a usage error,
// not done when err is nil. cmd names the command ("client", "certs pin").
func UsageExit(stderr io.Writer, cmd string, err error) (code int, done bool) {
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	}
	fmt.Fprintf(stderr, "wssproxy %s: %v\n", cmd, err)
	var uerr *UsageError
	if errors.As(err, &uerr) {
		fmt.Fprintf(stderr, "%s (--help lists the flags)\n", uerr.Line)
	}
	return 2, true
}

// UsageError is a mistyped command line: the error, and the usage line
// to print under it.
type UsageError struct {
	Err  error
	Line string
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// ParseFlags parses args with fs, which prints nothing itself: --help
// writes usage (its first line is the command's usage line) and every
// flag, spelled with two dashes, to w and returns flag.ErrHelp; a
// mistyped flag returns a *UsageError naming the flag.
func ParseFlags(fs *flag.FlagSet, usage string, args []string, w io.Writer) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(w, usage)
		PrintFlags(w, fs)
		return err
	}
	if err != nil {
		line, _, _ := strings.Cut(usage, "\n")
		return &UsageError{FlagError(err), line}
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

// FlagError rewords an error of the flag package to name the flag with
// two dashes.
func FlagError(err error) error {
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

// PrintFlags lists fs's flags as flag.PrintDefaults does, but with two
// dashes.
func PrintFlags(w io.Writer, fs *flag.FlagSet) {
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

// ParseInterspersed parses flags that may come before or after the
// positional arguments ("pin HOST:PORT --sni NAME"), which flag.FlagSet
// alone does not allow, and returns the positional ones.
func ParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil // everything after "--" is positional
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// ParseArgs parses like ParseInterspersed and requires exactly want
// positional arguments: with fewer the error is missing, with more it
// names the first one too many.
func ParseArgs(fs *flag.FlagSet, args []string, want int, missing string) ([]string, error) {
	pos, err := ParseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) < want {
		return nil, errors.New(missing)
	}
	if len(pos) > want {
		return nil, fmt.Errorf("unexpected argument %q", pos[want])
	}
	return pos, nil
}
