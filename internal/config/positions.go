package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// positions are where a file put each key and value, by path, for the
// errors Validate finds.
type positions struct {
	name string // the file, for errors
	dir  string // relative paths are resolved against it
	root *yaml.Node
	// keys and vals hold the key and value node of every path present
	// ("listeners[0].tls.cert_file"); vals also the items of lists
	// ("…allowed_origins[1]").
	keys, vals map[string]*yaml.Node
	files      []fileRef // files named, filled by Validate
}

// errAt is the error msg about path, at n's line.
func (p *positions) errAt(n *yaml.Node, path, format string, args ...any) error {
	return &configError{p.name, n.Line, path, fmt.Sprintf(format, args...)}
}

// at is the value node of path, or the closest recorded parent's (items
// of a list written as one scalar have none of their own).
func (p *positions) at(path string) *yaml.Node {
	for {
		if n := p.vals[path]; n != nil {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return p.root
		}
		path = path[:i]
	}
}

// item is the path of a list's i-th item: list[i], or list itself when
// the file wrote the list as one scalar.
func (p *positions) item(list string, i int) string {
	ip := fmt.Sprintf("%s[%d]", list, i)
	if p != nil && p.vals[ip] == nil {
		return list
	}
	return ip
}

// has reports whether the file has the key at path.
func (p *positions) has(path string) bool { return p != nil && p.keys[path] != nil }

// fail is the error msg about the value at path.
func (p *positions) fail(path, format string, args ...any) error {
	if p == nil {
		return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
	return p.errAt(p.at(path), path, format, args...)
}

// failKey is the error msg about the key at path (its line).
func (p *positions) failKey(path, format string, args ...any) error {
	if p == nil || p.keys[path] == nil {
		return p.fail(path, format, args...)
	}
	return p.errAt(p.keys[path], path, format, args...)
}

// raw is the text of the scalar at path.
func (p *positions) raw(path string) string {
	if p == nil {
		return ""
	}
	return p.at(path).Value
}

// where is "FILE:LINE: path" for errors found while building.
func (p *positions) where(path string) string {
	return fmt.Sprintf("%s:%d: %s", p.name, p.at(path).Line, path)
}

// abs resolves a relative path against the config file's folder.
func (p *positions) abs(s string) string {
	if s == "" || filepath.IsAbs(s) || p.dir == "" {
		return s
	}
	return filepath.Join(p.dir, s)
}

// file resolves the file at path, if the file names one, and records it
// for checkFiles.
func (p *positions) file(path string, dst *string) {
	if !p.has(path) || *dst == "" {
		return
	}
	*dst = p.abs(*dst)
	p.files = append(p.files, fileRef{*dst, p.at(path).Line, path})
}
