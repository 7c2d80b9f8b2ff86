package config

// The file is decoded by walking yaml.Node trees, not by unmarshalling
// into the structs, so that every unknown key, repeated key and invalid
// value is reported with its line and its path, and one pass checks
// everything; scalar values with a type of their own (Size, Duration)
// are decoded by their UnmarshalYAML.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/proxy/netproxy"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
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

// Load reads, parses and checks a config file: after it returns
// without error, only the network (listening, ACME) can still fail.
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

// parseConfig decodes and validates a config file's content. name labels
// errors; relative paths in the file are resolved against dir. It does not
// touch the files named (see checkFiles) or the network.
func parseConfig(data []byte, name, dir string) (Config, []fileRef, error) {
	d := &decoder{name: name, dir: dir}
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
	cfg := d.root(&doc)
	if d.err != nil {
		return Config{}, nil, d.err
	}
	return cfg, d.files, nil
}

// decoder walks the document; the first error is kept and later calls are
// no-ops, so the walking code reads straight through.
type decoder struct {
	// key is the key whose value a handler is decoding, so that errors
	// about a whole section point at the section's key.
	key   *yaml.Node
	name  string
	dir   string
	err   error
	files []fileRef
}

func (d *decoder) failf(n *yaml.Node, path, format string, args ...any) {
	if d.err == nil {
		d.err = &configError{d.name, n.Line, path, fmt.Sprintf(format, args...)}
	}
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
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
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
					d.failf(k, path, "<< merges mappings only, not %s", kindName(s))
					return nil
				}
				merged = append(merged, d.pairs(s, path)...)
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.failf(k, path, "keys must be plain words, not %s", kindName(k))
			return nil
		}
		if line, dup := seen[k.Value]; dup {
			d.failf(k, join(path, k.Value), "repeated key (first at line %d)", line)
			return nil
		}
		seen[k.Value] = k.Line
		explicit = append(explicit, pair{k, v})
	}
	out := explicit
	for _, p := range merged {
		if _, ok := seen[p.key.Value]; !ok {
			seen[p.key.Value] = p.key.Line
			out = append(out, p)
		}
	}
	return out
}

// fields walks a mapping, calling the handler of each key in document
// order; unknown keys are errors. It returns the key nodes present.
func (d *decoder) fields(n *yaml.Node, path string, handlers map[string]func(v *yaml.Node, path string)) map[string]*yaml.Node {
	present := map[string]*yaml.Node{}
	if d.err != nil {
		return present
	}
	if n.Kind != yaml.MappingNode {
		d.failf(n, path, "want a mapping (key: value lines), not %s", kindName(n))
		return present
	}
	for _, p := range d.pairs(n, path) {
		h, ok := handlers[p.key.Value]
		if !ok && path == "" && strings.HasPrefix(p.key.Value, "x-") {
			continue // top-level extension keys hold anchors for merging
		}
		if !ok {
			known := make([]string, 0, len(handlers))
			for k := range handlers {
				known = append(known, k)
			}
			slices.Sort(known)
			d.failf(p.key, join(path, p.key.Value), "unknown key (known here: %s)", strings.Join(known, ", "))
			return present
		}
		present[p.key.Value] = p.key
		d.key = p.key
		h(p.val, join(path, p.key.Value))
		if d.err != nil {
			return present
		}
	}
	return present
}

// scalar checks that n is a scalar and returns its value ("" for null).
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.failf(n, path, "want %s, not %s", want, kindName(n))
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

func (d *decoder) str(n *yaml.Node, path string, dst *string) {
	if v, ok := d.scalar(n, path, "a string"); ok {
		*dst = v
	}
}

// file reads a path that must exist when serving; relative paths are
// resolved against the config file's folder.
func (d *decoder) file(n *yaml.Node, path string, dst *string) {
	v, ok := d.scalar(n, path, "a file name")
	if !ok {
		return
	}
	if v == "" {
		d.failf(n, path, "empty file name")
		return
	}
	*dst = d.abs(v)
	d.files = append(d.files, fileRef{*dst, n.Line, path})
}

// dirName reads a folder (created when missing), resolved like file.
func (d *decoder) dirName(n *yaml.Node, path string, dst *string) {
	if v, ok := d.scalar(n, path, "a folder name"); ok && v != "" {
		*dst = d.abs(v)
	}
}

func (d *decoder) abs(p string) string {
	if filepath.IsAbs(p) || d.dir == "" {
		return p
	}
	return filepath.Join(d.dir, p)
}

func (d *decoder) boolean(n *yaml.Node, path string, dst *bool) {
	v, ok := d.scalar(n, path, "true or false")
	if !ok {
		return
	}
	switch v {
	case "true", "True", "TRUE":
		*dst = true
	case "false", "False", "FALSE":
		*dst = false
	default:
		d.failf(n, path, "%q is not true or false", v)
	}
}

// positiveInt reads an integer greater than zero.
func (d *decoder) positiveInt(n *yaml.Node, path string, dst *int) { d.wholeNumber(n, path, dst, 1) }

// wholeNumber reads an integer of at least least.
func (d *decoder) wholeNumber(n *yaml.Node, path string, dst *int, least int) {
	v, ok := d.scalar(n, path, "a number")
	if !ok {
		return
	}
	i, err := strconv.Atoi(v)
	if err != nil {
		d.failf(n, path, "%q is not a whole number", v)
		return
	}
	if i < least {
		if least == 1 {
			d.failf(n, path, "must be positive, not %d", i)
		} else {
			d.failf(n, path, "must be at least %d, not %d", least, i)
		}
		return
	}
	*dst = i
}

// duration reads a Duration ("30s", "1m30s", "0" where zero is allowed).
func (d *decoder) duration(n *yaml.Node, path string, dst *time.Duration, allowZero bool) {
	var t Duration
	if !d.decode(n, path, &t, "a duration", "(want e.g. 30s, 1m30s, 250ms)") {
		return
	}
	switch {
	case t < 0:
		d.failf(n, path, "must not be negative, not %s", n.Value)
	case t == 0 && !allowZero:
		d.failf(n, path, "must be more than 0")
	default:
		*dst = time.Duration(t)
	}
}

// decode unmarshals a scalar with its own UnmarshalYAML (Size, Duration),
// wording a syntax error as "VALUE is not WHAT HINT".
func (d *decoder) decode(n *yaml.Node, path string, dst yaml.Unmarshaler, what, hint string) bool {
	if d.err != nil {
		return false
	}
	if _, ok := d.scalar(n, path, what); !ok {
		return false
	}
	if err := n.Decode(dst); err != nil {
		if errors.Is(err, errSyntax) {
			d.failf(n, path, "%q is not %s %s", n.Value, what, hint)
		} else {
			d.failf(n, path, "%v", err)
		}
		return false
	}
	return true
}

// size reads a Size. noLimit allows -1 (no limit); zero is never allowed.
func (d *decoder) size(n *yaml.Node, path string, dst *int64, noLimit bool) {
	var sz Size
	if !d.decode(n, path, &sz, "a size", "(want bytes, or a number with KiB, MiB or GiB)") {
		return
	}
	switch s := int64(sz); {
	case s == 0:
		d.failf(n, path, "must not be 0")
	case s < 0 && !noLimit:
		d.failf(n, path, "must be positive, not %s", n.Value)
	case s < 0 && s != -1:
		d.failf(n, path, "%s: use -1 for no limit", n.Value)
	default:
		*dst = s
	}
}

// list reads a list of scalars (a single scalar is a list of one), calling
// each with its own node so that errors point at the item's line.
func (d *decoder) list(n *yaml.Node, path string, each func(v string, n *yaml.Node, path string)) {
	if n.Kind == yaml.ScalarNode {
		if n.Tag != "!!null" {
			each(n.Value, n, path)
		}
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.failf(n, path, "want a list, not %s", kindName(n))
		return
	}
	for i, item := range n.Content {
		item = resolve(item)
		p := fmt.Sprintf("%s[%d]", path, i)
		if item.Kind != yaml.ScalarNode {
			d.failf(item, p, "want a string, not %s", kindName(item))
			return
		}
		each(item.Value, item, p)
		if d.err != nil {
			return
		}
	}
}

func (d *decoder) strList(n *yaml.Node, path string, dst *[]string) {
	d.list(n, path, func(v string, _ *yaml.Node, _ string) { *dst = append(*dst, v) })
}

// seq walks a list of mappings.
func (d *decoder) seq(n *yaml.Node, path string, each func(i int, item *yaml.Node, path string)) {
	if n.Kind != yaml.SequenceNode {
		d.failf(n, path, "want a list, not %s", kindName(n))
		return
	}
	for i, item := range n.Content {
		each(i, resolve(item), fmt.Sprintf("%s[%d]", path, i))
		if d.err != nil {
			return
		}
	}
}

func (d *decoder) where(n *yaml.Node, path string) string {
	return fmt.Sprintf("%s:%d: %s", d.name, n.Line, path)
}

// root decodes the top level: log, grace, listeners.
func (d *decoder) root(doc *yaml.Node) Config {
	cfg := Config{Grace: DefaultGrace, Log: Log{Level: "info"}}
	n := doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			d.failf(n, "", "empty config file")
			return cfg
		}
		n = resolve(n.Content[0])
	}
	var listenersNode *yaml.Node
	var adminUses []addrUse
	present := d.fields(n, "", map[string]func(*yaml.Node, string){
		"log": func(v *yaml.Node, p string) {
			d.fields(v, p, map[string]func(*yaml.Node, string){
				"format": func(v *yaml.Node, p string) {
					d.str(v, p, &cfg.Log.Format)
					if d.err == nil && cfg.Log.Format != "json" && cfg.Log.Format != "console" {
						d.failf(v, p, "%q: want json or console", cfg.Log.Format)
					}
				},
				"level": func(v *yaml.Node, p string) {
					d.str(v, p, &cfg.Log.Level)
					if d.err == nil && !slices.Contains([]string{"trace", "debug", "info", "warn", "error"}, cfg.Log.Level) {
						d.failf(v, p, "%q: want trace, debug, info, warn or error", cfg.Log.Level)
					}
				},
			})
		},
		"grace": func(v *yaml.Node, p string) { d.duration(v, p, &cfg.Grace, true) },
		"admin": func(v *yaml.Node, p string) { cfg.Admin = d.admin(v, p, &adminUses) },
		"listeners": func(v *yaml.Node, p string) {
			listenersNode = v
			d.seq(v, p, func(_ int, item *yaml.Node, p string) {
				cfg.Listeners = append(cfg.Listeners, d.listener(item, p))
			})
		},
	})
	if d.err != nil {
		return cfg
	}
	if present["listeners"] == nil || len(cfg.Listeners) == 0 {
		at := n
		if listenersNode != nil {
			at = listenersNode
		}
		d.failf(at, "listeners", "at least one listener is needed")
		return cfg
	}
	d.checkAddresses(cfg.Listeners, adminUses)
	return cfg
}

// admin decodes the top-level admin mapping: listen (host:port or
// unix:/path), token_file, pause_max_pending and pause_max_waiters.
func (d *decoder) admin(n *yaml.Node, path string, uses *[]addrUse) Admin {
	a := Admin{Where: d.where(n, path)}
	present := d.fields(n, path, map[string]func(*yaml.Node, string){
		"listen": func(v *yaml.Node, p string) {
			s, ok := d.scalar(v, p, "host:port or unix:/path")
			if !ok {
				return
			}
			if sock, unix := strings.CutPrefix(s, "unix:"); unix {
				if sock == "" {
					d.failf(v, p, "unix: needs a socket path, e.g. unix:/run/wssproxy/admin.sock")
					return
				}
				a.Listen = "unix:" + d.abs(sock)
				return
			}
			d.address(v, p, &a.Listen, uses)
		},
		"token_file":        func(v *yaml.Node, p string) { d.file(v, p, &a.TokenFile) },
		"pause_max_pending": func(v *yaml.Node, p string) { d.positiveInt(v, p, &a.PauseMaxPending) },
		"pause_max_waiters": func(v *yaml.Node, p string) { d.positiveInt(v, p, &a.PauseMaxWaiters) },
	})
	if d.err == nil && present["listen"] == nil {
		d.failf(n, join(path, "listen"), "missing (host:port or unix:/path)")
	}
	return a
}

// addrUse is a listening address and where the file asks for it.
type addrUse struct {
	host, port string
	line       int
	path       string
}

func wildcard(host string) bool { return host == "" || host == "0.0.0.0" || host == "::" }

// checkAddresses refuses two listeners (or ACME HTTP-01 listeners) on the
// same address; port 0 (any free port) never clashes.
func (d *decoder) checkAddresses(ls []Listener, more []addrUse) {
	uses := append([]addrUse(nil), more...)
	for _, l := range ls {
		uses = append(uses, l.addrs...)
	}
	for i, u := range uses {
		for _, o := range uses[:i] {
			if u.port == o.port && u.port != "0" && (u.host == o.host || wildcard(u.host) || wildcard(o.host)) {
				if d.err == nil {
					d.err = &configError{d.name, u.line, u.path, fmt.Sprintf("%s overlaps %s (line %d)", net.JoinHostPort(u.host, u.port), o.path, o.line)}
				}
				return
			}
		}
	}
}

// address checks a host:port and records it for checkAddresses.
func (d *decoder) address(n *yaml.Node, path string, dst *string, uses *[]addrUse) {
	d.str(n, path, dst)
	if d.err != nil {
		return
	}
	host, port, err := net.SplitHostPort(*dst)
	if err != nil {
		d.failf(n, path, "%q is not host:port", *dst)
		return
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil {
		d.failf(n, path, "%q: port %q is not a number from 0 to 65535", *dst, port)
		return
	} else {
		port = strconv.FormatUint(p, 10)
	}
	*uses = append(*uses, addrUse{strings.Trim(host, "[]"), port, n.Line, path})
}

// listener decodes one element of listeners.
// prefixes decodes a list of IP addresses or CIDR prefixes into *out.
func (d *decoder) prefixes(v *yaml.Node, path string, out *[]netip.Prefix) {
	d.list(v, path, func(s string, n *yaml.Node, p string) {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				d.failf(n, p, "%q is not an IP address or CIDR prefix", s)
				return
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		*out = append(*out, pfx.Masked())
	})
}

func (d *decoder) listener(n *yaml.Node, path string) Listener {
	l := Listener{Where: d.where(n, path), MaxConnections: 10000}
	var routesNode *yaml.Node
	present := d.fields(n, path, map[string]func(*yaml.Node, string){
		"name":               func(v *yaml.Node, p string) { d.str(v, p, &l.Name) },
		"listen":             func(v *yaml.Node, p string) { d.address(v, p, &l.Listen, &l.addrs) },
		"tls":                func(v *yaml.Node, p string) { d.listenerTLS(v, p, &l) },
		"trusted_proxies":    func(v *yaml.Node, p string) { d.prefixes(v, p, &l.TrustedProxies) },
		"trusted_forwarders": func(v *yaml.Node, p string) { d.prefixes(v, p, &l.TrustedForwarders) },
		"max_connections":    func(v *yaml.Node, p string) { d.positiveInt(v, p, &l.MaxConnections) },
		"max_header_bytes": func(v *yaml.Node, p string) {
			var s int64
			if d.size(v, p, &s, false); d.err == nil && s > math.MaxInt32 {
				d.failf(v, p, "too large")
			}
			l.MaxHeaderBytes = int(s)
		},
		"handshake_timeout": func(v *yaml.Node, p string) { d.duration(v, p, &l.HandshakeTimeout, false) },
		"close_timeout":     func(v *yaml.Node, p string) { d.duration(v, p, &l.CloseTimeout, false) },
		"routes": func(v *yaml.Node, p string) {
			routesNode = v
			d.seq(v, p, func(_ int, item *yaml.Node, p string) {
				l.Routes = append(l.Routes, d.route(item, p))
			})
		},
	})
	if d.err != nil {
		return l
	}
	if present["listen"] == nil {
		d.failf(n, join(path, "listen"), "missing (host:port to listen on)")
		return l
	}
	if l.Name == "" {
		l.Name = l.Listen
	}
	if routesNode == nil || len(l.Routes) == 0 {
		at := n
		if routesNode != nil {
			at = routesNode
		}
		d.failf(at, join(path, "routes"), "at least one route is needed")
		return l
	}
	// Two routes of a listener may not match the same host and path.
	type key struct{ host, path string }
	seen := map[key]int{}
	for i, r := range l.Routes {
		k := key{strings.ToLower(r.Host), strings.TrimSuffix(r.Path, "/")}
		if j, dup := seen[k]; dup {
			d.err = &configError{d.name, l.Routes[i].line, fmt.Sprintf("%s.routes[%d]", path, i),
				fmt.Sprintf("host %q and path %q are already routed by routes[%d] (line %d)", r.Host, r.Path, j, l.Routes[j].line)}
			return l
		}
		seen[k] = i
	}
	return l
}

// listenerTLS decodes a listener's tls mapping.
func (d *decoder) listenerTLS(n *yaml.Node, path string, l *Listener) {
	key := d.key
	var sources []*yaml.Node
	present := d.fields(n, path, map[string]func(*yaml.Node, string){
		"cert_file": func(v *yaml.Node, p string) { d.file(v, p, &l.CertFile) },
		"key_file":  func(v *yaml.Node, p string) { d.file(v, p, &l.KeyFile) },
		"dev_cert": func(v *yaml.Node, p string) {
			if v.Kind == yaml.ScalarNode {
				d.boolean(v, p, &l.DevCert)
				return
			}
			l.DevCert = true
			d.fields(v, p, map[string]func(*yaml.Node, string){
				"dir":   func(v *yaml.Node, p string) { d.dirName(v, p, &l.DevCertDir) },
				"hosts": func(v *yaml.Node, p string) { d.strList(v, p, &l.DevCertHosts) },
			})
		},
		"acme":         func(v *yaml.Node, p string) { l.ACME = d.acme(v, p, l) },
		"client_certs": func(v *yaml.Node, p string) { d.clientCerts(v, p, &l.ClientCerts) },
		"psk_file":     func(v *yaml.Node, p string) { d.file(v, p, &l.PSKFile) },
		"psk_tls12":    func(v *yaml.Node, p string) { d.boolean(v, p, &l.PSKTLS12) },
		"psk_identity_hint": func(v *yaml.Node, p string) {
			d.str(v, p, &l.PSKIdentityHint)
			if err := psk.CheckIdentity([]byte(l.PSKIdentityHint)); d.err == nil && err != nil {
				d.failf(v, p, "%v", err)
			}
		},
	})
	if d.err != nil {
		return
	}
	for _, k := range []string{"psk_tls12", "psk_identity_hint"} {
		if present[k] != nil && l.PSKFile == "" {
			d.failf(present[k], join(path, k), "needs psk_file")
			return
		}
	}
	if k := present["cert_file"]; k != nil {
		sources = append(sources, k)
	} else if k := present["key_file"]; k != nil {
		sources = append(sources, k)
	}
	if k := present["dev_cert"]; k != nil && l.DevCert {
		sources = append(sources, k)
	}
	if k := present["acme"]; k != nil {
		sources = append(sources, k)
	}
	switch {
	case len(sources) == 0 && l.PSKFile != "" && present["client_certs"] != nil:
		d.failf(present["client_certs"], join(path, "client_certs"), "needs a certificate source for the certificate clients")
	case len(sources) == 0 && l.PSKFile != "":
		// A PSK-only port.
	case len(sources) == 0:
		d.failf(key, path, "needs a certificate source: cert_file and key_file, dev_cert or acme, or psk_file (leave tls out for plain ws)")
	case len(sources) > 1:
		slices.SortFunc(sources, func(a, b *yaml.Node) int { return a.Line - b.Line })
		d.failf(sources[1], join(path, sources[1].Value), "choose one certificate source: cert_file/key_file, dev_cert or acme")
	case (l.CertFile == "") != (l.KeyFile == ""):
		d.failf(sources[0], path, "cert_file and key_file go together")
	}
}

// acme decodes a listener's tls.acme mapping.
func (d *decoder) acme(n *yaml.Node, path string, l *Listener) *ACME {
	key := d.key
	a := &ACME{CA: certs.LetsEncryptProduction}
	var tlsALPNNode *yaml.Node
	d.fields(n, path, map[string]func(*yaml.Node, string){
		"domains":   func(v *yaml.Node, p string) { d.strList(v, p, &a.Domains) },
		"on_demand": func(v *yaml.Node, p string) { d.strList(v, p, &a.OnDemand) },
		"email":     func(v *yaml.Node, p string) { d.str(v, p, &a.Email) },
		"ca": func(v *yaml.Node, p string) {
			d.str(v, p, &a.CA)
			if u, err := url.Parse(a.CA); d.err == nil && (err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "") {
				d.failf(v, p, "%q is not an ACME directory URL (https://…/directory)", a.CA)
			}
		},
		"ca_root":   func(v *yaml.Node, p string) { d.file(v, p, &a.CARoot) },
		"storage":   func(v *yaml.Node, p string) { d.dirName(v, p, &a.Storage) },
		"http":      func(v *yaml.Node, p string) { d.address(v, p, &a.HTTP, &l.addrs) },
		"reuse_key": func(v *yaml.Node, p string) { d.boolean(v, p, &a.ReuseKey) },
		"clients_pin_spki": func(v *yaml.Node, p string) {
			d.boolean(v, p, &a.ClientsPinSPKI)
		},
		"disable_tls_alpn": func(v *yaml.Node, p string) { tlsALPNNode = v; d.boolean(v, p, &a.DisableTLSALPN) },
		"renewal_window_ratio": func(v *yaml.Node, p string) {
			s, ok := d.scalar(v, p, "a number")
			if !ok {
				return
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || f <= 0 || f >= 1 {
				d.failf(v, p, "%q: want a fraction between 0 and 1, e.g. 0.33", s)
				return
			}
			a.RenewalWindowRatio = f
		},
	})
	switch {
	case d.err != nil:
	case len(a.Domains) == 0 && len(a.OnDemand) == 0:
		d.failf(key, path, "needs domains or on_demand")
	case a.DisableTLSALPN && a.HTTP == "":
		d.failf(tlsALPNNode, join(path, "disable_tls_alpn"), "needs http (an HTTP-01 listener), or no challenge can be answered")
	}
	return a
}

// verify decodes the keys a tlsconf policy shares between client
// certificates and upstreams: pins, pin_only, pin_match, ignore.
func (d *decoder) verifyFields(v *Verify, pinOnlyNode **yaml.Node) map[string]func(*yaml.Node, string) {
	return map[string]func(*yaml.Node, string){
		"pins": func(n *yaml.Node, p string) {
			d.list(n, p, func(s string, n *yaml.Node, p string) {
				if _, err := tlsconf.ParsePin(s); err != nil {
					d.failf(n, p, "%v", err)
					return
				}
				v.Pins = append(v.Pins, s)
			})
		},
		"pin_only": func(n *yaml.Node, p string) { *pinOnlyNode = n; d.boolean(n, p, &v.PinOnly) },
		"pin_match": func(n *yaml.Node, p string) {
			var s string
			switch d.str(n, p, &s); s {
			case "leaf":
				v.PinMatch = tlsconf.PinMatchLeaf
			case "chain":
				v.PinMatch = tlsconf.PinMatchChain
			default:
				d.failf(n, p, "%q: want leaf or chain", s)
			}
		},
		"ignore": func(n *yaml.Node, p string) {
			if n.Kind == yaml.ScalarNode {
				pol, err := tlsconf.ParseIgnorePolicy(n.Value)
				switch {
				case err != nil:
					d.failf(n, p, "%v (want none, all, or a list of KIND or KIND:SHA256)", err)
				case pol.Mode == tlsconf.IgnoreAll:
					v.IgnoreAll = true
				default:
					for _, e := range pol.Expected {
						v.Ignore = append(v.Ignore, e.String())
					}
				}
				return
			}
			d.list(n, p, func(s string, n *yaml.Node, p string) {
				if _, err := tlsconf.ParseExpectedError(s); err != nil {
					d.failf(n, p, "%v", err)
					return
				}
				v.Ignore = append(v.Ignore, s)
			})
		},
	}
}

func (d *decoder) checkPinOnly(v *Verify, pinOnlyNode *yaml.Node, path string) {
	if d.err == nil && v.PinOnly && len(v.Pins) == 0 {
		d.failf(pinOnlyNode, join(path, "pin_only"), "needs at least one pin in pins")
	}
}

// clientCerts decodes a listener's tls.client_certs mapping.
func (d *decoder) clientCerts(n *yaml.Node, path string, c *ClientCerts) {
	key := d.key
	var pinOnlyNode *yaml.Node
	h := d.verifyFields(&c.Verify, &pinOnlyNode)
	h["mode"] = func(v *yaml.Node, p string) {
		var s string
		switch d.str(v, p, &s); s {
		case "none":
			c.Mode = tlsconf.ClientCertNone
		case "optional":
			c.Mode = tlsconf.ClientCertOptional
		case "required":
			c.Mode = tlsconf.ClientCertRequired
		default:
			d.failf(v, p, "%q: want none, optional or required", s)
		}
	}
	h["ca_file"] = func(v *yaml.Node, p string) { d.file(v, p, &c.CAFile) }
	present := d.fields(n, path, h)
	switch {
	case d.err != nil:
	case present["mode"] == nil:
		d.failf(key, join(path, "mode"), "missing (none, optional or required)")
	case c.Mode == tlsconf.ClientCertNone && len(present) > 1:
		d.failf(present["mode"], join(path, "mode"), "is none: the other client_certs keys would have no effect")
	}
	d.checkPinOnly(&c.Verify, pinOnlyNode, path)
}

// route decodes one element of a listener's routes.
func (d *decoder) route(n *yaml.Node, path string) Route {
	r := Route{
		Where: d.where(n, path), line: n.Line, UpstreamProxy: "direct",
		MaxFrameSize: ws.DefaultMaxIncomingFrameSize, MaxMessageSize: ws.DefaultMaxIncomingMessageSize, OutgoingFrameSize: ws.DefaultOutgoingFrameSize,
		PingInterval: proxy.DefaultPingInterval, FrameTimeout: ws.DefaultFrameTimeout, WriteTimeout: ws.DefaultWriteTimeout,
		MaxControlRate: proxy.DefaultMaxControlRate, MaxTinyFrameRate: proxy.DefaultMaxTinyFrameRate,
	}
	present := d.fields(n, path, map[string]func(*yaml.Node, string){
		"name": func(v *yaml.Node, p string) { d.str(v, p, &r.Name) },
		"host": func(v *yaml.Node, p string) {
			d.str(v, p, &r.Host)
			if h := r.Host; d.err == nil && (strings.ContainsAny(h, "/ ") || strings.Contains(h, ":") && !isIP(h)) {
				d.failf(v, p, "%q: want a host name without scheme, port or path", h)
			}
		},
		"path": func(v *yaml.Node, p string) {
			d.str(v, p, &r.Path)
			if s := r.Path; d.err == nil && s != "" && s != "/" && (!strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/")) {
				d.failf(v, p, "%q must start with / and not end with one", s)
			}
		},
		"strip_path": func(v *yaml.Node, p string) { d.boolean(v, p, &r.StripPath) },
		"upstream": func(v *yaml.Node, p string) {
			d.str(v, p, &r.Upstream)
			if d.err != nil {
				return
			}
			u, err := url.Parse(r.Upstream)
			switch {
			case err != nil:
				d.failf(v, p, "not a URL: want ws://host[:port][/path] or wss://…")
			case (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "":
				d.failf(v, p, "%q is not a ws:// or wss:// URL with a host", u.Redacted())
			case u.User != nil || u.Fragment != "":
				d.failf(v, p, "the URL may not carry credentials or a fragment")
			}
		},
		"upstream_tls": func(v *yaml.Node, p string) { d.upstreamTLS(v, p, &r) },
		"upstream_psk": func(v *yaml.Node, p string) {
			present := d.fields(v, p, map[string]func(*yaml.Node, string){
				"identity": func(v *yaml.Node, p string) {
					d.str(v, p, &r.UpstreamPSKIdentity)
					if err := psk.CheckIdentity([]byte(r.UpstreamPSKIdentity)); d.err == nil && err != nil {
						d.failf(v, p, "%v", err)
					}
				},
				"key_file": func(v *yaml.Node, p string) { d.file(v, p, &r.UpstreamPSKKeyFile) },
				"tls12":    func(v *yaml.Node, p string) { d.boolean(v, p, &r.UpstreamPSKTLS12) },
			})
			if d.err == nil && (present["identity"] == nil || present["key_file"] == nil) {
				d.failf(v, p, "needs identity and key_file")
			}
		},
		"upstream_proxy":   func(v *yaml.Node, p string) { d.upstreamProxy(v, p, &r.UpstreamProxy) },
		"upstream_timeout": func(v *yaml.Node, p string) { d.duration(v, p, &r.UpstreamTimeout, false) },
		"max_frame_size":   func(v *yaml.Node, p string) { d.size(v, p, &r.MaxFrameSize, true) },
		"max_message_size": func(v *yaml.Node, p string) { d.size(v, p, &r.MaxMessageSize, true) },
		"outgoing_frame_size": func(v *yaml.Node, p string) {
			s := int64(r.OutgoingFrameSize)
			if d.size(v, p, &s, false); d.err == nil && s > math.MaxInt32 {
				d.failf(v, p, "too large")
			}
			r.OutgoingFrameSize = int(s)
		},
		"ping_interval":       func(v *yaml.Node, p string) { d.duration(v, p, &r.PingInterval, true) },
		"pong_timeout":        func(v *yaml.Node, p string) { d.duration(v, p, &r.PongTimeout, true) },
		"idle_timeout":        func(v *yaml.Node, p string) { d.duration(v, p, &r.IdleTimeout, true) },
		"frame_timeout":       func(v *yaml.Node, p string) { d.duration(v, p, &r.FrameTimeout, true) },
		"max_control_rate":    func(v *yaml.Node, p string) { d.wholeNumber(v, p, &r.MaxControlRate, 0) },
		"max_tiny_frame_rate": func(v *yaml.Node, p string) { d.wholeNumber(v, p, &r.MaxTinyFrameRate, 0) },
		"write_timeout":       func(v *yaml.Node, p string) { d.duration(v, p, &r.WriteTimeout, true) },
		"extensions": func(v *yaml.Node, p string) {
			var mode string
			d.str(v, p, &mode)
			switch mode {
			case "pass":
			case "none":
				r.NoExtensions = true
			default:
				if d.err == nil {
					d.failf(v, p, "%q: want pass (extensions negotiated end to end) or none", mode)
				}
			}
		},
		"allowed_origins": func(v *yaml.Node, p string) {
			d.list(v, p, func(s string, n *yaml.Node, p string) {
				u, err := url.Parse(s)
				if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
					d.failf(n, p, "%q is not an origin (want scheme://host[:port], e.g. https://app.example)", s)
					return
				}
				r.AllowedOrigins = append(r.AllowedOrigins, s)
			})
		},
	})
	switch {
	case d.err != nil:
	case present["upstream"] == nil || r.Upstream == "":
		d.failf(n, join(path, "upstream"), "missing (the ws:// or wss:// URL to relay to)")
	case present["upstream_tls"] != nil && !strings.HasPrefix(r.Upstream, "wss:"):
		d.failf(present["upstream_tls"], join(path, "upstream_tls"), "applies to wss:// upstreams only, not %q", r.Upstream)
	case present["upstream_psk"] != nil && !strings.HasPrefix(r.Upstream, "wss:"):
		d.failf(present["upstream_psk"], join(path, "upstream_psk"), "applies to wss:// upstreams only, not %q", r.Upstream)
	case present["upstream_psk"] != nil && present["upstream_tls"] != nil:
		d.failf(present["upstream_psk"], join(path, "upstream_psk"), "excludes upstream_tls: a PSK upstream has no certificate")
	case present["pong_timeout"] != nil && r.PongTimeout > 0 && r.PingInterval == 0:
		d.failf(present["pong_timeout"], join(path, "pong_timeout"), "needs ping_interval")
	case r.Pause && present["upstream_timeout"] != nil && r.UpstreamTimeout <= r.EffectivePauseTimeout():
		d.failf(present["upstream_timeout"], join(path, "upstream_timeout"), "must be longer than upstream_tls.pause_timeout (%s): it covers the pause", r.EffectivePauseTimeout())
	}
	return r
}

func isIP(s string) bool { _, err := netip.ParseAddr(s); return err == nil }

// upstreamTLS decodes a route's upstream_tls mapping.
func (d *decoder) upstreamTLS(n *yaml.Node, path string, r *Route) {
	var pinOnlyNode *yaml.Node
	h := d.verifyFields(&r.UpstreamVerify, &pinOnlyNode)
	h["ca_file"] = func(v *yaml.Node, p string) { d.file(v, p, &r.UpstreamCA) }
	h["sni"] = func(v *yaml.Node, p string) { d.str(v, p, &r.UpstreamSNI) }
	h["verify_name"] = func(v *yaml.Node, p string) { d.str(v, p, &r.UpstreamVerifyName) }
	h["cert_file"] = func(v *yaml.Node, p string) { d.file(v, p, &r.UpstreamCert) }
	h["key_file"] = func(v *yaml.Node, p string) { d.file(v, p, &r.UpstreamKey) }
	h["pause"] = func(v *yaml.Node, p string) { d.boolean(v, p, &r.Pause) }
	h["pause_timeout"] = func(v *yaml.Node, p string) { d.duration(v, p, &r.PauseTimeout, false) }
	h["pause_max_pending"] = func(v *yaml.Node, p string) { d.positiveInt(v, p, &r.PauseMaxPending) }
	present := d.fields(n, path, h)
	switch {
	case d.err != nil:
	case present["pause_timeout"] != nil && !r.Pause:
		d.failf(present["pause_timeout"], join(path, "pause_timeout"), "needs pause: true")
	case present["pause_max_pending"] != nil && !r.Pause:
		d.failf(present["pause_max_pending"], join(path, "pause_max_pending"), "needs pause: true")
	case r.Pause && r.UpstreamVerify.IgnoreAll:
		d.failf(present["pause"], join(path, "pause"), "ignore: all accepts every SSL error: nothing would pause")
	}
	if d.err == nil && (present["cert_file"] == nil) != (present["key_file"] == nil) {
		at := present["cert_file"]
		if at == nil {
			at = present["key_file"]
		}
		d.failf(at, path, "cert_file and key_file go together")
	}
	d.checkPinOnly(&r.UpstreamVerify, pinOnlyNode, path)
}

// upstreamProxy reads "direct", "env" or a proxy URL.
func (d *decoder) upstreamProxy(n *yaml.Node, path string, dst *string) {
	d.str(n, path, dst)
	switch *dst {
	case "direct", "env":
		return
	case "":
		*dst = "direct"
		return
	}
	if _, err := netproxy.ParseURL(*dst); d.err == nil && err != nil {
		d.failf(n, path, "%v (want direct, env, or http://, https://, socks5://, socks5h:// URL)", err)
	}
}

// Parse decodes and validates a config file's content, as Load does,
// without opening the files it names. name labels errors; relative paths
// in the file are resolved against dir.
func Parse(data []byte, name, dir string) (Config, error) {
	cfg, _, err := parseConfig(data, name, dir)
	return cfg, err
}
