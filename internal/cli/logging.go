package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"
	"golang.org/x/term"
)

// LogFlags are the logging options every long-running command takes
// (--log-format, --log-level).
type LogFlags struct {
	Format string // json | console | "" (console on a terminal, else json)
	Level  string
}

// Logger builds the zerolog logger the flags describe, writing to w.
func (f LogFlags) Logger(w io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(f.Level)
	if err != nil || level == zerolog.NoLevel {
		return zerolog.Nop(), fmt.Errorf("--log-level %q: want trace, debug, info, warn or error", f.Level)
	}
	format := f.Format
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
		return zerolog.Nop(), fmt.Errorf("--log-format %q: want json or console", f.Format)
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}
