package netproxy

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	krbcreds "github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

// Kerberos configures Negotiate authentication (SPNEGO with Kerberos,
// RFC 4559) to an HTTP proxy. Empty fields take the defaults of MIT
// Kerberos's environment variables, read at each dial.
//
// The client's credentials come from, in this order: Keytab (or
// $KRB5_CLIENT_KTNAME), a credentials cache filled by kinit (CCache, or
// $KRB5CCNAME, or /tmp/krb5cc_<uid>), or a password: the proxy URL's
// user:pass or the one Options.Auth returns, with Principal or the URL's
// user as the principal. Each dial logs in afresh (with a keytab or a
// password, an AS exchange) and asks the KDC for a ticket to SPN; the KDC
// exchanges are bounded by gokrb5's timeouts (5 s per KDC).
type Kerberos struct {
	// Config is the krb5.conf path; "" means $KRB5_CONFIG, else
	// /etc/krb5.conf. Its default_realm is the realm of principals given
	// without one, and its [realms] say where the KDCs are.
	Config string
	// Keytab is a keytab holding the client principal's keys; "" means
	// $KRB5_CLIENT_KTNAME ("FILE:" prefix allowed), else none.
	Keytab string
	// Principal is the client principal for Keytab or a password,
	// "user" or "user@REALM"; "" means the keytab's first principal, or
	// the user name given with the password.
	Principal string
	// CCache is a credentials cache file (from kinit); "" means
	// $KRB5CCNAME ("FILE:" prefix allowed; other cache types are not
	// supported), else /tmp/krb5cc_<uid> when it exists.
	CCache string
	// SPN is the proxy's service principal; "" means HTTP/<proxy host>.
	SPN string
}

// KerberosFromEnvironment returns the Kerberos settings of the
// environment (all fields empty, so resolved at each dial) when there is
// something to authenticate with: KRB5CCNAME, KRB5_CLIENT_KTNAME or
// KRB5_CONFIG is set, or the default credentials cache /tmp/krb5cc_<uid>
// exists. Otherwise it returns nil: no Negotiate, so a proxy offering
// Negotiate and NTLM gets NTLM.
func KerberosFromEnvironment() *Kerberos {
	for _, v := range []string{"KRB5CCNAME", "KRB5_CLIENT_KTNAME", "KRB5_CONFIG"} {
		if os.Getenv(v) != "" {
			return &Kerberos{}
		}
	}
	if _, err := os.Stat(defaultCCache()); err == nil {
		return &Kerberos{}
	}
	return nil
}

func defaultCCache() string { return "/tmp/krb5cc_" + strconv.Itoa(os.Getuid()) }

// errNoKerberosCredentials: no keytab, no credentials cache and no
// password to log in with.
var errNoKerberosCredentials = errors.New("no Kerberos credentials (no keytab, no credentials cache, no password)")

// negotiateToken logs in to Kerberos, gets a ticket for the proxy's SPN
// and returns the "Negotiate <SPNEGO token>" header value. creds is the
// password fallback.
func (k *Kerberos) negotiateToken(proxyHost string, creds credentials) (string, error) {
	confPath := k.Config
	if confPath == "" {
		confPath = os.Getenv("KRB5_CONFIG")
	}
	if confPath == "" {
		confPath = "/etc/krb5.conf"
	}
	// KRB5_CONFIG may list several files; gokrb5 reads one.
	confPath, _, _ = strings.Cut(confPath, ":")
	cfg, err := config.Load(confPath)
	if err != nil {
		return "", fmt.Errorf("Kerberos configuration %s: %w", confPath, err)
	}
	spn := k.SPN
	if spn == "" {
		spn = "HTTP/" + proxyHost
	}
	cl, err := k.client(cfg, creds)
	if err != nil {
		return "", err
	}
	defer cl.Destroy() // ends the session renewal goroutine of a login
	s := spnego.SPNEGOClient(cl, spn)
	if err := s.AcquireCred(); err != nil {
		return "", fmt.Errorf("Kerberos login as %s: %w", cl.Credentials.CName().PrincipalNameString(), err)
	}
	tok, err := s.InitSecContext()
	if err != nil {
		return "", fmt.Errorf("Kerberos ticket for %s: %w", spn, err)
	}
	b, err := tok.Marshal()
	if err != nil {
		return "", fmt.Errorf("SPNEGO token: %w", err)
	}
	return SchemeNegotiate + " " + base64.StdEncoding.EncodeToString(b), nil
}

// client builds the gokrb5 client from the first source available.
func (k *Kerberos) client(cfg *config.Config, creds credentials) (*client.Client, error) {
	settings := client.DisablePAFXFAST(true)
	ktPath := k.Keytab
	if ktPath == "" {
		ktPath = os.Getenv("KRB5_CLIENT_KTNAME")
	}
	if ktPath != "" {
		ktPath = strings.TrimPrefix(ktPath, "FILE:")
		kt, err := keytab.Load(ktPath)
		if err != nil {
			return nil, fmt.Errorf("keytab %s: %w", ktPath, err)
		}
		user, realm := splitPrincipal(k.Principal, cfg)
		if user == "" {
			if len(kt.Entries) == 0 {
				return nil, fmt.Errorf("keytab %s is empty", ktPath)
			}
			e := kt.Entries[0].Principal
			user, realm = strings.Join(e.Components, "/"), e.Realm
		}
		return client.NewWithKeytab(user, realm, kt, cfg, settings), nil
	}

	ccPath, explicit := k.CCache, k.CCache != ""
	if ccPath == "" {
		if v := os.Getenv("KRB5CCNAME"); v != "" {
			ccPath, explicit = v, true
		}
	}
	if ccPath != "" {
		if t, _, found := strings.Cut(ccPath, ":"); found && !strings.EqualFold(t, "FILE") && !strings.HasPrefix(ccPath, "/") {
			return nil, fmt.Errorf("credentials cache %s: only FILE caches are supported", ccPath)
		}
		ccPath = strings.TrimPrefix(ccPath, "FILE:")
	} else {
		ccPath = defaultCCache()
	}
	if _, err := os.Stat(ccPath); err == nil || explicit {
		cc, err := krbcreds.LoadCCache(ccPath)
		if err != nil {
			return nil, fmt.Errorf("credentials cache %s: %w", ccPath, err)
		}
		cl, err := client.NewFromCCache(cc, cfg, settings)
		if err != nil {
			return nil, fmt.Errorf("credentials cache %s: %w", ccPath, err)
		}
		return cl, nil
	}

	if creds.ok {
		principal := k.Principal
		if principal == "" {
			principal = creds.user
		}
		user, realm := splitPrincipal(principal, cfg)
		return client.NewWithPassword(user, realm, creds.pass, cfg, settings), nil
	}
	return nil, errNoKerberosCredentials
}

// splitPrincipal splits "user@REALM"; without a realm, the configuration's
// default_realm.
func splitPrincipal(p string, cfg *config.Config) (user, realm string) {
	if i := strings.LastIndexByte(p, '@'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return p, cfg.LibDefaults.DefaultRealm
}
