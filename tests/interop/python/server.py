"""Echo server of wssproxy's interop tests, on Python's websockets (Debian
python3-websockets 10.4; run with /usr/bin/python3).

  python3 server.py [--cert FILE --key FILE]

Listens on 127.0.0.1 on a free port (wss with --cert/--key, else ws) and
prints JSON lines on stdout:
{"event":"listening","port":N}, then per connection
{"event":"close","id":...,"code":...,"reason":...} with the close frame it
received (1006 when none). Paths (query id, and code/reason for /close):
  /echo   echo every message with its type
  /frag   echo every message in one-byte fragments (write_frame)
  /close  on the first message, close with code and reason
  /ping   on the first message, ping with "srv-ping"; on the pong, send
          "pong:" + its payload
  /partial on the first message, send the first fragment of a text message
          (no FIN), then print {"event":"partial","id":...} and send nothing
          more (the test kills the process mid-message)
"""

import argparse
import asyncio
import json
import ssl
import sys
import urllib.parse

import websockets
from websockets.exceptions import ConnectionClosed
from websockets.frames import OP_BINARY, OP_CONT, OP_TEXT

MAX_SIZE = 64 << 20


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def send_fragmented(ws, msg):
    """Sends msg in one-byte frames. websockets' own fragmentation
    (send(iterable)) takes whole str items and cannot split a character, so
    this writes the frames directly, as send(iterable) does internally."""
    binary = isinstance(msg, bytes)
    data = msg if binary else msg.encode("utf-8")
    opcode = OP_BINARY if binary else OP_TEXT
    for i in range(len(data)):
        await ws.write_frame(i == len(data) - 1, opcode if i == 0 else OP_CONT, data[i : i + 1])


async def handler(ws, path=None):
    url = urllib.parse.urlsplit(ws.path)
    query = urllib.parse.parse_qs(url.query)
    conn_id = query.get("id", [""])[0]
    mode = url.path.lstrip("/")
    first = True
    try:
        async for msg in ws:
            was_first, first = first, False
            if mode == "close" and was_first:
                await ws.close(int(query["code"][0]), query.get("reason", [""])[0])
                break
            if mode == "ping" and was_first:
                waiter = await ws.ping(b"srv-ping")
                await waiter
                await ws.send("pong:srv-ping")
                continue
            if mode == "partial" and was_first:
                await ws.write_frame(False, OP_TEXT, b"first half of a message")
                emit({"event": "partial", "id": conn_id})
                continue
            if mode == "frag" and len(msg) > 1:
                await send_fragmented(ws, msg)
                continue
            await ws.send(msg)
    except ConnectionClosed:
        pass
    except Exception as e:  # noqa: BLE001 - reported to the test
        emit({"event": "error", "id": conn_id, "error": repr(e)})
    await ws.wait_closed()
    emit({"event": "close", "id": conn_id, "code": ws.close_code, "reason": ws.close_reason})


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    tls = None
    if args.cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.cert, args.key)
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=MAX_SIZE, max_queue=None, ssl=tls) as server:
        port = server.sockets[0].getsockname()[1]
        emit({"event": "listening", "port": port})
        await asyncio.Future()  # until killed


if __name__ == "__main__":
    asyncio.run(main())
