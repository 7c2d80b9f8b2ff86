package config

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

// Sizes read and print with units; a list and a bad unit are refused.
func TestSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"16MiB": "16MiB", "1024": "1KiB", "1000": "1000", "2 GiB": "2GiB", "-1": "-1", "5B": "5"} {
		var s Size
		if err := s.Set(in); err != nil || s.String() != want {
			t.Errorf("Set(%q) = %s, %v; want %s", in, s.String(), err, want)
		}
		var y Size
		if err := yaml.Unmarshal([]byte(in), &y); err != nil || y != s {
			t.Errorf("yaml %q = %d, %v; want %d", in, y, err, s)
		}
	}
	var s Size
	for _, bad := range []string{"12XB", "lots", "1.5MiB", "99999999999GiB"} {
		if err := s.Set(bad); err == nil {
			t.Errorf("Set(%q): no error", bad)
		}
	}
	if err := yaml.Unmarshal([]byte("[1]"), &s); err == nil {
		t.Error("a list read as a size")
	}
	var d Duration
	if err := yaml.Unmarshal([]byte("1m30s"), &d); err != nil || d.D().String() != "1m30s" {
		t.Errorf("duration %v %v", d.D(), err)
	}
	if err := yaml.Unmarshal([]byte("10"), &d); err == nil {
		t.Error("10 read as a duration")
	}
}
