package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/ws"
)

// complete fills what the file left out with the defaults, derives
// NoExtensions and IgnoreAll, and resolves relative paths against the
// file's folder, recording the files named.
func (c *Config) complete() {
	p := c.pos
	if p.has("store") {
		// A relative file is relative to the configuration file.
		if path, ok := strings.CutPrefix(c.Store, "file:"); ok && path != "" {
			c.Store = "file:" + p.abs(path)
		} else if !strings.Contains(c.Store, "://") && c.Store != "" {
			c.Store = p.abs(c.Store)
		}
	}
	if p.has("store_etcd") {
		e := &c.StoreEtcd
		e.Where = p.where("store_etcd")
		p.file("store_etcd.ca_file", &e.CAFile)
		p.file("store_etcd.cert_file", &e.CertFile)
		p.file("store_etcd.key_file", &e.KeyFile)
		p.file("store_etcd.password_file", &e.PasswordFile)
		e.CacheFile = p.abs(e.CacheFile)
	}
	if p.has("admin") {
		c.Admin.Where = p.where("admin")
		if sock, ok := strings.CutPrefix(c.Admin.Listen, "unix:"); ok && sock != "" {
			c.Admin.Listen = "unix:" + p.abs(sock)
		}
		p.file("admin.token_file", &c.Admin.TokenFile)
	}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		lp := fmt.Sprintf("listeners[%d]", i)
		l.Where = p.where(lp)
		if l.Name == "" {
			l.Name = l.Listen
		}
		if !p.has(lp + ".max_connections") {
			l.MaxConnections = 10000
		}
		tp := lp + ".tls"
		p.file(tp+".cert_file", &l.CertFile)
		p.file(tp+".key_file", &l.KeyFile)
		l.DevCert.Dir = p.abs(l.DevCert.Dir)
		if a := l.ACME; a != nil {
			if !p.has(tp + ".acme.ca") {
				a.CA = certs.LetsEncryptProduction
			}
			p.file(tp+".acme.ca_root", &a.CARoot)
			a.Storage = p.abs(a.Storage)
		}
		p.file(tp+".client_certs.ca_file", &l.ClientCerts.CAFile)
		completeVerify(p, tp+".client_certs", &l.ClientCerts.Verify)
		p.file(tp+".psk_file", &l.PSKFile)
		for j := range l.Routes {
			completeRoute(p, fmt.Sprintf("%s.routes[%d]", lp, j), &l.Routes[j])
		}
	}
}

func completeRoute(p *positions, rp string, r *Route) {
	r.Where, r.line = p.where(rp), p.at(rp).Line
	defaults := []struct {
		key string
		set func()
	}{
		{"max_frame_size", func() { r.MaxFrameSize = ws.DefaultMaxIncomingFrameSize }},
		{"max_message_size", func() { r.MaxMessageSize = ws.DefaultMaxIncomingMessageSize }},
		{"outgoing_frame_size", func() { r.OutgoingFrameSize = ws.DefaultOutgoingFrameSize }},
		{"ping_interval", func() { r.PingInterval = Duration(proxy.DefaultPingInterval) }},
		{"frame_timeout", func() { r.FrameTimeout = Duration(ws.DefaultFrameTimeout) }},
		{"write_timeout", func() { r.WriteTimeout = Duration(ws.DefaultWriteTimeout) }},
		{"max_control_rate", func() { r.MaxControlRate = proxy.DefaultMaxControlRate }},
		{"max_tiny_frame_rate", func() { r.MaxTinyFrameRate = proxy.DefaultMaxTinyFrameRate }},
	}
	for _, d := range defaults {
		if !p.has(rp + "." + d.key) {
			d.set()
		}
	}
	if r.UpstreamProxy == "" {
		r.UpstreamProxy = "direct"
	}
	r.NoExtensions = r.Extensions == "none"
	up := rp + ".upstream_tls"
	if !p.has(up + ".session_resumption") {
		r.SessionResumption = true
	}
	r.NoSessionResumption = !r.SessionResumption
	p.file(up+".ca_file", &r.UpstreamCA)
	p.file(up+".cert_file", &r.UpstreamCert)
	p.file(up+".key_file", &r.UpstreamKey)
	completeVerify(p, up, &r.UpstreamVerify)
	p.file(rp+".upstream_psk.key_file", &r.UpstreamPSKKeyFile)
}

// completeVerify turns "ignore: all", "ignore: none" and "ignore: A,B"
// into IgnoreAll and the list (Validate reports a bad one).
func completeVerify(p *positions, vp string, v *Verify) {
	n := p.vals[vp+".ignore"]
	if n == nil || n.Kind != yaml.ScalarNode {
		return
	}
	v.Ignore = nil
	if pol, err := tlsconf.ParseIgnorePolicy(n.Value); err == nil {
		v.IgnoreAll = pol.Mode == tlsconf.IgnoreAll
		for _, e := range pol.Expected {
			v.Ignore = append(v.Ignore, e.String())
		}
	}
}
