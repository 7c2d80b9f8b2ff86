// Package cli holds the wssproxy commands that need no proxy wiring
// (certs, echo, completion, version) and the command-line machinery every
// command shares: flag parsing with two-dash help and one-line usage
// errors, positional arguments among flags, logging and proxy flags, and
// shell quoting for the command lines the commands print.
//
// Each command is a Run function taking its arguments (without the
// command's name) and the output streams, and returning the process exit
// code: 0 on success, 1 on failure, 2 on a usage error.
package cli
