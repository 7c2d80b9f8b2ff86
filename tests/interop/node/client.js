'use strict';
// Client of wssproxy's interop tests, on Node's `ws` package.
//   node client.js run          read a JSON array of cases on stdin, run each
//                               on its own connection, print one JSON result
//                               line per case (see tests/interop/script_test.go)
//   node client.js hold URL     connect, exchange one message, print
//                               {"ready":true} and hold the connection until
//                               killed; if the server closes it first, print
//                               {"event":"close","code":…,"reason":…} and exit
// For wss URLs the client trusts Node's CAs plus NODE_EXTRA_CA_CERTS.
const crypto = require('crypto');
const WebSocket = require('ws');

const maxPayload = 64 << 20;
const caseTimeout = 15000;

// The payloads of internal/testpeer/payload.go.
function textPayload(size) {
  const unit = 'aé€😀';
  return unit.repeat(Math.floor(size / 10)) + 'x'.repeat(size % 10);
}
function binaryPayload(size) {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = i % 251;
  return b;
}

// connect opens a connection and returns helpers: next() resolves to the
// next message {data, isBinary} and rejects once the connection closed;
// closed resolves to {code, reason}.
function connect(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload });
    const queue = [];
    const waiters = [];
    const pings = [];
    let closeInfo = null;
    const closed = new Promise((res) => {
      ws.on('close', (code, reason) => {
        closeInfo = { code, reason: reason.toString() };
        for (const w of waiters.splice(0)) w.reject(new Error(`closed with ${code} before a message`));
        res(closeInfo);
      });
    });
    ws.on('message', (data, isBinary) => {
      const m = { data, isBinary };
      if (waiters.length) waiters.shift().resolve(m);
      else queue.push(m);
    });
    ws.on('ping', (data) => pings.push(data.toString()));
    ws.on('error', (err) => {
      if (ws.readyState === WebSocket.CONNECTING) reject(err);
    });
    ws.once('open', () =>
      resolve({
        ws,
        pings,
        closed,
        next() {
          if (queue.length) return Promise.resolve(queue.shift());
          if (closeInfo) return Promise.reject(new Error(`closed with ${closeInfo.code}`));
          return new Promise((res, rej) => waiters.push({ resolve: res, reject: rej }));
        },
      })
    );
  });
}

async function finish(conn, res) {
  if (conn.ws.readyState === WebSocket.OPEN) conn.ws.close(1000);
  const c = await conn.closed;
  res.code = c.code;
  res.reason = c.reason;
}

async function runCase(c) {
  const conn = await connect(c.url);
  try {
    return await runOn(conn, c);
  } finally {
    conn.ws.terminate(); // no-op once closed; after a failure, frees the event loop
  }
}

async function runOn(conn, c) {
  const res = { id: c.id };
  const { ws } = conn;
  switch (c.op) {
    case 'echo': {
      const binary = c.type === 'binary';
      ws.send(binary ? binaryPayload(c.size) : textPayload(c.size), { binary });
      const m = await conn.next();
      res.type = m.isBinary ? 'binary' : 'text';
      res.len = m.data.length;
      res.sha256 = crypto.createHash('sha256').update(m.data).digest('hex');
      await finish(conn, res);
      break;
    }
    case 'frag': {
      // ws's fragmentation API: send(data, {fin: false}) per fragment.
      const b = Buffer.from(c.text);
      for (let i = 0; i < b.length; i++) {
        ws.send(b.subarray(i, i + 1), { binary: false, fin: i === b.length - 1 });
      }
      const m = await conn.next();
      res.type = m.isBinary ? 'binary' : 'text';
      res.text = m.data.toString();
      await finish(conn, res);
      break;
    }
    case 'ping': {
      const pong = new Promise((r) => ws.once('pong', r));
      ws.ping(c.payload);
      res.pong = (await pong).toString();
      await finish(conn, res);
      break;
    }
    case 'close': {
      ws.close(c.code, c.reason);
      await finish(conn, res);
      break;
    }
    case 'await-close': {
      // With a size, that many random bytes instead: incompressible, so
      // they exceed a size limit even with permessage-deflate negotiated.
      ws.send(c.size > 0 ? crypto.randomBytes(c.size) : 'close me');
      const closed = await conn.closed;
      res.code = closed.code;
      res.reason = closed.reason;
      break;
    }
    case 'await-ping': {
      ws.send('ping me');
      const m = await conn.next();
      res.text = m.data.toString();
      res.pings = conn.pings;
      await finish(conn, res);
      break;
    }
    default:
      throw new Error(`unknown op ${c.op}`);
  }
  return res;
}

function withTimeout(p, ms) {
  let timer;
  return Promise.race([
    p,
    new Promise((_, rej) => {
      timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function run() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const cases = JSON.parse(Buffer.concat(chunks).toString());
  for (const c of cases) {
    let res;
    try {
      res = await withTimeout(runCase(c), caseTimeout);
    } catch (err) {
      res = { id: c.id, error: String(err && err.stack ? err.stack : err) };
    }
    process.stdout.write(JSON.stringify(res) + '\n');
  }
}

async function hold(url) {
  const conn = await connect(url);
  conn.ws.send('hold');
  await conn.next();
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  const timer = setInterval(() => {}, 1 << 30); // until killed or closed
  const c = await conn.closed;
  process.stdout.write(JSON.stringify({ event: 'close', code: c.code, reason: c.reason }) + '\n');
  clearInterval(timer);
}

const [mode, arg] = process.argv.slice(2);
(mode === 'hold' ? hold(arg) : run()).catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
