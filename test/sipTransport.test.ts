/** SipTransport edge cases on real sockets. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { SipTransport } from '../sip/index.js';

test('regression: a TCP peer trickling an unfinished message is disconnected after the partial-message timeout', async () => {
  // Bug: a Content-Length larger than what was sent kept the connection (and its buffer) forever.
  const t = new SipTransport({ port: 0, bindAddress: '127.0.0.1', partialMessageTimeoutMs: 200 });
  await t.listen();
  const socket = net.connect({ host: '127.0.0.1', port: t.port });
  try {
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const closed = new Promise<number>((resolve) => {
      const t0 = Date.now();
      socket.once('close', () => resolve(Date.now() - t0));
    });
    socket.on('error', () => undefined);
    socket.write(
      'OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKp\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: p1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 100\r\n\r\nonly ten b',
    );
    const ms = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    assert.ok(ms > 0 && ms < 1500, `closed after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
    assert.is(t.stats().connections, 0);
  } finally {
    socket.destroy();
    await t.close();
  }
});

test('a complete message in pieces is not cut off by the partial-message timeout', async () => {
  const t = new SipTransport({ port: 0, bindAddress: '127.0.0.1', partialMessageTimeoutMs: 300 });
  await t.listen();
  const got: string[] = [];
  t.on('message', (m) => got.push(m.message.kind === 'request' ? m.message.method : ''));
  const socket = net.connect({ host: '127.0.0.1', port: t.port });
  try {
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const msg = 'OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKq\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: p2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';
    for (let i = 0; i < 4; i++) {
      socket.write(msg.slice(0, 20));
      await new Promise((r) => setTimeout(r, 50));
      socket.write(msg.slice(20));
      await new Promise((r) => setTimeout(r, 150));
    }
    assert.equal(got, ['OPTIONS', 'OPTIONS', 'OPTIONS', 'OPTIONS']);
    assert.is(t.stats().connections, 1);
  } finally {
    socket.destroy();
    await t.close();
  }
});

test.run();
