package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wssproxy/wssproxy/tlsconf"
)

// DefaultGrace is the drain period when neither --grace nor the file set
// one.
const DefaultGrace = 10 * time.Second

// Log is the logging of a long-running command.
type Log struct {
	Format string // json | console | "" (console on a terminal, else json)
	Level  string // trace, debug, info, warn or error
}

// EffectivePauseTimeout is how long a paused upstream handshake of the
// route waits for a decision: PauseTimeout, or tlsconf's default.
func (r *Route) EffectivePauseTimeout() time.Duration {
	if r.PauseTimeout > 0 {
		return r.PauseTimeout
	}
	return tlsconf.DefaultPauseTimeout
}

// Size is a number of bytes, written as plain bytes or with a KiB, MiB or
// GiB suffix ("16MiB"); -1 means "no limit" where the option allows it.
// It is a flag.Value and a yaml.Unmarshaler; the range a key or flag
// allows is checked where it is used.
type Size int64

// String formats the size in bytes (flag.Value).
func (s *Size) String() string { return strconv.FormatInt(int64(*s), 10) }

// Set parses a size (flag.Value).
func (s *Size) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s = Size(n)
	return nil
}

// errSyntax marks a scalar whose text is not of the type wanted; the
// decoder words the message with the key's position.
var errSyntax = errors.New("syntax")

// UnmarshalYAML reads a scalar size.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a size, not %s", kindName(n))
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return errSyntax
	}
	*s = Size(v)
	return nil
}

// ParseSize parses bytes, or a number with a KiB, MiB or GiB suffix.
func ParseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: want a number of bytes, optionally with KiB, MiB or GiB", v)
	}
	if n > 0 && n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q is too large", v)
	}
	return n * mult, nil
}

// Duration is a Go duration ("30s", "1m30s", "250ms"; "0" where zero is
// allowed), a yaml.Unmarshaler.
type Duration time.Duration

// UnmarshalYAML reads a scalar duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration, not %s", kindName(n))
	}
	t, err := time.ParseDuration(n.Value)
	if err != nil {
		return errSyntax
	}
	*d = Duration(t)
	return nil
}
