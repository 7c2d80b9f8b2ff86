package main

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/internal/config"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// openStore opens serve's trust store (--store, the file's store key;
// default: upstream_pins in the state directory). etcd:// is refused as
// not supported yet.
func openStore(cfg config.Config) (*tlsconf.FileStore, error) {
	spec, err := config.ParseStore(cfg.Store)
	if err != nil {
		return nil, err
	}
	s, err := tlsconf.NewFileStore(spec.Path, nil)
	if err != nil {
		return nil, fmt.Errorf("trust store: %w", err)
	}
	return s, nil
}

// loadPins reads the remembered pins into the registry at start: a store
// that cannot be read (a malformed line, a file others may write) stops
// serve before it listens.
func loadPins(ctx context.Context, reg *tlsconf.Registry, store *tlsconf.FileStore, log zerolog.Logger) error {
	if err := reg.LoadPins(ctx); err != nil {
		return fmt.Errorf("trust store: %w", err)
	}
	pins, _ := reg.Pins(ctx)
	log.Debug().Str("store", store.Path()).Int("pins", len(pins)).Msg("remembered upstream pins loaded")
	return nil
}
