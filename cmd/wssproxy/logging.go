package main

import (
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"
	"golang.org/x/term"
)

// logFlags are the logging options every long-running command takes.
type logFlags struct {
	format string // json | console | "" (console on a terminal, else json)
	level  string
}

// logger builds the zerolog logger the flags describe.
func (f logFlags) logger(w io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(f.level)
	if err != nil || level == zerolog.NoLevel {
		return zerolog.Nop(), fmt.Errorf("--log-level %q: want trace, debug, info, warn or error", f.level)
	}
	format := f.format
	if format == "" {
		format = "json"
		if file, ok := w.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
			format = "console"
		}
	}
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w}
	default:
		return zerolog.Nop(), fmt.Errorf("--log-format %q: want json or console", f.format)
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}
