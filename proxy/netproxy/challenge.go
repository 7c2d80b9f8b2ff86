package netproxy

import "strings"

// Limits on what parseChallenges keeps from a (size-bounded) response head.
const (
	maxChallenges = 16
	maxAuthParams = 32
)

// authChallenge is one challenge of a Proxy-Authenticate (or
// WWW-Authenticate) field (RFC 9110 §11.2):
//
//	challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
type authChallenge struct {
	Scheme string            // as sent, e.g. "Digest"
	Token  string            // the token68, e.g. an NTLM or Negotiate message in base64
	Params map[string]string // auth-params, names lower-cased, quoted values unescaped
}

// is reports whether the challenge is for scheme (case-insensitive).
func (c authChallenge) is(scheme string) bool { return strings.EqualFold(c.Scheme, scheme) }

// parseChallenges parses the values of Proxy-Authenticate fields. A field
// may hold several challenges separated by commas; malformed parts are
// skipped. At most maxChallenges challenges with maxAuthParams parameters
// each are kept.
func parseChallenges(values []string) []authChallenge {
	var out []authChallenge
	for _, v := range values {
		p := challengeParser{s: v}
		for len(out) < maxChallenges {
			c, ok := p.next()
			if !ok {
				break
			}
			out = append(out, c)
		}
	}
	return out
}

// challengeParser walks one field value.
type challengeParser struct {
	s string
	i int
}

func (p *challengeParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// skipSeparators skips white space and commas (empty list elements).
func (p *challengeParser) skipSeparators() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

// token reads a token (RFC 9110 §5.6.2).
func (p *challengeParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// next returns the next challenge of the value.
func (p *challengeParser) next() (authChallenge, bool) {
	for {
		p.skipSeparators()
		if p.i >= len(p.s) {
			return authChallenge{}, false
		}
		scheme := p.token()
		if scheme == "" {
			// Not a token: skip to the next comma.
			if j := strings.IndexByte(p.s[p.i:], ','); j >= 0 {
				p.i += j + 1
				continue
			}
			return authChallenge{}, false
		}
		c := authChallenge{Scheme: scheme}
		p.skipSpace()
		if t, ok := p.token68(); ok {
			c.Token = t
			return c, true
		}
		p.params(&c)
		return c, true
	}
}

// token68 reads a token68 (RFC 9110 §11.2) if one stands here: characters
// of the token68 set, '=' padding, then the end of the value or a comma.
// A "name=value" auth-param is not a token68; "name=," (an empty
// parameter value) is read as a token68 with one '=' of base64 padding.
func (p *challengeParser) token68() (string, bool) {
	start, j := p.i, p.i
	for j < len(p.s) && isToken68Char(p.s[j]) {
		j++
	}
	if j == start {
		return "", false
	}
	for j < len(p.s) && p.s[j] == '=' {
		j++
	}
	k := j
	for k < len(p.s) && (p.s[k] == ' ' || p.s[k] == '\t') {
		k++
	}
	if k < len(p.s) && p.s[k] != ',' {
		return "", false // "name=value" or "name = value": parameters
	}
	p.i = k
	return p.s[start:j], true
}

// params reads #auth-param up to the next challenge: a comma followed by
// a token that is not followed by '=' starts the next challenge.
func (p *challengeParser) params(c *authChallenge) {
	for {
		p.skipSpace()
		save := p.i
		name := p.token()
		p.skipSpace()
		if name == "" || p.i >= len(p.s) || p.s[p.i] != '=' {
			p.i = save // the next challenge's scheme (or garbage)
			return
		}
		p.i++
		p.skipSpace()
		var val string
		if p.i < len(p.s) && p.s[p.i] == '"' {
			val = p.quoted()
		} else {
			val = p.token()
		}
		if c.Params == nil {
			c.Params = map[string]string{}
		}
		if len(c.Params) < maxAuthParams {
			c.Params[strings.ToLower(name)] = val
		}
		// Up to the comma ending this parameter.
		p.skipSpace()
		if p.i >= len(p.s) {
			return
		}
		if p.s[p.i] != ',' {
			// Garbage: drop the rest of the value.
			p.i = len(p.s)
			return
		}
		for p.i < len(p.s) && (p.s[p.i] == ',' || p.s[p.i] == ' ' || p.s[p.i] == '\t') {
			p.i++
		}
	}
}

// quoted reads a quoted-string (RFC 9110 §5.6.4) starting at '"' and
// returns its unescaped content. An unterminated string runs to the end.
func (p *challengeParser) quoted() string {
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		ch := p.s[p.i]
		p.i++
		switch {
		case ch == '"':
			return b.String()
		case ch == '\\' && p.i < len(p.s):
			b.WriteByte(p.s[p.i])
			p.i++
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken68Char(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}

// schemeNames returns the canonical names of the schemes offered, once
// each, in the order offered: Basic, Digest, NTLM and Negotiate in their
// usual spelling, other schemes as sent (tokens, so printable).
func schemeNames(cs []authChallenge) []string {
	var names []string
	seen := map[string]bool{}
	for _, c := range cs {
		n := canonicalScheme(c.Scheme)
		if n == "" || seen[strings.ToLower(n)] {
			continue
		}
		seen[strings.ToLower(n)] = true
		if len(n) > 32 {
			n = n[:32]
		}
		names = append(names, n)
	}
	return names
}

// canonicalScheme spells a known scheme name the usual way and returns
// other names unchanged.
func canonicalScheme(s string) string {
	for _, k := range []string{SchemeBasic, SchemeDigest, SchemeNTLM, SchemeNegotiate} {
		if strings.EqualFold(s, k) {
			return k
		}
	}
	return s
}
