package cli

import (
	"flag"
	"io"
	"slices"
	"testing"
)

// ParseArgs takes flags before and after the positional arguments and
// requires exactly the number asked for: too few gives the missing
// message, too many names the first extra one.
func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    int
		pos     []string
		wantErr string
	}{
		{[]string{"a", "--v", "x"}, 1, []string{"a"}, ""},
		{[]string{"--v", "x", "--", "-a"}, 1, []string{"-a"}, ""},
		{nil, 0, nil, ""},
		{[]string{"--v", "x"}, 1, nil, "want A"},
		{[]string{"a", "b", "c"}, 1, nil, `unexpected argument "b"`},
		{[]string{"extra"}, 0, nil, `unexpected argument "extra"`},
		{[]string{"--nope"}, 0, nil, "flag provided but not defined: -nope"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		v := fs.String("v", "", "")
		pos, err := ParseArgs(fs, tc.args, tc.want, "want A")
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%q: %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(pos, tc.pos) {
			t.Errorf("%q: %q %v, want %q", tc.args, pos, err, tc.pos)
		}
		if slices.Contains(tc.args, "--v") && *v != "x" {
			t.Errorf("%q: --v is %q", tc.args, *v)
		}
	}
}
