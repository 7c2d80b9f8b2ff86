package config

// A file is read in three steps. A walk of its yaml.Node tree checks the
// shape against the structs' yaml tags, reporting every unknown key,
// repeated key, wrong kind and unreadable scalar with its line and path
// ("listeners[0].routes[1].max_message_size"), and records where each key
// and value is. A yaml.Decoder with KnownFields then fills the structs
// (Size, Duration, StringList, Prefixes and DevCert decode themselves).
// Last, complete fills the defaults and resolves paths, and Validate
// checks the values and how they combine, with the recorded positions.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// configError is an error in a config file, at a line, about a key.
type configError struct {
	file string
	line int
	path string // "listeners[0].listen"; "" for the document itself
	msg  string
}

func (e *configError) Error() string {
	if e.path == "" {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.file, e.line, e.path, e.msg)
}

// fileRef is a file the configuration names, checked by checkFiles.
type fileRef struct {
	path string // resolved against the config file's folder
	line int
	key  string
}

// Load reads, parses and checks a config file: after it returns without
// error, only the network (listening, ACME) and the content of the files
// it names can still fail.
func Load(name string) (Config, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return Config{}, fmt.Errorf("--config: %w", err)
	}
	dir, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		return Config{}, fmt.Errorf("--config: %w", err)
	}
	cfg, files, err := parseConfig(data, name, dir)
	if err != nil {
		return Config{}, err
	}
	if err := checkFiles(name, files); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Parse decodes and validates a config file's content, as Load does,
// without opening the files it names. name labels errors; relative paths
// in the file are resolved against dir.
func Parse(data []byte, name, dir string) (Config, error) {
	cfg, _, err := parseConfig(data, name, dir)
	return cfg, err
}

// checkFiles makes sure every file the configuration names can be opened.
func checkFiles(name string, files []fileRef) error {
	for _, f := range files {
		h, err := os.Open(f.path)
		if err != nil {
			return &configError{name, f.line, f.key, err.Error()}
		}
		h.Close()
	}
	return nil
}

// parseConfig decodes and validates a config file's content. It does not
// touch the files named (see checkFiles) or the network.
func parseConfig(data []byte, name, dir string) (Config, []fileRef, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, nil, fmt.Errorf("%s: empty config file", name)
		}
		return Config{}, nil, fmt.Errorf("%s: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return Config{}, nil, &configError{name, extra.Line, "", "a second YAML document; the file must hold one"}
	} else if !errors.Is(err, io.EOF) {
		return Config{}, nil, fmt.Errorf("%s: %w", name, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return Config{}, nil, &configError{name, root.Line, "", "empty config file"}
		}
		root = resolve(root.Content[0])
	}
	pos := &positions{name: name, dir: dir, root: root, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}}
	if err := pos.walk(root, "", reflect.TypeFor[Config]()); err != nil {
		return Config{}, nil, err
	}

	cfg := Config{Grace: Duration(DefaultGrace), Log: Log{Level: "info"}}
	fill := yaml.NewDecoder(bytes.NewReader(data))
	fill.KnownFields(true)
	if err := fill.Decode(&cfg); err != nil {
		// The walk accepts only what decodes: this is a bug, not the
		// file's fault; say where anyway.
		return Config{}, nil, fmt.Errorf("%s: %w", name, err)
	}
	cfg.Extensions = nil
	cfg.pos = pos
	cfg.complete()
	if err := cfg.Validate(); err != nil {
		return Config{}, nil, err
	}
	return cfg, pos.files, nil
}

// resolve follows aliases (*anchor).
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a scalar"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// pair is one key and value of a mapping.
type pair struct{ key, val *yaml.Node }

// pairs returns a mapping's entries with merge keys (<<: *defaults)
// expanded: explicit keys win over merged ones. A repeated explicit key is
// an error.
func (p *positions) pairs(n *yaml.Node, path string) ([]pair, error) {
	var explicit, merged []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if k.Tag == "!!merge" {
			srcs := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				srcs = v.Content
			}
			for _, s := range srcs {
				s = resolve(s)
				if s.Kind != yaml.MappingNode {
					return nil, p.errAt(k, path, "<< merges mappings only, not %s", kindName(s))
				}
				m, err := p.pairs(s, path)
				if err != nil {
					return nil, err
				}
				merged = append(merged, m...)
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return nil, p.errAt(k, path, "keys must be plain words, not %s", kindName(k))
		}
		if line, dup := seen[k.Value]; dup {
			return nil, p.errAt(k, join(path, k.Value), "repeated key (first at line %d)", line)
		}
		seen[k.Value] = k.Line
		explicit = append(explicit, pair{k, v})
	}
	out := explicit
	for _, m := range merged {
		if _, ok := seen[m.key.Value]; !ok {
			seen[m.key.Value] = m.key.Line
			out = append(out, m)
		}
	}
	return out, nil
}

// field is a key of a struct's mapping.
type field struct {
	index []int // reflect.Value.FieldByIndex
	typ   reflect.Type
}

// fieldsOf returns the keys of t's mapping: the yaml tags of its fields,
// with ",inline" structs' keys included.
func fieldsOf(t reflect.Type) map[string]field {
	out := map[string]field{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case tag == "-" || !f.IsExported() || tag == "":
		case opts == "inline" && f.Type.Kind() == reflect.Struct:
			for k, sub := range fieldsOf(f.Type) {
				out[k] = field{append([]int{i}, sub.index...), sub.typ}
			}
		case opts == "inline":
			// The root's x-… extension keys.
		default:
			out[name] = field{[]int{i}, f.Type}
		}
	}
	return out
}

var (
	typeSize       = reflect.TypeFor[Size]()
	typeDuration   = reflect.TypeFor[Duration]()
	typeStringList = reflect.TypeFor[StringList]()
	typePrefixes   = reflect.TypeFor[Prefixes]()
	typeDevCert    = reflect.TypeFor[DevCert]()
)

// walk checks that n has the shape of t, recording positions under path.
func (p *positions) walk(n *yaml.Node, path string, t reflect.Type) error {
	p.vals[path] = n
	switch t {
	case typeSize:
		return p.scalar(n, path, "a size", func(s string) error {
			if _, err := ParseSize(s); err != nil {
				return fmt.Errorf("%q is not a size (want bytes, or a number with KiB, MiB or GiB)", s)
			}
			return nil
		})
	case typeDuration:
		return p.scalar(n, path, "a duration", func(s string) error {
			if _, err := time.ParseDuration(s); err != nil {
				return fmt.Errorf("%q is not a duration (want e.g. 30s, 1m30s, 250ms)", s)
			}
			return nil
		})
	case typeStringList:
		return p.list(n, path, nil)
	case typePrefixes:
		return p.list(n, path, func(s string) error { _, err := parsePrefix(s); return err })
	case typeDevCert:
		if n.Kind == yaml.ScalarNode {
			return p.scalar(n, path, "true or false", func(s string) error { _, err := parseBool(s); return err })
		}
	}
	switch t.Kind() {
	case reflect.String:
		return p.scalar(n, path, "a string", nil)
	case reflect.Bool:
		return p.scalar(n, path, "true or false", func(s string) error { _, err := parseBool(s); return err })
	case reflect.Int:
		return p.scalar(n, path, "a number", func(s string) error {
			if _, err := strconv.Atoi(s); err != nil {
				return fmt.Errorf("%q is not a whole number", s)
			}
			return nil
		})
	case reflect.Float64:
		return p.scalar(n, path, "a number", func(s string) error {
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				return fmt.Errorf("%q: want a fraction between 0 and 1, e.g. 0.33", s)
			}
			return nil
		})
	case reflect.Pointer:
		return p.walk(n, path, t.Elem())
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return p.errAt(n, path, "want a list, not %s", kindName(n))
		}
		for i, item := range n.Content {
			if err := p.walk(resolve(item), fmt.Sprintf("%s[%d]", path, i), t.Elem()); err != nil {
				return err
			}
		}
		return nil
	case reflect.Struct:
		return p.mapping(n, path, t)
	}
	return p.errAt(n, path, "cannot be configured in a file")
}

// mapping checks a struct's mapping: every key known, none repeated.
func (p *positions) mapping(n *yaml.Node, path string, t reflect.Type) error {
	if n.Kind != yaml.MappingNode {
		return p.errAt(n, path, "want a mapping (key: value lines), not %s", kindName(n))
	}
	fields := fieldsOf(t)
	pairs, err := p.pairs(n, path)
	if err != nil {
		return err
	}
	for _, kv := range pairs {
		f, ok := fields[kv.key.Value]
		if !ok && path == "" && strings.HasPrefix(kv.key.Value, "x-") {
			continue // top-level extension keys hold anchors for merging
		}
		kp := join(path, kv.key.Value)
		if !ok {
			known := make([]string, 0, len(fields))
			for k := range fields {
				known = append(known, k)
			}
			slices.Sort(known)
			return p.errAt(kv.key, kp, "unknown key (known here: %s)", strings.Join(known, ", "))
		}
		p.keys[kp] = kv.key
		if err := p.walk(kv.val, kp, f.typ); err != nil {
			return err
		}
	}
	return nil
}

// scalar checks that n is a scalar (null reads as "") that check accepts.
func (p *positions) scalar(n *yaml.Node, path, want string, check func(string) error) error {
	if n.Kind != yaml.ScalarNode {
		return p.errAt(n, path, "want %s, not %s", want, kindName(n))
	}
	v := n.Value
	if n.Tag == "!!null" {
		v = ""
	}
	if check != nil {
		if err := check(v); err != nil {
			return p.errAt(n, path, "%v", err)
		}
	}
	return nil
}

// list checks a list of scalars (a single scalar is a list of one), each
// accepted by check, recording each item's position.
func (p *positions) list(n *yaml.Node, path string, check func(string) error) error {
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" || check == nil {
			return nil
		}
		return p.scalar(n, path, "a string", check)
	}
	if n.Kind != yaml.SequenceNode {
		return p.errAt(n, path, "want a list, not %s", kindName(n))
	}
	for i, item := range n.Content {
		item = resolve(item)
		ip := fmt.Sprintf("%s[%d]", path, i)
		p.vals[ip] = item
		if item.Kind != yaml.ScalarNode {
			return p.errAt(item, ip, "want a string, not %s", kindName(item))
		}
		if err := p.scalar(item, ip, "a string", check); err != nil {
			return err
		}
	}
	return nil
}
