/**
 * Broken SIP at a running gateway, over real UDP and TCP sockets on 127.0.0.1 (STYLE 14: each
 * malformed input named, with its expected answer or drop and the counter that records it).
 * Then 2000 seeded random mutations of a valid INVITE over UDP: the gateway must keep serving
 * OPTIONS, with no uncaught exception, no unhandled rejection and no throwing listener.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import dgram from 'node:dgram';
import net from 'node:net';
import fc from 'fast-check';
import { parseMessage, parseNameAddr, parseUri } from '../sip/index.js';
import type { ParseError, SipTransportStats } from '../sip/index.js';
import { mutate, mutation } from '../fuzz/index.js';
import { startGateway } from './helpers/gateway.js';
import type { TestGateway } from './helpers/gateway.js';

type ErrorCode = ParseError['code'];
type Transport = 'UDP' | 'TCP';

/** How long "no answer" waits, in ms. */
const SILENCE_MS = 300;
/** How long an expected answer may take, in ms. */
const ANSWER_MS = 2000;

// ---------------------------------------------------------------------------------------------
// Sockets that read back what the gateway answers

/** The status code and top-Via branch of a response (null when the bytes are not one). */
function readStatus(bytes: Buffer): { status: number; branch: string } | null {
  const text = bytes.toString('latin1');
  const m = /^SIP\/2\.0 ([1-6][0-9][0-9]) /.exec(text);
  if (m === null) return null;
  const via = /\r\n(?:Via|v)[ \t]*:[^\r\n]*?;branch=([^;,\r\n ]+)/i.exec(text);
  return { status: Number(m[1]), branch: via?.[1] ?? '' };
}

class UdpClient {
  readonly socket: dgram.Socket;
  readonly inbox: Buffer[] = [];
  #wake: (() => void) | null = null;

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (m) => {
      this.inbox.push(Buffer.from(m));
      this.#wake?.();
    });
  }

  static async open(): Promise<UdpClient> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    return new UdpClient(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(bytes: Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(bytes, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }

  /** The next datagram, or null when none comes within `ms`. */
  async next(ms: number): Promise<Buffer | null> {
    const deadline = Date.now() + ms;
    while (this.inbox.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = null;
    }
    return this.inbox.shift() ?? null;
  }

  close(): void {
    this.socket.close();
  }
}

class TcpClient {
  readonly socket: net.Socket;
  #buf: Buffer = Buffer.alloc(0);
  closed = false;
  #wake: (() => void) | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#wake?.();
    });
    // A reset after the gateway closed on unread bytes is expected in some cases.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.#wake?.();
    });
  }

  static async open(port: number): Promise<TcpClient> {
    const s = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('error', reject);
    });
    return new TcpClient(s);
  }

  get port(): number {
    return this.socket.localPort ?? 0;
  }

  /** Writes; resolves when flushed, when the socket closed, or after 1 s (never hangs a test). */
  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, 1000);
      const done = (): void => {
        clearTimeout(t);
        resolve();
      };
      this.socket.once('close', done);
      this.socket.write(bytes, () => {
        this.socket.off('close', done);
        done();
      });
    });
  }

  /** Waits until `ready(buffer)` or `ms` passed (or the socket closed); returns the buffer. */
  async #until(ms: number, ready: (b: Buffer) => boolean): Promise<Buffer> {
    const deadline = Date.now() + ms;
    while (!ready(this.#buf) && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = null;
    }
    return this.#buf;
  }

  /** The next response's head (through the empty line), or null when none within `ms`. */
  async next(ms: number): Promise<Buffer | null> {
    const b = await this.#until(ms, (x) => x.includes('\r\n\r\n'));
    const end = b.indexOf('\r\n\r\n');
    if (end === -1) return null;
    const head = b.subarray(0, end + 4);
    const cl = /\r\n(?:Content-Length|l)[ \t]*:[ \t]*([0-9]+)/i.exec(head.toString('latin1'));
    this.#buf = b.subarray(end + 4 + Number(cl?.[1] ?? 0));
    return head;
  }

  /** Takes the next `n` bytes, waiting up to `ms` for them (fewer when they do not come). */
  async take(n: number, ms: number): Promise<Buffer> {
    const b = await this.#until(ms, (x) => x.length >= n);
    this.#buf = b.subarray(Math.min(n, b.length));
    return b.subarray(0, n);
  }

  /** Whether the gateway closed the connection within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    await this.#until(ms, () => false);
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Messages

let branchSeq = 0;
function newBranch(): string {
  return `z9hG4bK-malformed-${process.pid}-${++branchSeq}`;
}

interface Ctx {
  transport: Transport;
  /** Our local port (for Via). */
  port: number;
  branch: string;
}

interface RequestParts {
  /** Replaces "OPTIONS sip:record@127.0.0.1 SIP/2.0". */
  startLine?: string;
  /** CSeq method (default: the start line's method). */
  method?: string;
  /** Header names to leave out (Via, From, To, Call-ID, CSeq, Max-Forwards, Content-Length). */
  omit?: string[];
  /** Extra header lines, after CSeq. */
  extra?: string[];
  /** Content-Length value; default the body's length. */
  contentLength?: string;
  body?: string;
}

/** A request by hand, with a Via pointing at our socket and `rport` (RFC 3581). */
function request(ctx: Ctx, p: RequestParts = {}): Buffer {
  const startLine = p.startLine ?? 'OPTIONS sip:record@127.0.0.1 SIP/2.0';
  const method = p.method ?? startLine.split(' ')[0] ?? 'OPTIONS';
  const body = p.body ?? '';
  const headers: [string, string][] = [
    ['Via', `SIP/2.0/${ctx.transport} 127.0.0.1:${ctx.port};branch=${ctx.branch};rport`],
    ['Max-Forwards', '70'],
    ['From', `<sip:malformed@127.0.0.1>;tag=${ctx.branch.slice(-8)}`],
    ['To', '<sip:record@127.0.0.1>'],
    ['Call-ID', `${ctx.branch}@127.0.0.1`],
    ['CSeq', `1 ${method}`],
  ];
  const lines = [startLine];
  for (const [n, v] of headers) if (!(p.omit ?? []).includes(n)) lines.push(`${n}: ${v}`);
  lines.push(...(p.extra ?? []));
  if (!(p.omit ?? []).includes('Content-Length')) lines.push(`Content-Length: ${p.contentLength ?? Buffer.byteLength(body, 'latin1')}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1');
}

/** Seeded bytes (xorshift32) with no CR or LF, starting with NUL: not SIP, no line ever ends. */
function garbage(seed: number, length: number): Buffer {
  let s = seed >>> 0 || 1;
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    let b = s & 0xff;
    if (b === 10 || b === 13) b = 0xfe;
    out[i] = b;
  }
  out[0] = 0;
  return out;
}

// ---------------------------------------------------------------------------------------------
// The table

interface Outcome {
  /** Status read back on the same socket, 'pong' for a CRLF keep-alive answer, null for nothing within SILENCE_MS. */
  answer: number | 'pong' | null;
  /** The parse error counted (exactly one), if any. */
  parseError?: ErrorCode;
  rejected?: number;
  dropped?: number;
  keepAlives?: number;
  /** Messages that reached the transaction layer. */
  received?: number;
  /** TCP: the gateway closes the connection (framing lost, §18.3); default false. */
  closes?: boolean;
  /** TCP: we close after the silence (the gateway is waiting for more bytes). */
  weClose?: boolean;
}

interface Case {
  name: string;
  bytes: (ctx: Ctx) => Buffer;
  udp?: Outcome;
  tcp?: Outcome;
}

const CASES: Case[] = [
  {
    name: 'start line "INVITE sip:x SIP/3.0": 505',
    bytes: (c) => request(c, { startLine: 'INVITE sip:x SIP/3.0' }),
    udp: { answer: 505, parseError: 'ERR_SIP_VERSION', rejected: 1 },
    tcp: { answer: 505, parseError: 'ERR_SIP_VERSION', rejected: 1 },
  },
  {
    name: 'unknown version "OPTIONS sip:record@127.0.0.1 SIP/1.0": 505',
    bytes: (c) => request(c, { startLine: 'OPTIONS sip:record@127.0.0.1 SIP/1.0' }),
    udp: { answer: 505, parseError: 'ERR_SIP_VERSION', rejected: 1 },
    tcp: { answer: 505, parseError: 'ERR_SIP_VERSION', rejected: 1 },
  },
  {
    name: 'start line "GARBAGE" alone: dropped (nothing to route a response by)',
    // On TCP with a Content-Length so the framer delivers it and the parser judges the start line.
    bytes: (c) => Buffer.from(c.transport === 'UDP' ? 'GARBAGE' : 'GARBAGE\r\nContent-Length: 0\r\n\r\n'),
    udp: { answer: null, parseError: 'ERR_SIP_START_LINE', dropped: 1 },
    tcp: { answer: null, parseError: 'ERR_SIP_START_LINE', dropped: 1 },
  },
  {
    name: 'start line "GARBAGE" with a Via and the other headers: 400',
    bytes: (c) => request(c, { startLine: 'GARBAGE', method: 'GARBAGE' }),
    udp: { answer: 400, parseError: 'ERR_SIP_START_LINE', rejected: 1 },
    tcp: { answer: 400, parseError: 'ERR_SIP_START_LINE', rejected: 1 },
  },
  {
    name: 'start line "INVITE  SIP/2.0" (no Request-URI): 400',
    bytes: (c) => request(c, { startLine: 'INVITE  SIP/2.0' }),
    udp: { answer: 400, parseError: 'ERR_SIP_START_LINE', rejected: 1 },
    tcp: { answer: 400, parseError: 'ERR_SIP_START_LINE', rejected: 1 },
  },
  {
    name: 'Content-Length larger than the body: 400 on UDP (§18.3); on TCP the stream waits for the rest',
    bytes: (c) => request(c, { body: 'abcdefghij', contentLength: '100' }),
    udp: { answer: 400, parseError: 'ERR_SIP_CONTENT_LENGTH', rejected: 1 },
    tcp: { answer: null, weClose: true },
  },
  {
    name: 'Content-Length "abc": 400 (TCP: and the connection is closed)',
    bytes: (c) => request(c, { contentLength: 'abc' }),
    udp: { answer: 400, parseError: 'ERR_SIP_CONTENT_LENGTH', rejected: 1 },
    tcp: { answer: 400, parseError: 'ERR_SIP_CONTENT_LENGTH', rejected: 1, closes: true },
  },
  {
    name: 'Content-Length "-5": 400 (TCP: and the connection is closed)',
    bytes: (c) => request(c, { body: 'abcdefghij', contentLength: '-5' }),
    udp: { answer: 400, parseError: 'ERR_SIP_CONTENT_LENGTH', rejected: 1 },
    tcp: { answer: 400, parseError: 'ERR_SIP_CONTENT_LENGTH', rejected: 1, closes: true },
  },
  {
    name: 'header section over 16 KiB (one 17 KiB header): 413 (TCP: and closed)',
    bytes: (c) => request(c, { extra: [`X-Pad: ${'a'.repeat(17 * 1024)}`] }),
    udp: { answer: 413, parseError: 'ERR_SIP_TOO_LARGE', rejected: 1 },
    tcp: { answer: 413, parseError: 'ERR_SIP_TOO_LARGE', rejected: 1, closes: true },
  },
  {
    name: 'header section over 16 KiB (300 small headers, over the 256-field limit too): 413',
    bytes: (c) => request(c, { extra: Array.from({ length: 300 }, (_, i) => `X-Pad-${i}: ${'b'.repeat(60)}`) }),
    udp: { answer: 413, parseError: 'ERR_SIP_TOO_LARGE', rejected: 1 },
    tcp: { answer: 413, parseError: 'ERR_SIP_TOO_LARGE', rejected: 1, closes: true },
  },
  {
    name: 'missing Via: dropped (a response could not be routed)',
    bytes: (c) => request(c, { omit: ['Via'] }),
    udp: { answer: null, parseError: 'ERR_SIP_MISSING_HEADER', dropped: 1 },
    tcp: { answer: null, parseError: 'ERR_SIP_MISSING_HEADER', dropped: 1 },
  },
  {
    name: 'missing Call-ID: 400',
    bytes: (c) => request(c, { omit: ['Call-ID'] }),
    udp: { answer: 400, parseError: 'ERR_SIP_MISSING_HEADER', rejected: 1 },
    tcp: { answer: 400, parseError: 'ERR_SIP_MISSING_HEADER', rejected: 1 },
  },
  {
    name: 'missing CSeq: 400',
    bytes: (c) => request(c, { omit: ['CSeq'] }),
    udp: { answer: 400, parseError: 'ERR_SIP_MISSING_HEADER', rejected: 1 },
    tcp: { answer: 400, parseError: 'ERR_SIP_MISSING_HEADER', rejected: 1 },
  },
  {
    name: 'CSeq method INVITE on an OPTIONS request: 400',
    bytes: (c) => request(c, { method: 'INVITE' }),
    udp: { answer: 400, parseError: 'ERR_SIP_HEADER', rejected: 1 },
    tcp: { answer: 400, parseError: 'ERR_SIP_HEADER', rejected: 1 },
  },
  {
    name: 'NUL byte in a header name: 400',
    bytes: (c) => request(c, { extra: ['X-N\0ul: value'] }),
    udp: { answer: 400, parseError: 'ERR_SIP_HEADER', rejected: 1 },
    tcp: { answer: 400, parseError: 'ERR_SIP_HEADER', rejected: 1 },
  },
  {
    name: 'binary garbage (seeded, starts with NUL, no line end): dropped (TCP: closed at the 16 KiB header limit)',
    bytes: (c) => garbage(20240601, c.transport === 'UDP' ? 1500 : 20 * 1024),
    udp: { answer: null, parseError: 'ERR_SIP_START_LINE', dropped: 1 },
    tcp: { answer: null, parseError: 'ERR_SIP_TOO_LARGE', dropped: 1, closes: true },
  },
  {
    name: 'a 70 KiB INVITE on TCP (Content-Length over the 65535-byte message limit): 413 and closed',
    bytes: (c) => request(c, { startLine: 'INVITE sip:record@127.0.0.1 SIP/2.0', extra: ['Content-Type: application/sdp'], body: 'v=0\r\n'.repeat(14336) }),
    tcp: { answer: 413, parseError: 'ERR_SIP_TOO_LARGE', rejected: 1, closes: true },
  },
  {
    name: 'the largest UDP datagram (65507 bytes: an OPTIONS with a 65 KB body) is read whole: 200',
    bytes: (c) => {
      const head = request(c, { body: '', contentLength: '00000' }).length;
      return request(c, { body: 'x'.repeat(65507 - head), contentLength: String(65507 - head).padStart(5, '0') });
    },
    udp: { answer: 200, received: 1 },
  },
  {
    name: 'empty datagram: ignored, counted as a keep-alive',
    bytes: () => Buffer.alloc(0),
    udp: { answer: null, keepAlives: 1 },
  },
  {
    name: 'lone CRLF: ignored, counted as a keep-alive',
    bytes: () => Buffer.from('\r\n'),
    udp: { answer: null, keepAlives: 1 },
  },
  {
    name: 'CRLFCRLF ping: UDP ignored; TCP answered with a CRLF pong (RFC 5626 §3.5.1), connection kept',
    bytes: () => Buffer.from('\r\n\r\n'),
    udp: { answer: null, keepAlives: 1 },
    tcp: { answer: 'pong', keepAlives: 1 },
  },
];

/** The counters a case moves, as a before/after difference. */
function delta(before: SipTransportStats, after: SipTransportStats): Required<Pick<Outcome, 'rejected' | 'dropped' | 'keepAlives' | 'received'>> & { parseErrors: Record<string, number> } {
  const parseErrors: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.parseErrors)) {
    const d = v - (before.parseErrors[k] ?? 0);
    if (d !== 0) parseErrors[k] = d;
  }
  return {
    parseErrors,
    rejected: after.rejected - before.rejected,
    dropped: after.dropped - before.dropped,
    keepAlives: after.keepAlives - before.keepAlives,
    received: after.received - before.received,
  };
}

function expectedDelta(o: Outcome): ReturnType<typeof delta> {
  return {
    parseErrors: o.parseError === undefined ? {} : { [o.parseError]: 1 },
    rejected: o.rejected ?? 0,
    dropped: o.dropped ?? 0,
    keepAlives: o.keepAlives ?? 0,
    received: o.received ?? 0,
  };
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** Asserts the counters moved as `o` says (waiting up to 1 s for a gateway slowed by load). */
async function assertCounters(before: SipTransportStats, o: Outcome): Promise<void> {
  const want = expectedDelta(o);
  const now = (): ReturnType<typeof delta> => delta(before, gw.gateway.stats().sip);
  await waitFor(() => JSON.stringify(now()) === JSON.stringify(want), 1000);
  assert.equal(now(), want);
}

let gw: TestGateway;
test.before(async () => {
  gw = await startGateway();
});
test.after(async () => {
  await gw.stop();
});

async function runUdp(c: Case, o: Outcome): Promise<void> {
  const client = await UdpClient.open();
  try {
    const ctx: Ctx = { transport: 'UDP', port: client.port, branch: newBranch() };
    const before = gw.gateway.stats().sip;
    await client.send(c.bytes(ctx), gw.sipPort);
    if (o.answer === null) {
      const got = await client.next(SILENCE_MS);
      assert.is(got, null, `expected no answer, got ${got?.toString('latin1').split('\r\n')[0]}`);
    } else {
      const got = await client.next(ANSWER_MS);
      assert.ok(got, `no answer within ${ANSWER_MS} ms`);
      const r = readStatus(got);
      assert.ok(r, `not a response: ${got.toString('latin1').slice(0, 80)}`);
      assert.is(r.status, o.answer);
      assert.is(r.branch, ctx.branch, 'the answer carries our Via branch');
    }
    await assertCounters(before, o);
  } finally {
    client.close();
  }
}

async function runTcp(c: Case, o: Outcome): Promise<void> {
  const client = await TcpClient.open(gw.sipPort);
  try {
    // The gateway has registered the connection once it counts it.
    assert.ok(await waitFor(() => gw.gateway.stats().sip.connections >= 1, 1000), 'connection registered');
    const ctx: Ctx = { transport: 'TCP', port: client.port, branch: newBranch() };
    const before = gw.gateway.stats().sip;
    await client.write(c.bytes(ctx));
    if (o.answer === null) {
      const got = await client.next(SILENCE_MS);
      assert.is(got, null, `expected no answer, got ${got?.toString('latin1').split('\r\n')[0]}`);
    } else if (o.answer === 'pong') {
      const got = await client.take(2, ANSWER_MS);
      assert.is(got.toString('latin1'), '\r\n', 'a CRLF pong');
      assert.is((await client.take(1, 100)).length, 0, 'a single CRLF, nothing more');
    } else {
      const got = await client.next(ANSWER_MS);
      assert.ok(got, `no answer within ${ANSWER_MS} ms`);
      const r = readStatus(got);
      assert.ok(r, `not a response: ${got.toString('latin1').slice(0, 80)}`);
      assert.is(r.status, o.answer);
      assert.is(r.branch, ctx.branch, 'the answer carries our Via branch');
    }
    await assertCounters(before, o);
    if (o.closes === true) {
      assert.ok(await client.closedWithin(1000), 'the gateway closes a stream that lost its framing');
    } else {
      assert.not.ok(await client.closedWithin(o.answer === null ? 0 : 50), 'the connection stays open');
      if (o.weClose !== true) {
        // Still in step: a valid OPTIONS on the same connection gets its 200.
        const next: Ctx = { ...ctx, branch: newBranch() };
        await client.write(request(next));
        const got = await client.next(ANSWER_MS);
        assert.ok(got, 'OPTIONS after the case: no answer');
        assert.is(readStatus(got)?.status, 200);
        assert.is(readStatus(got)?.branch, next.branch);
      }
    }
  } finally {
    client.close();
  }
  // Closed connections are forgotten (none left holding a buffered half message).
  assert.ok(await waitFor(() => gw.gateway.stats().sip.connections === 0, 1000), `connections left: ${gw.gateway.stats().sip.connections}`);
}

for (const c of CASES) {
  const { udp, tcp } = c;
  if (udp !== undefined) test(`UDP: ${c.name}`, () => runUdp(c, udp));
  if (tcp !== undefined) test(`TCP: ${c.name}`, () => runTcp(c, tcp));
}

test('UDP: a 70 KiB datagram cannot be sent at all (EMSGSIZE at the sender): nothing reaches the gateway', async () => {
  const client = await UdpClient.open();
  try {
    const before = gw.gateway.stats().sip;
    const ctx: Ctx = { transport: 'UDP', port: client.port, branch: newBranch() };
    const err = await client.send(request(ctx, { body: 'x'.repeat(70 * 1024) }), gw.sipPort).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error, 'send must fail');
    assert.is((err as NodeJS.ErrnoException).code, 'EMSGSIZE');
    assert.is(await client.next(SILENCE_MS), null);
    await assertCounters(before, { answer: null });
  } finally {
    client.close();
  }
});

test('NUL byte in a header value (From display name): 400, not accepted', async () => {
  // §25.1: no header value grammar admits %x00 (TEXT-UTF8char is %x21-7E / UTF8-NONASCII, plus LWS).
  const o: Outcome = { answer: 400, parseError: 'ERR_SIP_HEADER', rejected: 1 };
  const c: Case = {
    name: 'NUL in From',
    bytes: (ctx) => request(ctx, { omit: ['From'], extra: [`From: "Al\0ice" <sip:malformed@127.0.0.1>;tag=${ctx.branch.slice(-8)}`] }),
  };
  await runUdp(c, o);
  await runTcp(c, o);
});

test('after the whole table a valid OPTIONS still gets 200 (with Allow) over UDP and over TCP', async () => {
  const udp = await UdpClient.open();
  try {
    const ctx: Ctx = { transport: 'UDP', port: udp.port, branch: newBranch() };
    await udp.send(request(ctx), gw.sipPort);
    const got = await udp.next(ANSWER_MS);
    assert.ok(got, 'UDP OPTIONS: no answer');
    assert.is(readStatus(got)?.status, 200);
    assert.is(readStatus(got)?.branch, ctx.branch);
    assert.match(got.toString('latin1'), /\r\nAllow: [^\r\n]*INVITE/);
    assert.match(got.toString('latin1'), new RegExp(`received=127\\.0\\.0\\.1;rport=${udp.port}|rport=${udp.port};received=127\\.0\\.0\\.1`));
  } finally {
    udp.close();
  }
  const tcp = await TcpClient.open(gw.sipPort);
  try {
    const ctx: Ctx = { transport: 'TCP', port: tcp.port, branch: newBranch() };
    await tcp.write(request(ctx));
    const got = await tcp.next(ANSWER_MS);
    assert.ok(got, 'TCP OPTIONS: no answer');
    assert.is(readStatus(got)?.status, 200);
    assert.is(readStatus(got)?.branch, ctx.branch);
  } finally {
    tcp.close();
  }
  const s = gw.gateway.stats();
  assert.is(s.activeCalls, 0, 'no call was created by the table');
  assert.is(gw.gateway.transport.listenerErrors, 0, 'no throwing listener');
});

// ---------------------------------------------------------------------------------------------
// 2000 random mutations of a valid INVITE over UDP

/**
 * Whether the gateway could send a request outside 127.0.0.1 because of this datagram: a
 * parseable INVITE whose Contact (the dialog's remote target, where a BYE would go) is not a
 * 127.0.0.1 SIP URI. Responses are safe: rport/received send them back to our source address.
 */
function leavesLoopback(bytes: Buffer): boolean {
  const r = parseMessage(bytes);
  if (!r.ok || r.message.kind !== 'request') return false;
  for (const v of r.message.headers.getAll('Contact')) {
    const na = parseNameAddr(v);
    const uri = na?.uri ?? parseUri(v);
    if (uri === null || uri === undefined || uri.host !== '127.0.0.1') return true;
  }
  for (const name of ['Record-Route', 'Route']) if (r.message.headers.getAll(name).length > 0) return true;
  return false;
}

test('2000 seeded mutations of a valid INVITE over UDP: no exception, no throwing listener, OPTIONS still 200', async () => {
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown): void => {
    uncaught.push(err);
  };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  const fuzzGw = await startGateway();
  const client = await UdpClient.open();
  let skipped = 0;
  try {
    const sdp = [
      'v=0',
      'o=fuzz 1 1 IN IP4 127.0.0.1',
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      'm=audio 20000 RTP/AVP 0 8 101',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-15',
      'a=ptime:20',
      'a=sendrecv',
      '',
    ].join('\r\n');
    const ctx: Ctx = { transport: 'UDP', port: client.port, branch: 'z9hG4bK-fuzz-invite-1' };
    const invite = request(ctx, {
      startLine: 'INVITE sip:record@127.0.0.1 SIP/2.0',
      extra: [`Contact: <sip:fuzz@127.0.0.1:${client.port}>`, 'Content-Type: application/sdp', 'Supported: timer, replaces', 'User-Agent: malformed-test'],
      body: sdp,
    });
    const plans = fc.sample(fc.array(mutation, { minLength: 1, maxLength: 4 }), { numRuns: 2000, seed: 0x5eed });
    assert.is(plans.length, 2000);
    const before = fuzzGw.gateway.stats().sip;
    let sent = 0;
    for (const plan of plans) {
      const bytes = mutate(invite, plan);
      if (leavesLoopback(bytes)) {
        skipped++;
        continue;
      }
      await client.send(bytes, fuzzGw.sipPort);
      sent++;
      // Let the gateway keep up, so the kernel drops nothing.
      if (sent % 25 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    const seen = (): number => {
      const s = fuzzGw.gateway.stats().sip;
      const errors = Object.values(s.parseErrors).reduce((a, b) => a + b, 0) - Object.values(before.parseErrors).reduce((a, b) => a + b, 0);
      return s.received - before.received + errors + (s.keepAlives - before.keepAlives);
    };
    assert.ok(await waitFor(() => seen() >= sent, 3000), `the gateway accounted for ${seen()} of ${sent} datagrams`);
    const after = fuzzGw.gateway.stats();
    console.log(
      `  fuzz: ${sent} sent, ${skipped} skipped (Contact off 127.0.0.1); received ${after.sip.received - before.received}, ` +
        `parse errors ${JSON.stringify(delta(before, after.sip).parseErrors)}, rejected ${after.sip.rejected - before.rejected}, ` +
        `dropped ${after.sip.dropped - before.dropped}, calls ${after.callsTotal}, absorbed ${after.transactions.absorbed}`,
    );
    assert.ok(sent >= 1900, `only ${sent} mutations were safe to send`);
    assert.ok(after.sip.received - before.received > 0, 'some mutations were still valid SIP');
    assert.ok(after.sip.rejected - before.rejected > 0 && after.sip.dropped - before.dropped > 0, 'both the 4xx and the drop paths ran');

    // Still serving.
    client.inbox.length = 0;
    const probe = await UdpClient.open();
    try {
      const p: Ctx = { transport: 'UDP', port: probe.port, branch: newBranch() };
      await probe.send(request(p), fuzzGw.sipPort);
      const got = await probe.next(ANSWER_MS);
      assert.ok(got, 'OPTIONS after the fuzz: no answer');
      assert.is(readStatus(got)?.status, 200);
      assert.is(readStatus(got)?.branch, p.branch);
    } finally {
      probe.close();
    }
    const tcp = await TcpClient.open(fuzzGw.sipPort);
    try {
      const p: Ctx = { transport: 'TCP', port: tcp.port, branch: newBranch() };
      await tcp.write(request(p));
      const got = await tcp.next(ANSWER_MS);
      assert.ok(got, 'TCP OPTIONS after the fuzz: no answer');
      assert.is(readStatus(got)?.status, 200);
    } finally {
      tcp.close();
    }
    assert.is(fuzzGw.gateway.transport.listenerErrors, 0, 'no listener threw in the SIP stack');
    assert.is(fuzzGw.gateway.listenerErrors, 0, 'no gateway listener threw');
    const callErrors = fuzzGw.logs.filter((l) => l.event === 'call.error');
    assert.equal(callErrors, [], 'no call failed with an internal error');
  } finally {
    client.close();
    await fuzzGw.stop();
    // Timers that fire while stopping would show here too.
    await new Promise((r) => setTimeout(r, 50));
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  }
  assert.equal(uncaught.map(String), [], 'no uncaught exception or unhandled rejection');
});

test.run();
