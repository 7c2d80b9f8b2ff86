// Package cli holds the wssproxy commands that need no proxy wiring
// (certs, echo, completion, version: RunCerts, RunEcho, RunCompletion,
// RunVersion) and what every command shares on its command line: flag
// parsing with two-dash help and usage errors naming the flag
// (ParseFlags, UsageExit), flags mixed with positional arguments
// (ParseInterspersed), the logging flags (LogFlags), the proxy flags
// (ProxyDialer) and shell quoting for the command lines the commands
// print (ShellQuote).
//
// Each command is a Run function taking its arguments (without the
// command's name) and the output streams, and returning the process exit
// code: 0 on success, 1 on failure, 2 on a usage error.
package cli
