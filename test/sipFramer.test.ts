import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StreamFramer, parseMessage } from '../sip/message/index.js';
import type { ParseError, SipLimits } from '../sip/message/index.js';

function wire(lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

/** An INVITE with an SDP body over TCP (Content-Length is mandatory on streams, §18.3). */
const INVITE = wire([
  'INVITE sip:service@192.0.2.10:5060;transport=tcp SIP/2.0',
  'Via: SIP/2.0/TCP 192.0.2.20:5061;branch=z9hG4bK-7-1-0',
  'From: sipp <sip:sipp@192.0.2.20:5061>;tag=7SIPpTag001',
  'To: service <sip:service@192.0.2.10:5060>',
  'Call-ID: 1-7@192.0.2.20',
  'CSeq: 1 INVITE',
  'Contact: <sip:sipp@192.0.2.20:5061;transport=tcp>',
  'Max-Forwards: 70',
  'Content-Type: application/sdp',
  'Content-Length: 131',
  '',
  'v=0',
  'o=user1 53655765 2353687637 IN IP4 192.0.2.20',
  's=-',
  'c=IN IP4 192.0.2.20',
  't=0 0',
  'm=audio 6000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  '',
]);

/** A bodiless 100 Trying with the compact Content-Length and lower-case names. */
const TRYING = wire([
  'SIP/2.0 100 Trying',
  'v: SIP/2.0/TCP 192.0.2.20:5061;branch=z9hG4bK-7-1-0',
  'f: sipp <sip:sipp@192.0.2.20:5061>;tag=7SIPpTag001',
  't: service <sip:service@192.0.2.10:5060>',
  'i: 1-7@192.0.2.20',
  'cseq: 1 INVITE',
  'l: 0',
  '',
  '',
]);

/** A MESSAGE whose body holds CRLFCRLF, with a folded Content-Length and LWS before the colon. */
const MESSAGE = wire([
  'MESSAGE sip:bob@192.0.2.10 SIP/2.0',
  'Via: SIP/2.0/TCP 192.0.2.20:5061;branch=z9hG4bK-msg',
  'From: <sip:alice@192.0.2.20>;tag=m1',
  'To: <sip:bob@192.0.2.10>',
  'Call-ID: msg-1',
  'CSeq: 2 MESSAGE',
  'Content-Type: text/plain',
  'content-length  :',
  '   15',
  '',
  'a\r\n\r\nb\r\n\r\nSIP/2',
]);

interface Collected {
  messages: Buffer[];
  errors: ParseError[];
  keepAlives: number;
}

function framer(limits?: Partial<SipLimits>): { f: StreamFramer; got: Collected } {
  const got: Collected = { messages: [], errors: [], keepAlives: 0 };
  const f = new StreamFramer(
    (m) => got.messages.push(m),
    (e) => got.errors.push(e),
    { ...limits, onKeepAlive: () => got.keepAlives++ },
  );
  return { f, got };
}

test('fixtures are what they claim: each parses alone, with its body', () => {
  assert.ok(INVITE.length > 131 && INVITE.subarray(INVITE.indexOf('\r\n\r\n') + 4).length === 131);
  for (const m of [INVITE, TRYING, MESSAGE]) assert.ok(parseMessage(m).ok);
});

test('one message delivered one byte at a time: exactly one delivery, same bytes', () => {
  const { f, got } = framer();
  for (let i = 0; i < INVITE.length; i++) {
    f.push(INVITE.subarray(i, i + 1));
    assert.is(got.messages.length, i === INVITE.length - 1 ? 1 : 0, `after byte ${i}`);
  }
  assert.ok(got.messages[0]?.equals(INVITE));
  assert.is(got.errors.length, 0);
  assert.is(f.stats.bufferedBytes, 0);
});

test('every 2-chunk split of two messages gives the same two messages', () => {
  const stream = Buffer.concat([INVITE, MESSAGE]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const { f, got } = framer();
    f.push(stream.subarray(0, cut));
    f.push(stream.subarray(cut));
    assert.is(got.messages.length, 2, `cut at ${cut}`);
    assert.ok(got.messages[0]?.equals(INVITE), `cut at ${cut}: first`);
    assert.ok(got.messages[1]?.equals(MESSAGE), `cut at ${cut}: second`);
    assert.is(got.errors.length, 0);
  }
});

test('every 3-chunk split of a message with CRLFCRLF in its body', () => {
  for (let a = 0; a <= MESSAGE.length; a += 3) {
    for (let b = a; b <= MESSAGE.length; b += 7) {
      const { f, got } = framer();
      f.push(MESSAGE.subarray(0, a));
      f.push(MESSAGE.subarray(a, b));
      f.push(MESSAGE.subarray(b));
      assert.is(got.messages.length, 1, `${a}/${b}`);
      assert.ok(got.messages[0]?.equals(MESSAGE));
    }
  }
});

test('three messages coalesced in one chunk, delivered in order as copies', () => {
  const { f, got } = framer();
  const chunk = Buffer.concat([TRYING, INVITE, MESSAGE]);
  f.push(chunk);
  assert.is(got.messages.length, 3);
  assert.ok(got.messages[0]?.equals(TRYING));
  assert.ok(got.messages[1]?.equals(INVITE));
  assert.ok(got.messages[2]?.equals(MESSAGE));
  chunk.fill(0); // the caller reuses its buffer: delivered messages must not change
  assert.ok(got.messages[1]?.equals(INVITE));
  for (const m of got.messages) assert.ok(parseMessage(m).ok);
  assert.equal(f.stats, { messages: 3, keepAlives: 0, errors: 0, listenerErrors: 0, bufferedBytes: 0 });
});

test('RFC 5626 keep-alives: CRLFCRLF pings between messages are reported and skipped', () => {
  const { f, got } = framer();
  f.push(Buffer.from('\r\n\r\n'));
  assert.is(got.keepAlives, 1);
  f.push(Buffer.concat([INVITE, Buffer.from('\r\n\r\n\r\n\r\n'), TRYING]));
  assert.is(got.keepAlives, 3);
  // A ping split over chunks, and a single CRLF (a pong from the peer) that is not a ping.
  f.push(Buffer.from('\r'));
  f.push(Buffer.from('\n\r'));
  f.push(Buffer.from('\n'));
  assert.is(got.keepAlives, 4);
  f.push(Buffer.from('\r\n'));
  f.push(MESSAGE);
  assert.is(got.keepAlives, 4);
  assert.is(got.messages.length, 3);
  assert.ok(got.messages[2]?.equals(MESSAGE));
  assert.is(f.stats.keepAlives, 4);
});

test('onKeepAlive may be assigned after construction', () => {
  const f = new StreamFramer(() => undefined, () => undefined);
  let pings = 0;
  f.onKeepAlive = () => pings++;
  f.push(Buffer.from('\r\n\r\n'));
  assert.is(pings, 1);
});

test('LF-only header sections (sloppy peers) are framed too', () => {
  const lf = Buffer.from('OPTIONS sip:a@192.0.2.1 SIP/2.0\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\nl: 3\n\nabc');
  for (let cut = 0; cut <= lf.length; cut++) {
    const { f, got } = framer();
    f.push(lf.subarray(0, cut));
    f.push(lf.subarray(cut));
    assert.is(got.messages.length, 1, `cut ${cut}`);
    assert.ok(got.messages[0]?.equals(lf));
  }
});

test('missing Content-Length on a stream: error 400 with partial, then the stream is dead', () => {
  const { f, got } = framer();
  const bad = wire([
    'INVITE sip:bob@192.0.2.10 SIP/2.0',
    'Via: SIP/2.0/TCP 192.0.2.20;branch=z9hG4bKnocl',
    'From: <sip:a@192.0.2.20>;tag=1',
    'To: <sip:bob@192.0.2.10>',
    'Call-ID: nocl',
    'CSeq: 1 INVITE',
    '',
    'v=0',
  ]);
  f.push(bad);
  assert.is(got.errors.length, 1);
  const e = got.errors[0] as ParseError;
  assert.is(e.code, 'ERR_SIP_CONTENT_LENGTH');
  assert.is(e.status, 400);
  assert.is(e.partial?.method, 'INVITE');
  assert.is(e.partial?.headers.get('Via'), 'SIP/2.0/TCP 192.0.2.20;branch=z9hG4bKnocl');
  assert.is(e.partial?.headers.get('Call-ID'), 'nocl');
  assert.ok(f.failed);
  f.push(INVITE); // ignored: the framing is lost (§18.3), the caller closes the connection
  assert.is(got.messages.length, 0);
  assert.is(got.errors.length, 1);
  f.reset();
  assert.not.ok(f.failed);
  f.push(INVITE);
  assert.is(got.messages.length, 1);
});

test('framing errors, table-driven: code and status', () => {
  const head = ['Via: SIP/2.0/TCP h;branch=z9hG4bK1', 'From: <sip:a@h>;tag=1', 'To: <sip:b@h>', 'Call-ID: x', 'CSeq: 1 INVITE'];
  const cases: { name: string; bytes: Buffer; limits?: Partial<SipLimits>; code: ParseError['code']; status: number }[] = [
    { name: 'non-numeric Content-Length', bytes: wire(['INVITE sip:b@h SIP/2.0', ...head, 'Content-Length: abc', '', '']), code: 'ERR_SIP_CONTENT_LENGTH', status: 400 },
    { name: 'negative Content-Length', bytes: wire(['INVITE sip:b@h SIP/2.0', ...head, 'Content-Length: -1', '', '']), code: 'ERR_SIP_CONTENT_LENGTH', status: 400 },
    { name: 'conflicting Content-Length', bytes: wire(['INVITE sip:b@h SIP/2.0', ...head, 'Content-Length: 1', 'l: 2', '', '']), code: 'ERR_SIP_CONTENT_LENGTH', status: 400 },
    { name: 'response without Content-Length (dropped: status 0)', bytes: wire(['SIP/2.0 200 OK', ...head, '', '']), code: 'ERR_SIP_CONTENT_LENGTH', status: 0 },
    { name: 'header section over maxHeaderBytes', bytes: wire(['INVITE sip:b@h SIP/2.0', ...head, `X-Big: ${'a'.repeat(20000)}`, 'l: 0', '', '']), code: 'ERR_SIP_TOO_LARGE', status: 413 },
    { name: 'endless header line', bytes: Buffer.from(`INVITE sip:b@h SIP/2.0\r\nX: ${'a'.repeat(17000)}`), code: 'ERR_SIP_TOO_LARGE', status: 413 },
    { name: 'Content-Length over maxMessageBytes', bytes: wire(['INVITE sip:b@h SIP/2.0', ...head, 'Content-Length: 70000', '', '']), code: 'ERR_SIP_TOO_LARGE', status: 413 },
    { name: 'over a custom maxMessageBytes', bytes: INVITE, limits: { maxMessageBytes: 300 }, code: 'ERR_SIP_TOO_LARGE', status: 413 },
    { name: 'response over maxHeaderBytes', bytes: wire(['SIP/2.0 200 OK', ...head, `X-Big: ${'a'.repeat(20000)}`, 'l: 0', '', '']), code: 'ERR_SIP_TOO_LARGE', status: 0 },
  ];
  for (const c of cases) {
    // Whole, and one byte at a time: the same single error either way.
    for (const step of [c.bytes.length, 1]) {
      const { f, got } = framer(c.limits);
      for (let i = 0; i < c.bytes.length; i += step) f.push(c.bytes.subarray(i, i + step));
      assert.is(got.errors.length, 1, `${c.name} (step ${step})`);
      assert.is(got.errors[0]?.code, c.code, c.name);
      assert.is(got.errors[0]?.status, c.status, c.name);
      assert.is(got.messages.length, 0, c.name);
      assert.is(f.stats.errors, 1);
    }
  }
});

test('413 on a request carries the partial headers read so far', () => {
  const { f, got } = framer();
  f.push(wire(['INVITE sip:b@h SIP/2.0', 'Via: SIP/2.0/TCP h;branch=z9hG4bKbig', 'Call-ID: big', `X-Big: ${'a'.repeat(20000)}`]));
  assert.is(got.errors[0]?.status, 413);
  assert.is(got.errors[0]?.partial?.headers.get('Via'), 'SIP/2.0/TCP h;branch=z9hG4bKbig');
  assert.is(got.errors[0]?.partial?.headers.get('Call-ID'), 'big');
});

test('a throwing listener is counted and framing goes on', () => {
  let n = 0;
  const f = new StreamFramer(
    () => {
      n++;
      throw new Error('listener bug');
    },
    () => undefined,
  );
  f.push(Buffer.concat([INVITE, TRYING]));
  assert.is(n, 2);
  assert.is(f.stats.listenerErrors, 2);
  assert.is(f.stats.messages, 2);
});

test('linear time: 200 messages pushed one byte at a time', () => {
  const stream = Buffer.concat(Array.from({ length: 200 }, () => INVITE));
  const { f, got } = framer();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < stream.length; i++) f.push(stream.subarray(i, i + 1));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.is(got.messages.length, 200);
  assert.ok(ms < 2000, `${ms} ms`);
});

test('linear time: one large message arriving one byte at a time does not rescan', () => {
  const body = Buffer.alloc(60000, 0x61);
  const headers = Buffer.from(`MESSAGE sip:b@h SIP/2.0\r\n${'X-Pad: 0123456789012345678901234567890123456789\r\n'.repeat(300)}Content-Length: ${body.length}\r\n\r\n`);
  const msg = Buffer.concat([headers, body]);
  const { f, got } = framer({ maxMessageBytes: 100000 });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < msg.length; i++) f.push(msg.subarray(i, i + 1));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.is(got.messages.length, 1);
  assert.ok(got.messages[0]?.equals(msg));
  assert.ok(ms < 2000, `${ms} ms for ${msg.length} one-byte pushes`);
});

test.run();
