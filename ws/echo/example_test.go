package echo_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

// The echo handler answers each message with its type and each close with
// the same code and reason.
func ExampleHandler() {
	srv := httptest.NewServer(&echo.Handler{})
	defer srv.Close()
	ctx := context.Background()
	c, _, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	c.WriteMessage(ctx, ws.MessageBinary, []byte{1, 2, 3})
	typ, msg, _ := c.ReadMessage(ctx)
	fmt.Println(typ, msg)
	fmt.Println(c.Close(4000, "custom"))
	fmt.Println(c.CloseStatus())
	// Output:
	// binary [1 2 3]
	// <nil>
	// 4000 custom
}
