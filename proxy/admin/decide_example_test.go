package admin_test

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/proxy/admin"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// Decide applies an operator's decision to a registry the way the admin
// API does; an instance of a fleet applies the decisions other instances
// forward to it with it. An id nobody holds is a 404.
func ExampleDecide() {
	reg := tlsconf.NewRegistry()
	o := admin.Decide(context.Background(), reg, "KJ4U2EBNAGFRSCFUH5FUE5335D",
		admin.Decision{Resume: true, RememberAsPin: true, By: "admin@192.0.2.7:50123"}, zerolog.Nop())
	fmt.Println(o.Status, string(o.Body))
	// Output: 404 {"error":"no paused handshake \"KJ4U2EBNAGFRSCFUH5FUE5335D\" (decided, timed out or cancelled?)"}
}
