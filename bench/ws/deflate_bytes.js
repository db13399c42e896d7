// bench/ws: bytes on the wire for a chat-JSON stream (1,000 messages echoed),
// with and without permessage-deflate, measured on the client's socket.
'use strict';
const WebSocket = require('ws');
const url = process.argv[2];
const N = 1000;
function run(deflate) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: deflate ? { threshold: 0 } : false });
    let got = 0;
    ws.on('open', () => {
      for (let i = 0; i < N; i++) {
        ws.send(JSON.stringify({ type: 'message', room: 'general', user: `user${i % 20}`, id: i,
                                 text: 'hello everyone, how is the release going?', ts: 1733500000 + i }));
      }
    });
    ws.on('message', () => {
      if (++got === N) {
        const s = ws._socket;
        const r = { deflate, extensions: ws.extensions, sent: s.bytesWritten, received: s.bytesRead };
        ws.close();
        resolve(r);
      }
    });
    ws.on('error', reject);
  });
}
(async () => {
  const plain = await run(false);
  const compressed = await run(true);
  console.log(JSON.stringify({ plain, compressed }));
})();
