// Package config is the configuration model of "wssproxy serve": typed
// structs (Config, Admin, Listener with its certificate source and
// client-certificate checks, Route with its upstream TLS, PSK, proxy,
// frame limits, timeouts and pause settings), the Size and Duration
// value types, and the decoder of the YAML file of "serve --config".
//
// Load and Parse check everything before anything listens: every unknown
// key, repeated key and invalid value is an error naming the file, the
// line and the key's path ("config.yaml:7: listeners[0].routes[1].max_message_size:
// ..."). A walk of the YAML tree against the structs' yaml tags checks
// the shape and records where each key is; a yaml.Decoder with
// KnownFields fills the structs; Config.Validate checks the values and
// how they combine. The flags of serve fill the same structs (one
// listener, one route). docs/config.md documents the schema; docs/config.example.yaml
// is parsed by the tests.
package config
