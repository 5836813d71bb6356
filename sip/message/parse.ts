/**
 * SIP message parser (RFC 3261 §7, grammar of §25), tolerant the way RFC 4475 asks: leading
 * CRLFs, folded lines, LWS around ':' and inside values, compact names, odd case, leading
 * zeros. It never throws: a refused message comes back as a ParseError with the status to
 * answer (400, 413, 505) or 0 to drop, and for requests the headers needed to answer it.
 *
 *   message  = start-line *message-header CRLF [ message-body ]           (§7)
 *   Request-Line = Method SP Request-URI SP SIP-Version CRLF              (§7.1)
 *   Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase CRLF       (§7.2)
 */
import { OutOfRangeError } from '../../common/index.js';
import { parseCSeq, parseUri, trimLws } from './headerValues.js';
import { SipHeaders } from './SipHeaders.js';
import type { ParseError, ParseResult, SipLimits, SipMessage } from './types.js';

/** Defaults: a UDP datagram's largest payload rounded up, 16 kB of headers, 256 fields. */
export const DEFAULT_SIP_LIMITS: Readonly<SipLimits> = Object.freeze({
  maxMessageBytes: 65535,
  maxHeaderBytes: 16384,
  maxHeaders: 256,
});

/** Fills in defaults; throws OutOfRangeError for a limit that is not a positive integer (caller misuse). */
export function resolveLimits(limits?: Partial<SipLimits>): SipLimits {
  const out: SipLimits = { ...DEFAULT_SIP_LIMITS };
  if (limits === undefined) return out;
  for (const key of ['maxMessageBytes', 'maxHeaderBytes', 'maxHeaders'] as const) {
    const v = limits[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v <= 0) throw new OutOfRangeError(`SipLimits.${key} must be a positive integer, got ${v}`);
    out[key] = v;
  }
  return out;
}

/**
 * Headers whose grammar is a comma-separated list (§7.3.1: such a field may be split over
 * several lines or joined on one, and the two are equivalent). Others (WWW-Authenticate,
 * Authorization, Date, Warning-free text, unknown headers) hold commas as part of one value.
 */
const LIST_HEADERS = new Set(
  [
    'Via',
    'Route',
    'Record-Route',
    'Contact',
    'Allow',
    'Supported',
    'Require',
    'Proxy-Require',
    'Unsupported',
    'Accept',
    'Accept-Encoding',
    'Accept-Language',
    'Allow-Events',
    'Path',
    'Service-Route',
    'In-Reply-To',
    'Content-Encoding',
    'Content-Language',
  ].map((n) => n.toLowerCase()),
);

/** What an error response needs (§8.2.6.1 copies these into the response). */
const PARTIAL_HEADERS = new Set(['via', 'from', 'to', 'call-id', 'cseq']);
/** §20: single-valued fields; two of them make the request ambiguous (RFC 4475 §3.3.8 multi01: 400). */
const SINGLE_HEADERS = ['From', 'To', 'Call-ID', 'CSeq', 'Max-Forwards'];
const REQUIRED_HEADERS = ['Via', 'From', 'To', 'Call-ID', 'CSeq'];

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;

/** token chars (§25.1), for the method. */
const TOKEN_BYTE = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (const ch of "-.!%*_+`'~") t[ch.charCodeAt(0)] = 1;
  return t;
})();

type ErrorCode = ParseError['code'];

interface Failure {
  code: ErrorCode;
  message: string;
  /** Status for a request; responses are always dropped (0). */
  status: number;
}

interface StartLine {
  kind: 'request' | 'response' | 'unknown';
  method: string;
  uri: string;
  status: number;
  reason: string;
}

interface Field {
  name: string;
  value: string;
}

interface Scan {
  start: StartLine;
  /** First failure met, in the order the checks run. */
  failure: Failure | null;
  /** Header fields in order, names as written (trimmed), values unfolded and trimmed. */
  fields: Field[];
  /** Offset of the first body byte (or the end of the input). */
  bodyStart: number;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Parses one SIP message (a UDP datagram, or one message cut by the StreamFramer). Bytes past
 * Content-Length are ignored (§18.3); without Content-Length the rest of the input is the body.
 * The body is a view over `bytes`, not a copy: copy it if the input buffer is reused.
 */
export function parseMessage(bytes: Uint8Array, limits?: Partial<SipLimits>): ParseResult {
  const lim = resolveLimits(limits);
  const buf = asBuffer(bytes);
  const scan = scanMessage(buf, lim);
  const { start } = scan;
  if (start.kind === 'unknown') return fail(scan, scan.failure ?? { code: 'ERR_SIP_START_LINE', message: 'no start line', status: 0 });
  if (scan.failure !== null) return fail(scan, scan.failure);

  const headers = new SipHeaders();
  for (const f of scan.fields) {
    const name = SipHeaders.canonicalName(f.name);
    if (LIST_HEADERS.has(name.toLowerCase())) for (const v of splitList(f.value)) headers.append(name, v);
    else headers.append(name, f.value);
  }

  const problem = checkHeaders(headers, start);
  if (problem !== null) return fail(scan, problem);

  // §18.3 / §20.14: the body is exactly Content-Length bytes; extra datagram bytes are ignored.
  const available = buf.length - scan.bodyStart;
  let bodyLength = available;
  const cl = headers.getAll('Content-Length');
  if (cl.length > 0) {
    const first = cl[0] as string;
    if (cl.some((v) => v !== first)) return fail(scan, { code: 'ERR_SIP_CONTENT_LENGTH', message: 'conflicting Content-Length values', status: 400 });
    if (!/^[0-9]{1,10}$/.test(first)) return fail(scan, { code: 'ERR_SIP_CONTENT_LENGTH', message: `bad Content-Length "${clip(first)}"`, status: 400 });
    const n = Number(first);
    if (n > available) {
      return fail(scan, { code: 'ERR_SIP_CONTENT_LENGTH', message: `Content-Length ${n} but ${available} body bytes`, status: 400 });
    }
    bodyLength = n;
  }
  const body = buf.subarray(scan.bodyStart, scan.bodyStart + bodyLength);
  const message: SipMessage =
    start.kind === 'request'
      ? { kind: 'request', method: start.method, uri: start.uri, headers, body }
      : { kind: 'response', status: start.status, reason: start.reason, headers, body };
  return { ok: true, message };
}

/**
 * What a request error response needs from a message that did not parse whole: the method and
 * the Via/From/To/Call-ID/CSeq values read (for the StreamFramer, which refuses a stream
 * before parseMessage runs). Undefined for responses and unreadable start lines.
 */
export function readRequestPartial(bytes: Uint8Array, limits?: Partial<SipLimits>): ParseError['partial'] {
  const scan = scanMessage(asBuffer(bytes), resolveLimits(limits));
  return partialOf(scan);
}

function partialOf(scan: Scan): ParseError['partial'] {
  if (scan.start.kind !== 'request') return undefined;
  const headers = new SipHeaders();
  for (const f of scan.fields) {
    const name = SipHeaders.canonicalName(f.name);
    const key = name.toLowerCase();
    if (!PARTIAL_HEADERS.has(key)) continue;
    if (key === 'via') for (const v of splitList(f.value)) headers.append(name, v);
    else headers.append(name, f.value);
  }
  return { method: scan.start.method, headers };
}

function fail(scan: Scan, f: Failure): ParseResult {
  const isRequest = scan.start.kind === 'request';
  const error: ParseError = { code: f.code, message: f.message, status: isRequest ? f.status : 0 };
  if (isRequest) {
    const partial = partialOf(scan);
    if (partial !== undefined) error.partial = partial;
  }
  return { ok: false, error };
}

/** A short, printable excerpt for error messages (they may end up in a Warning header). */
function clip(s: string): string {
  const printable = s.replace(/[\x00-\x1f\x7f]/g, '?');
  return printable.length > 40 ? printable.slice(0, 40) + '...' : printable;
}

/** Mandatory headers (§8.1.1), one of each single-valued one, CSeq grammar and method (§8.2.2 ff.). */
function checkHeaders(headers: SipHeaders, start: StartLine): Failure | null {
  for (const name of REQUIRED_HEADERS) {
    const v = headers.get(name);
    if (v === undefined || v === '') return { code: 'ERR_SIP_MISSING_HEADER', message: `missing ${name}`, status: 400 };
  }
  for (const name of SINGLE_HEADERS) {
    if (headers.getAll(name).length > 1) return { code: 'ERR_SIP_HEADER', message: `more than one ${name}`, status: 400 };
  }
  const cseq = parseCSeq(headers.get('CSeq') as string);
  if (cseq === null) return { code: 'ERR_SIP_HEADER', message: 'bad CSeq', status: 400 };
  if (start.kind === 'request' && cseq.method !== start.method) {
    return { code: 'ERR_SIP_HEADER', message: `CSeq method ${clip(cseq.method)} does not match ${clip(start.method)}`, status: 400 };
  }
  const mf = headers.get('Max-Forwards');
  if (mf !== undefined && !(/^[0-9]{1,10}$/.test(mf) && Number(mf) <= 255)) {
    return { code: 'ERR_SIP_HEADER', message: 'bad Max-Forwards', status: 400 };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Byte-level scan: start line, then header lines until the empty line

function scanMessage(buf: Buffer, lim: SipLimits): Scan {
  const n = buf.length;
  let pos = 0;
  // §7.5: implementations processing SIP messages over stream-oriented transports MUST ignore
  // any CRLF appearing before the start-line; we do it for datagrams too.
  while (pos < n && (buf[pos] === CR || buf[pos] === LF)) pos++;
  const scan: Scan = {
    start: { kind: 'unknown', method: '', uri: '', status: 0, reason: '' },
    failure: null,
    fields: [],
    bodyStart: n,
  };
  if (pos === n) {
    scan.failure = { code: 'ERR_SIP_START_LINE', message: 'no start line', status: 0 };
    return scan;
  }
  const headerLimit = pos + lim.maxHeaderBytes;
  const lf = buf.indexOf(LF, pos);
  const lineEnd = lf === -1 ? n : lf;
  let e = lineEnd;
  if (e > pos && buf[e - 1] === CR) e--;
  const startFailure = parseStartLine(buf, pos, e, scan.start);
  if (scan.start.kind === 'unknown') {
    scan.failure = startFailure ?? { code: 'ERR_SIP_START_LINE', message: 'unreadable start line', status: 0 };
    return scan;
  }
  const note = (f: Failure): void => {
    if (scan.failure === null) scan.failure = f;
  };
  if (startFailure !== null) note(startFailure);
  if (n - pos > lim.maxMessageBytes) note({ code: 'ERR_SIP_TOO_LARGE', message: `message over ${lim.maxMessageBytes} bytes`, status: 413 });
  if (lineEnd > headerLimit) {
    note({ code: 'ERR_SIP_TOO_LARGE', message: `header section over ${lim.maxHeaderBytes} bytes`, status: 413 });
    return scan;
  }

  // Header lines. Keep reading after a bad line, so a 400 can still carry Via/From/To/...
  let lineStart = lf === -1 ? n : lf + 1;
  let current: Field | null = null;
  for (;;) {
    if (lineStart >= n) {
      scan.bodyStart = n; // no empty line: tolerated, the message simply has no body
      break;
    }
    const nl = buf.indexOf(LF, lineStart);
    const le = nl === -1 ? n : nl;
    if (le > headerLimit) {
      note({ code: 'ERR_SIP_TOO_LARGE', message: `header section over ${lim.maxHeaderBytes} bytes`, status: 413 });
      break;
    }
    let ce = le;
    if (ce > lineStart && buf[ce - 1] === CR) ce--;
    const next = nl === -1 ? n : nl + 1;
    if (ce === lineStart) {
      scan.bodyStart = next;
      break;
    }
    current = readHeaderLine(buf, lineStart, ce, scan, note, current);
    if (scan.fields.length > lim.maxHeaders) {
      note({ code: 'ERR_SIP_TOO_LARGE', message: `more than ${lim.maxHeaders} header fields`, status: 413 });
      break;
    }
    lineStart = next;
  }
  return scan;
}

/**
 * One header line [s, e) without its line ending: a new field, or a continuation of `current`
 * (§7.3.1 folding). Returns the field later continuation lines extend (null after a bad line).
 */
function readHeaderLine(
  buf: Buffer,
  s: number,
  e: number,
  scan: Scan,
  note: (f: Failure) => void,
  current: Field | null,
): Field | null {
  // quoted-pair and qdtext never allow CR; a lone CR inside a line could split it for another parser.
  const cr = buf.indexOf(CR, s);
  if (cr !== -1 && cr < e) {
    note({ code: 'ERR_SIP_HEADER', message: 'bare CR in a header line', status: 400 });
    return null;
  }
  const first = buf[s];
  if (first === SP || first === HTAB) {
    if (current === null) {
      note({ code: 'ERR_SIP_HEADER', message: 'continuation line without a header to continue', status: 400 });
      return null;
    }
    // §7.3.1: a folded line is equivalent to one SP.
    const more = trimLws(buf.toString('utf8', s, e));
    if (BARE_CONTROL.test(more)) {
      note({ code: 'ERR_SIP_HEADER', message: `control character in the value of ${clip(current.name)}`, status: 400 });
      return null;
    }
    if (more !== '') current.value = current.value === '' ? more : `${current.value} ${more}`;
    return current;
  }
  const line = buf.toString('utf8', s, e);
  const colon = line.indexOf(':');
  if (colon === -1) {
    note({ code: 'ERR_SIP_HEADER', message: `header line without a colon: "${clip(line)}"`, status: 400 });
    return null;
  }
  // HCOLON = *( SP / HTAB ) ":" SWS
  const name = trimLws(line.slice(0, colon));
  if (!isTokenString(name)) {
    note({ code: 'ERR_SIP_HEADER', message: `bad header name "${clip(name)}"`, status: 400 });
    return null;
  }
  const value = trimLws(line.slice(colon + 1));
  // §25.1: no control characters but HTAB in a header value, except as a quoted-pair
  // ("\" followed by it, RFC 4475 intmeth); a bare NUL would be echoed into responses.
  if (/(^|[^\\])[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) {
    note({ code: 'ERR_SIP_HEADER', message: `control character in the value of ${clip(name)}`, status: 400 });
    return null;
  }
  const field: Field = { name, value };
  scan.fields.push(field);
  return field;
}

/**
 * §25.1: no control characters but HTAB in a header value, except as a quoted-pair ("\\"
 * followed by it, RFC 4475 intmeth); a bare NUL would be echoed into responses and other legs.
 */
const BARE_CONTROL = /(^|[^\\])[\u0000-\u0008\u000a-\u001f\u007f]/;

function isTokenString(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TOKEN_BYTE[c] !== 1) return false;
  }
  return true;
}

/** Fills `out`; returns a failure (status for a request) or null. */
function parseStartLine(buf: Buffer, s: number, e: number, out: StartLine): Failure | null {
  // Trailing SP after the version is invalid, but RFC 4475 §3.1.2.10 (trws) lets elements be liberal: we are.
  while (e > s && (buf[e - 1] === SP || buf[e - 1] === HTAB)) e--;
  if (e - s >= 4 && buf.toString('latin1', s, s + 4).toUpperCase() === 'SIP/') return parseStatusLine(buf, s, e, out);

  // Method = token; when not even that can be read the bytes are not SIP: drop (status 0).
  let i = s;
  while (i < e && TOKEN_BYTE[buf[i] as number] === 1) i++;
  if (i === s || (i < e && buf[i] !== SP)) {
    return { code: 'ERR_SIP_START_LINE', message: 'no method in the start line', status: 0 };
  }
  out.kind = 'request';
  out.method = buf.toString('latin1', s, i);
  const line = buf.toString('latin1', s, e);
  const parts = line.split(' ');
  if (parts.length !== 3 || parts.some((p) => p === '')) {
    return { code: 'ERR_SIP_START_LINE', message: 'Request-Line is not "Method SP Request-URI SP SIP-Version"', status: 400 };
  }
  const uri = parts[1] as string;
  const version = parts[2] as string;
  out.uri = uri;
  // §7.1: the version string is case-insensitive; any other version gets 505 (§21.5.6, RFC 4475 §3.1.2.16).
  if (version.toUpperCase() !== 'SIP/2.0') return { code: 'ERR_SIP_VERSION', message: `unsupported version "${clip(version)}"`, status: 505 };
  // Request-URI = SIP-URI / SIPS-URI / absoluteURI: a scheme, then visible ASCII (RFC 4475 §3.1.2.7 ltgtruri, §3.1.2.8 lwsruri).
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+$/.test(uri) || /[<>"]/.test(uri)) {
    return { code: 'ERR_SIP_START_LINE', message: `bad Request-URI "${clip(uri)}"`, status: 400 };
  }
  const scheme = uri.slice(0, uri.indexOf(':')).toLowerCase();
  if ((scheme === 'sip' || scheme === 'sips') && parseUri(uri) === null) {
    return { code: 'ERR_SIP_START_LINE', message: `bad SIP Request-URI "${clip(uri)}"`, status: 400 };
  }
  return null;
}

/** Status-Line = SIP-Version SP Status-Code SP Reason-Phrase; the reason may be empty (RFC 4475 noreason). */
function parseStatusLine(buf: Buffer, s: number, e: number, out: StartLine): Failure | null {
  const sp = buf.indexOf(SP, s);
  if (sp === -1 || sp >= e) return { code: 'ERR_SIP_START_LINE', message: 'Status-Line without a status code', status: 0 };
  const version = buf.toString('latin1', s, sp);
  if (version.toUpperCase() !== 'SIP/2.0') return { code: 'ERR_SIP_VERSION', message: `unsupported version "${clip(version)}"`, status: 0 };
  const codeEnd = sp + 4;
  const code = buf.toString('latin1', sp + 1, Math.min(codeEnd, e));
  if (!/^[1-6][0-9][0-9]$/.test(code) || (codeEnd < e && buf[codeEnd] !== SP)) {
    return { code: 'ERR_SIP_START_LINE', message: 'bad status code', status: 0 };
  }
  out.kind = 'response';
  out.status = Number(code);
  out.reason = codeEnd < e ? buf.toString('utf8', codeEnd + 1, e) : '';
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(out.reason)) {
    out.kind = 'unknown';
    return { code: 'ERR_SIP_START_LINE', message: 'control character in the reason phrase', status: 0 };
  }
  return null;
}

/**
 * Splits a list header value on commas outside quoted strings and angle brackets (§7.3.1).
 * Empty elements are dropped; an empty value stays one empty value (e.g. "Supported:").
 */
export function splitList(value: string): string[] {
  if (!value.includes(',')) return [value];
  const out: string[] = [];
  let inQuote = false;
  let angle = false;
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (inQuote) {
      if (ch === '\\') i++;
      else if (ch === '"') inQuote = false;
    } else if (ch === '"') inQuote = true;
    else if (ch === '<') angle = true;
    else if (ch === '>') angle = false;
    else if (ch === ',' && !angle) {
      const item = trimLws(value.slice(from, i));
      if (item !== '') out.push(item);
      from = i + 1;
    }
  }
  const last = trimLws(value.slice(from));
  if (last !== '') out.push(last);
  return out.length === 0 ? [''] : out;
}
