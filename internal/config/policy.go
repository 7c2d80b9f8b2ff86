package config

import (
	"fmt"

	"github.com/rs/zerolog"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// Policy builds the tlsconf policy v describes; what names the peer in
// errors and in the warning logged when every SSL error is ignored.
func (v Verify) Policy(what string, log zerolog.Logger) (tlsconf.Policy, error) {
	pol := tlsconf.Policy{PinOnly: v.PinOnly, PinMatch: tlsconf.PinMatchLeaf, Logger: log}
	if v.PinMatch == "chain" {
		pol.PinMatch = tlsconf.PinMatchChain
	}
	for _, s := range v.Pins {
		p, err := tlsconf.ParsePin(s)
		if err != nil {
			return pol, fmt.Errorf("%s pin: %w", what, err)
		}
		pol.Pins = append(pol.Pins, p)
	}
	switch {
	case v.IgnoreAll:
		pol.Ignore = tlsconf.IgnorePolicy{Mode: tlsconf.IgnoreAll}
		log.Warn().Msgf("%s: every SSL error is ignored (insecure; pins are still checked)", what)
	case len(v.Ignore) > 0:
		list, err := tlsconf.ParseExpectedErrors(v.Ignore)
		if err != nil {
			return pol, fmt.Errorf("%s ignored SSL errors: %w", what, err)
		}
		pol.Ignore = tlsconf.IgnorePolicy{Mode: tlsconf.IgnoreListed, Expected: list}
	}
	return pol, nil
}
