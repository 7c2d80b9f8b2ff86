'use strict';
// Node `ws` server for the tests of "wssproxy client" (internal/clientcmd).
//   NODE_PATH=tests/interop/node/node_modules node client_peer.js [--cert F --key F]
// Listens on 127.0.0.1 on a free port (wss with --cert/--key) and prints
// JSON lines on stdout: {"event":"listening","port":N}, then per
// connection {"event":"open",…} with the request's Origin, X-Test header
// and chosen subprotocol, {"event":"message",…} for each message the
// client sends, and {"event":"close",…} with the close frame received.
// Paths:
//   /script?end=E  on the client's first message: a text message in two
//                  fragments ("hel" + "lo"), a binary message 00 01 02 ff,
//                  a ping "srv-ping"; on the pong, "pong:" + its payload,
//                  then the ending E: a close code (1000, 1001, 4001, …),
//                  "none" (close frame without a code), "destroy" (TCP
//                  reset, no close frame), "bad" (a frame with reserved
//                  opcode 3), or "wait" (nothing: the client closes)
//   /echoback      sends "o" + "ne" (two fragments) and binary 01 02 03,
//                  expects them back, prints {"event":"echoed",…} with
//                  what came back and closes with 1000
//   /echo          (and any other path) echoes every message with its type
//   /hold?ms=N     sends nothing and closes with 1000 after N ms
//   /refuse        answers the upgrade with 403 Forbidden
const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocketServer } = require('ws');

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function flag(name) {
  const i = process.argv.indexOf(name);
  return i < 0 ? '' : process.argv[i + 1];
}

const server = flag('--cert')
  ? https.createServer({ cert: fs.readFileSync(flag('--cert')), key: fs.readFileSync(flag('--key')) })
  : http.createServer();
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 << 20 });

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname === '/refuse') {
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 18\r\nConnection: close\r\n\r\nnot for you, robot');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req, url));
});

function fragments(ws, first, second, binary) {
  ws.send(first, { fin: false, binary });
  ws.send(second, { fin: true, binary });
}

function end(ws, how) {
  switch (how) {
    case 'wait':
      return;
    case 'none':
      ws.close();
      return;
    case 'destroy':
      ws._socket.destroy();
      return;
    case 'bad':
      // FIN + reserved opcode 3, unmasked, empty: RFC 6455 §5.2 forbids it.
      ws._socket.write(Buffer.from([0x83, 0x00]));
      return;
  }
  ws.close(Number(how), 'ending ' + how);
}

wss.on('connection', (ws, req, url) => {
  const path = url.pathname;
  emit({ event: 'open', path, origin: req.headers.origin || '', x_test: req.headers['x-test'] || '', protocol: ws.protocol });
  ws.on('close', (code, reason) => emit({ event: 'close', path, code, reason: reason.toString() }));
  ws.on('error', (err) => emit({ event: 'error', path, error: String(err) }));
  let first = true;
  const echoed = [];
  ws.on('message', (data, isBinary) => {
    const wasFirst = first;
    first = false;
    emit({ event: 'message', path, binary: isBinary, data: isBinary ? data.toString('base64') : data.toString() });
    switch (path) {
      case '/script':
        if (wasFirst) {
          fragments(ws, 'hel', 'lo', false);
          ws.send(Buffer.from([0, 1, 2, 255]), { binary: true });
          ws.ping('srv-ping');
        }
        return;
      case '/echoback':
        echoed.push({ binary: isBinary, data: isBinary ? data.toString('base64') : data.toString() });
        if (echoed.length === 2) {
          emit({ event: 'echoed', messages: echoed });
          ws.close(1000, 'thanks');
        }
        return;
      default: // /echo and any other path
        ws.send(data, { binary: isBinary });
        return;
    }
  });
  ws.on('pong', (payload) => {
    if (path !== '/script') {
      return;
    }
    ws.send('pong:' + payload.toString(), () => end(ws, url.searchParams.get('end') || 'wait'));
  });
  if (path === '/echoback') {
    fragments(ws, 'o', 'ne', false);
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
  }
  if (path === '/hold') {
    setTimeout(() => ws.close(1000, 'held'), Number(url.searchParams.get('ms') || 500));
  }
});

server.listen(0, '127.0.0.1', () => emit({ event: 'listening', port: server.address().port }));
server.on('error', (err) => {
  process.stderr.write(`server error: ${err.stack}\n`);
  process.exit(1);
});
