package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/tlsconf"
)

// Decision is an operator's decision on a paused handshake: what POST
// /v1/paused/{id}/resume or /abort asks, whichever instance of a fleet
// received it.
type Decision struct {
	// Resume lets the handshakes continue; false aborts them.
	Resume bool `json:"resume"`
	// Ignore, if not empty, accepts only these errors ("KIND" or
	// "KIND:SHA256"); every unaccepted error must be covered. Empty
	// accepts the errors shown.
	Ignore []string `json:"ignore,omitempty"`
	// RememberAsPin trusts the leaf's key for the server name from now
	// on (written to the Registry's trust store).
	RememberAsPin bool `json:"remember_as_pin,omitempty"`
	// By is who decided (admin@ADDRESS), recorded with a remembered pin.
	By string `json:"by,omitempty"`
	// From is the fleet instance whose admin API received the decision
	// ("" for this one), for the logs.
	From string `json:"from,omitempty"`
}

// Outcome is the answer to a Decision: the HTTP status and JSON body the
// admin API gives.
type Outcome struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// RemotePaused is a paused handshake held by another instance of a
// fleet, as that instance published it.
type RemotePaused struct {
	// Instance is the holder's name.
	Instance string
	// JSON is the holder's tlsconf.PausedHandshake in the admin API's
	// form, with an "instance" member.
	JSON json.RawMessage
}

// Fleet gives the admin API the paused handshakes of the other instances
// sharing a store, and carries decisions on them to their holders
// (package proxy/fleet implements it on etcd).
type Fleet interface {
	// Instance names this instance in the fleet.
	Instance() string
	// Remote lists the paused handshakes the other instances hold.
	Remote(ctx context.Context) ([]RemotePaused, error)
	// Decide carries d to the instance holding paused handshake id and
	// returns its Outcome; found is false when no instance holds id.
	Decide(ctx context.Context, id string, d Decision) (o Outcome, found bool, err error)
}

// Decide applies d to the paused handshake id of reg, as the admin API
// does for its own (a holder applies a Decision received from another
// instance with it): an ignore list that leaves an error unaccepted is
// refused with 422 and the handshake stays paused; an unknown id is 404;
// a trust store that cannot be written is 500 (still paused). ctx bounds
// the store write. log receives the operator's action.
func Decide(ctx context.Context, reg *tlsconf.Registry, id string, d Decision, log zerolog.Logger) Outcome {
	status, body := decide(ctx, reg, id, d, log)
	raw, err := json.Marshal(body)
	if err != nil {
		return Outcome{Status: http.StatusInternalServerError, Body: json.RawMessage(`{"error":"encoding the answer"}`)}
	}
	return Outcome{Status: status, Body: raw}
}

func notPaused(id string) map[string]any {
	return map[string]any{"error": fmt.Sprintf("no paused handshake %q (decided, timed out or cancelled?)", id)}
}

func decide(ctx context.Context, reg *tlsconf.Registry, id string, d Decision, log zerolog.Logger) (int, any) {
	var p tlsconf.PausedHandshake
	ok := false
	if reg != nil {
		p, ok = reg.Get(id)
	}
	if !ok {
		return http.StatusNotFound, notPaused(id)
	}
	ev := func(e *zerolog.Event) *zerolog.Event {
		e = e.Str("paused_id", id).Str("sni", p.ServerName).Str("remote", d.By)
		if d.From != "" {
			e = e.Str("via_instance", d.From)
		}
		return e
	}
	if !d.Resume {
		if err := reg.Abort(id); err != nil {
			return http.StatusNotFound, map[string]any{"error": err.Error()}
		}
		ev(log.Info()).Msg("admin: paused handshake aborted")
		return http.StatusOK, map[string]any{"id": id, "aborted": true}
	}
	ignore, err := tlsconf.ParseExpectedErrors(d.Ignore)
	if err != nil {
		return http.StatusBadRequest, map[string]any{"error": err.Error()}
	}
	if len(ignore) == 0 {
		ignore = nil // accept the errors shown
	} else {
		// Resuming with a list that leaves an error unaccepted would fail
		// the handshake: refuse it and keep the handshake paused.
		var left []tlsconf.SSLError
		for _, e := range p.Unignored {
			covered := false
			for _, x := range ignore {
				covered = covered || x.Covers(e)
			}
			if !covered {
				left = append(left, e)
			}
		}
		if len(left) > 0 {
			return http.StatusUnprocessableEntity, map[string]any{
				"error":      "the ignore list does not cover every error; the handshake stays paused",
				"unaccepted": left,
			}
		}
	}
	if err := reg.ResumeBy(ctx, id, ignore, d.RememberAsPin, d.By); err != nil {
		if errors.Is(err, tlsconf.ErrNotPaused) {
			return http.StatusNotFound, map[string]any{"error": err.Error()}
		}
		ev(log.Error()).Err(err).Msg("admin: resume failed")
		return http.StatusInternalServerError, map[string]any{"error": err.Error()}
	}
	resp := map[string]any{"id": id, "resumed": true}
	if d.RememberAsPin && len(p.Chain) > 0 {
		resp["remembered_pin"] = p.Chain[0].SPKIPin
	}
	ev(log.Warn()).Strs("ignore", d.Ignore).Bool("remember_as_pin", d.RememberAsPin).Msg("admin: paused handshake resumed")
	return http.StatusOK, resp
}
