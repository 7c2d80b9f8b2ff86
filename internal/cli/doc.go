// Package cli holds what the wssproxy commands share on their command
// lines: flag parsing with two-dash help and usage errors naming the flag
// (ParseFlags, UsageExit), flags mixed with positional arguments
// (ParseInterspersed), the logging flags (LogFlags) and the proxy flags
// (ProxyDialer).
package cli
