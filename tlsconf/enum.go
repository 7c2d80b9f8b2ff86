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
