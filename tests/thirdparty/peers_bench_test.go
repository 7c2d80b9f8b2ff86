package thirdparty_test

// The echo benchmark's peers: gorilla/websocket and coder/websocket, each
// client against its own server, run by BenchmarkEcho (echo_bench_test.go)
// in the same run as ours.

import (
	"context"
	"net/http"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
)

// gorilla/websocket v1.5.3 with its default buffer sizes (4 KiB).
var gorillaEcho = echoImpl{
	name: "gorilla",
	handler: func(w http.ResponseWriter, r *http.Request) {
		up := gorilla.Upgrader{}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		var buf []byte
		for {
			typ, rd, err := c.NextReader()
			if err != nil {
				return
			}
			if buf, err = readInto(rd, buf); err != nil {
				return
			}
			if err := c.WriteMessage(typ, buf); err != nil {
				return
			}
		}
	},
	dial: func(ctx context.Context, url string) (echoClient, error) {
		c, _, err := gorilla.DefaultDialer.DialContext(ctx, url, nil)
		if err != nil {
			return nil, err
		}
		return gorillaClient{c}, nil
	},
}

type gorillaClient struct{ c *gorilla.Conn }

func (g gorillaClient) roundTrip(_ context.Context, msg, buf []byte) ([]byte, error) {
	if err := g.c.WriteMessage(gorilla.BinaryMessage, msg); err != nil {
		return buf, err
	}
	_, r, err := g.c.NextReader()
	if err != nil {
		return buf, err
	}
	return readInto(r, buf)
}

func (g gorillaClient) close() error {
	_ = g.c.WriteMessage(gorilla.CloseMessage, gorilla.FormatCloseMessage(gorilla.CloseNormalClosure, ""))
	return g.c.Close()
}

// coder/websocket v1.8.15, compression disabled (its default), read limit
// raised from its 32 KiB default to let 64 KiB messages through.
var coderEcho = echoImpl{
	name: "coder",
	handler: func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: coder.CompressionDisabled})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		ctx := context.Background()
		var buf []byte
		for {
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				return
			}
			if buf, err = readInto(rd, buf); err != nil {
				return
			}
			if err := c.Write(ctx, typ, buf); err != nil {
				return
			}
		}
	},
	dial: func(ctx context.Context, url string) (echoClient, error) {
		c, _, err := coder.Dial(ctx, url, &coder.DialOptions{CompressionMode: coder.CompressionDisabled})
		if err != nil {
			return nil, err
		}
		c.SetReadLimit(1 << 20)
		return coderClient{c}, nil
	},
}

type coderClient struct{ c *coder.Conn }

func (k coderClient) roundTrip(ctx context.Context, msg, buf []byte) ([]byte, error) {
	if err := k.c.Write(ctx, coder.MessageBinary, msg); err != nil {
		return buf, err
	}
	_, r, err := k.c.Reader(ctx)
	if err != nil {
		return buf, err
	}
	return readInto(r, buf)
}

func (k coderClient) close() error {
	return k.c.Close(coder.StatusNormalClosure, "")
}
