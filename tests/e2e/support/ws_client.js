// A strict WebSocket client for the e2e tests: node's `ws` (Debian node-ws).
// Usage: node ws_client.js SCENARIO URL [JSON options]; prints one JSON line.
'use strict';
const WebSocket = require('ws');
const [scenario, url, json] = process.argv.slice(2);
const opts = json ? JSON.parse(json) : {};
const tls = opts.ca ? { ca: require('fs').readFileSync(opts.ca) } : {};

function open(extra = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols || [], { perMessageDeflate: opts.deflate ?? false, ...tls, ...extra });
    const queue = [];
    const waiters = [];
    ws.on('message', (data, isBinary) => {
      const m = { binary: isBinary, data: isBinary ? [...data] : data.toString() };
      if (waiters.length) waiters.shift()(m); else queue.push(m);
    });
    ws.next = () => new Promise((res) => (queue.length ? res(queue.shift()) : waiters.push(res)));
    ws.closed = new Promise((res) => ws.on('close', (code, reason) => res({ code, reason: reason.toString() })));
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
    ws.on('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

const scenarios = {
  // Text, binary, empty, large and fragmented messages come back as sent.
  async echo() {
    const ws = await open();
    const out = [];
    const big = 'é'.repeat(300000); // 600,000 bytes of two-byte characters
    ws.send('hello');
    out.push(await ws.next());
    ws.send(Buffer.from([0, 1, 2, 255]));
    out.push(await ws.next());
    ws.send('');
    out.push(await ws.next());
    ws.send(big);
    const back = await ws.next();
    out.push({ binary: back.binary, length: back.data.length, same: back.data === big });
    ws.send('frag', { fin: false });
    ws.send('men', { fin: false });
    ws.send('ted 😀', { fin: true });
    out.push(await ws.next());
    const pong = new Promise((res) => ws.once('pong', (d) => res(d.toString())));
    ws.ping('are you there');
    out.push({ pong: await pong });
    ws.close(1000, 'bye');
    return { messages: out, close: await ws.closed, extensions: ws.extensions, protocol: ws.protocol };
  },
  // permessage-deflate with the parameters in opts.deflate: echo of chat JSON.
  async deflate() {
    const ws = await open();
    const msg = JSON.stringify({ type: 'chat', room: 'lobby', user: 'alice', text: 'hello '.repeat(100) });
    const out = [];
    for (let i = 0; i < 3; i++) {
      ws.send(msg);
      out.push((await ws.next()).data === msg);
    }
    ws.send('tiny');
    out.push((await ws.next()).data === 'tiny');
    ws.close();
    return { ok: out, extensions: ws._extensions && ws._extensions['permessage-deflate'] ? ws._extensions['permessage-deflate'].params : null, close: await ws.closed };
  },
  async protocol() {
    const ws = await open();
    const protocol = ws.protocol;
    ws.close();
    await ws.closed;
    return { protocol };
  },
  // Sends each of opts.messages, collects opts.expect replies, then closes.
  async script() {
    const ws = await open();
    const out = [];
    for (const m of opts.messages || []) ws.send(m);
    for (let i = 0; i < (opts.expect || 0); i++) out.push((await ws.next()).data);
    if (opts.close) ws.close(opts.close[0], opts.close[1]);
    const closed = opts.wait_close || opts.close ? await ws.closed : null;
    if (!closed) ws.terminate();
    return { messages: out, close: closed };
  },
  // opts.clients subscribers on the room; the first publishes; every one
  // must receive it.
  async fanout() {
    const clients = await Promise.all(Array.from({ length: opts.clients }, () => open()));
    const joined = await Promise.all(clients.map((c) => c.next()));
    const got = Promise.all(clients.map((c) => c.next()));
    clients[0].send('pub:' + opts.text);
    const messages = await got;
    clients.forEach((c) => c.terminate());
    return { joined: joined.map((m) => m.data), received: messages.map((m) => m.data) };
  },
  // ActionCable's JSON protocol (actioncable-v1-json): two clients join a
  // room's ChatChannel; one speaks; both must receive the broadcast.
  async actioncable() {
    const join = async (name) => {
      const ws = await open({});
      const next = async () => {
        for (;;) {
          const m = JSON.parse((await ws.next()).data);
          if (m.type !== 'ping') return m;
        }
      };
      const welcome = await next();
      const identifier = JSON.stringify({ channel: 'ChatChannel', room: 'lobby' });
      ws.send(JSON.stringify({ command: 'subscribe', identifier }));
      const confirm = await next();
      return { ws, next, identifier, welcome: welcome.type, confirm: confirm.type, name };
    };
    const a = await join('alice');
    const b = await join('bob');
    a.ws.send(JSON.stringify({ command: 'message', identifier: a.identifier,
                               data: JSON.stringify({ action: 'speak', text: 'hello room', from: 'alice' }) }));
    const got = await Promise.all([a.next(), b.next()]);
    const protocol = a.ws.protocol;
    a.ws.close();
    b.ws.close();
    return { welcome: [a.welcome, b.welcome], confirm: [a.confirm, b.confirm], received: got.map((m) => m.message), protocol };
  },
};

(async () => {
  const timer = setTimeout(() => { console.log(JSON.stringify({ error: 'timeout' })); process.exit(2); }, opts.timeout || 15000);
  try {
    console.log(JSON.stringify(await scenarios[scenario]()));
  } catch (e) {
    console.log(JSON.stringify({ error: e.message }));
  }
  clearTimeout(timer);
  process.exit(0);
})();
