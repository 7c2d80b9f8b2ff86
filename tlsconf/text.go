package tlsconf

import "fmt"

// enumString is the String of this package's enumerated types: the name
// names gives v, or "typ(N)" for a value names leaves unnamed.
func enumString[T ~uint8](v T, typ string, names []string) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", typ, uint8(v))
}

// unmarshalText is UnmarshalText for a type with a Parse function: *dst
// changes only when b parses.
func unmarshalText[T any](dst *T, b []byte, parse func(string) (T, error)) error {
	v, err := parse(string(b))
	if err != nil {
		return err
	}
	*dst = v
	return nil
}
