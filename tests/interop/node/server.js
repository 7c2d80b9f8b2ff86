'use strict';
// Echo server of wssproxy's interop tests, on Node's `ws` package.
// Listens on 127.0.0.1 on a free port and prints JSON lines on stdout:
// {"event":"listening","port":N}, then per connection
// {"event":"close","id":…,"code":…,"reason":…} with the close frame it
// received (1006 when none). Paths (query id, and code/reason for /close):
//   /echo   echo every message with its type
//   /frag   echo every message in one-byte fragments (send with fin:false)
//   /close  on the first message, close with code and reason
//   /ping   on the first message, ping with "srv-ping"; on the pong, send
//           "pong:" + its payload
const { WebSocketServer } = require('ws');

const maxPayload = 64 << 20;

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload });
wss.on('listening', () => emit({ event: 'listening', port: wss.address().port }));
wss.on('error', (err) => {
  process.stderr.write(`server error: ${err.stack}\n`);
  process.exit(1);
});

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
