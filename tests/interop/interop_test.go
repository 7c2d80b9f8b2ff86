package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// TestTheirClientOurServer runs each peer's client against our server
// (ws.Accept and ws/echo).
func TestTheirClientOurServer(t *testing.T) {
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := startOurServer(t)
			var cases []clientCase
			checks := map[string]func(*testing.T, clientResult, *observation){}
			add := func(c clientCase, check func(*testing.T, clientResult, *observation)) {
				cases = append(cases, c)
				checks[c.ID] = check
			}

			for _, typ := range []ws.MessageType{ws.MessageText, ws.MessageBinary} {
				for _, size := range echoSizes {
					id := fmt.Sprintf("echo-%s-%d", typeName(typ), size)
					add(clientCase{ID: id, Op: opEcho, URL: srv.caseURL(id, "echo"), Type: typeName(typ), Size: size},
						func(t *testing.T, r clientResult, o *observation) {
							if r.Type != typeName(typ) || r.Len != size || r.SHA256 != sha(payload(typ, size)) {
								t.Errorf("echo: got %s of %d bytes (sha256 %.12s), want %s of %d (%.12s)",
									r.Type, r.Len, r.SHA256, typeName(typ), size, sha(payload(typ, size)))
							}
							checkCleanClose(t, p, r, o, 1000, "")
						})
				}
			}

			// Their fragments split every character; our server echoes in
			// one-byte frames (OutgoingFrameSize 1).
			add(clientCase{ID: "frag", Op: opFrag, URL: srv.caseURL("frag", "frag"), Text: fragText},
				func(t *testing.T, r clientResult, o *observation) {
					if string(o.first) != fragText || o.frames < len(fragText) {
						t.Errorf("our server got %q in %d frames, want %q in at least %d", o.first, o.frames, fragText, len(fragText))
					}
					if r.Type != "text" || r.Text != fragText {
						t.Errorf("their client got %s %q, want text %q", r.Type, r.Text, fragText)
					}
					checkCleanClose(t, p, r, o, 1000, "")
				})

			// Their ping, our automatic pong.
			const theirPing = "their ping ✓"
			add(clientCase{ID: "their-ping", Op: opPing, URL: srv.caseURL("their-ping", "echo"), Payload: theirPing},
				func(t *testing.T, r clientResult, o *observation) {
					if !slices.Contains(o.pings, r.Pong) || (p.choosesPingPayload && r.Pong != theirPing) {
						t.Errorf("their client got pong %q; our server saw pings %q (sent %q)", r.Pong, o.pings, theirPing)
					}
					checkCleanClose(t, p, r, o, 1000, "")
				})

			// Our ping, their automatic pong, seen by Events.OnPong.
			add(clientCase{ID: "our-ping", Op: opAwaitPing, URL: srv.caseURL("our-ping", "ping")},
				func(t *testing.T, r clientResult, o *observation) {
					if !slices.Contains(o.pongs, srvPingPayload) || o.rtt <= 0 {
						t.Errorf("our server's OnPong saw %q (rtt %v), want %q", o.pongs, o.rtt, srvPingPayload)
					}
					if r.Text != "pinged" {
						t.Errorf("their client got %q, want pinged", r.Text)
					}
					if p.reportsPings && !slices.Contains(r.Pings, srvPingPayload) {
						t.Errorf("their client saw pings %q, want %q", r.Pings, srvPingPayload)
					}
					checkCleanClose(t, p, r, o, 1000, "")
				})

			for _, cl := range []struct {
				code   ws.StatusCode
				reason string
			}{{1000, ""}, {4000, closeReason4000}} {
				// They close: our server (ws/echo) answers with the same
				// code and reason.
				id := fmt.Sprintf("their-close-%d", cl.code)
				add(clientCase{ID: id, Op: opClose, URL: srv.caseURL(id, "echo"), Code: int(cl.code), Reason: cl.reason},
					func(t *testing.T, r clientResult, o *observation) {
						checkCleanClose(t, p, r, o, cl.code, cl.reason)
					})
				// We close: their client reports our code and reason; our
				// CloseStatus has their answer.
				id = fmt.Sprintf("our-close-%d", cl.code)
				add(clientCase{ID: id, Op: opAwaitClose, URL: srv.caseURL(id, "close", "code", strconv.Itoa(int(cl.code)), "reason", cl.reason)},
					func(t *testing.T, r clientResult, o *observation) {
						if r.Code != int(cl.code) || r.Reason != cl.reason {
							t.Errorf("their client saw close %d %q, want %d %q", r.Code, r.Reason, cl.code, cl.reason)
						}
						if o.err != nil {
							t.Errorf("our Close: %v", o.err)
						}
						want := cl.reason
						if !p.echoesCloseReason {
							want = ""
						}
						if o.code != cl.code || o.reason != want {
							t.Errorf("our CloseStatus is %d %q, want %d %q", o.code, o.reason, cl.code, want)
						}
					})
			}

			results := p.runClient(t, cases)
			for _, c := range cases {
				t.Run(c.ID, func(t *testing.T) {
					r, ok := results[c.ID]
					if !ok {
						t.Fatalf("their client reported nothing for %s", c.ID)
					}
					o := srv.observation(t, c.ID)
					if o.handlerErr != "" {
						t.Errorf("our server: %s", o.handlerErr)
					}
					if r.Error != "" {
						t.Fatalf("their client: %s", r.Error)
					}
					checks[c.ID](t, r, o)
				})
			}

			t.Run("abrupt", func(t *testing.T) {
				kill := p.hold(t, srv.caseURL("abrupt", "echo"))
				kill()
				o := srv.observation(t, "abrupt")
				checkAbnormal(t, o.err, o.code, o.reason)
			})
		})
	}
}

// checkCleanClose checks a close handshake with code and reason from
// both ends: their client saw it (the reason only where the peer exposes
// it), our server ended cleanly with it.
func checkCleanClose(t *testing.T, p peer, r clientResult, o *observation, code ws.StatusCode, reason string) {
	t.Helper()
	if r.Code != int(code) || (p.seesAnswerReason && r.Reason != reason) {
		t.Errorf("their client saw close %d %q, want %d %q", r.Code, r.Reason, code, reason)
	}
	if o.err != nil {
		t.Errorf("our server ended with %v, want a clean close", o.err)
	}
	if o.code != code || o.reason != reason {
		t.Errorf("our CloseStatus is %d %q, want %d %q", o.code, o.reason, code, reason)
	}
}

// checkAbnormal checks how our side reports a connection lost without a
// close frame: 1006 from CloseStatus and an error that is a *CloseError
// with 1006.
func checkAbnormal(t *testing.T, err error, code ws.StatusCode, reason string) {
	t.Helper()
	var ce *ws.CloseError
	if !errors.As(err, &ce) || ce.Code != ws.StatusAbnormalClosure {
		t.Errorf("error %v (%T), want a *ws.CloseError with 1006", err, err)
	}
	if code != ws.StatusAbnormalClosure || reason != "" {
		t.Errorf("CloseStatus is %d %q, want 1006", code, reason)
	}
}

// TestOurClientTheirServer runs our client (ws.Dial) against each peer's
// server.
func TestOurClientTheirServer(t *testing.T) {
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := p.startServer(t)

			for _, typ := range []ws.MessageType{ws.MessageText, ws.MessageBinary} {
				for _, size := range echoSizes {
					id := fmt.Sprintf("echo-%s-%d", typeName(typ), size)
					t.Run(id, func(t *testing.T) {
						ctx := caseContext(t)
						c := dial(t, srv, "/echo", id, nil)
						want := payload(typ, size)
						if err := c.WriteMessage(ctx, typ, want); err != nil {
							t.Fatal(err)
						}
						gotType, got, err := c.ReadMessage(ctx)
						if err != nil {
							t.Fatal(err)
						}
						if gotType != typ || !bytes.Equal(got, want) {
							t.Errorf("echo: got %s of %d bytes (sha256 %.12s), want %s of %d (%.12s)",
								gotType, len(got), sha(got), typ, len(want), sha(want))
						}
						closeAndCheck(t, p, srv, c, id, 1000, "")
					})
				}
			}

			t.Run("frag-writeframe", func(t *testing.T) {
				ctx := caseContext(t)
				// We send every byte as a frame of its own with
				// WriteFrame; their server echoes in one-byte fragments
				// too, and we read the frames with NextFrame.
				c := dial(t, srv, "/frag", "frag-writeframe", nil)
				for i := range len(fragText) {
					h := ws.Header{OpCode: ws.OpContinuation, Fin: i == len(fragText)-1}
					if i == 0 {
						h.OpCode = ws.OpText
					}
					if err := c.WriteFrame(ctx, h, []byte(fragText[i:i+1])); err != nil {
						t.Fatal(err)
					}
				}
				var got []byte
				frames := 0
				for {
					h, r, err := c.NextFrame(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if h.OpCode.IsControl() {
						continue
					}
					if frames == 0 && h.OpCode != ws.OpText {
						t.Fatalf("first frame is %s, want text", h.OpCode)
					}
					p, err := io.ReadAll(r)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, p...)
					frames++
					if h.Fin {
						break
					}
				}
				if string(got) != fragText || frames < len(fragText) {
					t.Errorf("got %q in %d frames, want %q in at least %d", got, frames, fragText, len(fragText))
				}
				closeAndCheck(t, p, srv, c, "frag-writeframe", 1000, "")
			})

			t.Run("frag-outgoing-frame-size", func(t *testing.T) {
				ctx := caseContext(t)
				// WriteMessage cuts the message at OutgoingFrameSize.
				c := dial(t, srv, "/echo", "frag-outgoing-frame-size", &ws.Options{OutgoingFrameSize: 1})
				if err := c.WriteMessage(ctx, ws.MessageText, []byte(fragText)); err != nil {
					t.Fatal(err)
				}
				typ, got, err := c.ReadMessage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if typ != ws.MessageText || string(got) != fragText {
					t.Errorf("got %s %q, want text %q", typ, got, fragText)
				}
				closeAndCheck(t, p, srv, c, "frag-outgoing-frame-size", 1000, "")
			})

			t.Run("our-ping", func(t *testing.T) {
				ctx := caseContext(t)
				// Our Ping, their automatic pong, reported by OnPong while
				// another goroutine reads.
				type pong struct {
					elapsed time.Duration
					payload string
				}
				pongs := make(chan pong, 4)
				c := dial(t, srv, "/echo", "our-ping", &ws.Options{Events: ws.Events{
					OnPong: func(elapsed time.Duration, p []byte) { pongs <- pong{elapsed, string(p)} },
				}})
				readErr := make(chan error, 1)
				go func() {
					_, _, err := c.ReadMessage(ctx)
					readErr <- err
				}()
				const payload = "our ping ✓"
				if err := c.Ping(ctx, []byte(payload)); err != nil {
					t.Fatal(err)
				}
				select {
				case pg := <-pongs:
					if pg.payload != payload || pg.elapsed <= 0 {
						t.Errorf("OnPong got %q after %v, want %q", pg.payload, pg.elapsed, payload)
					}
				case <-time.After(10 * time.Second):
					t.Error("no pong within 10s")
				}
				closeAndCheck(t, p, srv, c, "our-ping", 1000, "")
				var ce *ws.CloseError
				if err := <-readErr; !errors.As(err, &ce) || ce.Code != 1000 {
					t.Errorf("the reader got %v, want the peer's close 1000", err)
				}
			})

			t.Run("their-ping", func(t *testing.T) {
				ctx := caseContext(t)
				// Their ping, our automatic pong: their server answers it
				// with "pong:" + the payload.
				var mu sync.Mutex
				var pings []string
				c := dial(t, srv, "/ping", "their-ping", &ws.Options{Events: ws.Events{
					OnPing: func(p []byte) {
						mu.Lock()
						pings = append(pings, string(p))
						mu.Unlock()
					},
				}})
				if err := c.WriteMessage(ctx, ws.MessageText, []byte("ping me")); err != nil {
					t.Fatal(err)
				}
				_, got, err := c.ReadMessage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				seen := slices.Clone(pings)
				mu.Unlock()
				payload, ok := bytes.CutPrefix(got, []byte("pong:"))
				if !ok || !slices.Contains(seen, string(payload)) || (p.choosesPingPayload && string(payload) != srvPingPayload) {
					t.Errorf("their server got pong %q; our OnPing saw %q", got, seen)
				}
				closeAndCheck(t, p, srv, c, "their-ping", 1000, "")
			})

			for _, cl := range []struct {
				code   ws.StatusCode
				reason string
			}{{1000, ""}, {4000, closeReason4000}} {
				id := fmt.Sprintf("our-close-%d", cl.code)
				t.Run(id, func(t *testing.T) {
					c := dial(t, srv, "/echo", id, nil)
					closeAndCheck(t, p, srv, c, id, cl.code, cl.reason)
				})

				id = fmt.Sprintf("their-close-%d", cl.code)
				t.Run(id, func(t *testing.T) {
					ctx := caseContext(t)
					q := url.Values{"code": {strconv.Itoa(int(cl.code))}, "reason": {cl.reason}}
					c := dial(t, srv, "/close?"+q.Encode(), id, nil)
					if err := c.WriteMessage(ctx, ws.MessageText, []byte("close me")); err != nil {
						t.Fatal(err)
					}
					_, _, err := c.ReadMessage(ctx)
					var ce *ws.CloseError
					if !errors.As(err, &ce) || ce.Code != cl.code || ce.Reason != cl.reason {
						t.Errorf("ReadMessage: %v, want a *ws.CloseError %d %q", err, cl.code, cl.reason)
					}
					if code, reason := c.CloseStatus(); code != cl.code || reason != cl.reason {
						t.Errorf("CloseStatus is %d %q, want %d %q", code, reason, cl.code, cl.reason)
					}
					select {
					case <-c.Done():
					case <-time.After(10 * time.Second):
						t.Error("connection not closed 10s after the close handshake")
					}
					// Our answer repeats their code and reason (coder
					// may not expose the reason: coderCloseWon).
					e := srv.events.wait(t, id, "close")
					if e.Code != int(cl.code) || (e.Reason != cl.reason && e.Reason != coderReasonUnknown) {
						t.Errorf("their server got close %d %q back, want %d %q", e.Code, e.Reason, cl.code, cl.reason)
					}
				})
			}

			t.Run("abrupt", func(t *testing.T) {
				ctx := caseContext(t)
				// A server of its own, killed without a close frame.
				own := p.startServer(t)
				c := dial(t, own, "/echo", "abrupt", nil)
				if err := c.WriteMessage(ctx, ws.MessageText, []byte("hold")); err != nil {
					t.Fatal(err)
				}
				if _, _, err := c.ReadMessage(ctx); err != nil {
					t.Fatal(err)
				}
				own.kill()
				_, _, err := c.ReadMessage(ctx)
				code, reason := c.CloseStatus()
				checkAbnormal(t, err, code, reason)
			})
		})
	}
}

// dial opens our client connection to path on their server, with the
// connection id in the query and limits high enough for every case.
func dial(t *testing.T, srv *theirServer, path, id string, o *ws.Options) *ws.Conn {
	t.Helper()
	var opts ws.DialOptions
	if o != nil {
		opts.Options = *o
	}
	opts.MaxIncomingFrameSize = maxMessage
	opts.MaxIncomingMessageSize = maxMessage
	sep := "?"
	if bytes.ContainsRune([]byte(path), '?') {
		sep = "&"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := ws.Dial(ctx, srv.url+path+sep+"id="+url.QueryEscape(id), &opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(c.Abort)
	return c
}

// closeAndCheck closes our client with code and reason and checks both
// ends: Close succeeds, our CloseStatus has their answer, their server
// got our code and reason.
func closeAndCheck(t *testing.T, p peer, srv *theirServer, c *ws.Conn, id string, code ws.StatusCode, reason string) {
	t.Helper()
	if err := c.Close(code, reason); err != nil {
		t.Errorf("Close: %v", err)
	}
	want := reason
	if !p.echoesCloseReason {
		want = ""
	}
	if gotCode, gotReason := c.CloseStatus(); gotCode != code || gotReason != want {
		t.Errorf("CloseStatus is %d %q, want %d %q", gotCode, gotReason, code, want)
	}
	e := srv.events.wait(t, id, "close")
	if e.Code != int(code) || e.Reason != reason {
		t.Errorf("their server got close %d %q, want %d %q", e.Code, e.Reason, code, reason)
	}
}

// caseContext bounds one case on our side: when it ends, the connection
// is closed and the blocked call fails, so a peer that never answers
// fails the case instead of hanging the package.
func caseContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
