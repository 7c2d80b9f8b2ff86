package cli

import "testing"

// TestParseFlagHelp: both dash styles, booleans, and the usage on the
// same line (short names) or the next.
func TestParseFlagHelp(t *testing.T) {
	help := "Usage: x [flags]\n\n  wssproxy x --not-a-flag-line\nFlags:\n  -a\tshort bool\n  --bee duration\n    \ta duration\n  -cee\n    \tlong bool\n  -a\tagain\n"
	got := ParseFlagHelp(help)
	want := []HelpFlag{{"a", false, "short bool"}, {"bee", true, "a duration"}, {"cee", false, "long bool"}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("flag %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}
