/**
 * Fuzz targets for sip/message, the parsers that face the network first: whole messages from
 * arbitrary bytes, SIP-like line soup and mutated real messages (parseMessage), TCP streams in
 * any chunking (StreamFramer), the header value parsers (URI, name-addr, Via, CSeq, auth), and
 * generated messages through serialize and parse. Nothing throws; what is accepted is stable
 * (serialize(parse(serialize(m))) == serialize(m)) or round-trips equal.
 *
 * test/sipFuzz.test.ts runs them briefly inside `npm test`; `npm run fuzz` runs them long.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  StreamFramer,
  createRequest,
  createResponse,
  formatNameAddr,
  formatUri,
  formatVia,
  formatAuthHeader,
  parseAuthParams,
  parseCSeq,
  parseChallenge,
  parseCredentials,
  parseMessage,
  parseNameAddr,
  parseParams,
  parseUri,
  parseVia,
  serializeMessage,
  NonceManager,
} from '../sip/message/index.js';
import type { ParseResult, SipMessage } from '../sip/message/index.js';
import type { FuzzTarget } from './targets.js';

function wire(lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

/** Seeds for mutation: a request with SDP, a response, a folded and compact-form request. */
const SEEDS = [
  wire([
    'INVITE sip:service@127.0.0.1:5060 SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.1.1:5061;branch=z9hG4bK-12345-1-0',
    'From: sipp <sip:sipp@127.0.1.1:5061>;tag=12345SIPpTag001',
    'To: service <sip:service@127.0.0.1:5060>',
    'Call-ID: 1-12345@127.0.1.1',
    'CSeq: 1 INVITE',
    'Contact: sip:sipp@127.0.1.1:5061',
    'Max-Forwards: 70',
    'Content-Type: application/sdp',
    'Content-Length: 129',
    '',
    'v=0',
    'o=user1 53655765 2353687637 IN IP4 127.0.1.1',
    's=-',
    'c=IN IP4 127.0.1.1',
    't=0 0',
    'm=audio 6000 RTP/AVP 0',
    'a=rtpmap:0 PCMU/8000',
    '',
  ]),
  wire([
    'SIP/2.0 407 Proxy Authentication Required',
    'Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bKa;received=192.0.2.1;rport=5060, SIP/2.0/UDP p.example.com;branch=z9hG4bKb',
    'From: "Alice, A." <sip:alice@example.com>;tag=1',
    'To: <sip:bob@example.com>;tag=2',
    'Call-ID: x@y',
    'CSeq: 7 INVITE',
    'Proxy-Authenticate: Digest realm="example.com", nonce="abc", qop="auth", algorithm=MD5',
    'l: 0',
    '',
    '',
  ]),
  wire([
    'REGISTER sip:example.com SIP/2.0',
    'v: SIP / 2.0 / TCP h.example.com',
    '  ;branch=z9hG4bK1',
    't: <sip:u@example.com>',
    'f: "U" <sip:u@example.com>;tag=9',
    'i: reg-1',
    'CSeq: 2 REGISTER',
    'm: <sip:u@192.0.2.7:5060;ob>;expires=3600, <sip:u@[2001:db8::7]>;q=0.5',
    'Authorization: Digest username="u", realm="example.com", nonce="n", uri="sip:example.com", response="0123456789abcdef0123456789abcdef", qop=auth, nc=00000001, cnonce="c"',
    'Supported: path, outbound',
    'l: 0',
    '',
    '',
  ]),
];

/** Re-parse limits: serialization expands compact names and splits lists, so give it room. */
const ROOMY = { maxMessageBytes: 1 << 20, maxHeaderBytes: 1 << 20, maxHeaders: 1 << 16 };

function assertWellFormed(r: ParseResult): void {
  if (r.ok) {
    assert.ok(r.message.kind === 'request' || r.message.kind === 'response');
    return;
  }
  assert.equal(typeof r.error.code, 'string');
  assert.ok([0, 400, 413, 505].includes(r.error.status), `status ${r.error.status}`);
  if (r.error.partial !== undefined) assert.ok(r.error.status !== 0 || r.error.code === 'ERR_SIP_START_LINE');
}

/** What parse accepted, serialize writes, and parse reads back to the same thing (then stays fixed). */
function assertStable(m: SipMessage): void {
  const once = serializeMessage(m);
  const again = parseMessage(once, ROOMY);
  assert.ok(again.ok, again.ok ? '' : `re-parse failed: ${again.error.code} ${again.error.message}`);
  const twice = serializeMessage(again.message);
  assert.ok(twice.equals(once), 'serialize(parse(serialize(m))) == serialize(m)');
}

/** Lines that look like SIP, mixed with random strings: reaches far deeper than raw bytes. */
const sipishLine = fc.oneof(
  fc.constantFrom(
    'INVITE sip:a@example.com SIP/2.0',
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP h;branch=z9hG4bK1',
    'From: <sip:a@h>;tag=1',
    'To: <sip:b@h>',
    'Call-ID: c',
    'CSeq: 1 INVITE',
    'Content-Length: 3',
    'l: 0',
    ' folded',
    '',
    'Contact: *',
    'v: SIP/2.0/TCP [::1]:5060',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
);

/** A change to a real message's bytes or lines (also test/sipMalformed.test.ts's, over UDP to a gateway). */
export type Mutation =
  | { kind: 'flip'; at: number; byte: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'duplicateLine'; line: number }
  | { kind: 'deleteLine'; line: number }
  | { kind: 'swapLines'; a: number; b: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'crlfToLf' };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicateLine' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('deleteLine' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('swapLines' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.constant({ kind: 'crlfToLf' as const }),
);

export function mutate(seed: Buffer, mutations: Mutation[]): Buffer {
  let b = Buffer.from(seed);
  for (const m of mutations) {
    if (b.length === 0) break;
    switch (m.kind) {
      case 'flip':
        b[m.at % b.length] = m.byte;
        break;
      case 'truncate':
        b = b.subarray(0, m.at % b.length);
        break;
      case 'insert': {
        const at = m.at % b.length;
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      }
      case 'crlfToLf':
        b = Buffer.from(b.toString('latin1').replaceAll('\r\n', '\n'), 'latin1');
        break;
      default: {
        const lines = b.toString('latin1').split('\r\n');
        if (m.kind === 'swapLines') {
          const i = m.a % lines.length;
          const j = m.b % lines.length;
          [lines[i], lines[j]] = [lines[j] as string, lines[i] as string];
        } else {
          const i = m.line % lines.length;
          if (m.kind === 'duplicateLine') lines.splice(i, 0, lines[i] as string);
          else lines.splice(i, 1);
        }
        b = Buffer.from(lines.join('\r\n'), 'latin1');
      }
    }
  }
  return b;
}

/** Splits `bytes` at the given cut points (taken modulo its length). */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  out.push(bytes.subarray(from));
  return out;
}

/** Pieces joined from small alphabets, so that a good share of the strings are accepted. */
function from(chars: string, min: number, max: number): fc.Arbitrary<string> {
  return fc.string({ unit: fc.constantFrom(...chars), minLength: min, maxLength: max });
}
const lws = fc.constantFrom('', '', '', ' ', '  ', '\t');
const odd = '"<>;,?@:=&%[]\\ \t\r\n\0é';
/** A structured string, left alone, with one odd character inserted, or cut short. */
function corrupt(arb: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(arb, fc.nat(), fc.constantFrom(...odd), fc.nat(3)).map(([str, at, ch, how]) => {
    if (how === 0 || str.length === 0) return str.slice(0, at % (str.length + 1));
    if (how === 1) return str.slice(0, at % str.length) + ch + str.slice(at % str.length);
    return str;
  });
}
function fuzzy(arb: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof({ weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) }, { weight: 4, arbitrary: corrupt(arb) });
}

const hostPiece = fc.oneof(
  from('abcxyz-09.', 1, 12),
  fc.constantFrom('example.com', 'Example.COM.', '192.0.2.1', '255.255.255.255', '[::1]', '[2001:db8::10]', '[fe80::1%25eth0]', '999.1.1.1', 'a_b.example.com'),
);
const userPiece = from("abcXYZ019-_.!~*'()&=+$,;?/#%", 1, 10).map((u) => u.replace(/%(?![0-9A-Fa-f]{2})/g, '%25'));
const paramPiece = fc.tuple(from('abcLR-_.%0', 1, 6), fc.option(from('abcxyz019-_.%:[]/&+$=#', 0, 8), { nil: undefined }))
  .map(([k, v]) => `;${k}${v === undefined ? '' : `=${v}`}`);
const uriLike = fc
  .tuple(
    fc.constantFrom('sip:', 'sips:', 'SIP:', 'tel:'),
    fc.option(fc.tuple(userPiece, fc.option(from('abc019&=+$,-_.%', 0, 6), { nil: undefined })), { nil: undefined }),
    hostPiece,
    fc.option(fc.integer({ min: 0, max: 70000 }), { nil: undefined }),
    fc.array(paramPiece, { maxLength: 3 }),
    fc.option(fc.array(fc.tuple(from('abcXYZ-', 1, 5), from('abc019%?:/+$[]=', 0, 6)), { minLength: 1, maxLength: 3 }), { nil: undefined }),
  )
  .map(([scheme, ui, h, port, params, headers]) => {
    if (scheme === 'tel:') return `tel:${ui?.[0] ?? '+1-555'}${params.join('')}`;
    const userinfo = ui === undefined ? '' : `${ui[0]}${ui[1] === undefined ? '' : `:${ui[1]}`}@`;
    const hdrs = headers === undefined ? '' : `?${headers.map(([k, v]) => `${k}=${v}`).join('&')}`;
    return `${scheme}${userinfo}${h}${port === undefined ? '' : `:${port}`}${params.join('')}${hdrs}`;
  });
const genParams = fc.array(
  fc.tuple(lws, from('abcTAG-_.!%', 1, 6), lws, fc.option(fc.oneof(from('abc019-_.:[]', 0, 8), from('abc ;,\\"', 0, 6).map((v) => `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`)), { nil: undefined })),
  { maxLength: 3 },
).map((ps) => ps.map(([a, k, b, v]) => `${a};${b}${k}${v === undefined ? '' : `${b}=${a}${v}`}`).join(''));
const nameAddrLike = fc
  .tuple(
    fc.oneof(fc.constant(''), from('abc Bob~`!%', 1, 10), from('abc <>,;@\\"\t\x01é', 0, 10).map((d) => `"${d.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`)),
    uriLike,
    fc.boolean(),
    genParams,
  )
  .map(([dn, u, angle, params]) => (angle || dn !== '' ? `${dn}${dn === '' ? '' : ' '}<${u}>${params}` : `${u}${params}`));
const viaLike = fc
  .tuple(
    fc.constantFrom('SIP', 'sip'),
    lws,
    fc.constantFrom('2.0', '2.0', '3.0'),
    lws,
    fc.constantFrom('UDP', 'tcp', 'TLS', 'WSS', 'SCTP'),
    fc.constantFrom(' ', '   ', '\t'),
    hostPiece,
    fc.option(fc.tuple(lws, fc.integer({ min: 0, max: 70000 })), { nil: undefined }),
    fc.array(
      fc.oneof(
        fc.constant(';rport'),
        fc.integer({ min: 0, max: 70000 }).map((p) => `;rport=${p}`),
        fc.constant(';rport=05060'),
        from('abcz9hG4bK019-.', 0, 10).map((b) => `;branch=${b}`),
        fc.constantFrom(';received=192.0.2.9', ';received=2001:db8::9', ';maddr=224.0.0.1', ';ttl=1', ';x', ';x="q;v"'),
      ),
      { maxLength: 4 },
    ),
  )
  .map(([p, a, v, b, t, sp, h, port, params]) => `${p}${a}/${b}${v}${a}/${b}${t}${sp}${h}${port === undefined ? '' : `${port[0]}:${port[0]}${port[1]}`}${params.join('')}`);
const authLike = fc
  .tuple(
    fc.constantFrom('Digest', 'digest', 'Basic'),
    fc.array(
      fc.tuple(
        fc.constantFrom('realm', 'nonce', 'username', 'uri', 'response', 'qop', 'nc', 'cnonce', 'algorithm', 'opaque', 'stale', 'X'),
        lws,
        fc.oneof(from('abc019-_.:/', 1, 10), from('abc ,;=\\"', 0, 10).map((v) => `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`), fc.constantFrom('MD5', 'SHA-256', 'auth', '00000001', 'TRUE')),
      ),
      { maxLength: 6 },
    ),
  )
  .map(([scheme, ps]) => `${scheme} ${ps.map(([k, w, v]) => `${k}${w}=${w}${v}`).join(', ')}`);

const tokenChars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`\'~';
const token = fc.string({ unit: fc.constantFrom(...tokenChars), minLength: 1, maxLength: 12 });
const hostLabel = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), minLength: 1, maxLength: 10 });
const host = fc.oneof(
  fc.tuple(hostLabel, fc.constantFrom('example.com', 'example.net', 'invalid')).map(([a, b]) => `${a}.${b}`),
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.')),
  fc.constantFrom('[::1]', '[2001:db8::7]'),
);
const sipUri = fc
  .record({ user: fc.option(fc.string({ unit: fc.constantFrom(...'abcxyz0123456789-_.!~*()&=+$,;?/'), minLength: 1, maxLength: 10 }), { nil: undefined }), host, port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }), lr: fc.boolean() })
  .map(({ user, host: h, port, lr }) => `sip:${user === undefined ? '' : `${user}@`}${h}${port === undefined ? '' : `:${port}`}${lr ? ';lr' : ''}`);
/** A header value as the parser gives it back: trimmed, no line breaks, no list commas. */
const value = fc
  .string({ unit: fc.constantFrom(...'abcXYZ019 ;=.@:/+-<>"\'()[]{}é大\t'), minLength: 1, maxLength: 30 })
  .map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ''))
  .filter((s) => s !== '');
const extraHeader = fc.tuple(
  fc.oneof(token.map((t) => `X-${t}`), fc.constantFrom('Subject', 'User-Agent', 'Allow', 'Supported', 'Route', 'Contact', 'Date', 'Warning')),
  value,
);
const body = fc.uint8Array({ maxLength: 200 });


// ---------------------------------------------------------------------------------------------
// Targets

const bytesTarget: FuzzTarget<Uint8Array> = {
  name: 'sip-bytes',
  what: 'parseMessage on arbitrary bytes: a result or a 400/413/505 error, never a throw',
  arbitrary: fc.uint8Array({ maxLength: 600 }),
  check(bytes) {
    const r = parseMessage(bytes);
    assertWellFormed(r);
    return r.ok;
  },
};

/** The headers every request and response carries (RFC 3261 §8.1.1), for the soup. */
const NEEDED = ['Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:a@h>;tag=1', 'To: <sip:b@h>', 'Call-ID: c', 'CSeq: 1 INVITE', 'l: 0', 'Max-Forwards: 70'] as const;

const soupTarget: FuzzTarget<[string[], string]> = {
  name: 'sip-soup',
  what: 'parseMessage on SIP-like line soup (any line ending): never throws; what it accepts is stable',
  // Mostly a valid start line, then the headers a message needs (now and then one short), in any
  // order, with SIP-like or random lines among them: a good share parse, so the stability check
  // runs (plain soup of 14 lines never parsed).
  arbitrary: fc
    .tuple(
      fc.oneof({ weight: 3, arbitrary: fc.constantFrom('INVITE sip:a@example.com SIP/2.0', 'SIP/2.0 200 OK', 'OPTIONS sip:h SIP/2.0', 'BYE sip:b@h;transport=tcp SIP/2.0') }, { weight: 1, arbitrary: sipishLine }),
      fc.shuffledSubarray([...NEEDED], { minLength: NEEDED.length - 1 }),
      fc.array(fc.tuple(sipishLine, fc.nat()), { maxLength: 4 }),
      fc.oneof({ weight: 4, arbitrary: fc.constant('\r\n') }, { weight: 1, arbitrary: fc.constantFrom('\n', '\r') }),
      fc.boolean(),
    )
    .map(([start, needed, extra, eol, end]): [string[], string] => {
      const lines: string[] = [...needed];
      for (const [line, at] of extra) lines.splice(at % (lines.length + 1), 0, line);
      return [[start, ...lines, ...(end ? ['', ''] : [])], eol];
    }),
  check([lines, eol]) {
    const r = parseMessage(Buffer.from(lines.join(eol), 'utf8'));
    assertWellFormed(r);
    if (r.ok) assertStable(r.message);
    return r.ok;
  },
};

const mutatedTarget: FuzzTarget<[number, Mutation[]]> = {
  name: 'sip-mutated',
  what: 'parseMessage on real messages (INVITE with SDP, 407, compact REGISTER) with bytes flipped, cut, inserted, lines doubled or dropped',
  arbitrary: fc.tuple(fc.nat({ max: SEEDS.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 })),
  check([seed, mutations]) {
    const r = parseMessage(mutate(SEEDS[seed] as Buffer, mutations));
    assertWellFormed(r);
    if (r.ok) assertStable(r.message);
    return r.ok;
  },
};

const framerTarget: FuzzTarget<[(number | string)[], number[]]> = {
  name: 'sip-framer',
  what: 'StreamFramer (TCP, WebSocket-less streams): valid messages and keep-alive pings in any chunking arrive whole, once, in order',
  arbitrary: fc.tuple(fc.array(fc.oneof(fc.nat({ max: SEEDS.length - 1 }), fc.constantFrom('\r\n\r\n', '\r\n')), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 })),
  check([items, cuts]) {
    const expected: Buffer[] = [];
    const parts: Buffer[] = [];
    for (const it of items) {
      if (typeof it === 'number') {
        expected.push(SEEDS[it] as Buffer);
        parts.push(SEEDS[it] as Buffer);
      } else parts.push(Buffer.from(it));
    }
    const got: Buffer[] = [];
    let errors = 0;
    const f = new StreamFramer((m) => got.push(m), () => errors++);
    for (const c of chunked(Buffer.concat(parts), cuts)) f.push(c);
    assert.equal(errors, 0);
    assert.equal(got.length, expected.length);
    got.forEach((m, i) => assert.ok(m.equals(expected[i] as Buffer)));
    return got.length > 0;
  },
};

const framerBytesTarget: FuzzTarget<[Uint8Array[], number[], number]> = {
  name: 'sip-framer-bytes',
  what: 'StreamFramer on arbitrary bytes in arbitrary chunks and limits: never throws, never delivers more than it got, one error at most',
  arbitrary: fc.tuple(
    fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...SEEDS.map((s) => new Uint8Array(s))), fc.constant(Uint8Array.from([13, 10, 13, 10]))), { maxLength: 6 }),
    fc.array(fc.nat(), { maxLength: 12 }),
    fc.integer({ min: 64, max: 4096 }),
  ),
  check([pieces, cuts, max]) {
    const stream = Buffer.concat(pieces);
    let delivered = 0;
    let errors = 0;
    const f = new StreamFramer(
      (m) => {
        delivered += m.length;
        assertWellFormed(parseMessage(m));
      },
      () => errors++,
      { maxHeaderBytes: max, maxMessageBytes: max * 2 },
    );
    for (const c of chunked(stream, cuts)) f.push(c);
    assert.ok(delivered <= stream.length);
    assert.ok(errors <= 1);
    return delivered > 0;
  },
};

/**
 * A header value parser on structured-then-corrupted strings: `parse` never throws and what it
 * accepts formats and parses back equal. `alsoParse` are parsers of the same text checked only
 * for not throwing.
 */
function headerTarget<T>(name: string, what: string, arb: fc.Arbitrary<string>, parse: (s: string) => T | null, format: (v: T) => string, alsoParse: ((s: string) => unknown)[] = []): FuzzTarget<string> {
  return {
    name,
    what,
    arbitrary: fuzzy(arb),
    check(s) {
      for (const p of alsoParse) p(s);
      const v = parse(s);
      if (v !== null) assert.deepEqual(parse(format(v)), v, `${JSON.stringify(s)} -> ${format(v)}`);
      return v !== null;
    },
  };
}

const uriTarget = headerTarget('sip-uri', 'parseUri on URI-like and arbitrary strings: never throws; accepted URIs format and parse back equal', uriLike, parseUri, formatUri);
const nameAddrTarget = headerTarget('sip-name-addr', 'parseNameAddr and parseParams (From, To, Contact): never throw; accepted name-addrs round-trip', nameAddrLike, parseNameAddr, formatNameAddr, [parseParams]);
const viaTarget = headerTarget('sip-via', 'parseVia and parseCSeq: never throw; accepted Vias round-trip', viaLike, parseVia, formatVia, [parseCSeq]);

const nonces = new NonceManager();
const authTarget: FuzzTarget<string> = {
  name: 'sip-auth',
  what: 'digest auth parsers (challenge, credentials, params): never throw; accepted params round-trip; foreign nonces are invalid',
  arbitrary: fuzzy(authLike),
  check(s) {
    parseChallenge(s);
    parseCredentials(s);
    assert.equal(nonces.check(s), 'invalid');
    const p = parseAuthParams(s);
    if (p !== null) assert.deepEqual(parseAuthParams(formatAuthHeader(p.scheme, p.params, new Set())), p, JSON.stringify(s));
    return p !== null && p.params.size > 0;
  },
};

interface Generated {
  method: string;
  uri: string;
  seq: number;
  extra: [string, string][];
  body: Uint8Array;
  status: number;
  reason: string | undefined;
}

const roundTripTarget: FuzzTarget<Generated> = {
  name: 'sip-roundtrip',
  what: 'generated requests and their responses: parse(serialize(m)) equals m (method, URI, headers, body, status, reason)',
  arbitrary: fc.record({
    method: token,
    uri: sipUri,
    seq: fc.integer({ min: 0, max: 0x7fffffff }),
    extra: fc.array(extraHeader, { maxLength: 8 }),
    body,
    status: fc.integer({ min: 100, max: 699 }),
    reason: fc.option(value, { nil: undefined }),
  }),
  check(g) {
    const headers: [string, string][] = [
      ['Via', `SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK${g.seq}`],
      ['From', `<${g.uri}>;tag=f${g.seq}`],
      ['To', `<${g.uri}>`],
      ['Call-ID', `${g.seq}@192.0.2.1`],
      ['CSeq', `${g.seq} ${g.method}`],
      ...g.extra,
    ];
    const req = createRequest(g.method, g.uri, headers, g.body);
    const parsedReq = parseMessage(serializeMessage(req), ROOMY);
    assert.ok(parsedReq.ok, parsedReq.ok ? '' : parsedReq.error.message);
    assert.ok(parsedReq.message.kind === 'request');
    assert.equal(parsedReq.message.method, req.method);
    assert.equal(parsedReq.message.uri, req.uri);
    assert.deepEqual(parsedReq.message.headers.entries(), [...req.headers.entries(), ['Content-Length', String(g.body.length)]]);
    assert.ok(parsedReq.message.body.equals(Buffer.from(g.body)));

    const res = createResponse(req, g.status, g.reason, { toTag: 't1', body: g.body });
    const parsedRes = parseMessage(serializeMessage(res), ROOMY);
    assert.ok(parsedRes.ok, parsedRes.ok ? '' : parsedRes.error.message);
    assert.ok(parsedRes.message.kind === 'response');
    assert.equal(parsedRes.message.status, g.status);
    assert.equal(parsedRes.message.reason, res.reason);
    assert.deepEqual(parsedRes.message.headers.entries(), [...res.headers.entries(), ['Content-Length', String(g.body.length)]]);
    assert.ok(parsedRes.message.body.equals(Buffer.from(g.body)));
    return true;
  },
};

export const SIP_TARGETS: readonly FuzzTarget<any>[] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
  bytesTarget,
  soupTarget,
  mutatedTarget,
  framerTarget,
  framerBytesTarget,
  uriTarget,
  nameAddrTarget,
  viaTarget,
  authTarget,
  roundTripTarget,
];
