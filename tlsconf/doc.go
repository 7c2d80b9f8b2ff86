// Package tlsconf builds *tls.Config values with Qt-style TLS verification:
// complete SSL error lists, ignore policies, pinned certificate lists and
// pause-on-SSL-error with resume.
package tlsconf
