package config

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wssproxy/wssproxy/tlsconf"
)

// DefaultGrace is the drain period when neither --grace nor the file set
// one.
const DefaultGrace = 10 * time.Second

const defaultPauseTimeout = tlsconf.DefaultPauseTimeout

// Size is a number of bytes, written as plain bytes or with a KiB, MiB or
// GiB suffix ("16MiB"); -1 means "no limit" where the option allows it.
// It is a flag.Value and a yaml.Unmarshaler; the range a key or flag
// allows is checked where it is used.
type Size int64

// String formats the size in the largest unit that divides it ("32MiB",
// "1000"): flag.Value.
func (s *Size) String() string {
	n := int64(*s)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n > 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

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

// D is d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

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

// StringList is a list of strings; in the file a single string is a list
// of one. It is also a repeatable flag (flag.Value).
type StringList []string

// String joins the list with commas (flag.Value).
func (l *StringList) String() string { return strings.Join(*l, ",") }

// Set appends v (flag.Value).
func (l *StringList) Set(v string) error { *l = append(*l, v); return nil }

// UnmarshalYAML reads a list of strings, or one string.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = nil
		if n.Tag != "!!null" {
			*l = StringList{n.Value}
		}
		return nil
	case yaml.SequenceNode:
		var s []string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*l = s
		return nil
	}
	return fmt.Errorf("want a list, not %s", kindName(n))
}

// Prefixes are IP prefixes, written as CIDR prefixes or single addresses
// (a list, or one).
type Prefixes []netip.Prefix

// UnmarshalYAML reads a list of prefixes or addresses, or one.
func (p *Prefixes) UnmarshalYAML(n *yaml.Node) error {
	var l StringList
	if err := l.UnmarshalYAML(n); err != nil {
		return err
	}
	*p = nil
	for _, s := range l {
		pfx, err := parsePrefix(s)
		if err != nil {
			return err
		}
		*p = append(*p, pfx)
	}
	return nil
}

// parsePrefix reads a CIDR prefix, or an address as the prefix of it alone.
func parsePrefix(s string) (netip.Prefix, error) {
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	return pfx.Masked(), nil
}

// parseBool reads YAML's true and false (any case the spec allows).
func parseBool(s string) (bool, error) {
	switch s {
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", s)
}

// UnmarshalYAML reads true or false, or a mapping (dir, hosts) that
// enables the development certificate.
func (d *DevCert) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b, err := parseBool(n.Value)
		*d = DevCert{Enabled: b}
		return err
	}
	type plain DevCert
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*d = DevCert(p)
	d.Enabled = true
	return nil
}

var reflectTypeClientCerts = reflect.TypeFor[ClientCerts]()
