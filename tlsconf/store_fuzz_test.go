package tlsconf

import (
	"fmt"
	"testing"
)

// FuzzPinLine: any line either fails to parse or parses to an entry that
// formats to a line parsing back to the same entry.
func FuzzPinLine(f *testing.F) {
	for _, s := range []string{
		"h:443 " + testPin(1).String(),
		"h:443 " + testPin(1).String() + " kinds=self-signed,expired added=2026-11-28T16:00:00Z source=resume by=admin@1.2.3.4:5 # CN=x",
		"# only a comment",
		"",
		"h:443 cert-sha256:" + fmt.Sprintf("%064x", 7) + " source=operator",
		"h:443 x=y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, ok, err := parsePinLine(line)
		if err != nil || !ok {
			return
		}
		if e.Validate() != nil {
			return // a server or by a person wrote that PutPin would refuse
		}
		out := formatPinLine(e)
		e2, ok2, err := parsePinLine(out)
		if err != nil || !ok2 {
			t.Fatalf("%q formatted as %q, which does not parse: %v", line, out, err)
		}
		e.Added, e2.Added = e.Added.UTC(), e2.Added.UTC() // written in UTC
		e.Note, e.Line, e2.Line = oneLine(e.Note), 0, 0   // kept on one line
		if fmt.Sprint(e2) != fmt.Sprint(e) {
			t.Fatalf("%q -> %+v -> %q -> %+v", line, e, out, e2)
		}
	})
}
