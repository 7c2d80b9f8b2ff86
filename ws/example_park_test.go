package ws_test

import (
	"context"
	"fmt"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// A reader that parks its connection while it is idle: NextFrameWithin
// gives up after a quiet spell, ParkRead hands the wait to the Poller and
// the goroutine ends; a new one reads when the next frame arrives. A
// server with many mostly idle connections holds no goroutine for them.
func ExampleConn_ParkRead() {
	ctx := context.Background()
	c, stop, err := dialEcho(ctx) // a connection to an echo server
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()

	var poller ws.Poller // one for all the connections of a server
	done := make(chan struct{})
	var read func()
	read = func() {
		for {
			_, msg, err := c.NextFrameWithin(ctx, 50*time.Millisecond)
			if err == ws.ErrIdle {
				if c.ParkRead(&poller, read) == nil {
					fmt.Println("parked")
					return // read runs again, on a new goroutine, when a frame comes
				}
				continue // not parkable here: keep waiting on this goroutine
			}
			if err != nil {
				fmt.Println(err)
				return
			}
			b := make([]byte, 64)
			n, _ := msg.Read(b)
			fmt.Printf("read %q\n", b[:n])
			close(done)
			return
		}
	}
	go read()
	time.Sleep(200 * time.Millisecond) // idle: the reader parks
	if err := c.WriteMessage(ctx, ws.MessageText, []byte("wake up")); err != nil {
		fmt.Println(err)
		return
	}
	<-done
	// Output:
	// parked
	// read "wake up"
}
