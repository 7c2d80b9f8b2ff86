package admin

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wssproxy/wssproxy/tlsconf"
)

// storeTimeout bounds the trust store operations of one admin request.
const storeTimeout = 5 * time.Second

// pinJSON is one remembered pin in GET /v1/pins.
type pinJSON struct {
	tlsconf.PinEntry
	// Path is where DELETE revokes it: /v1/pins/SERVER/PIN with the pin
	// in its hex form (no '/' to escape).
	Path string `json:"path"`
}

// pinPathForm is a pin's form without '/': spki-sha256:HEX or
// cert-sha256:HEX (tlsconf.ParsePin reads both).
func pinPathForm(p tlsconf.Pin) string {
	prefix := "spki-sha256:"
	if p.Kind == tlsconf.PinCertificate {
		prefix = "cert-sha256:"
	}
	return prefix + hex.EncodeToString(p.Sum[:])
}

func (h *handler) listPins(w http.ResponseWriter, r *http.Request) {
	out := []pinJSON{}
	if h.opts.Registry != nil {
		ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
		defer cancel()
		entries, err := h.opts.Registry.Pins(ctx)
		if err != nil {
			h.opts.Logger.Error().Err(err).Msg("admin: listing remembered pins failed")
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		for _, e := range entries {
			out = append(out, pinJSON{PinEntry: e, Path: "/v1/pins/" + url.PathEscape(e.Server) + "/" + pinPathForm(e.Pin)})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"pins": out})
}

func (h *handler) revokePin(w http.ResponseWriter, r *http.Request) {
	server := r.PathValue("server")
	pin, err := tlsconf.ParsePin(r.PathValue("pin"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error()+" (in a path, give the pin as spki-sha256:HEX or cert-sha256:HEX, as GET /v1/pins shows)")
		return
	}
	if !readJSON(w, r, &struct{}{}) {
		return
	}
	if h.opts.Registry == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no pin %s remembered for %s", pin, server))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	found, err := h.opts.Registry.Revoke(ctx, server, pin)
	if err != nil {
		h.opts.Logger.Error().Err(err).Str("server", server).Msg("admin: revoking a pin failed")
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no pin %s remembered for %s", pin, server))
		return
	}
	h.opts.Logger.Warn().Str("server", server).Str("spki_pin", pin.String()).Str("remote", r.RemoteAddr).Msg("admin: remembered pin revoked")
	writeJSON(w, http.StatusOK, map[string]any{"server": server, "pin": pin, "revoked": true})
}

// decidedBy is who an admin request is recorded as in the trust store:
// admin@ADDRESS, or admin when the address is not a plain word (unix
// sockets).
func decidedBy(r *http.Request) string {
	by := "admin@" + r.RemoteAddr
	if r.RemoteAddr == "" || r.RemoteAddr == "@" || strings.ContainsAny(by, "#= \t\r\n") {
		return "admin"
	}
	return by
}
