package certs

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/wssproxy/wssproxy/internal/testpeer"
	"go.uber.org/zap"
)

func TestZapBridge(t *testing.T) {
	t.Parallel()
	var buf testpeer.Buffer
	zl := newZapLogger(zerolog.New(&buf).Level(zerolog.InfoLevel))
	zl.Debug("hidden")
	zl.Named("obtain").With(zap.String("identifier", "a.test")).Info("obtaining", zap.Int("n", 2))
	zl.Warn("careful", zap.Error(errors.New("boom")))
	zl.DPanic("not a panic") // written as an error; zap.New has no development mode
	zl.Error("bad", zap.Strings("names", []string{"x", "y"}))

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	var recs []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, m)
	}
	want := []map[string]any{
		{"level": "info", "message": "obtaining", "component": "obtain", "identifier": "a.test", "n": float64(2)},
		{"level": "warn", "message": "careful", "error": "boom"},
		{"level": "error", "message": "not a panic"},
		{"level": "error", "message": "bad"},
	}
	for i, w := range want {
		for k, v := range w {
			if recs[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v (%s)", i, k, recs[i][k], v, lines[i])
			}
		}
	}
	if names, ok := recs[3]["names"].([]any); !ok || len(names) != 2 {
		t.Errorf("names field: %v", recs[3]["names"])
	}

	// A zero zerolog.Logger writes nothing and does not crash.
	newZapLogger(zerolog.Logger{}).Error("dropped", zap.String("k", "v"))
}
