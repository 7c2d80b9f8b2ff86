// Package servecmd is the "wssproxy serve" command: the proxy's listeners
// and routes from flags or a configuration file (package config), built
// into proxy.Servers with their certificate sources, the trust store
// (a file, or etcd shared by a fleet), the admin API and the built-in echo
// server; --check validates without serving. cmd/wssproxy dispatches to
// Run.
package servecmd
