/**
 * Fuzz targets shared by the short run (test/fuzz.test.ts, inside `npm test`) and the long run
 * (fuzz/run.ts). Each target is a fast-check arbitrary and a check of one property: the code
 * never throws anything but its documented error (bad bytes and bad JSON are results or error
 * codes, STYLE.md point 7), never hangs, and what it accepts is consistent (a round trip, or the
 * invariants of the result).
 *
 * The SIP message targets are in fuzz/sip.ts and the HTTP API's in fuzz/http.ts; fuzz/index.ts
 * lists them all (ALL_TARGETS), which is what the long run runs.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { CompoundPacket, RtpPacket, SenderReportPacket, isRtcp, isRtp } from 'rtp.js/packets';
import {
  FLOW_ACTION_NAMES,
  FlowError,
  LOCAL_CODECS,
  MAX_FLOW_ACTIONS,
  MAX_FLOW_DEPTH,
  parseDtmfInfo,
  parseFlow,
  parseIceServers,
} from '../calls/index.js';
import type { FlowAction } from '../calls/index.js';
import { InvalidArgumentError, OutOfRangeError } from '../common/index.js';
import { Mixer } from '../mixer/index.js';
import { RECORDING_OPTION_KEYS, RecordingOptionError, parseRecordingSpec } from '../recorder/index.js';
import type { RecordingSpec } from '../recorder/index.js';
import {
  AudioReceiver,
  PCMA,
  PCMU,
  CN,
  PortAllocator,
  RtpDrop,
  RtpEndpoint,
  RtpHeaderReader,
  TelephoneEventReceiver,
  classifyPacket,
  eventToDigit,
  nativeRtpPayload,
  parseTelephoneEvent,
  udpPath,
  writeTelephoneEvent,
} from '../rtp/index.js';
import type { DtmfEvent, PayloadFormat, TelephoneEventFields } from '../rtp/index.js';
import { createOffer, negotiateAnswer, negotiateAnswerReceived, parseSdp } from '../sip/index.js';
import type { Codec, LocalCapabilities, SessionDescription } from '../sip/index.js';

type SdpParseErrorCode = Extract<ReturnType<typeof parseSdp>, { ok: false }>['code'];
/** parseSdp's size limit in UTF-16 code units (sip/sdp MAX_SDP_LENGTH, not exported by sip/). */
const MAX_SDP_LENGTH = 65536;

// ---------------------------------------------------------------------------------------------
// Targets and the runner both runs use

export interface FuzzTarget<T> {
  /** Short name for the table and --target. */
  readonly name: string;
  /** What is fuzzed, one line. */
  readonly what: string;
  readonly arbitrary: fc.Arbitrary<T>;
  /**
   * Throws when the property fails; returns true when the input was accepted (so the checks on
   * accepted results ran). A Promise only for an `async` target (one case at a time still).
   */
  check(value: T): boolean | Promise<boolean>;
  /** check() returns a Promise (the HTTP target: a request per case). */
  readonly async?: boolean;
  /** Counters the check keeps (what it reached), reported with the run; reset by runTarget. */
  readonly counts?: Record<string, number>;
  /** Resources the target needs (sockets, a gateway), made once per run. */
  open?(): Promise<void>;
  close?(): void | Promise<void>;
}

export type AnyTarget = FuzzTarget<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A single case slower than this, in ms, is a failure: a hang or super-linear work. */
export const SLOW_CASE_MS = 2000;

export interface FuzzFailure {
  seed: number;
  /** fast-check's path of the (shrunk) counterexample: replay with { seed, path }. */
  path: string;
  counterexample: string;
  error: string;
}

export interface FuzzResult {
  target: string;
  runs: number;
  ms: number;
  /** Inputs the code accepted (where that means something). */
  accepted: number;
  /** Slowest single case, in ms. */
  slowestMs: number;
  /** The target's own counters (see FuzzTarget.counts). */
  counts: Record<string, number>;
  failure: FuzzFailure | null;
}

export interface RunOptions {
  runs: number;
  seed: number;
  /** Replays one case (fast-check path) instead of a run. */
  path?: string;
  slowCaseMs?: number;
  /** Called before every case with the number of cases started (progress for a watchdog). */
  onCase?: (n: number) => void;
}

/** Runs one target (open, fc.check, close) and reports; a failure is in the result, not thrown. */
export async function runTarget(t: AnyTarget, o: RunOptions): Promise<FuzzResult> {
  const slow = o.slowCaseMs ?? SLOW_CASE_MS;
  let accepted = 0;
  let slowest = 0;
  let n = 0;
  let shrinking = false;
  /** The counters when the first failure came (shrinking runs more cases). */
  let frozen: Record<string, number> | undefined;
  for (const k of Object.keys(t.counts ?? {})) t.counts![k] = 0;
  await t.open?.();
  const start = performance.now();
  /** After a case: its time against the limit, and the tallies. `ok` is what check() returned. */
  const settle = (t0: number, ok: boolean): void => {
    const dt = performance.now() - t0;
    if (dt > slowest) slowest = dt;
    if (dt > slow) throw new Error(`one case took ${dt.toFixed(0)} ms (limit ${slow} ms): a hang or super-linear work`);
    if (ok && !shrinking) accepted++;
  };
  const failed = (err: unknown): never => {
    // What the run reached before its first failure; shrinking runs more cases after it.
    if (!shrinking && t.counts !== undefined) frozen = { ...t.counts };
    shrinking = true;
    throw err;
  };
  const params = { numRuns: o.runs, seed: o.seed, ...(o.path !== undefined ? { path: o.path } : {}) };
  let details: fc.RunDetails<[unknown]>;
  try {
    details = t.async
      ? await fc.check(
          fc.asyncProperty(t.arbitrary, async (v) => {
            o.onCase?.(++n);
            const t0 = performance.now();
            try {
              settle(t0, await t.check(v));
            } catch (err) {
              failed(err);
            }
          }),
          params,
        )
      : fc.check(
          fc.property(t.arbitrary, (v) => {
            o.onCase?.(++n);
            const t0 = performance.now();
            try {
              settle(t0, t.check(v) as boolean);
            } catch (err) {
              failed(err);
            }
          }),
          params,
        );
  } finally {
    await t.close?.();
  }
  const ms = performance.now() - start;
  const failure: FuzzFailure | null = details.failed
    ? {
        seed: details.seed,
        path: details.counterexamplePath ?? '',
        counterexample: details.counterexample === null ? '(none)' : show(details.counterexample[0]),
        error: errorText(details.errorInstance),
      }
    : null;
  return { target: t.name, runs: details.numRuns, ms, accepted, slowestMs: slowest, counts: frozen ?? { ...t.counts }, failure };
}

/** fc.stringify, or a summary of a value nested too deep for it. */
export function show(v: unknown): string {
  try {
    return fc.stringify(v);
  } catch {
    // Follow the first nested object or array at each level, down to the bottom.
    let depth = 0;
    let cur: unknown = v;
    while (depth < 1e7) {
      const next: unknown = typeof cur === 'object' && cur !== null ? Object.values(cur).find((x) => typeof x === 'object' && x !== null) : undefined;
      if (next === undefined) break;
      cur = next;
      depth++;
    }
    return `(${Array.isArray(v) ? 'an array' : typeof v} nested ${depth} levels deep, too deep for fc.stringify)`;
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return String(err);
}

/** The input of case `path` of a run with `seed`, without running the target (to show a hang's input). */
export function caseAt(t: AnyTarget, seed: number, path: string): string {
  let value: unknown;
  fc.check(
    fc.property(t.arbitrary, (v) => {
      value = v;
    }),
    { numRuns: 1, seed, path },
  );
  return show(value);
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** An object with exactly these own keys (`__proto__` included: Object.fromEntries defines, JSON.parse does the same). */
function obj(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  return Object.fromEntries(entries);
}

/** What an HTTP body becomes: JSON text parsed back (no undefined, no -0, own keys only). */
function viaJson<T>(v: T): unknown {
  const text = JSON.stringify(v);
  return text === undefined ? null : (JSON.parse(text) as unknown);
}

/**
 * A generated value as an HTTP body delivers it: through JSON text, so own `__proto__` keys stay
 * own keys and -0 becomes 0. A value too deep for JSON.stringify is kept as it is.
 */
function asBody(v: unknown): unknown {
  return tooDeep(v) ? v : viaJson(v);
}

/**
 * Whether a value nests deeper than JSON.stringify can go. Walked without recursion, because a
 * stack overflow costs milliseconds (and these values are what the parsers are fuzzed with).
 */
function tooDeep(v: unknown): boolean {
  const stack: [unknown, number][] = [[v, 0]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [x, depth] = item;
    if (depth > 1000) return true;
    if (typeof x === 'object' && x !== null) for (const c of Object.values(x)) if (typeof c === 'object' && c !== null) stack.push([c, depth + 1]);
  }
  return false;
}

/** JSON text of a value, or a marker for one too deep for JSON.stringify. */
function jsonOrDeep(v: unknown): string | undefined {
  return tooDeep(v) ? '(too deep)' : JSON.stringify(v);
}

/** Arrays or objects nested `depth` deep, as JSON.parse builds them from a request body (1 MiB holds 500 000 levels). */
function deeplyNested(depth: number, kind: 'array' | 'object'): unknown {
  const text = kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '0' + '}'.repeat(depth);
  return JSON.parse(text) as unknown;
}

/** Deep enough to overflow JSON.stringify on the main thread (about 3000 levels) and in a worker (4 MB of stack). */
const deepValue = fc
  .tuple(fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 4000, max: 12000 }) }, { weight: 1, arbitrary: fc.integer({ min: 12000, max: 100000 }) }), fc.constantFrom('array' as const, 'object' as const))
  .map(([d, k]) => deeplyNested(d, k));

/** Any JSON value, now and then one nested thousands deep. */
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 200, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: deepValue },
);

/** Keys that trip naive object handling. */
const TRICKY_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', '', ' ', 'a.b', '0'];

/** Wrong values for an option: cheap constants mostly (fc.jsonValue costs ~20 µs a value), any JSON now and then. */
const junkValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, 1e300, '', 'x', ' ', [], {}, [1], { a: 1 }, 'A'.repeat(300)) },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 2, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: anyJson },
);
const junkKey = fc.oneof(fc.constantFrom(...TRICKY_KEYS), fc.string({ maxLength: 8 }));

/** A record of valid-looking options, or one with a junk key added, a value replaced or a key dropped. */
function corrupt(arb: fc.Arbitrary<Record<string, unknown>>, junkKeys: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  const keys = junkKeys.length > 0 ? fc.oneof(fc.constantFrom(...junkKeys), junkKey) : junkKey;
  return fc.oneof(
    { weight: 6, arbitrary: arb },
    { weight: 1, arbitrary: fc.tuple(arb, keys, junkValue).map(([o, k, v]) => obj([...Object.entries(o), [k, v]])) },
    {
      weight: 1,
      arbitrary: fc.tuple(arb, fc.nat(), junkValue).map(([o, at, v]) => {
        const e = Object.entries(o);
        if (e.length > 0) e[at % e.length]![1] = v;
        return obj(e);
      }),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(arb, fc.nat()).map(([o, at]) => {
        const e = Object.entries(o);
        if (e.length > 0) e.splice(at % e.length, 1);
        return obj(e);
      }),
    },
  );
}

/** Optional entries: each value of `parts` is either left out (undefined) or kept. */
function entries(parts: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(parts);
  return fc
    .tuple(...keys.map((k) => fc.option(parts[k]!, { nil: undefined, freq: 2 })))
    .map((values) => obj(keys.flatMap((k, i) => (values[i] === undefined ? [] : [[k, values[i]] as const]))));
}

function bytesOf(view: Uint8Array, offset: number, length: number): DataView {
  return new DataView(view.buffer, view.byteOffset + offset, length);
}

// ---------------------------------------------------------------------------------------------
// 1. SDP: parseSdp, negotiateAnswer (inbound leg), negotiateAnswerReceived (outbound leg)

/** The gateway's capabilities, as calls/Gateway.ts builds them. */
const CAPS: LocalCapabilities = { codecs: LOCAL_CODECS.map((c) => ({ ...c })), ptime: 20 };
const ANSWER_OPTIONS = { address: '192.0.2.1', port: 40000, sessionVersion: 0, sessionId: '1' };
/** What the gateway offers a callee (createOffer is pure: the same offer every time). */
const LOCAL_OFFER = createOffer(CAPS, { address: '192.0.2.1', port: 40002, sessionId: '2' });

const SDP_CODES: ReadonlySet<SdpParseErrorCode> = new Set<SdpParseErrorCode>([
  'ERR_SDP_TOO_LARGE',
  'ERR_SDP_SYNTAX',
  'ERR_SDP_VERSION',
  'ERR_SDP_ORIGIN',
  'ERR_SDP_ADDRESS',
  'ERR_SDP_PORT',
  'ERR_SDP_PAYLOAD_TYPE',
  'ERR_SDP_NO_AUDIO',
]);
const NEGOTIATE_CODES = new Set(['ERR_SDP_NO_AUDIO', 'ERR_SDP_REJECTED', 'ERR_SDP_NO_COMMON_CODEC', 'ERR_SDP_UNSUPPORTED_PROFILE']);
const ANSWER_RECEIVED_CODES = new Set(['ERR_SDP_NO_AUDIO', 'ERR_SDP_REJECTED', 'ERR_SDP_NO_COMMON_CODEC', 'ERR_SDP_ANSWER_MISMATCH']);
const DIRECTIONS = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

const sdpText = (chars: string, max: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...chars), maxLength: max });
const sdpJunk = fc.oneof(sdpText('abcXYZ019 :/.-=;,*#+_\t', 24), fc.string({ unit: 'binary', maxLength: 24 }));
/** Mostly `valid`, sometimes `invalid`: each field of a structured SDP is valid most of the time, so whole SDPs often are. */
function mostly<T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<T>, ratio = 12): fc.Arbitrary<T> {
  return fc.oneof({ weight: ratio, arbitrary: valid }, { weight: 1, arbitrary: invalid });
}

/** Payload types around the ones that matter (0, 8, 101, our dynamic 96/97) and out of range. */
const sdpPt = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0, 0, 8, 8, 9, 13, 18, 96, 97, 101, 111, 127) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 127 }) },
);
const ptToken = mostly(
  sdpPt.map(String),
  fc.oneof(fc.integer({ min: 128, max: 300 }).map(String), fc.constantFrom('-1', '0x0', '1e2', '007', 'abc', '99999999999', '1.5')),
);
const codecName = mostly(
  fc.constantFrom('PCMU', 'pcmu', 'PCMA', 'opus', 'OPUS', 'telephone-event', 'Telephone-Event', 'CN', 'G722', 'G729', 'red'),
  fc.constantFrom('x y', 'PCMU/8000', '', 'telephone-event '),
  6,
);
const clockRate = mostly(
  fc.constantFrom('8000', '8000', '16000', '48000', '48000'),
  fc.oneof(fc.constantFrom('0', '-8000', '8000.5', '4294967296', '1e3', '99999999999999999999', ''), fc.integer({ min: 1, max: 200000 }).map(String)),
  4,
);
const channelsToken = fc.option(mostly(fc.constantFrom('1', '2'), fc.constantFrom('0', '-1', 'x', '', '255'), 4), { nil: undefined, freq: 2 });
const rtpmapLine = fc
  .tuple(ptToken, codecName, clockRate, channelsToken)
  .map(([pt, n, r, c]) => `a=rtpmap:${pt} ${n}/${r}${c === undefined ? '' : `/${c}`}`);
const fmtpLine = fc
  .tuple(ptToken, mostly(fc.constantFrom('0-16', '0-15,66,70', 'useinbandfec=1', 'minptime=10;useinbandfec=1', '15'), fc.oneof(fc.constantFrom('', '0-16 extra', ';;;'), sdpJunk), 3))
  .map(([pt, v]) => `a=fmtp:${pt} ${v}`);
const ip4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const ip6 = fc.constantFrom('::1', '2001:db8::1', '0:0:0:0:0:0:0:0', '::ffff:192.0.2.1', 'fe80::1', '::');
const badAddress = fc.constantFrom('224.2.1.1/127', '999.1.1.1', '1.2.3', 'host.example.com', '01.2.3.4', '', 'fe80::1%eth0', '[::1]', '2001:db8:::1', 'gggg::1', '1:2:3:4:5:6:7:8:9');
const address = mostly(fc.oneof(ip4, fc.constant('192.0.2.10'), fc.constant('0.0.0.0')), badAddress, 10);
const cLine = mostly(
  fc.oneof({ weight: 4, arbitrary: address.map((a) => `c=IN IP4 ${a}`) }, { weight: 1, arbitrary: ip6.map((a) => `c=IN IP6 ${a}`) }),
  fc.oneof(
    fc.tuple(fc.constantFrom('IP4', 'IP6', 'ip4', 'IP5'), fc.oneof(ip4, ip6, badAddress)).map(([t, a]) => `c=IN ${t} ${a}`),
    fc.constantFrom('c=IN IP4', 'c=', 'c=NET IP4 192.0.2.1', 'c=IN  IP4 192.0.2.1', 'c=IN IP4 192.0.2.1 extra'),
  ),
);
const portToken = mostly(
  fc.oneof(fc.integer({ min: 1024, max: 65535 }).map(String), fc.constantFrom('5004', '9', '0', '65535')),
  fc.constantFrom('65536', '70000', '-1', '5004/2', '5004/', '', '00005', '99999999', '5004/99999'),
);
const protoToken = mostly(
  fc.constantFrom('RTP/AVP', 'RTP/AVP', 'RTP/AVP', 'rtp/avp'),
  fc.constantFrom('RTP/SAVP', 'RTP/AVPF', 'UDP/TLS/RTP/SAVPF', 'udptl', 'TCP/RTP/AVP', 'RTP', 'x y', ''),
  8,
);
const mediaType = mostly(fc.constantFrom('audio', 'audio', 'audio', 'video', 'application', 'image', 'AUDIO'), fc.constantFrom('text', 'a b', ''));
const attrLine = fc.oneof(
  { weight: 10, arbitrary: rtpmapLine },
  { weight: 2, arbitrary: fmtpLine },
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'a=sendrecv', 'a=sendonly', 'a=recvonly', 'a=inactive', 'a=sendonlyx', 'a=rtcp-mux', 'a=ptime:20', 'a=ptime:0',
      'a=ptime:-5', 'a=ptime:1e400', 'a=ptime:abc', 'a=ptime:30', 'a=maxptime:60', 'a=rtcp:9', 'a=rtcp:65536', 'a=rtcp:5005 IN IP4 192.0.2.9',
      'a=rtcp:5005 IN IP6 ::1', 'a=rtcp:5005 IN IP4 nothost', 'a=rtcp:x', 'a=mid:0', 'a=mid:audio', 'a=mid:', 'a=ice-ufrag:abcd',
      'a=ice-ufrag:1234', 'a=ice-pwd:xyz', 'a=fingerprint:sha-256 AB:CD', 'a=fingerprint:', 'a=setup:actpass', 'a=setup:',
      'a=candidate:1 1 udp 2122260223 192.0.2.1 5004 typ host', 'a=candidate:', 'a=group:BUNDLE 0 1', 'a=group:', 'a=group:BUNDLE',
      'a=ssrc:1 cname:x', 'a=extmap:1 urn:x', 'a=', 'a=x', 'a=rtpmap:', 'a=rtpmap:0', 'a=rtpmap:0 PCMU', 'a=fmtp:', 'a=fmtp:101',
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('rtpmap', 'fmtp', 'ptime', 'maxptime', 'rtcp', 'mid', 'ice-ufrag', 'ice-pwd', 'fingerprint', 'setup', 'group', 'candidate', 'rtcp-fb', 'ssrc', 'extmap'), sdpJunk)
      .map(([k, v]) => `a=${k}:${v}`),
  },
);

interface SdpShape {
  session: string[];
  media: string[][];
}

const mediaSection = fc
  .tuple(
    mediaType,
    portToken,
    protoToken,
    mostly(fc.array(ptToken, { minLength: 1, maxLength: 6 }), fc.constant<string[]>([])),
    fc.option(cLine, { nil: undefined, freq: 3 }),
    fc.array(attrLine, { maxLength: 8 }),
  )
  .map(([type, port, proto, fmts, c, attrs]) => [`m=${type} ${port} ${proto}${fmts.length === 0 ? '' : ` ${fmts.join(' ')}`}`, ...(c === undefined ? [] : [c]), ...attrs]);

const originLine = mostly(
  fc
    .tuple(
      mostly(fc.constantFrom('-', 'user', 'root'), fc.constant('x y'), 20),
      mostly(fc.nat().map(String), fc.constantFrom('123456789012345678901234567890', 'id'), 4),
      mostly(fc.oneof(fc.nat().map(String), fc.constantFrom('0', '99999999999999999999')), fc.constantFrom('999999999999999999999', '', 'v2', '18446744073709551616'), 20),
      mostly(fc.constantFrom('IP4 192.0.2.1', 'IP6 ::1', 'IP4 host.example.com'), fc.constantFrom('IP5 1.2.3.4', 'IP4'), 20),
    )
    .map(([u, id, ver, a]) => `o=${u} ${id} ${ver} IN ${a}`),
  fc.constantFrom('o=', 'o=- 1 1 IN IP4', 'o=- 1 1 NET IP4 192.0.2.1'),
  30,
);

const sdpShape: fc.Arbitrary<SdpShape> = fc
  .tuple(
    mostly(fc.constant('v=0'), fc.constantFrom('v=1', 'v=', 'V=0', 'v=00'), 40),
    fc.option(originLine, { nil: undefined, freq: 40 }),
    fc.option(fc.oneof(fc.constant('s=-'), sdpJunk.map((s) => `s=${s}`)), { nil: undefined, freq: 4 }),
    fc.option(cLine, { nil: undefined, freq: 2 }),
    fc.constantFrom('t=0 0', 't=0 0', 't=', 't=1 2 3'),
    fc.array(fc.oneof(attrLine, fc.constantFrom('b=AS:64', 'i=info', 'u=http://x', 'e=a@b', 'z=0', 'k=clear:x', 'r=7d 1h 0 25h')), { maxLength: 3 }),
    fc.array(mediaSection, { maxLength: 4 }),
  )
  .map(([v, o, s, c, t, attrs, media]) => ({
    session: [v, ...(o === undefined ? [] : [o]), ...(s === undefined ? [] : [s]), ...(c === undefined ? [] : [c]), t, ...attrs],
    media,
  }));

type LineMutation = { kind: 'delete' | 'duplicate'; at: number } | { kind: 'insert'; at: number; line: string } | { kind: 'cut'; at: number };
const lineMutation: fc.Arbitrary<LineMutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom('delete' as const, 'duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), line: fc.oneof(attrLine, cLine, mediaSection.map((m) => m[0]!), sdpJunk) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
);

function mutateLines(lines: string[], mutations: readonly LineMutation[]): string[] {
  const out = [...lines];
  for (const m of mutations) {
    if (out.length === 0) break;
    const i = m.at % out.length;
    if (m.kind === 'delete') out.splice(i, 1);
    else if (m.kind === 'duplicate') out.splice(i, 0, out[i]!);
    else if (m.kind === 'insert') out.splice(i, 0, m.line);
    else out[i] = out[i]!.slice(0, m.at % (out[i]!.length + 1));
  }
  return out;
}

const eol = fc.constantFrom('\r\n', '\r\n', '\r\n', '\n', '\r');
const sdpInput: fc.Arbitrary<{ text: string; requireAudio: boolean }> = fc.record({
  text: fc.oneof(
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
    { weight: 2, arbitrary: fc.tuple(fc.array(fc.oneof(attrLine, cLine, originLine, sdpJunk, fc.constant('v=0')), { maxLength: 14 }), eol).map(([l, e]) => l.join(e)) },
    {
      weight: 14,
      arbitrary: fc
        .tuple(sdpShape, mostly(fc.constant<LineMutation[]>([]), fc.array(lineMutation, { minLength: 1, maxLength: 3 }), 3), eol, fc.boolean())
        .map(([s, mut, e, trailing]) => mutateLines([...s.session, ...s.media.flat()], mut).join(e) + (trailing ? e : '')),
    },
    {
      // Huge: one section repeated up to the size limit and beyond (regex or quadratic blow-ups).
      weight: 1,
      arbitrary: fc
        .tuple(sdpShape, mediaSection, fc.integer({ min: 50, max: 3000 }), fc.constantFrom('media', 'attr', 'line'))
        .map(([s, m, n, what]) => {
          const head = [...s.session, ...s.media.flat()].join('\r\n') + '\r\n';
          if (what === 'media') return head + `${m.join('\r\n')}\r\n`.repeat(n);
          if (what === 'attr') return head + 'm=audio 5004 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\n' + 'a=rtpmap:0 PCMU/8000\r\n'.repeat(n * 4);
          return head + `a=x:${'y'.repeat(Math.min(MAX_SDP_LENGTH, n * 40))}\r\n`;
        }),
    },
  ),
  requireAudio: fc.boolean(),
});

function sameEncoding(a: { name: string; clockRate: number; channels?: number }, b: { name: string; clockRate: number; channels?: number }): boolean {
  return a.name.toLowerCase() === b.name.toLowerCase() && a.clockRate === b.clockRate && (a.channels ?? 1) === (b.channels ?? 1);
}
const isAux = (c: Codec): boolean => ['telephone-event', 'cn'].includes(c.name.toLowerCase());

function checkParsedSdp(sdp: SessionDescription): void {
  assert.equal(sdp.media.length, sdp.mediaCount, 'media summary per m= line');
  assert.ok(sdp.audioIndex >= -1 && sdp.audioIndex < sdp.mediaCount, 'audioIndex in range');
  assert.equal(sdp.audio === null, sdp.audioIndex === -1, 'audio and audioIndex agree');
  for (const m of sdp.media) assert.ok(Number.isInteger(m.port) && m.port >= 0 && m.port <= 65535, `m= port ${m.port}`);
  const a = sdp.audio;
  if (a === null) return;
  assert.equal(sdp.media[sdp.audioIndex]!.type.toLowerCase(), 'audio');
  assert.equal(a.port, sdp.media[sdp.audioIndex]!.port);
  assert.ok(isIP(a.address) === (a.addressType === 'IP4' ? 4 : 6), `c= address ${a.address} of type ${a.addressType}`);
  assert.equal(a.rejected, a.port === 0);
  if (a.rejected) assert.equal(a.direction, 'inactive');
  assert.ok(DIRECTIONS.has(a.direction));
  assert.equal(new Set(a.formats).size, a.formats.length, 'formats without repeats');
  for (const pt of a.formats) assert.ok(Number.isInteger(pt) && pt >= 0 && pt <= 127, `payload type ${pt}`);
  let last = -1;
  for (const c of a.codecs) {
    const i = a.formats.indexOf(c.payloadType);
    assert.ok(i > last, `codec ${c.payloadType} is one of the formats, in m= line order`);
    last = i;
    assert.ok(Number.isInteger(c.clockRate) && c.clockRate > 0, `clock rate ${c.clockRate}`);
    assert.ok(c.channels === undefined || (Number.isInteger(c.channels) && c.channels > 0), `channels ${c.channels}`);
    assert.ok(typeof c.name === 'string' && c.name !== '');
  }
  if (a.ptime !== undefined) assert.ok(Number.isFinite(a.ptime) && a.ptime > 0);
  if (a.rtcp !== undefined) assert.ok(Number.isInteger(a.rtcp.port) && a.rtcp.port >= 0 && a.rtcp.port <= 65535);
}

const sdpCounts = { parsed: 0, answered: 0, answerReceived: 0 };

function checkSdp(input: { text: string; requireAudio: boolean }): boolean {
  const r = parseSdp(input.text, { requireAudio: input.requireAudio });
  if (!r.ok) {
    // parseSdp has a safety net that turns an exception into ERR_SDP_SYNTAX: for the fuzzer that is a bug it hid.
    assert.ok(!r.message.startsWith('SDP parser failed'), `parseSdp threw inside: ${r.message}`);
    assert.ok(SDP_CODES.has(r.code), `unknown code ${r.code}`);
    if (r.line !== undefined) assert.ok(Number.isInteger(r.line) && r.line >= 1, `line ${r.line}`);
    return false;
  }
  const sdp = r.sdp;
  sdpCounts.parsed++;
  checkParsedSdp(sdp);
  if (input.requireAudio) assert.ok(sdp.audio !== null, 'requireAudio');

  // Inbound leg: our answer to it as an offer.
  const neg = negotiateAnswer(sdp, CAPS, ANSWER_OPTIONS);
  if (!neg.ok) assert.ok(NEGOTIATE_CODES.has(neg.code), `negotiateAnswer code ${neg.code}`);
  else {
    sdpCounts.answered++;
    const offered = sdp.audio!;
    const back = parseSdp(neg.answer);
    assert.ok(back.ok, `our answer does not parse: ${back.ok ? '' : `${back.code} ${back.message}`}\n${neg.answer}`);
    if (!back.ok) return true;
    const ans = back.sdp;
    checkParsedSdp(ans);
    assert.equal(ans.mediaCount, sdp.mediaCount, 'the answer has as many m= lines as the offer (RFC 3264 §6)');
    assert.equal(ans.audioIndex, sdp.audioIndex, 'the audio stream stays in place');
    ans.media.forEach((m, i) => {
      if (i !== ans.audioIndex) assert.equal(m.port, 0, `m= line ${i} is rejected`);
    });
    const a = ans.audio!;
    assert.equal(a.port, ANSWER_OPTIONS.port);
    assert.equal(a.codecs.length, a.formats.length, 'every payload type of the answer is named');
    assert.ok(a.codecs.length >= 1);
    for (const c of a.codecs) {
      const o = offered.codecs.find((x) => x.payloadType === c.payloadType);
      assert.ok(o !== undefined && sameEncoding(o, c), `answer codec ${c.payloadType} ${c.name}/${c.clockRate} is the offer's`);
      // telephone-event is matched by name and clock rate only (its channel count means nothing, RFC 4733 §7.1.1).
      const ours = isAux(c) ? CAPS.codecs.some((l) => l.name.toLowerCase() === c.name.toLowerCase() && l.clockRate === c.clockRate) : CAPS.codecs.some((l) => sameEncoding(l, c));
      assert.ok(ours, `answer codec ${c.name}/${c.clockRate} is one of ours`);
    }
    const first = a.codecs[0]!;
    assert.ok(!isAux(first), 'the audio codec comes first');
    assert.equal(first.payloadType, neg.audio.codec.payloadType);
    assert.ok(sameEncoding(first, neg.audio.codec));
    const te = neg.audio.telephoneEvent;
    if (te !== undefined) assert.equal(te.clockRate, neg.audio.codec.clockRate, 'telephone-event at the codec clock rate');
    assert.equal(neg.audio.remotePort, offered.port);
    assert.equal(neg.audio.remoteAddress, offered.address);
    assert.ok(DIRECTIONS.has(neg.audio.direction));
    assert.ok(Number.isFinite(neg.audio.ptime) && neg.audio.ptime > 0);
  }

  // Outbound leg: the same SDP read as the callee's answer to our offer.
  const rcv = negotiateAnswerReceived(LOCAL_OFFER, sdp);
  if (!rcv.ok) assert.ok(ANSWER_RECEIVED_CODES.has(rcv.code), `negotiateAnswerReceived code ${rcv.code}`);
  else {
    sdpCounts.answerReceived++;
    const formats = sdp.audio!.formats;
    for (const c of [rcv.audio.codec, ...(rcv.audio.telephoneEvent === undefined ? [] : [rcv.audio.telephoneEvent])]) {
      const ours = LOCAL_OFFER.codecs.find((x) => x.payloadType === c.payloadType);
      assert.ok(ours !== undefined && sameEncoding(ours, c), `picked ${c.payloadType} ${c.name} is in our offer`);
      assert.ok(formats.includes(c.payloadType), `picked ${c.payloadType} is in the answer`);
    }
    assert.ok(!isAux(rcv.audio.codec));
    assert.equal(sdp.mediaCount, 1);
  }
  return true;
}

export const sdpTarget: FuzzTarget<{ text: string; requireAudio: boolean }> = {
  name: 'sdp',
  what: 'parseSdp, negotiateAnswer and negotiateAnswerReceived with the gateway capabilities',
  arbitrary: sdpInput,
  check: checkSdp,
  counts: sdpCounts,
};

// ---------------------------------------------------------------------------------------------
// 2. RTP header reader and demux, against rtp.js

interface RtpShape {
  version: number;
  cc: number;
  csrcs: number;
  marker: boolean;
  pt: number;
  seq: number;
  ts: number;
  ssrc: number;
  ext: { profile: number; words: number; actual: number; fill: number } | null;
  payload: Uint8Array;
  /** P bit with `count` in the last byte and `actual` bytes of padding. */
  pad: { count: number; actual: number } | null;
  cut: number | null;
  before: number;
  after: number;
}

const rtpShape: fc.Arbitrary<RtpShape> = fc.record({
  version: fc.oneof({ weight: 12, arbitrary: fc.constant(2) }, { weight: 1, arbitrary: fc.nat(3) }),
  cc: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.nat(15) }),
  csrcs: fc.oneof({ weight: 6, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat(16) }),
  marker: fc.boolean(),
  pt: fc.oneof(fc.constantFrom(0, 8, 13, 96, 101, 111), fc.nat(127)),
  seq: fc.nat(0xffff),
  ts: fc.nat({ max: 0xffffffff }),
  ssrc: fc.nat({ max: 0xffffffff }),
  ext: fc.option(
    fc.record({
      profile: fc.oneof(fc.constantFrom(0xbede, 0x1000, 0x1001, 0), fc.nat(0xffff)),
      words: fc.oneof(fc.nat(4), fc.constantFrom(0xffff, 0x100)),
      actual: fc.oneof(fc.constant(-1), fc.nat(5)),
      fill: fc.constantFrom(0, 0, 0x10, 0x22, 0xff),
    }),
    { nil: null, freq: 3 },
  ),
  payload: fc.uint8Array({ maxLength: 48 }),
  pad: fc.option(fc.record({ count: fc.oneof(fc.nat(8), fc.nat(255)), actual: fc.oneof(fc.constant(-1), fc.nat(12)) }), { nil: null, freq: 3 }),
  cut: fc.option(fc.nat(80), { nil: null, freq: 6 }),
  before: fc.nat(8),
  after: fc.nat(8),
});

interface Datagram {
  slab: Uint8Array;
  offset: number;
  length: number;
  /** Built consistently: RFC 3550 says this is a valid RTP packet. */
  wellFormed: boolean;
}

function buildRtp(s: RtpShape): Datagram {
  const csrcs = s.csrcs < 0 ? s.cc : s.csrcs;
  const extWords = s.ext === null ? 0 : s.ext.actual < 0 ? s.ext.words : s.ext.actual;
  const padActual = s.pad === null ? 0 : s.pad.actual < 0 ? s.pad.count : s.pad.actual;
  const extActual = Math.min(extWords, 64);
  const extBytes = s.ext === null ? 0 : 4 + 4 * extActual;
  let length = 12 + 4 * csrcs + extBytes + s.payload.length + padActual;
  const packet = new Uint8Array(length);
  packet[0] = (s.version << 6) | (s.pad !== null ? 0x20 : 0) | (s.ext !== null ? 0x10 : 0) | s.cc;
  packet[1] = (s.marker ? 0x80 : 0) | s.pt;
  packet[2] = s.seq >> 8;
  packet[3] = s.seq & 0xff;
  new DataView(packet.buffer).setUint32(4, s.ts);
  new DataView(packet.buffer).setUint32(8, s.ssrc);
  let pos = 12;
  for (let i = 0; i < csrcs; i++, pos += 4) new DataView(packet.buffer).setUint32(pos, 0x01010101 * (i + 1));
  if (s.ext !== null) {
    packet[pos] = s.ext.profile >> 8;
    packet[pos + 1] = s.ext.profile & 0xff;
    packet[pos + 2] = s.ext.words >> 8;
    packet[pos + 3] = s.ext.words & 0xff;
    packet.fill(s.ext.fill, pos + 4, pos + extBytes);
    pos += extBytes;
  }
  packet.set(s.payload, pos);
  pos += s.payload.length;
  if (padActual > 0) packet[length - 1] = s.pad!.count;
  if (s.cut !== null) length = Math.min(length, s.cut);
  const slab = new Uint8Array(s.before + length + s.after).fill(0xa5);
  slab.set(packet.subarray(0, length), s.before);
  const wellFormed =
    s.version === 2 &&
    csrcs === s.cc &&
    (s.ext === null || extActual === s.ext.words) &&
    (s.pad === null || (padActual === s.pad.count && s.pad.count >= 1)) &&
    s.cut === null &&
    !(packet[1]! >= 192 && packet[1]! <= 223);
  return { slab, offset: s.before, length, wellFormed };
}

const rtpInput: fc.Arbitrary<Datagram> = fc.oneof(
  { weight: 1, arbitrary: fc.tuple(fc.uint8Array({ maxLength: 80 }), fc.nat(8), fc.nat(8)).map(([b, before, after]) => {
    const slab = new Uint8Array(before + b.length + after).fill(0x5a);
    slab.set(b, before);
    return { slab, offset: before, length: b.length, wellFormed: false };
  }) },
  { weight: 3, arbitrary: rtpShape.map(buildRtp) },
);

const reader = new RtpHeaderReader();

function checkRtp(d: Datagram): boolean {
  const { slab, offset, length } = d;
  const r = reader;
  const drop = r.parse(slab, offset, length);
  const cls = classifyPacket(slab, offset, length);
  assert.ok(Object.values(RtpDrop).includes(drop), `drop code ${drop}`);
  if (drop !== RtpDrop.None) assert.equal(r.payloadLength, 0, 'no payload on a drop');
  if (drop === RtpDrop.Rtcp) assert.equal(cls, 'rtcp');
  if (length >= 4) {
    // RFC 5761 §4 demux: the reader, classifyPacket and rtp.js's isRtcp agree.
    const view = bytesOf(slab, offset, length);
    assert.equal(drop === RtpDrop.Rtcp, isRtcp(view), 'Rtcp drop vs rtp.js isRtcp');
    assert.equal(cls === 'rtcp', isRtcp(view), 'classifyPacket vs rtp.js isRtcp');
  }
  if (d.wellFormed) assert.equal(drop, RtpDrop.None, 'a well-formed packet is read');
  // The C parser the receive thread relays with (native/udp.c) reads the same spans.
  const c = nativeRtpPayload(slab, offset, length);
  if (c !== undefined) {
    assert.equal(c === null, drop !== RtpDrop.None, `the C relay parser ${c === null ? 'refuses' : 'accepts'} what RtpHeaderReader ${drop === RtpDrop.None ? 'reads' : `drops (${drop})`}`);
    if (c !== null) assert.deepEqual([offset + c[0], c[1]], [r.payloadOffset, r.payloadLength], 'the C relay parser finds the same payload');
  }

  // rtp.js as the oracle.
  let p: RtpPacket | null = null;
  if (length >= 2 && isRtp(bytesOf(slab, offset, length))) {
    try {
      p = new RtpPacket(bytesOf(slab, offset, length));
    } catch {
      p = null;
    }
  }
  if (drop !== RtpDrop.None) {
    if (p !== null) {
      // Known differences: RTCP on the RTP port (rtp.js has no RFC 5761 split) and a padding
      // count of 0, which rtp.js reads as no padding and RFC 3550 §5.1 does not allow.
      const zeroPadding = drop === RtpDrop.BadPadding && slab[offset + length - 1] === 0;
      assert.ok(drop === RtpDrop.Rtcp || zeroPadding, `rtp.js reads a packet we drop with ${drop}`);
    }
    return false;
  }
  assert.equal(cls, 'rtp');
  assert.equal(r.version, 2);
  assert.equal(r.payloadOffset, offset + 12 + 4 * r.csrcCount + (r.extension ? 4 + r.extensionLength : 0), 'payload after CSRCs and extension');
  assert.equal(r.payloadOffset + r.payloadLength + r.paddingLength, offset + length, 'spans add up to the datagram');
  assert.ok(r.payloadLength >= 0 && r.payloadOffset + r.payloadLength <= slab.length, 'payload inside the buffer');
  assert.ok(r.timestamp >= 0 && r.timestamp <= 0xffffffff && r.ssrc >= 0 && r.ssrc <= 0xffffffff);
  for (let i = 0; i < r.csrcCount; i++) r.csrcAt(i);
  assert.throws(() => r.csrcAt(r.csrcCount), OutOfRangeError);
  if (p === null) {
    // rtp.js also parses RFC 8285 elements, which we skip: only those may make it refuse.
    const elements = r.extensionProfile === 0xbede || (r.extensionProfile & 0xfff0) === 0x1000;
    assert.ok(r.extension && elements, 'rtp.js refuses an RTP packet we accept');
    return true;
  }
  assert.equal(r.payloadType, p.getPayloadType());
  assert.equal(r.sequenceNumber, p.getSequenceNumber());
  assert.equal(r.timestamp, p.getTimestamp());
  assert.equal(r.ssrc, p.getSsrc());
  assert.equal(r.marker, p.getMarker());
  const csrcs = p.getCsrcs();
  assert.equal(r.csrcCount, csrcs.length);
  for (let i = 0; i < csrcs.length; i++) assert.equal(r.csrcAt(i), csrcs[i]);
  assert.equal(r.paddingLength, p.getPadding());
  const payload = p.getPayload();
  assert.equal(r.payloadLength, payload.byteLength);
  assert.equal(r.payloadOffset, payload.byteOffset - slab.byteOffset);
  return true;
}

export const rtpHeaderTarget: FuzzTarget<Datagram> = {
  name: 'rtp-header',
  what: 'RtpHeaderReader.parse and classifyPacket on raw and mutated packets, rtp.js as the oracle',
  arbitrary: rtpInput,
  check: checkRtp,
};

// ---------------------------------------------------------------------------------------------
// 3. RTCP: the endpoint's datagram handling (RFC 5761 demux, then rtp.js for RTCP)

/** Real RTCP packets (RFC 3550 §6.4-6.6), one comment per field, to mutate. */
const RTCP_SEEDS: Uint8Array[] = [
  // SR, one report block (52 bytes)
  Uint8Array.from([
    0x81, 200, 0x00, 0x0c, //   V=2 P=0 RC=1, PT=200 SR, length 12 (words - 1)
    0x11, 0x22, 0x33, 0x44, //   sender SSRC
    0xe8, 0x00, 0x00, 0x01, //   NTP timestamp, seconds
    0x80, 0x00, 0x00, 0x00, //   NTP timestamp, fraction
    0x00, 0x00, 0x03, 0x20, //   RTP timestamp 800
    0x00, 0x00, 0x00, 0x05, //   sender's packet count
    0x00, 0x00, 0x03, 0x20, //   sender's octet count
    0xaa, 0xbb, 0xcc, 0xdd, //   report block: SSRC_1
    0x10, 0x00, 0x00, 0x02, //   fraction lost 16/256, cumulative lost 2
    0x00, 0x01, 0x00, 0x10, //   extended highest sequence number
    0x00, 0x00, 0x00, 0x20, //   interarrival jitter
    0x12, 0x34, 0x56, 0x78, //   LSR
    0x00, 0x00, 0x10, 0x00, //   DLSR
  ]),
  // RR, no report block (8 bytes)
  Uint8Array.from([0x80, 201, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02]),
  // SDES, one chunk with CNAME "recgate@host" (24 bytes)
  Uint8Array.from([
    0x81, 202, 0x00, 0x05, //   SC=1, PT=202 SDES, length 5
    0x11, 0x22, 0x33, 0x44, //   SSRC
    0x01, 0x0c, //               CNAME, 12 octets
    ...Buffer.from('recgate@host'),
    0x00, 0x00, //               END, then padding to 32 bits
  ]),
  // BYE with reason "done" (16 bytes)
  Uint8Array.from([0x81, 203, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, 0x04, ...Buffer.from('done'), 0x00, 0x00, 0x00]),
  // APP "RCGT" (12 bytes)
  Uint8Array.from([0x80, 204, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, ...Buffer.from('RCGT')]),
];
// Compounds (RFC 3550 §6.1): SR + SDES, RR + SDES + BYE.
RTCP_SEEDS.push(Uint8Array.from([...RTCP_SEEDS[0]!, ...RTCP_SEEDS[2]!]), Uint8Array.from([...RTCP_SEEDS[1]!, ...RTCP_SEEDS[2]!, ...RTCP_SEEDS[3]!]));

type ByteMutation = { kind: 'set'; at: number; byte: number } | { kind: 'length'; at: number; value: number } | { kind: 'cut'; at: number } | { kind: 'append'; bytes: Uint8Array };
const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant('length' as const), at: fc.nat(), value: fc.oneof(fc.nat(20), fc.constant(0xffff)) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ maxLength: 12 }) }),
);

function mutateBytes(seed: Uint8Array, mutations: readonly ByteMutation[]): Uint8Array {
  let b = Uint8Array.from(seed);
  for (const m of mutations) {
    if (m.kind === 'append') {
      const n = new Uint8Array(b.length + m.bytes.length);
      n.set(b);
      n.set(m.bytes, b.length);
      b = n;
    } else if (b.length === 0) continue;
    else if (m.kind === 'set') b[m.at % b.length] = m.byte;
    else if (m.kind === 'cut') b = b.subarray(0, m.at % b.length);
    else {
      // The 16-bit length of one of the RTCP headers (at a 4-byte boundary).
      const at = (m.at % Math.max(1, b.length >> 2)) * 4 + 2;
      if (at + 1 < b.length) {
        b[at] = m.value >> 8;
        b[at + 1] = m.value & 0xff;
      }
    }
  }
  return b;
}

const rtcpInput: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.tuple(fc.nat(3), fc.integer({ min: 192, max: 223 }), fc.uint8Array({ maxLength: 40 })).map(([p, pt, rest]) => Uint8Array.from([0x80 | (p << 4), pt, ...rest])) },
  { weight: 4, arbitrary: fc.tuple(fc.nat(RTCP_SEEDS.length - 1), fc.array(byteMutation, { maxLength: 3 })).map(([i, m]) => mutateBytes(RTCP_SEEDS[i]!, m)) },
  { weight: 1, arbitrary: fc.constantFrom(...RTCP_SEEDS) },
);

/** One socket path's pair of endpoints (rtcp-mux and not) and how to hand each a datagram. */
interface RtcpPath {
  name: 'dgram' | 'native';
  mux: RtpEndpoint;
  plain: RtpEndpoint;
  /** A datagram on the mux endpoint's one port, and on the plain endpoint's RTCP port. */
  toMux(msg: Buffer): void;
  toRtcp(msg: Buffer): void;
  handled: number;
}
interface RtcpRig {
  paths: RtcpPath[];
}
let rig: RtcpRig | null = null;
const PEER: dgram.RemoteInfo = { address: '127.0.0.1', family: 'IPv4', port: 9, size: 0 };
const PEER_IP4 = 0x7f000001;

/** The native path's arena holds many datagrams: hand each one at an offset, as the addon does. */
function inArena(msg: Buffer): [Uint8Array, number] {
  const arena = new Uint8Array(msg.length + 16);
  arena.set(msg, 8);
  return [arena, 8];
}

/**
 * Opens real endpoints (rtcp-mux and not) on both socket paths: node:dgram ones get datagrams
 * as Node delivers them ('message' on their sockets), native ones as the addon does.
 */
async function openRig(): Promise<RtcpRig> {
  const paths: RtcpPath[] = [];
  const base = 40000 + 2 * Math.floor(Math.random() * 9900);
  const ports = new PortAllocator(base, base + 199);
  const remote = { address: PEER.address, port: PEER.port };
  const sockets: dgram.Socket[] = [];
  const module = dgram as unknown as { createSocket: typeof dgram.createSocket };
  const original = module.createSocket;
  // The endpoint's sockets are private: watch them being made, then emit 'message' on them as
  // Node does for a datagram, which runs the endpoint's own handler without the network.
  module.createSocket = ((...args: Parameters<typeof dgram.createSocket>) => {
    const s = original(...args);
    sockets.push(s);
    return s;
  }) as typeof dgram.createSocket;
  try {
    const mux = await RtpEndpoint.open({ ports, bindAddress: '127.0.0.1', rtcpMux: true, remote, nativeUdp: false });
    const plain = await RtpEndpoint.open({ ports, bindAddress: '127.0.0.1', remote, nativeUdp: false });
    const bound = (port: number): dgram.Socket => {
      const s = sockets.find((x) => {
        try {
          return x.address().port === port;
        } catch {
          return false; // closed: its port was taken
        }
      });
      if (s === undefined) throw new Error(`no socket on port ${port}`);
      return s;
    };
    const muxSocket = bound(mux.port);
    const rtcpSocket = bound(plain.rtcpPort);
    paths.push({
      name: 'dgram',
      mux,
      plain,
      toMux: (msg) => muxSocket.emit('message', msg, { ...PEER, size: msg.length }),
      toRtcp: (msg) => rtcpSocket.emit('message', msg, { ...PEER, size: msg.length }),
      handled: 0,
    });
  } finally {
    module.createSocket = original;
  }
  if (udpPath().startsWith('native')) {
    const mux = await RtpEndpoint.open({ ports, bindAddress: '127.0.0.1', rtcpMux: true, remote });
    const plain = await RtpEndpoint.open({ ports, bindAddress: '127.0.0.1', remote });
    if (mux.path !== 'native' || plain.path !== 'native') throw new Error('the native path is on but an endpoint did not use it');
    paths.push({
      name: 'native',
      mux,
      plain,
      toMux: (msg) => mux.onNativeRtp(...inArena(msg), msg.length, PEER_IP4, PEER.port),
      toRtcp: (msg) => plain.onNativeRtcp(...inArena(msg), msg.length),
      handled: 0,
    });
  }
  for (const p of paths) p.mux.handler = { receive: () => void p.handled++ };
  return { paths };
}

/** rtp.js's reading of an RTCP datagram: the last SR, or 'malformed'. */
function oracleRtcp(view: DataView): { sr: SenderReportPacket | null } | 'malformed' {
  try {
    let sr: SenderReportPacket | null = null;
    for (const p of new CompoundPacket(view).getPackets()) if (p instanceof SenderReportPacket) sr = p;
    if (sr !== null) [sr.getSsrc(), sr.getNtpSeconds(), sr.getNtpFraction(), sr.getRtpTimestamp(), sr.getPacketCount(), sr.getOctetCount()];
    return { sr };
  } catch {
    return 'malformed';
  }
}

function checkRtcp(bytes: Uint8Array): boolean {
  let valid = false;
  for (const path of rig!.paths) valid = checkRtcpOn(path, bytes);
  return valid;
}

function checkRtcpOn(r: RtcpPath, bytes: Uint8Array): boolean {
  const msg = Buffer.from(bytes);
  const view = bytesOf(msg, 0, msg.length);
  const isRtcpDatagram = msg.length >= 4 && isRtcp(view);

  // On the rtcp-mux port: RTP, RTCP or a counted drop; exactly one counter moves.
  const a = r.mux.stats();
  const handled = r.handled;
  r.mux.lastSenderReport = null;
  r.toMux(msg);
  const b = r.mux.stats();
  const moved = b.tooShort - a.tooShort + (b.badVersion - a.badVersion) + (b.malformed - a.malformed) + (b.rtcp - a.rtcp) + (b.wrongSource - a.wrongSource) + (r.handled - handled);
  assert.equal(b.packets - a.packets, 1);
  assert.equal(moved, 1, 'one datagram, one outcome');
  assert.equal(b.rtcp - a.rtcp, isRtcpDatagram ? 1 : 0, 'RTCP on the RTP port is recognised as rtp.js isRtcp does');
  assert.equal(b.rtcp - a.rtcp, classifyPacket(msg, 0, msg.length) === 'rtcp' && msg.length >= 4 ? 1 : 0, 'and as classifyPacket does');

  // On the RTCP port of a plain endpoint: every datagram is RTCP or malformed RTCP.
  const c = r.plain.stats();
  r.plain.lastSenderReport = null;
  r.toRtcp(msg);
  const d = r.plain.stats();
  assert.equal(d.rtcp - c.rtcp, 1);
  assert.equal(d.packets, c.packets, 'the RTCP port does not count RTP packets');
  const malformed = d.rtcpMalformed - c.rtcpMalformed;
  assert.ok(malformed === 0 || malformed === 1);
  if (!isRtcpDatagram) {
    assert.equal(malformed, 1, 'a datagram that is not RTCP is counted malformed');
    return false;
  }
  const oracle = oracleRtcp(view);
  assert.equal(malformed === 1, oracle === 'malformed', 'malformed exactly when rtp.js cannot read it');
  for (const ep of [r.plain, ...(b.rtcp > a.rtcp ? [r.mux] : [])]) {
    if (oracle === 'malformed' || oracle.sr === null) continue;
    const got = ep.lastSenderReport;
    assert.ok(got !== null, 'the sender report is kept');
    assert.deepEqual(got, {
      ssrc: oracle.sr.getSsrc(),
      ntpSeconds: oracle.sr.getNtpSeconds(),
      ntpFraction: oracle.sr.getNtpFraction(),
      rtpTimestamp: oracle.sr.getRtpTimestamp(),
      packetCount: oracle.sr.getPacketCount(),
      octetCount: oracle.sr.getOctetCount(),
    });
  }
  return oracle !== 'malformed';
}

export const rtcpTarget: FuzzTarget<Uint8Array> = {
  name: 'rtcp',
  what: 'RtpEndpoint datagram handling (node:dgram and native paths): RTP/RTCP demux on an rtcp-mux port, RTCP (rtp.js) on an RTCP port',
  arbitrary: rtcpInput,
  check: checkRtcp,
  async open() {
    rig = await openRig();
  },
  close() {
    for (const p of rig?.paths ?? []) {
      p.mux.close();
      p.plain.close();
    }
    rig = null;
  },
};

// ---------------------------------------------------------------------------------------------
// 4. RFC 4733 telephone-events

type TeStep =
  | { kind: 'packet'; ts: { how: 'same' | 'delta' | 'abs'; value: number }; marker: boolean; payload: Uint8Array }
  | { kind: 'flush' | 'reset' | 'throwing' };

const tePayload: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({
        event: fc.oneof({ weight: 5, arbitrary: fc.nat(16) }, { weight: 1, arbitrary: fc.nat(255) }),
        end: fc.boolean(),
        r: fc.boolean(),
        volume: fc.nat(63),
        duration: fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.nat(0xffff), fc.constantFrom(0, 0xffff)),
        extra: fc.uint8Array({ maxLength: 4 }),
      })
      .map((e) => Uint8Array.from([e.event, (e.end ? 0x80 : 0) | (e.r ? 0x40 : 0) | e.volume, e.duration >> 8, e.duration & 0xff, ...e.extra])),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 6 }) },
);
const teStep: fc.Arbitrary<TeStep> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.record({
      kind: fc.constant('packet' as const),
      ts: fc.oneof(
        { weight: 4, arbitrary: fc.record({ how: fc.constant('same' as const), value: fc.constant(0) }) },
        { weight: 3, arbitrary: fc.record({ how: fc.constant('delta' as const), value: fc.oneof(fc.integer({ min: -2000, max: 70000 }), fc.constantFrom(160, 320, 65535, 65536, -1)) }) },
        { weight: 1, arbitrary: fc.record({ how: fc.constant('abs' as const), value: fc.nat({ max: 0xffffffff }) }) },
      ),
      marker: fc.boolean(),
      payload: tePayload,
    }),
  },
  { weight: 1, arbitrary: fc.constantFrom({ kind: 'flush' as const }, { kind: 'reset' as const }, { kind: 'throwing' as const }) },
);
const teInput = fc.record({
  clockRate: fc.oneof(fc.constantFrom(8000, 8000, 16000, 48000), fc.integer({ min: 1, max: 0xffffffff })),
  steps: fc.array(teStep, { maxLength: 40 }),
});

const DTMF_DIGITS = new Set('0123456789*#ABCD'.split(''));
const teFields: TelephoneEventFields = { event: 0, end: false, volume: 0, duration: 0 };
const teScratch = new Uint8Array(4);

function checkTelephoneEvents(input: { clockRate: number; steps: TeStep[] }): boolean {
  const events: DtmfEvent[] = [];
  let throwing = false;
  let listenerThrew = 0;
  const rx = new TelephoneEventReceiver(input.clockRate, (e) => {
    events.push(e);
    if (throwing) {
      listenerThrew++;
      throw new Error('listener failure (fuzz)');
    }
  });
  rx.onListenerError = () => undefined;
  let ts = 0;
  let packets = 0;
  let short = 0;
  for (const s of input.steps) {
    if (s.kind !== 'packet') {
      if (s.kind === 'flush') rx.flush();
      else if (s.kind === 'reset') rx.reset();
      else throwing = !throwing;
      continue;
    }
    ts = s.ts.how === 'abs' ? s.ts.value : (ts + s.ts.value) >>> 0;
    const p = s.payload;
    // The payload reader: false exactly when short; fields in range; write() gives the bytes back, R bit cleared.
    const ok = parseTelephoneEvent(p, 0, p.length, teFields);
    assert.equal(ok, p.length >= 4);
    if (ok) {
      assert.ok(teFields.event >= 0 && teFields.event <= 255 && teFields.volume >= 0 && teFields.volume <= 63);
      assert.ok(teFields.duration >= 0 && teFields.duration <= 0xffff);
      writeTelephoneEvent(teScratch, 0, teFields.event, teFields.end, teFields.volume, teFields.duration);
      assert.deepEqual([...teScratch], [p[0], p[1]! & ~0x40, p[2], p[3]]);
    } else short++;
    packets++;
    rx.push(ts, s.marker, p, 0, p.length);
  }
  rx.flush();
  // One end per start, in order, each end matching its start.
  let open: DtmfEvent | null = null;
  for (const e of events) {
    assert.ok(e.digit === eventToDigit(e.event) && (e.digit === '' || DTMF_DIGITS.has(e.digit)), `digit ${JSON.stringify(e.digit)} of event ${e.event}`);
    assert.ok(Number.isInteger(e.event) && e.event >= 0 && e.event <= 255);
    assert.ok(Number.isInteger(e.timestamp) && e.timestamp >= 0 && e.timestamp <= 0xffffffff);
    if (e.type === 'start') {
      assert.equal(open, null, 'a start while an event is open');
      open = e;
    } else {
      assert.ok(open !== null, 'an end without a start');
      assert.equal(e.event, open.event);
      assert.equal(e.timestamp, open.timestamp);
      assert.ok(Number.isFinite(e.durationMs) && e.durationMs >= 0, `durationMs ${e.durationMs}`);
      assert.ok(Number.isInteger(e.volume) && e.volume >= 0 && e.volume <= 63);
      open = null;
    }
  }
  assert.equal(open, null, 'every start has its end after flush()');
  assert.equal(rx.packets, packets);
  assert.equal(rx.malformedPackets, short);
  assert.ok(rx.endedEventPackets + rx.latePackets + rx.malformedPackets <= rx.packets);
  assert.ok(rx.inferredEnds <= events.length / 2);
  assert.equal(rx.listenerErrors, listenerThrew);
  return events.length > 0;
}

export const telephoneEventTarget: FuzzTarget<{ clockRate: number; steps: TeStep[] }> = {
  name: 'telephone-event',
  what: 'parseTelephoneEvent and TelephoneEventReceiver on packet sequences (timestamps, markers, bytes)',
  arbitrary: teInput,
  check: checkTelephoneEvents,
};

// ---------------------------------------------------------------------------------------------
// 5. AudioReceiver + jitter buffer feeding a real Mixer input

const TELEPHONE_EVENT_8K: PayloadFormat = { payloadType: 101, codec: 'telephone-event', clockRate: 8000 };
const FORMAT_SETS: readonly (readonly PayloadFormat[])[] = [
  [PCMU, TELEPHONE_EVENT_8K],
  [PCMU, PCMA, CN, TELEPHONE_EVENT_8K],
];

interface RxPacket {
  dtMs: number;
  seq: { how: 'next' | 'delta' | 'abs'; value: number };
  ts: { how: 'next' | 'delta' | 'abs'; value: number };
  ssrc: number;
  pt: number;
  marker: boolean;
  length: number;
  fill: number;
  event: Uint8Array;
}

const rxPacket: fc.Arbitrary<RxPacket> = fc.record({
  dtMs: fc.oneof({ weight: 6, arbitrary: fc.constant(20) }, { weight: 3, arbitrary: fc.nat(60) }, { weight: 1, arbitrary: fc.nat(3000) }),
  seq: fc.oneof(
    { weight: 12, arbitrary: fc.record({ how: fc.constant('next' as const), value: fc.constant(0) }) },
    { weight: 3, arbitrary: fc.record({ how: fc.constant('delta' as const), value: fc.oneof(fc.integer({ min: -70, max: 70 }), fc.constantFrom(32768, -32768, 100, 1000)) }) },
    { weight: 1, arbitrary: fc.record({ how: fc.constant('abs' as const), value: fc.nat(0xffff) }) },
  ),
  ts: fc.oneof(
    { weight: 12, arbitrary: fc.record({ how: fc.constant('next' as const), value: fc.constant(0) }) },
    { weight: 3, arbitrary: fc.record({ how: fc.constant('delta' as const), value: fc.oneof(fc.integer({ min: -20000, max: 20000 }), fc.constantFrom(0x7fffffff, -0x80000000, 80, 8000 * 60)) }) },
    { weight: 1, arbitrary: fc.record({ how: fc.constant('abs' as const), value: fc.nat({ max: 0xffffffff }) }) },
  ),
  ssrc: fc.oneof({ weight: 10, arbitrary: fc.constant(0x0a0a0a0a) }, { weight: 1, arbitrary: fc.constantFrom(0x0b0b0b0b, 0xffffffff, 0) }),
  pt: fc.oneof({ weight: 12, arbitrary: fc.constantFrom(0, 0, 0, 0, 101, 8, 13) }, { weight: 1, arbitrary: fc.nat(127) }),
  marker: fc.boolean(),
  length: fc.oneof({ weight: 8, arbitrary: fc.constant(160) }, { weight: 3, arbitrary: fc.nat(480) }, { weight: 1, arbitrary: fc.constantFrom(0, 1, 4, 1023, 1024, 1025, 1400) }),
  fill: fc.nat(255),
  event: tePayload,
});

const rxInput = fc.record({
  mixerRate: fc.constantFrom(8000 as const, 8000 as const, 16000 as const),
  ringMs: fc.constantFrom(2000, 300),
  plc: fc.constantFrom('repeat' as const, 'silence' as const),
  slots: fc.constantFrom(4, 16, 64),
  formats: fc.nat(FORMAT_SETS.length - 1),
  packets: fc.array(rxPacket, { maxLength: 40 }),
});

const rxReader = new RtpHeaderReader();

function checkAudioReceiver(input: {
  mixerRate: 8000 | 16000;
  ringMs: number;
  plc: 'repeat' | 'silence';
  slots: number;
  formats: number;
  packets: RxPacket[];
}): boolean {
  let t = 0;
  const formats = FORMAT_SETS[input.formats]!;
  const mixer = new Mixer({ sampleRate: input.mixerRate, delayMs: 60, ringMs: input.ringMs, now: () => t });
  const leg = mixer.createInput('leg');
  const receiver = new AudioReceiver({ formats, mixerRate: input.mixerRate, plc: input.plc, slots: input.slots });
  receiver.attach(leg);
  let frames = 0;
  mixer.addOutput(
    { kind: 'track', input: leg },
    {
      onFrame: (pcm) => {
        frames++;
        assert.ok(pcm.length > 0 && pcm.length <= mixer.frameSamples, `frame of ${pcm.length} samples`);
      },
    },
  );
  const dtmf: DtmfEvent[] = [];
  receiver.on('dtmf', (e) => dtmf.push(e));

  let seq = 1000;
  let ts = 5000;
  let unknownPt = 0;
  for (const p of input.packets) {
    t += p.dtMs;
    mixer.service(t, 1_000_000);
    seq = p.seq.how === 'abs' ? p.seq.value : (seq + (p.seq.how === 'next' ? 1 : p.seq.value)) & 0xffff;
    ts = p.ts.how === 'abs' ? p.ts.value : (ts + (p.ts.how === 'next' ? 160 : p.ts.value)) >>> 0;
    const length = p.pt === TELEPHONE_EVENT_8K.payloadType ? p.event.length : p.length;
    const bytes = new Uint8Array(12 + length).fill(p.fill);
    bytes[0] = 0x80;
    bytes[1] = (p.marker ? 0x80 : 0) | p.pt;
    bytes[2] = seq >> 8;
    bytes[3] = seq & 0xff;
    new DataView(bytes.buffer).setUint32(4, ts);
    new DataView(bytes.buffer).setUint32(8, p.ssrc);
    if (p.pt === TELEPHONE_EVENT_8K.payloadType) bytes.set(p.event, 12);
    const drop = rxReader.parse(bytes, 0, bytes.length);
    if (drop !== RtpDrop.None) continue; // RTCP-range second byte: the endpoint hands it elsewhere
    if (!formats.some((f) => f.payloadType === p.pt)) unknownPt++;
    rxReader.arrivalMs = t;
    receiver.receive(bytes, rxReader);
    assert.ok(leg.writeHead >= leg.readHead || !leg.anchored, 'the write head never falls behind the read head');
  }
  t += 1000;
  mixer.service(t, 1_000_000);
  mixer.drain();
  receiver.drain(leg); // a stream of events only never started the mixer clock

  const s = receiver.stats();
  for (const [k, v] of Object.entries(s)) assert.ok(Number.isFinite(v) && v >= 0, `${k} = ${v}`);
  assert.equal(s.unexpectedPayloadType, unknownPt, 'every unknown payload type counted');
  assert.equal(s.lost, s.concealed, 'each lost packet concealed once');
  // Each packet has at most one outcome; a resync may count its packet late before it is accepted.
  const outcomes = s.received + s.duplicate + s.oversize + (s.late - receiver.lateAfterPadding) + s.unexpectedPayloadType + s.strayPackets;
  const sent = input.packets.length;
  assert.ok(outcomes <= sent + s.seqResyncs, `outcomes ${outcomes} > packets ${sent} (+${s.seqResyncs} resyncs): ${JSON.stringify(s)}`);
  assert.ok(receiver.lateAfterPadding <= s.received);
  assert.equal(s.dtmfEvents, dtmf.length);
  let open = false;
  for (const e of dtmf) {
    assert.equal(e.type === 'start', !open, 'dtmf start and end alternate');
    open = e.type === 'start';
    assert.ok(e.digit === '' || DTMF_DIGITS.has(e.digit));
  }
  assert.ok(!open, 'every dtmf start has its end once drained');
  const li = leg.stats();
  assert.ok(li.fill >= 0 && li.samplesWritten >= 0 && li.overflowSamples >= 0 && li.underrunSamples >= 0);
  assert.ok(frames === mixer.ticks);
  return s.received > 0;
}

export const audioReceiverTarget: FuzzTarget<Parameters<typeof checkAudioReceiver>[0]> = {
  name: 'audio-receiver',
  what: 'AudioReceiver (jitter buffer, PLC, RFC 4733) into a real Mixer input, ticked between packets',
  arbitrary: rxInput,
  check: checkAudioReceiver,
};

// ---------------------------------------------------------------------------------------------
// 6. HTTP body and query parsers (the HTTP round itself is in test/fuzz.test.ts)

/** Each recording option: a valid value mostly, else one of the ways it goes wrong (case, type, range, syntax). */
const RECORDING_VALUES: Record<string, fc.Arbitrary<unknown>> = {
  format: mostly<unknown>(fc.constantFrom('wav', 'mp3', 'opus'), fc.constantFrom('WAV', 'flac', 1, null, ''), 6),
  channels: mostly<unknown>(fc.constantFrom('mono', 'stereo'), fc.constantFrom('MONO', 'quad', 2), 6),
  participant: mostly<unknown>(fc.constantFrom('all', 'all', 'caller', 'callee'), fc.constantFrom('ALL', 'nobody'), 6),
  sample_rate: mostly<unknown>(fc.constantFrom(8000, 16000, 48000), fc.constantFrom('8000', 44100, 8000.5, -8000), 6),
  bitrate: mostly<unknown>(fc.integer({ min: 6, max: 510 }), fc.oneof(fc.integer({ min: -10, max: 600 }), fc.constantFrom(6.5, '64', null)), 6),
  time_limit: mostly<unknown>(fc.double({ min: 1e-3, max: 86400, noNaN: true }), fc.oneof(fc.double({ min: -1, max: 100000, noNaN: true }), fc.constantFrom(0, 86401, '60', null, 1e-300)), 6),
  record_min_sec: mostly<unknown>(fc.constantFrom(0, 1, 2.5, 86400), fc.oneof(fc.double({ min: -1, max: 100000, noNaN: true }), fc.constantFrom('0', -0.5)), 6),
  pause_behavior: mostly<unknown>(fc.constantFrom('skip', 'silence'), fc.constantFrom('SKIP', 'loud'), 6),
  label: mostly<unknown>(fc.oneof(fc.string({ maxLength: 12 }), fc.constant('x'.repeat(256))), fc.constantFrom('x'.repeat(257), 7), 6),
  callback_url: mostly<unknown>(fc.constantFrom('http://x', 'https://a.example/cb?x=1', 'HTTP://X'), fc.constantFrom('ftp://x', 'http://a b', 'http://', `http://${'a'.repeat(2100)}`, 0), 6),
  callback_method: mostly<unknown>(fc.constantFrom('GET', 'POST', 'get', 'post', 'Get'), fc.constantFrom('PUT', 'PATCH'), 6),
  upload_url: mostly<unknown>(fc.constant('https://u.example/put'), fc.constantFrom('http://', 'file:///etc/passwd', 'https://x\ny'), 6),
  upload_method: mostly<unknown>(fc.constantFrom('PUT', 'POST', 'put'), fc.constantFrom('GET', ''), 6),
  beep: mostly<unknown>(fc.boolean(), fc.constantFrom('true', 0), 6),
  pci_pause: mostly<unknown>(
    fc.record({ pause_digits: fc.constantFrom('*1', '#', '12345678', 'ABCD'), resume_digits: fc.constantFrom('*2', '*1', '#9') }).map((o) => obj(Object.entries(o))),
    fc.oneof(
      fc.record({ pause_digits: fc.constantFrom('123456789', '', 'E', 'a'), resume_digits: fc.constantFrom('*2', 'x', 5) }).map((o) => obj(Object.entries(o))),
      fc.constantFrom(null, [], 'x', { pause_digits: '*1' }, { pause_digits: '*1', resume_digits: '*2', extra: 1 }),
    ),
    4,
  ),
  tracks: mostly<unknown>(fc.boolean(), fc.constantFrom(1, 'yes'), 6),
};

const specInput = fc.record({
  where: fc.constantFrom('', '', 'recording', 'routes[1].recording'),
  value: fc.oneof(
    { weight: 60, arbitrary: anyJson.map(asBody) },
    { weight: 240, arbitrary: corrupt(entries(RECORDING_VALUES), RECORDING_OPTION_KEYS).map(asBody) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...RECORDING_OPTION_KEYS), deepValue).map(([k, v]) => obj([[k, v]])) },
  ),
});

function checkSpecInvariants(s: RecordingSpec): void {
  assert.ok(['wav', 'mp3', 'opus'].includes(s.format));
  assert.ok(['mono', 'stereo'].includes(s.channels));
  assert.ok(['all', 'caller', 'callee'].includes(s.participant));
  assert.ok([8000, 16000, 48000].includes(s.sample_rate));
  assert.ok(s.time_limit > 0 && s.time_limit <= 86400);
  assert.ok(s.record_min_sec >= 0 && s.record_min_sec <= 86400);
  assert.ok(['skip', 'silence'].includes(s.pause_behavior));
  assert.ok(typeof s.label === 'string' && s.label.length <= 256);
  assert.ok(['GET', 'POST'].includes(s.callback_method) && ['PUT', 'POST'].includes(s.upload_method));
  for (const u of [s.callback_url, s.upload_url]) if (u !== undefined) assert.ok(/^https?:\/\/\S+$/.test(u) && u.length <= 2048, u);
  assert.equal(typeof s.beep, 'boolean');
  if (s.bitrate !== undefined) assert.ok(s.format !== 'wav' && Number.isInteger(s.bitrate) && s.bitrate >= 6 && s.bitrate <= 510);
  if (s.pci_pause !== undefined) assert.notEqual(s.pci_pause.pause_digits, s.pci_pause.resume_digits);
  if (s.channels === 'stereo') assert.equal(s.participant, 'all');
}

function checkRecordingSpec(input: { where: string; value: unknown }): boolean {
  const before = jsonOrDeep(input.value);
  let spec: RecordingSpec;
  try {
    spec = parseRecordingSpec(input.value, input.where);
  } catch (err) {
    assert.ok(err instanceof RecordingOptionError, `threw ${errorText(err)}`);
    assert.equal(err.code, 'ERR_INVALID_ARGUMENT');
    assert.equal(typeof err.field, 'string');
    if (input.where !== '') assert.ok(err.field === input.where || err.field.startsWith(`${input.where}.`), `field ${err.field} under ${input.where}`);
    assert.equal(jsonOrDeep(input.value), before, 'the input is not changed');
    return false;
  }
  checkSpecInvariants(spec);
  // What it accepts, it accepts again unchanged (a stored spec read back, an API body echoed).
  assert.deepEqual(parseRecordingSpec(viaJson(spec)), spec);
  assert.deepEqual(viaJson(spec), spec, 'the spec survives JSON');
  assert.equal(jsonOrDeep(input.value), before, 'the input is not changed');
  return true;
}


export const recordingSpecTarget: FuzzTarget<{ where: string; value: unknown }> = {
  name: 'recording-spec',
  what: 'recorder/options.ts parseRecordingSpec on JSON values and option records',
  arbitrary: specInput,
  check: checkRecordingSpec,
};

// Flows

const variableArb = fc.constantFrom('digits', 'consent', '_x', 'v'.repeat(64), 'v'.repeat(65), '1a', '', 'a-b', 5, null);
const flowRecordingOption = corrupt(
  entries({ ...RECORDING_VALUES, announcement: fc.constantFrom('Recorded.', ' ', ''), announcement_file: fc.constantFrom('a.wav', '../a.wav'), variable: variableArb }),
  ['announcement', 'announcement_file', 'variable'],
);
const caseKey = fc.oneof(fc.constantFrom('1', '2', '*', '#', '__proto__', 'constructor', 'toString', '', 'k'.repeat(64), 'k'.repeat(65), 'a.b'), fc.string({ maxLength: 4 }));

function actionOf(name: string, option: fc.Arbitrary<Record<string, unknown>> | null): fc.Arbitrary<unknown> {
  if (option === null) return fc.constant(obj([['action', name]]));
  return fc.tuple(option, fc.nat(9)).map(([o, how]) => (how === 0 ? obj([['action', name]]) : obj([['action', name], ['option', o]])));
}

const flowArbs = fc.letrec((tie) => ({
  list: fc.array(tie('action'), { maxLength: 3 }),
  action: fc.oneof(
    { depthSize: 'small', maxDepth: 5 },
    { weight: 3, arbitrary: fc.constantFrom('answer', 'recording_stop', 'recording_pause', 'recording_resume').chain((n) => actionOf(n, corrupt(fc.constant({}), []))) },
    { weight: 1, arbitrary: actionOf('play', corrupt(entries({ file: fc.constantFrom('welcome.wav', 'a/b.mp3', 'x.WAV', '../x.wav', '.h.wav', 'a//b.wav', '/abs.wav', 'a.ogg', '', `${'a'.repeat(260)}.wav`) }), ['file'])) },
    { weight: 1, arbitrary: actionOf('talk', corrupt(entries({ text: fc.constantFrom('Hello.', ' ', '', 'x'.repeat(2001), 'é'), voice: fc.constantFrom('en-us', 'en+f3', 'mb-en1', '-x', 'a b', 3) }), ['text'])) },
    { weight: 1, arbitrary: actionOf('beep', corrupt(entries({ frequency_hz: fc.integer({ min: 0, max: 5000 }), duration_ms: fc.integer({ min: 0, max: 11000 }) }), [])) },
    { weight: 1, arbitrary: actionOf('recording_start', flowRecordingOption) },
    {
      weight: 1,
      arbitrary: actionOf(
        'gather',
        corrupt(
          entries({
            variable: variableArb,
            max_digits: fc.integer({ min: 0, max: 40 }),
            terminator: fc.constantFrom('#', '*', '', 'E', '##', 1),
            timeout_ms: fc.integer({ min: 0, max: 130000 }),
            inter_digit_timeout_ms: fc.constantFrom(100, 99, 3000.5, 120000),
          }),
          [],
        ),
      ),
    },
    {
      weight: 2,
      arbitrary: actionOf(
        'branch',
        corrupt(
          fc
            .tuple(variableArb, fc.array(fc.tuple(caseKey, tie('list')), { maxLength: 3 }), fc.option(tie('list'), { nil: undefined }))
            .map(([v, cases, dflt]) => obj([['variable', v], ['cases', obj(cases)], ...(dflt === undefined ? [] : [['default', dflt] as const])])),
          [],
        ),
      ),
    },
    {
      weight: 1,
      arbitrary: actionOf(
        'connect',
        corrupt(
          entries({
            target: fc.constantFrom('sip:{user}@192.0.2.10:5060', 'sips:x@h', 'user:alice', 'user:{user}', 'user:', 'tel:1', 'user:a b', ''),
            recording: fc.oneof(fc.constant(false), fc.constant(true), entries(RECORDING_VALUES)),
            ring_timeout_sec: fc.constantFrom(1, 600, 0, 601, 30.5),
          }),
          [],
        ),
      ),
    },
    { weight: 1, arbitrary: actionOf('conference_join', corrupt(entries({ conference: fc.constantFrom('room-{user}', 'r', '', 'a'.repeat(129), 'a b', '{user}{user}', '{other}') }), [])) },
    { weight: 1, arbitrary: actionOf('hangup', corrupt(entries({ status: fc.integer({ min: 300, max: 800 }) }), [])) },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom('dance', '', 'ANSWER', null), anyJson).map((a) => obj([['action', a]])) },
  ),
}));

/** A branch nested `depth` levels deep (MAX_FLOW_DEPTH is 8). */
function nestedFlow(depth: number): unknown[] {
  let flow: unknown[] = [{ action: 'hangup' }];
  for (let i = 1; i < depth; i++) flow = [{ action: 'branch', option: { variable: 'digits', cases: { '1': flow } } }];
  return flow;
}

const flowInput: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 80, arbitrary: anyJson.map(asBody) },
  { weight: 400, arbitrary: flowArbs.list.map(asBody) },
  { weight: 40, arbitrary: fc.integer({ min: 1, max: 14 }).map(nestedFlow) },
  { weight: 20, arbitrary: fc.integer({ min: MAX_FLOW_ACTIONS - 3, max: MAX_FLOW_ACTIONS + 3 }).map((n) => Array.from({ length: n }, () => ({ action: 'answer' }))) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('talk', 'play', 'connect', 'gather', 'beep', 'conference_join'), fc.constantFrom('voice', 'file', 'target', 'variable', 'terminator', 'frequency_hz', 'conference'), deepValue).map(([a, k, v]) => [{ action: a, option: obj([[k, v]]) }]) },
  { weight: 1, arbitrary: deepValue.map((v) => [{ action: v }]) },
);

function flowDepthAndCount(list: readonly FlowAction[], depth = 1): { depth: number; count: number } {
  let max = depth;
  let count = 0;
  for (const a of list) {
    count++;
    if (a.action === 'branch') {
      for (const sub of [...Object.values(a.option.cases), a.option.default]) {
        const r = flowDepthAndCount(sub, depth + 1);
        max = Math.max(max, r.depth);
        count += r.count;
      }
    }
  }
  return { depth: max, count };
}

/** The value an error's index path ("2", "3.cases.1.0", "3.default.0") names in the input, or undefined. */
function atIndex(input: unknown, index: string): unknown {
  let rest = index;
  let cur: unknown = input;
  const take = (): string => {
    const dot = rest.indexOf('.');
    const tok = dot < 0 ? rest : rest.slice(0, dot);
    rest = dot < 0 ? '' : rest.slice(dot + 1);
    return tok;
  };
  for (;;) {
    const i = take();
    if (!Array.isArray(cur) || !/^\d+$/.test(i) || Number(i) >= cur.length) return undefined;
    cur = cur[Number(i)];
    if (rest === '') return cur;
    const kind = take();
    const option = (cur as { option?: Record<string, unknown> } | null)?.option;
    if (kind === 'default') cur = option?.default;
    else if (kind === 'cases') {
      const cases = (option?.cases ?? {}) as Record<string, unknown>;
      // Case keys may hold dots: take the longest key the rest of the path starts with.
      const key = Object.keys(cases)
        .filter((k) => rest.startsWith(`${k}.`))
        .sort((a, b) => b.length - a.length)[0];
      if (key === undefined) return undefined;
      rest = rest.slice(key.length + 1);
      cur = cases[key];
    } else return undefined;
  }
}

function checkFlow(input: unknown): boolean {
  const before = jsonOrDeep(input);
  let flow: FlowAction[];
  try {
    flow = parseFlow(input);
  } catch (err) {
    assert.ok(err instanceof FlowError, `threw ${errorText(err)}`);
    assert.equal(err.code, 'ERR_INVALID_ARGUMENT');
    assert.equal(typeof err.field, 'string');
    if (err.index !== '') assert.ok(atIndex(input, err.index) !== undefined, `error index ${err.index} names no action of the input`);
    assert.equal(jsonOrDeep(input), before, 'the input is not changed');
    return false;
  }
  assert.equal(jsonOrDeep(input), before, 'the input is not changed');
  const { depth, count } = flowDepthAndCount(flow);
  assert.ok(depth <= MAX_FLOW_DEPTH, `depth ${depth}`);
  assert.ok(count <= MAX_FLOW_ACTIONS, `${count} actions`);
  for (const a of flow) assert.ok((FLOW_ACTION_NAMES as readonly string[]).includes(a.action));
  // Stored flows are JSON: what is accepted must survive it unchanged and be accepted again as is.
  const stored = viaJson(flow);
  assert.deepEqual(stored, flow, 'the parsed flow survives JSON');
  assert.deepEqual(parseFlow(stored), flow, 'parseFlow is idempotent');
  return true;
}

export const flowTarget: FuzzTarget<unknown> = {
  name: 'flow',
  what: 'calls/flows.ts parseFlow on JSON values, generated flows, deep nesting, the action limit',
  arbitrary: flowInput,
  check: checkFlow,
};

// DTMF INFO bodies

const dtmfInput = fc.record({
  contentType: mostly(
    fc.constantFrom('application/dtmf-relay', 'Application/DTMF-Relay; charset=x', 'application/dtmf', ' application/dtmf ;x', 'application/dtmf-relay;'),
    fc.oneof(fc.constantFrom('text/plain', '', ';', 'application/dtmf-relayx'), fc.string({ maxLength: 30 })),
    4,
  ),
  body: fc.oneof(
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
    { weight: 2, arbitrary: fc.constantFrom('5', ' * ', '#', 'a', 'D', 'E', '10', '11', '15', '16', '', '55', '\r\n1\r\n') },
    {
      weight: 6,
      arbitrary: fc
        .tuple(
          fc.array(
            fc.tuple(
              fc.constantFrom('Signal', 'signal', ' SIGNAL ', 'Duration', 'duration', 'x', ''),
              fc.constantFrom('=', '=', '=', ' = ', '==', ''),
              fc.constantFrom('5', '*', '#', 'a', 'D', 'E', '10', '11', '15', '16', '', '160', ' 250 ', '0', '-5', '1e3', '60000', '59999', '0x10', '__proto__', 'constructor', 'toString'),
            ),
            { maxLength: 4 },
          ),
          fc.constantFrom('\r\n', '\n', '\r'),
        )
        .map(([lines, e]) => lines.map(([k, s, v]) => `${k}${s}${v}`).join(e)),
    },
  ),
});

function checkDtmfInfo(input: { contentType: string; body: string }): boolean {
  const d = parseDtmfInfo(input.contentType, input.body);
  if (d === null) return false;
  assert.ok(typeof d.digit === 'string' && DTMF_DIGITS.has(d.digit), `digit ${String(d.digit)}`);
  assert.ok(Number.isInteger(d.durationMs) && d.durationMs >= 0 && d.durationMs < 60000, `durationMs ${d.durationMs}`);
  assert.deepEqual(parseDtmfInfo(input.contentType, input.body), d);
  return true;
}

export const dtmfInfoTarget: FuzzTarget<{ contentType: string; body: string }> = {
  name: 'dtmf-info',
  what: 'calls/dtmf.ts parseDtmfInfo on SIP INFO content types and bodies',
  arbitrary: dtmfInput,
  check: checkDtmfInfo,
};

// ICE servers setting

const iceUrl = fc.constantFrom('stun:a.example:3478', 'turn:h', 'turns:x:5349', 'stuns:x', 'STUN:x', '', ' stun:y ', 'http://x', 'stun:', 'turn:a,b');
const iceInput: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.tuple(fc.array(iceUrl, { maxLength: 4 }), fc.constantFrom(',', ', ', ' ,')).map(([u, sep]) => u.join(sep)),
  fc
    .array(
      fc.oneof(
        entries({ urls: fc.oneof(iceUrl, fc.constantFrom(1, null, ['stun:x'])), username: fc.constantFrom('u', 1, ''), credential: fc.constantFrom('p', null), extra: fc.constant(1) }),
        anyJson,
      ),
      { maxLength: 3 },
    )
    .map((a) => jsonOrDeep(a) ?? '[]'),
  anyJson.map((v) => ` ${jsonOrDeep(v) ?? ''}`),
);

function checkIceServers(text: string): boolean {
  let servers: ReturnType<typeof parseIceServers>;
  try {
    servers = parseIceServers(text);
  } catch (err) {
    assert.ok(err instanceof InvalidArgumentError, `threw ${errorText(err)}`);
    return false;
  }
  for (const s of servers) {
    assert.ok(typeof s.urls === 'string' && /^(stun|turns?):/.test(s.urls), `urls ${String(s.urls)}`);
    for (const k of Object.keys(s)) assert.ok(['urls', 'username', 'credential'].includes(k), `key ${k}`);
    if (s.username !== undefined) assert.equal(typeof s.username, 'string');
    if (s.credential !== undefined) assert.equal(typeof s.credential, 'string');
  }
  // The JSON form of what was accepted reads back the same (RECGATE_ICE_SERVERS written by a tool).
  if (servers.length > 0) assert.deepEqual(parseIceServers(JSON.stringify(servers)), servers);
  return servers.length > 0;
}

export const iceServersTarget: FuzzTarget<string> = {
  name: 'ice-servers',
  what: 'calls/config.ts parseIceServers on comma lists and JSON arrays',
  arbitrary: iceInput,
  check: checkIceServers,
};

/** Every target, in table order. */
export const TARGETS: readonly AnyTarget[] = [
  sdpTarget,
  rtpHeaderTarget,
  rtcpTarget,
  telephoneEventTarget,
  audioReceiverTarget,
  recordingSpecTarget,
  flowTarget,
  dtmfInfoTarget,
  iceServersTarget,
];
