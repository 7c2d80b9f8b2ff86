package netproxy

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"net/url"
	"strings"
	"unicode/utf8"
)

// HTTP Digest access authentication, RFC 7616, as a client: MD5, SHA-256
// and SHA-512-256, each also as a -sess variant (§3.4.2), qop "auth" or
// "auth-int" (with the empty body of a CONNECT) or no qop at all (the
// RFC 2069 form), nonce counts (§3.4), userhash (§3.4.4) and UTF-8 user
// names (§4). No maintained Go library covers the -sess variants, hence
// this file.

// digestAlgorithms maps the algorithm names of RFC 7616 §6.1 (without
// "-sess") to their hash, strongest last.
var digestAlgorithms = []struct {
	name string
	new  func() hash.Hash
}{
	{"MD5", md5.New},
	{"SHA-256", sha256.New},
	{"SHA-512-256", sha512.New512_256},
}

// digestChallenge is a parsed Digest challenge (RFC 7616 §3.3).
type digestChallenge struct {
	realm, nonce, opaque string
	algorithm            string // as sent, e.g. "SHA-256-sess"; "" means MD5
	newHash              func() hash.Hash
	strength             int  // index in digestAlgorithms
	sess                 bool // a -sess algorithm
	qop                  string
	stale                bool
	userhash             bool
	utf8                 bool // charset=UTF-8
}

// parseDigest reads a Digest challenge; ok is false when it lacks a nonce
// or asks for an algorithm or qop this client does not implement.
func parseDigest(c authChallenge) (d digestChallenge, ok bool) {
	p := c.Params
	d = digestChallenge{realm: p["realm"], nonce: p["nonce"], opaque: p["opaque"], algorithm: p["algorithm"]}
	if d.nonce == "" {
		return d, false
	}
	alg := strings.ToUpper(d.algorithm)
	if alg == "" {
		alg = "MD5"
	}
	if base, found := strings.CutSuffix(alg, "-SESS"); found {
		alg, d.sess = base, true
	}
	d.strength = -1
	for i, a := range digestAlgorithms {
		if a.name == alg {
			d.newHash, d.strength = a.new, i
		}
	}
	if d.newHash == nil {
		return d, false
	}
	if q, found := p["qop"]; found {
		// Prefer "auth"; "auth-int" with a CONNECT's empty body is as good.
		for _, o := range strings.Split(q, ",") {
			switch strings.ToLower(strings.TrimSpace(o)) {
			case "auth":
				d.qop = "auth"
			case "auth-int":
				if d.qop == "" {
					d.qop = "auth-int"
				}
			}
		}
		if d.qop == "" {
			return d, false
		}
	}
	d.stale = strings.EqualFold(p["stale"], "true")
	d.userhash = strings.EqualFold(p["userhash"], "true")
	d.utf8 = strings.EqualFold(p["charset"], "UTF-8")
	return d, true
}

// bestDigest returns the strongest usable Digest challenge among cs.
func bestDigest(cs []authChallenge) (digestChallenge, bool) {
	var best digestChallenge
	found := false
	for _, c := range cs {
		if !c.is(SchemeDigest) {
			continue
		}
		if d, ok := parseDigest(c); ok && (!found || d.strength > best.strength) {
			best, found = d, true
		}
	}
	return best, found
}

// digestResponse returns the Proxy-Authorization value answering d for a
// request (method, uri) with nonce count nc and client nonce cnonce
// (RFC 7616 §3.4).
func digestResponse(d digestChallenge, user, pass, method, uri, cnonce string, nc uint32) string {
	h := func(parts ...string) string {
		x := d.newHash()
		for i, p := range parts {
			if i > 0 {
				x.Write([]byte{':'})
			}
			x.Write([]byte(p))
		}
		return hex.EncodeToString(x.Sum(nil))
	}
	ncs := fmt.Sprintf("%08x", nc)
	ha1 := h(user, d.realm, pass) // §3.4.2
	if d.sess {
		ha1 = h(ha1, d.nonce, cnonce)
	}
	var ha2 string // §3.4.3
	if d.qop == "auth-int" {
		ha2 = h(method, uri, h(""))
	} else {
		ha2 = h(method, uri)
	}
	var response string // §3.4.1
	if d.qop == "" {
		response = h(ha1, d.nonce, ha2)
	} else {
		response = h(ha1, d.nonce, ncs, cnonce, d.qop, ha2)
	}

	var b strings.Builder
	b.WriteString("Digest ")
	switch {
	case d.userhash: // §3.4.4
		fmt.Fprintf(&b, "username=%s, userhash=true", quote(h(user, d.realm)))
	case needsExtValue(user) && d.utf8: // §3.4, RFC 8187
		fmt.Fprintf(&b, "username*=UTF-8''%s", strings.ReplaceAll(url.PathEscape(user), "+", "%2B"))
	default:
		fmt.Fprintf(&b, "username=%s", quote(user))
	}
	fmt.Fprintf(&b, ", realm=%s, uri=%s", quote(d.realm), quote(uri))
	if d.algorithm != "" {
		fmt.Fprintf(&b, ", algorithm=%s", d.algorithm)
	}
	fmt.Fprintf(&b, ", nonce=%s", quote(d.nonce))
	if d.qop != "" {
		fmt.Fprintf(&b, ", nc=%s, cnonce=%s, qop=%s", ncs, quote(cnonce), d.qop)
	}
	fmt.Fprintf(&b, ", response=%s", quote(response))
	if d.opaque != "" {
		fmt.Fprintf(&b, ", opaque=%s", quote(d.opaque))
	}
	return b.String()
}

// needsExtValue reports whether a user name cannot travel as a plain
// quoted-string: non-ASCII, control characters, quotes or backslashes.
func needsExtValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return true
		}
	}
	return !utf8.ValidString(s)
}

// quote returns s as a quoted-string, escaping '"' and '\' and dropping
// CR, LF and NUL (which no header may carry).
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r', '\n', 0:
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
