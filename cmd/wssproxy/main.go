// Command wssproxy is a TLS-focused WebSocket proxy, echo server and client.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Println("wssproxy dev")
		return
	}
	fmt.Fprintln(os.Stderr, "usage: wssproxy version")
	os.Exit(2)
}
