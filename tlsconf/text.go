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

// parseEach parses each string with parse and stops at the first error.
func parseEach[T any](ss []string, parse func(string) (T, error)) ([]T, error) {
	out := make([]T, 0, len(ss))
	for _, s := range ss {
		v, err := parse(s)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
