package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wssproxy/wssproxy/proxy/netproxy"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
)

// addrUse is a listening address and where the file asks for it.
type addrUse struct {
	host, port string
	line       int
	path       string
}

// Validate checks a configuration read from a file: each value, and how
// they combine (a certificate source per tls mapping, upstream_tls only
// on wss upstreams, no two listeners on one address, no two routes of a
// listener on one host and path, …). The error names the file, the line
// and the key. A Config not read from a file (flags: ServeFlags.Config
// checks those) has no positions, and Validate returns nil for it.
func (c *Config) Validate() error {
	p := c.pos
	if p == nil {
		return nil
	}
	var uses []addrUse
	if p.has("log.format") && c.Log.Format != "json" && c.Log.Format != "console" {
		return p.fail("log.format", "%q: want json or console", c.Log.Format)
	}
	if p.has("log.level") && !slices.Contains([]string{"trace", "debug", "info", "warn", "error"}, c.Log.Level) {
		return p.fail("log.level", "%q: want trace, debug, info, warn or error", c.Log.Level)
	}
	if err := p.duration("grace", c.Grace, true); err != nil {
		return err
	}
	if p.has("store") {
		if c.Store == "" {
			return p.fail("store", "empty: leave the key out for the default file, or give file:PATH")
		}
		if _, err := ParseStore(c.Store); err != nil {
			return p.fail("store", "%v", err)
		}
	}
	if p.has("store_etcd") {
		if err := c.validateStoreEtcd(); err != nil {
			return err
		}
	}
	if p.has("admin") {
		if err := c.validateAdmin(&uses); err != nil {
			return err
		}
	}
	for i := range c.Listeners {
		if err := c.validateListener(i, &uses); err != nil {
			return err
		}
	}
	if len(c.Listeners) == 0 {
		return p.fail("listeners", "at least one listener is needed")
	}
	return p.checkAddresses(uses)
}

func (c *Config) validateStoreEtcd() error {
	p, e := c.pos, &c.StoreEtcd
	if !strings.HasPrefix(strings.ToLower(c.Store), "etcd://") {
		return p.failKey("store_etcd", "needs store: etcd://HOST:PORT,…/PREFIX")
	}
	for _, k := range []string{"ca_file", "cert_file", "key_file", "password_file", "cache_file"} {
		if err := p.fileName("store_etcd." + k); err != nil {
			return err
		}
	}
	switch {
	case (e.CertFile == "") != (e.KeyFile == ""):
		k := "store_etcd.cert_file"
		if e.CertFile == "" {
			k = "store_etcd.key_file"
		}
		return p.failKey(k, "cert_file and key_file go together")
	case e.Username != "" && e.PasswordFile == "":
		return p.failKey("store_etcd.username", "needs password_file (the password is only read from a file)")
	case e.Username == "" && e.PasswordFile != "":
		return p.failKey("store_etcd.password_file", "needs username")
	case p.has("store_etcd.username") && strings.ContainsAny(e.Username, " \t\r\n:"):
		return p.fail("store_etcd.username", "%q: no white space or ':'", e.Username)
	case p.has("store_etcd.instance") && (e.Instance == "" || len(e.Instance) > 128 || strings.ContainsAny(e.Instance, "/ \t\r\n")):
		return p.fail("store_etcd.instance", "%q: want a word of at most 128 bytes without '/'", e.Instance)
	}
	for _, k := range []string{"dial_timeout", "op_timeout"} {
		d := e.DialTimeout
		if k == "op_timeout" {
			d = e.OpTimeout
		}
		if err := p.duration("store_etcd."+k, d, false); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateAdmin(uses *[]addrUse) error {
	p, a := c.pos, &c.Admin
	if p.has("admin.listen") {
		if sock, unix := strings.CutPrefix(a.Listen, "unix:"); unix {
			if sock == "" {
				return p.fail("admin.listen", "unix: needs a socket path, e.g. unix:/run/wssproxy/admin.sock")
			}
		} else if err := p.address("admin.listen", a.Listen, uses); err != nil {
			return err
		}
	}
	for _, err := range []error{
		p.fileName("admin.token_file"),
		p.positive("admin.pause_max_pending", a.PauseMaxPending, 1),
		p.positive("admin.pause_max_waiters", a.PauseMaxWaiters, 1),
	} {
		if err != nil {
			return err
		}
	}
	if !p.has("admin.listen") {
		return p.fail("admin.listen", "missing (host:port or unix:/path)")
	}
	return nil
}

func (c *Config) validateListener(i int, uses *[]addrUse) error {
	p, l := c.pos, &c.Listeners[i]
	lp := fmt.Sprintf("listeners[%d]", i)
	if p.has(lp + ".listen") {
		if err := p.address(lp+".listen", l.Listen, uses); err != nil {
			return err
		}
	}
	if p.has(lp + ".tls") {
		if err := c.validateTLS(lp+".tls", l, uses); err != nil {
			return err
		}
	}
	for _, err := range []error{
		p.positive(lp+".max_connections", l.MaxConnections, 1),
		p.size(lp+".max_header_bytes", int64(l.MaxHeaderBytes), false, math.MaxInt32),
		p.duration(lp+".handshake_timeout", l.HandshakeTimeout, false),
		p.duration(lp+".close_timeout", l.CloseTimeout, false),
	} {
		if err != nil {
			return err
		}
	}
	for j := range l.Routes {
		if err := c.validateRoute(fmt.Sprintf("%s.routes[%d]", lp, j), &l.Routes[j]); err != nil {
			return err
		}
	}
	if !p.has(lp + ".listen") {
		return p.errAt(p.at(lp), lp+".listen", "missing (host:port to listen on)")
	}
	if len(l.Routes) == 0 {
		return p.fail(lp+".routes", "at least one route is needed")
	}
	// Two routes of a listener may not match the same host and path.
	type key struct{ host, path string }
	seen := map[key]int{}
	for j, r := range l.Routes {
		k := key{strings.ToLower(r.Host), strings.TrimSuffix(r.Path, "/")}
		if first, dup := seen[k]; dup {
			return p.errAt(p.at(fmt.Sprintf("%s.routes[%d]", lp, j)), fmt.Sprintf("%s.routes[%d]", lp, j),
				"host %q and path %q are already routed by routes[%d] (line %d)", r.Host, r.Path, first, l.Routes[first].line)
		}
		seen[k] = j
	}
	return nil
}

func (c *Config) validateTLS(tp string, l *Listener, uses *[]addrUse) error {
	p := c.pos
	for _, err := range []error{p.fileName(tp + ".cert_file"), p.fileName(tp + ".key_file")} {
		if err != nil {
			return err
		}
	}
	if l.ACME != nil {
		if err := c.validateACME(tp+".acme", l.ACME, uses); err != nil {
			return err
		}
	}
	if p.has(tp + ".client_certs") {
		if err := c.validateClientCerts(tp+".client_certs", &l.ClientCerts); err != nil {
			return err
		}
	}
	if err := p.fileName(tp + ".psk_file"); err != nil {
		return err
	}
	if err := psk.CheckIdentity([]byte(l.PSKIdentityHint)); err != nil && p.has(tp+".psk_identity_hint") {
		return p.fail(tp+".psk_identity_hint", "%v", err)
	}
	if l.PSKStore && l.PSKFile != "" {
		return p.failKey(tp+".psk_store", "excludes psk_file: the identities come from one place")
	}
	for _, k := range []string{"psk_tls12", "psk_identity_hint"} {
		if p.has(tp+"."+k) && l.PSKFile == "" && !l.PSKStore {
			return p.failKey(tp+"."+k, "needs psk_file or psk_store")
		}
	}
	var sources []*yaml.Node
	if k := p.keys[tp+".cert_file"]; k != nil {
		sources = append(sources, k)
	} else if k := p.keys[tp+".key_file"]; k != nil {
		sources = append(sources, k)
	}
	if k := p.keys[tp+".dev_cert"]; k != nil && l.DevCert.Enabled {
		sources = append(sources, k)
	}
	if k := p.keys[tp+".acme"]; k != nil {
		sources = append(sources, k)
	}
	switch {
	case len(sources) == 0 && (l.PSKFile != "" || l.PSKStore) && p.has(tp+".client_certs"):
		return p.failKey(tp+".client_certs", "needs a certificate source for the certificate clients")
	case len(sources) == 0 && (l.PSKFile != "" || l.PSKStore):
		// A PSK-only port.
	case len(sources) == 0:
		return p.failKey(tp, "needs a certificate source: cert_file and key_file, dev_cert or acme, or psk_file or psk_store (leave tls out for plain ws)")
	case len(sources) > 1:
		slices.SortFunc(sources, func(a, b *yaml.Node) int { return a.Line - b.Line })
		return p.errAt(sources[1], tp+"."+sources[1].Value, "choose one certificate source: cert_file/key_file, dev_cert or acme")
	case (l.CertFile == "") != (l.KeyFile == ""):
		return p.errAt(sources[0], tp, "cert_file and key_file go together")
	}
	return nil
}

func (c *Config) validateACME(ap string, a *ACME, uses *[]addrUse) error {
	p := c.pos
	if p.has(ap + ".ca") {
		if u, err := url.Parse(a.CA); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			return p.fail(ap+".ca", "%q is not an ACME directory URL (https://…/directory)", a.CA)
		}
	}
	if err := p.fileName(ap + ".ca_root"); err != nil {
		return err
	}
	if p.has(ap + ".http") {
		if err := p.address(ap+".http", a.HTTP, uses); err != nil {
			return err
		}
	}
	if p.has(ap+".renewal_window_ratio") && (a.RenewalWindowRatio <= 0 || a.RenewalWindowRatio >= 1) {
		return p.fail(ap+".renewal_window_ratio", "%q: want a fraction between 0 and 1, e.g. 0.33", p.raw(ap+".renewal_window_ratio"))
	}
	switch {
	case len(a.Domains) == 0 && len(a.OnDemand) == 0:
		return p.failKey(ap, "needs domains or on_demand")
	case a.DisableTLSALPN && a.HTTP == "":
		return p.fail(ap+".disable_tls_alpn", "needs http (an HTTP-01 listener), or no challenge can be answered")
	}
	return nil
}

func (c *Config) validateClientCerts(cp string, cc *ClientCerts) error {
	p := c.pos
	if p.has(cp+".mode") && !slices.Contains([]string{"none", "optional", "required"}, cc.Mode) {
		return p.fail(cp+".mode", "%q: want none, optional or required", cc.Mode)
	}
	if err := p.fileName(cp + ".ca_file"); err != nil {
		return err
	}
	if err := p.verify(cp, &cc.Verify); err != nil {
		return err
	}
	present := 0
	for k := range fieldsOf(reflectTypeClientCerts) {
		if p.has(cp + "." + k) {
			present++
		}
	}
	switch {
	case !p.has(cp + ".mode"):
		return p.errAt(p.keys[cp], cp+".mode", "missing (none, optional or required)")
	case cc.Mode == "none" && present > 1:
		return p.failKey(cp+".mode", "is none: the other client_certs keys would have no effect")
	}
	return p.pinOnly(cp, &cc.Verify)
}

// verify checks the keys a tlsconf policy shares between client
// certificates and upstreams: pins, pin_match, ignore.
func (p *positions) verify(vp string, v *Verify) error {
	for i, s := range v.Pins {
		if _, err := tlsconf.ParsePin(s); err != nil {
			return p.fail(p.item(vp+".pins", i), "%v", err)
		}
	}
	if p.has(vp+".pin_match") && v.PinMatch != "leaf" && v.PinMatch != "chain" {
		return p.fail(vp+".pin_match", "%q: want leaf or chain", v.PinMatch)
	}
	if n := p.vals[vp+".ignore"]; n != nil && n.Kind == yaml.ScalarNode {
		if _, err := tlsconf.ParseIgnorePolicy(n.Value); err != nil {
			return p.fail(vp+".ignore", "%v (want none, all, or a list of KIND or KIND:SHA256)", err)
		}
		return nil
	}
	for i, s := range v.Ignore {
		if _, err := tlsconf.ParseExpectedError(s); err != nil {
			return p.fail(p.item(vp+".ignore", i), "%v", err)
		}
	}
	return nil
}

func (p *positions) pinOnly(vp string, v *Verify) error {
	if v.PinOnly && len(v.Pins) == 0 {
		return p.fail(vp+".pin_only", "needs at least one pin in pins")
	}
	return nil
}

func (c *Config) validateRoute(rp string, r *Route) error {
	p := c.pos
	if h := r.Host; strings.ContainsAny(h, "/ ") || strings.Contains(h, ":") && !isIP(h) {
		return p.fail(rp+".host", "%q: want a host name without scheme, port or path", h)
	}
	if s := r.Path; s != "" && s != "/" && (!strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/")) {
		return p.fail(rp+".path", "%q must start with / and not end with one", s)
	}
	if p.has(rp + ".upstream") {
		u, err := url.Parse(r.Upstream)
		switch {
		case err != nil:
			return p.fail(rp+".upstream", "not a URL: want ws://host[:port][/path] or wss://…")
		case (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "":
			return p.fail(rp+".upstream", "%q is not a ws:// or wss:// URL with a host", u.Redacted())
		case u.User != nil || u.Fragment != "":
			return p.fail(rp+".upstream", "the URL may not carry credentials or a fragment")
		}
	}
	up, pp := rp+".upstream_tls", rp+".upstream_psk"
	if p.has(up) {
		if err := c.validateUpstreamTLS(up, r); err != nil {
			return err
		}
	}
	if p.has(pp) {
		if err := psk.CheckIdentity([]byte(r.UpstreamPSKIdentity)); err != nil {
			return p.fail(pp+".identity", "%v", err)
		}
		if err := p.fileName(pp + ".key_file"); err != nil {
			return err
		}
		if !p.has(pp+".identity") || !p.has(pp+".key_file") {
			return p.fail(pp, "needs identity and key_file")
		}
	}
	switch r.UpstreamProxy {
	case "direct", "env":
	default:
		if _, err := netproxy.ParseURL(r.UpstreamProxy); err != nil {
			return p.fail(rp+".upstream_proxy", "%v (want direct, env, or http://, https://, socks5://, socks5h:// URL)", err)
		}
	}
	for _, err := range []error{
		p.duration(rp+".upstream_timeout", r.UpstreamTimeout, false),
		p.size(rp+".max_frame_size", int64(r.MaxFrameSize), true, math.MaxInt64),
		p.size(rp+".max_message_size", int64(r.MaxMessageSize), true, math.MaxInt64),
		p.size(rp+".outgoing_frame_size", int64(r.OutgoingFrameSize), false, math.MaxInt32),
		p.duration(rp+".ping_interval", r.PingInterval, true),
		p.duration(rp+".pong_timeout", r.PongTimeout, true),
		p.duration(rp+".idle_timeout", r.IdleTimeout, true),
		p.duration(rp+".frame_timeout", r.FrameTimeout, true),
		p.duration(rp+".write_timeout", r.WriteTimeout, true),
		p.positive(rp+".max_control_rate", r.MaxControlRate, 0),
		p.positive(rp+".max_tiny_frame_rate", r.MaxTinyFrameRate, 0),
	} {
		if err != nil {
			return err
		}
	}
	if p.has(rp+".extensions") && r.Extensions != "pass" && r.Extensions != "none" {
		return p.fail(rp+".extensions", "%q: want pass (extensions negotiated end to end) or none", r.Extensions)
	}
	for i, s := range r.AllowedOrigins {
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return p.fail(p.item(rp+".allowed_origins", i), "%q is not an origin (want scheme://host[:port], e.g. https://app.example)", s)
		}
	}
	switch {
	case !p.has(rp+".upstream") || r.Upstream == "":
		return p.errAt(p.at(rp), rp+".upstream", "missing (the ws:// or wss:// URL to relay to)")
	case p.has(up) && !strings.HasPrefix(r.Upstream, "wss:"):
		return p.failKey(up, "applies to wss:// upstreams only, not %q", r.Upstream)
	case p.has(pp) && !strings.HasPrefix(r.Upstream, "wss:"):
		return p.failKey(pp, "applies to wss:// upstreams only, not %q", r.Upstream)
	case p.has(pp) && p.has(up):
		return p.failKey(pp, "excludes upstream_tls: a PSK upstream has no certificate")
	case p.has(rp+".pong_timeout") && r.PongTimeout > 0 && r.PingInterval == 0:
		return p.failKey(rp+".pong_timeout", "needs ping_interval")
	case r.Pause && p.has(rp+".upstream_timeout") && r.UpstreamTimeout.D() <= r.EffectivePauseTimeout():
		return p.failKey(rp+".upstream_timeout", "must be longer than upstream_tls.pause_timeout (%s): it covers the pause", r.EffectivePauseTimeout())
	}
	return nil
}

func (c *Config) validateUpstreamTLS(up string, r *Route) error {
	p := c.pos
	for _, err := range []error{
		p.verify(up, &r.UpstreamVerify),
		p.fileName(up + ".ca_file"), p.fileName(up + ".cert_file"), p.fileName(up + ".key_file"),
		p.duration(up+".pause_timeout", r.PauseTimeout, false),
		p.positive(up+".pause_max_pending", r.PauseMaxPending, 1),
	} {
		if err != nil {
			return err
		}
	}
	switch {
	case p.has(up+".pause_timeout") && !r.Pause:
		return p.failKey(up+".pause_timeout", "needs pause: true")
	case p.has(up+".pause_max_pending") && !r.Pause:
		return p.failKey(up+".pause_max_pending", "needs pause: true")
	case r.Pause && r.UpstreamVerify.IgnoreAll:
		return p.failKey(up+".pause", "ignore: all accepts every SSL error: nothing would pause")
	}
	if p.has(up+".cert_file") != p.has(up+".key_file") {
		at := up + ".cert_file"
		if !p.has(at) {
			at = up + ".key_file"
		}
		return p.errAt(p.keys[at], up, "cert_file and key_file go together")
	}
	return p.pinOnly(up, &r.UpstreamVerify)
}

func isIP(s string) bool { _, err := netip.ParseAddr(s); return err == nil }

// fileName refuses an empty file name at path.
func (p *positions) fileName(path string) error {
	if p.has(path) && p.raw(path) == "" {
		return p.fail(path, "empty file name")
	}
	return nil
}

// positive checks that the integer at path, if the file sets it, is at
// least least.
func (p *positions) positive(path string, v, least int) error {
	switch {
	case !p.has(path) || v >= least:
		return nil
	case least == 1:
		return p.fail(path, "must be positive, not %d", v)
	}
	return p.fail(path, "must be at least %d, not %d", least, v)
}

// duration checks the duration at path, if the file sets it.
func (p *positions) duration(path string, d Duration, allowZero bool) error {
	switch {
	case !p.has(path):
	case d < 0:
		return p.fail(path, "must not be negative, not %s", p.raw(path))
	case d == 0 && !allowZero:
		return p.fail(path, "must be more than 0")
	}
	return nil
}

// size checks the size at path, if the file sets it: never 0, -1 (no
// limit) only if noLimit, at most most.
func (p *positions) size(path string, s int64, noLimit bool, most int64) error {
	switch {
	case !p.has(path):
	case s == 0:
		return p.fail(path, "must not be 0")
	case s < 0 && !noLimit:
		return p.fail(path, "must be positive, not %s", p.raw(path))
	case s < 0 && s != -1:
		return p.fail(path, "%s: use -1 for no limit", p.raw(path))
	case s > most:
		return p.fail(path, "too large")
	}
	return nil
}

// address checks a host:port and records it for checkAddresses.
func (p *positions) address(path, addr string, uses *[]addrUse) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return p.fail(path, "%q is not host:port", addr)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return p.fail(path, "%q: port %q is not a number from 0 to 65535", addr, port)
	}
	*uses = append(*uses, addrUse{strings.Trim(host, "[]"), strconv.FormatUint(n, 10), p.at(path).Line, path})
	return nil
}

func wildcard(host string) bool { return host == "" || host == "0.0.0.0" || host == "::" }

// checkAddresses refuses two listeners (or ACME HTTP-01 listeners, or the
// admin API) on the same address; port 0 (any free port) never clashes.
func (p *positions) checkAddresses(uses []addrUse) error {
	for i, u := range uses {
		for _, o := range uses[:i] {
			if u.port == o.port && u.port != "0" && (u.host == o.host || wildcard(u.host) || wildcard(o.host)) {
				return &configError{p.name, u.line, u.path, fmt.Sprintf("%s overlaps %s (line %d)", net.JoinHostPort(u.host, u.port), o.path, o.line)}
			}
		}
	}
	return nil
}
