'use strict';
// Echo server of wssproxy's interop and end-to-end tests, on Node's `ws`
// package.
//   node server.js [--cert FILE --key FILE]
// Listens on 127.0.0.1 on a free port (wss with --cert/--key, else ws) and
// prints JSON lines on stdout:
// {"event":"listening","port":N}, then per connection
// {"event":"close","id":…,"code":…,"reason":…} with the close frame it
// received (1006 when none). Paths (query id, and code/reason for /close):
//   /echo   echo every message with its type
//   /frag   echo every message in one-byte fragments (send with fin:false)
//   /close  on the first message, close with code and reason
//   /ping   on the first message, ping with "srv-ping"; on the pong, send
//           "pong:" + its payload
//   /partial on the first message, send the first fragment of a text
//           message (no FIN), then print {"event":"partial","id":…} and
//           send nothing more (the test kills the process mid-message)
const fs = require('fs');
const https = require('https');
const { WebSocketServer } = require('ws');

const maxPayload = 64 << 20;

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function flag(name) {
  const i = process.argv.indexOf(name);
  return i < 0 ? '' : process.argv[i + 1];
}

function fail(err) {
  process.stderr.write(`server error: ${err.stack}\n`);
  process.exit(1);
}

let wss;
if (flag('--cert')) {
  const server = https.createServer({ cert: fs.readFileSync(flag('--cert')), key: fs.readFileSync(flag('--key')) });
  wss = new WebSocketServer({ server, maxPayload });
  server.on('error', fail);
  server.listen(0, '127.0.0.1', () => emit({ event: 'listening', port: server.address().port }));
} else {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload });
  wss.on('listening', () => emit({ event: 'listening', port: wss.address().port }));
}
wss.on('error', fail);

wss.on('connection', (ws, req) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const id = url.searchParams.get('id') || '';
  const mode = url.pathname.replace(/^\//, '');
  let first = true;

  ws.on('message', (data, isBinary) => {
    const wasFirst = first;
    first = false;
    switch (mode) {
      case 'close':
        if (wasFirst) {
          ws.close(Number(url.searchParams.get('code')), url.searchParams.get('reason') || '');
          return;
        }
        break;
      case 'ping':
        if (wasFirst) {
          ws.ping('srv-ping');
          return;
        }
        break;
      case 'partial':
        if (wasFirst) {
          ws.send('first half of a message', { binary: false, fin: false }, () =>
            emit({ event: 'partial', id })
          );
          return;
        }
        break;
      case 'frag':
        if (data.length > 1) {
          for (let i = 0; i < data.length; i++) {
            ws.send(data.subarray(i, i + 1), { binary: isBinary, fin: i === data.length - 1 });
          }
          return;
        }
        break;
    }
    ws.send(data, { binary: isBinary });
  });
  ws.on('pong', (data) => {
    if (mode === 'ping') ws.send('pong:' + data.toString());
  });
  ws.on('close', (code, reason) => emit({ event: 'close', id, code, reason: reason.toString() }));
  ws.on('error', (err) => emit({ event: 'error', id, error: String(err) }));
});
