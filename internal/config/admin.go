package config

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// CheckAdmin cross-checks the admin API against the routes once flags
// have overridden the file: a TCP admin API needs a token, and pausing
// routes need the admin API to be resumed.
func (c *Config) CheckAdmin() error {
	a := c.Admin
	unix, isUnix := strings.CutPrefix(a.Listen, "unix:")
	switch {
	case a.Listen == "" && a.TokenFile != "":
		return WithWhere(a.Where, errors.New("an admin token file needs the admin API (--admin ADDR, or admin.listen in the file)"))
	case isUnix && unix == "":
		return WithWhere(a.Where, errors.New("admin address unix: needs a socket path (unix:/run/wssproxy.sock)"))
	case a.Listen != "" && !isUnix && a.TokenFile == "":
		return WithWhere(a.Where, fmt.Errorf("the admin API on TCP (%s) needs a bearer token: --admin-token-file F (admin.token_file in the file), or listen on unix:/path", a.Listen))
	case a.Listen != "" && !isUnix:
		if _, _, err := net.SplitHostPort(a.Listen); err != nil {
			return WithWhere(a.Where, fmt.Errorf("admin address %q is not host:port or unix:/path", a.Listen))
		}
	}
	if a.Listen != "" {
		return nil
	}
	for _, l := range c.Listeners {
		for _, r := range l.Routes {
			if r.Pause {
				return WithWhere(r.Where, errors.New("pausing on SSL errors needs the admin API to resume or abort the paused handshakes: add --admin ADDR (admin.listen in the file)"))
			}
		}
	}
	return nil
}

// WithWhere prefixes err with where ("FILE:LINE: listeners[0]"), the
// position of the configuration it is about; "" (flags) leaves it alone.
func WithWhere(where string, err error) error {
	if where == "" {
		return err
	}
	return fmt.Errorf("%s: %w", where, err)
}
