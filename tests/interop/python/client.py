"""Client of wssproxy's interop tests, on Python's websockets (Debian
python3-websockets 10.4; run with /usr/bin/python3).

  python3 client.py run         read a JSON array of cases on stdin, run each
                                on its own connection, print one JSON result
                                line per case (see tests/interop/script_test.go)
  python3 client.py hold URL    connect, exchange one message, print
                                {"ready":true} and hold the connection until
                                killed; if the server closes it first, print
                                {"event":"close","code":...,"reason":...}
                                and exit

For wss URLs the client trusts the default CA store, or SSL_CERT_FILE.
"""

import asyncio
import hashlib
import json
import os
import sys
import traceback

import websockets
from websockets.exceptions import ConnectionClosed
from websockets.frames import OP_CONT, OP_TEXT

MAX_SIZE = 64 << 20
CASE_TIMEOUT = 15


def text_payload(size):
    # The payloads of internal/testpeer/payload.go.
    return "aé€😀" * (size // 10) + "x" * (size % 10)


def binary_payload(size):
    unit = bytes(range(251))
    return (unit * (size // 251 + 1))[:size]


async def finish(ws, res):
    await ws.close(1000)
    await ws.wait_closed()
    res["code"] = ws.close_code
    res["reason"] = ws.close_reason


async def run_case(c):
    res = {"id": c["id"]}
    async with websockets.connect(c["url"], max_size=MAX_SIZE, max_queue=None) as ws:
        op = c["op"]
        if op == "echo":
            size = c.get("size", 0)
            await ws.send(binary_payload(size) if c["type"] == "binary" else text_payload(size))
            m = await ws.recv()
            data = m if isinstance(m, bytes) else m.encode("utf-8")
            res.update(type="binary" if isinstance(m, bytes) else "text", len=len(data),
                       sha256=hashlib.sha256(data).hexdigest())
        elif op == "frag":
            # websockets' send(iterable) fragments only at str items, never
            # inside a character: write the one-byte frames directly.
            data = c["text"].encode("utf-8")
            for i in range(len(data)):
                await ws.write_frame(i == len(data) - 1, OP_TEXT if i == 0 else OP_CONT, data[i : i + 1])
            m = await ws.recv()
            res.update(type="binary" if isinstance(m, bytes) else "text", text=m if isinstance(m, str) else "")
        elif op == "ping":
            waiter = await ws.ping(c["payload"].encode("utf-8"))
            await waiter  # resolves when the pong with this payload arrives
            res["pong"] = c["payload"]
        elif op == "close":
            await ws.close(c["code"], c.get("reason", ""))
        elif op == "await-close":
            # With a size, that many random bytes instead: incompressible, so
            # they exceed a size limit even with permessage-deflate negotiated.
            size = c.get("size", 0)
            await ws.send(os.urandom(size) if size > 0 else "close me")
            try:
                m = await ws.recv()
                res["error"] = f"got a message instead of a close: {m!r}"
            except ConnectionClosed:
                pass
        elif op == "await-ping":
            # websockets 10.4 answers pings without telling the application.
            await ws.send("ping me")
            m = await ws.recv()
            res["text"] = m if isinstance(m, str) else repr(m)
        else:
            raise ValueError(f"unknown op {op}")
        await finish(ws, res)
    return res


async def run():
    cases = json.loads(sys.stdin.read())
    for c in cases:
        try:
            res = await asyncio.wait_for(run_case(c), CASE_TIMEOUT)
        except Exception:  # noqa: BLE001 - reported to the test
            res = {"id": c["id"], "error": traceback.format_exc()}
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()


async def hold(url):
    ws = await websockets.connect(url, max_size=MAX_SIZE)
    await ws.send("hold")
    await ws.recv()
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    await ws.wait_closed()  # until killed or closed
    sys.stdout.write(json.dumps({"event": "close", "code": ws.close_code, "reason": ws.close_reason}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1] == "hold":
        asyncio.run(hold(sys.argv[2]))
    else:
        asyncio.run(run())
