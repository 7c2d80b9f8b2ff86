package netproxy

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/Azure/go-ntlmssp"
)

// The HTTP authentication schemes, strongest first in the order the
// dialer prefers them (see Options.Schemes).
const (
	SchemeNegotiate = "Negotiate" // SPNEGO/Kerberos, RFC 4559
	SchemeNTLM      = "NTLM"      // NTLMv2, MS-NLMP
	SchemeDigest    = "Digest"    // RFC 7616
	SchemeBasic     = "Basic"     // RFC 7617
)

// schemeOrder is the order of preference.
var schemeOrder = [...]string{SchemeNegotiate, SchemeNTLM, SchemeDigest, SchemeBasic}

func isKnownScheme(s string) bool { return slices.Contains(schemeOrder[:], s) }

var errDeadline = os.ErrDeadlineExceeded

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// dialHTTP opens a tunnel through an HTTP proxy, authenticating as the
// proxy's challenges require (see Options.Schemes). NTLM and Negotiate
// are bound to the connection: their requests go on the connection that
// carried the challenge, kept alive; Basic and Digest may move to a new
// connection when the proxy closes the one that carried the 407.
func (d *Dialer) dialHTTP(ctx context.Context, host string, port uint16, creds credentials) (net.Conn, error) {
	target := connectTarget(host, port)
	n := &negotiation{d: d, ctx: ctx, target: target, creds: creds}
	auth := ""
	if creds.ok && len(d.o.Schemes) == 1 && d.o.Schemes[0] == SchemeBasic {
		auth = basicAuth(creds) // curl's --proxy-basic: no 407 round trip
		n.last = SchemeBasic
	}
	var pc *proxyConn
	defer func() {
		if pc != nil {
			pc.close()
		}
	}()
	lost := 0
	for round := 0; ; round++ {
		if round >= maxAuthRounds {
			return nil, fmt.Errorf("%w: proxy %s: more than %d authentication rounds", ErrAuthRequired, d.name, maxAuthRounds)
		}
		if pc == nil {
			if n.needsSameConn() {
				return nil, fmt.Errorf("%w: proxy %s closed the connection in the middle of the %s handshake (it needs a persistent connection)", ErrProtocol, d.name, n.last)
			}
			var err error
			if pc, err = d.openHTTP(ctx); err != nil {
				return nil, err
			}
		}
		a, err := d.connect(pc, target, auth)
		if err != nil {
			pc.close()
			pc = nil
			if errors.Is(err, errConnLost) && lost == 0 && !n.needsSameConn() {
				lost++ // a stale keep-alive connection: once more on a new one
				round--
				continue
			}
			return nil, d.ctxErr(ctx, err)
		}
		if a.resp.StatusCode/100 == 2 {
			c, err := pc.tunnelConn()
			pc = nil
			if err != nil {
				return nil, d.ctxErr(ctx, err)
			}
			return c, nil
		}
		cerr := &ConnectError{Proxy: d.name, Target: target, StatusCode: a.resp.StatusCode, Status: a.statusLine}
		// 407 asks for proxy credentials. A 401 to CONNECT can only come
		// from the proxy too (there is no origin yet): tinyproxy answers
		// 401 with WWW-Authenticate when the credentials sent are wrong.
		var values []string
		switch a.resp.StatusCode {
		case http.StatusProxyAuthRequired:
			values = a.resp.Header.Values("Proxy-Authenticate")
		case http.StatusUnauthorized:
			values = a.resp.Header.Values("Www-Authenticate")
		default:
			return nil, cerr
		}
		if !a.keep {
			pc.close()
			pc = nil
		}
		challenges := parseChallenges(values)
		cerr.Schemes = schemeNames(challenges)
		if auth, err = n.next(challenges, pc != nil, cerr); err != nil {
			return nil, err
		}
	}
}

// negotiation is the authentication state of one dial.
type negotiation struct {
	d      *Dialer
	ctx    context.Context
	target string
	creds  credentials

	last       string // scheme of the last Proxy-Authorization sent, "" none
	ntlmSent   int    // NTLM messages sent: 1 after NEGOTIATE, 2 after AUTHENTICATE
	staleRetry bool   // a stale Digest nonce was retried
	digestNC   uint32

	kerberosTried bool  // Negotiate was attempted (once per dial, except after a hook password)
	kerberosErr   error // why Negotiate could not be used
	kerberosPass  bool  // Kerberos needs a password (no keytab or cache)
	hookCalls     int
	wasRefused    bool // the proxy answered credentials with 407 again
}

// needsSameConn reports whether the next request must go on the
// connection that carried the last challenge: the NTLM AUTHENTICATE.
func (n *negotiation) needsSameConn() bool { return n.last == SchemeNTLM && n.ntlmSent == 2 }

// next returns the Proxy-Authorization value for the next request after
// a 401/407 carrying challenges, or the error that ends the dial. alive
// says whether the connection that carried the answer is kept.
func (n *negotiation) next(cs []authChallenge, alive bool, cerr *ConnectError) (string, error) {
	d := n.d
	// Continue a handshake in progress, or take the answer as a refusal.
	switch n.last {
	case SchemeNTLM:
		if n.ntlmSent == 1 {
			for _, c := range cs {
				if c.is(SchemeNTLM) && c.Token != "" {
					return n.ntlmAuthenticate(c.Token, alive)
				}
			}
			return "", fmt.Errorf("%w (it answered the NTLM NEGOTIATE message without a CHALLENGE)", cerr)
		}
		n.refused()
	case SchemeDigest:
		if dc, ok := bestDigest(cs); ok && dc.stale && !n.staleRetry {
			// RFC 7616 §3.3: the credentials were good, the nonce old.
			n.staleRetry = true
			return n.digest(dc), nil
		}
		n.refused()
	case SchemeBasic:
		n.refused()
	case SchemeNegotiate:
		n.kerberosErr = errors.New("the proxy refused the Kerberos ticket")
		n.wasRefused = true
	}
	n.last = ""

	for {
		if v, ok, err := n.choose(cs); err != nil || ok {
			return v, err
		}
		// Nothing usable: ask the hook for a user name and password.
		scheme := n.hookScheme(cs)
		if d.o.Auth == nil || scheme == "" || n.hookCalls >= maxAuthAttempts {
			return "", n.giveUp(cs, cerr)
		}
		n.hookCalls++
		ch := Challenge{Proxy: d.name, Scheme: scheme, Schemes: cerr.Schemes, Realm: realmOf(cs, scheme), Attempt: n.hookCalls}
		d.o.Logger.Debug().Str("proxy", d.name).Str("scheme", scheme).Int("attempt", n.hookCalls).Msg("netproxy: proxy asks for credentials")
		user, pass, err := d.o.Auth(n.ctx, ch)
		if err != nil {
			return "", fmt.Errorf("netproxy: proxy %s: authentication hook: %w", d.name, err)
		}
		n.creds = credentials{user: user, pass: pass, ok: true}
		if n.kerberosPass {
			n.kerberosTried = false // a password for Kerberos too
		}
	}
}

// refused marks the current user name and password as refused.
func (n *negotiation) refused() {
	n.creds = credentials{}
	n.wasRefused = true
}

// usable reports whether the options allow scheme and the proxy offers it.
func (n *negotiation) allowed(scheme string, cs []authChallenge) bool {
	if n.d.o.Schemes != nil && !slices.Contains(n.d.o.Schemes, scheme) {
		return false
	}
	return slices.ContainsFunc(cs, func(c authChallenge) bool { return c.is(scheme) })
}

// basicAllowed: Basic may be sent, because the connection to the proxy
// is TLS, or Basic is configured (listed in Options.Schemes), or it is the
// only scheme the proxy offers.
func (n *negotiation) basicAllowed(cs []authChallenge) bool {
	if n.d.proxy.Scheme == "https" || slices.Contains(n.d.o.Schemes, SchemeBasic) {
		return true
	}
	return !slices.ContainsFunc(cs, func(c authChallenge) bool { return !c.is(SchemeBasic) })
}

// choose starts the strongest scheme the dialer holds credentials for.
func (n *negotiation) choose(cs []authChallenge) (string, bool, error) {
	d := n.d
	for _, s := range schemeOrder {
		if !n.allowed(s, cs) {
			continue
		}
		switch s {
		case SchemeNegotiate:
			if d.o.Kerberos == nil || n.kerberosTried {
				continue
			}
			n.kerberosTried = true
			v, err := d.o.Kerberos.negotiateToken(d.proxy.Hostname(), n.creds)
			if err != nil {
				n.kerberosErr = err
				n.kerberosPass = errors.Is(err, errNoKerberosCredentials)
				d.o.Logger.Debug().Str("proxy", d.name).Err(err).Msg("netproxy: Negotiate not possible, trying the next scheme")
				continue
			}
			n.last = SchemeNegotiate
			return v, true, nil
		case SchemeNTLM:
			if !n.creds.ok {
				continue
			}
			msg, err := ntlmssp.NewNegotiateMessage("", "")
			if err != nil {
				return "", false, fmt.Errorf("netproxy: NTLM: %w", err)
			}
			n.last, n.ntlmSent = SchemeNTLM, 1
			return SchemeNTLM + " " + base64.StdEncoding.EncodeToString(msg), true, nil
		case SchemeDigest:
			dc, ok := bestDigest(cs)
			if !n.creds.ok || !ok {
				continue
			}
			n.last = SchemeDigest
			return n.digest(dc), true, nil
		case SchemeBasic:
			if !n.creds.ok || !n.basicAllowed(cs) {
				continue
			}
			n.last = SchemeBasic
			return basicAuth(n.creds), true, nil
		}
	}
	return "", false, nil
}

// hookScheme is the scheme a user name and password from Options.Auth
// would serve: the strongest offered one that takes them, "" if none.
func (n *negotiation) hookScheme(cs []authChallenge) string {
	for _, s := range schemeOrder {
		if !n.allowed(s, cs) {
			continue
		}
		switch s {
		case SchemeNegotiate:
			if n.d.o.Kerberos != nil && n.kerberosPass {
				return s
			}
		case SchemeDigest:
			if _, ok := bestDigest(cs); ok {
				return s
			}
		case SchemeBasic:
			if n.basicAllowed(cs) {
				return s
			}
		default:
			return s
		}
	}
	return ""
}

// ntlmAuthenticate answers the proxy's NTLM CHALLENGE (MS-NLMP §3.1.5.1.2)
// on the same connection.
func (n *negotiation) ntlmAuthenticate(token string, alive bool) (string, error) {
	if !alive {
		return "", fmt.Errorf("%w: proxy %s closed the connection that carried its NTLM challenge (NTLM needs a persistent connection)", ErrProtocol, n.d.name)
	}
	challenge, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return "", fmt.Errorf("%w: proxy %s sent an NTLM challenge that is not base64", ErrProtocol, n.d.name)
	}
	dropBadFields(challenge)
	msg, err := ntlmssp.NewAuthenticateMessage(challenge, n.creds.user, n.creds.pass, nil)
	if err != nil {
		return "", fmt.Errorf("%w: proxy %s's NTLM challenge: %v", ErrProtocol, n.d.name, err)
	}
	n.ntlmSent = 2
	return SchemeNTLM + " " + base64.StdEncoding.EncodeToString(msg), nil
}

// dropBadFields empties the TargetName and TargetInfo fields of an NTLM
// CHALLENGE message (MS-NLMP §2.2.1.2) that point outside the message.
// squid's ntlm_fake_auth sends an old-style challenge: a garbage
// TargetName offset (0xaaaaaaae) and no TargetInfo field at all, its
// place taken by the target name's bytes. NTLMv2 does not need the name;
// without TargetInfo the response covers an empty one.
func dropBadFields(msg []byte) {
	for _, at := range []int{12, 40} { // TargetName, TargetInfo
		if len(msg) < at+8 {
			return
		}
		n := uint64(binary.LittleEndian.Uint16(msg[at : at+2]))
		off := uint64(binary.LittleEndian.Uint32(msg[at+4 : at+8]))
		if off+n > uint64(len(msg)) {
			clear(msg[at : at+8])
		}
	}
}

// digest answers a Digest challenge with a fresh client nonce.
func (n *negotiation) digest(dc digestChallenge) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	n.digestNC++
	n.last = SchemeDigest
	return digestResponse(dc, n.creds.user, n.creds.pass, http.MethodConnect, n.target, hex.EncodeToString(b[:]), n.digestNC)
}

// giveUp returns the error for a 407 the dialer cannot answer, saying why.
func (n *negotiation) giveUp(cs []authChallenge, cerr *ConnectError) error {
	var why []string
	if n.kerberosErr != nil {
		why = append(why, "Negotiate: "+n.kerberosErr.Error())
	} else if n.allowed(SchemeNegotiate, cs) && n.d.o.Kerberos == nil && !n.allowed(SchemeNTLM, cs) {
		why = append(why, "Negotiate: Kerberos is not configured")
	}
	if n.allowed(SchemeBasic, cs) && !n.basicAllowed(cs) && n.hookScheme(cs) == "" {
		why = append(why, "Basic: not sent in clear to an http:// proxy that offers other schemes (allow it with the Basic scheme option)")
	}
	if n.wasRefused {
		why = append(why, "the credentials were refused")
	}
	if len(why) == 0 {
		return cerr
	}
	return &authError{cerr: cerr, why: strings.Join(why, "; "), refused: n.wasRefused}
}

// authError is a 407 the dialer could not answer, with why.
type authError struct {
	cerr    *ConnectError
	why     string
	refused bool
}

func (e *authError) Error() string { return e.cerr.Error() + "; " + e.why }

// Unwrap returns the ConnectError, and ErrAuthFailed when credentials
// were sent and refused.
func (e *authError) Unwrap() []error {
	if e.refused {
		return []error{e.cerr, ErrAuthFailed}
	}
	return []error{e.cerr}
}

// realmOf returns the realm of the scheme's challenge, if any (printable).
func realmOf(cs []authChallenge, scheme string) string {
	for _, c := range cs {
		if c.is(scheme) {
			return printable(c.Params["realm"])
		}
	}
	return ""
}

func basicAuth(c credentials) string {
	return SchemeBasic + " " + base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.pass))
}
