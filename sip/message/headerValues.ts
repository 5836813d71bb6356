/**
 * Parsers and formatters for the structured header values the stack reads: SIP/SIPS/tel URIs,
 * name-addr (From, To, Contact, Route), Via, CSeq, generic parameters and HTTP-style auth
 * parameters, plus tag, branch and Call-ID generators.
 *
 * Every parser takes text from the network and returns null on bad input; none throws
 * (STYLE 7). Grammar references are RFC 3261 §25.1 unless stated.
 */
import { randomFillSync } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { CSeq, NameAddr, SipUri, Via } from './types.js';

// ---------------------------------------------------------------------------------------------
// Character classes (ASCII lookup tables)

function table(chars: string, alnum: boolean): Uint8Array {
  const t = new Uint8Array(128);
  if (alnum) {
    for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
    for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
    for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  }
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
const TOKEN = table("-.!%*_+`'~", true);
/** unreserved = alphanum / mark; mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")" */
const MARK = "-_.!~*'()";
/** user = 1*( unreserved / escaped / user-unreserved ); '#' tolerated (phones send it unescaped). */
const USER_IN = table(MARK + '&=+$,;?/#%', true);
const USER_OUT = table(MARK + '&=+$,;?/', true);
/** password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," ) */
const PASSWORD_IN = table(MARK + '&=+$,%', true);
const PASSWORD_OUT = table(MARK + '&=+$,', true);
/**
 * uri-parameter chars, tolerated more widely than paramchar (peers put '=' and '#' in values):
 * printable ASCII but ;?<>"@, (a name never holds '=': it ends at the first one).
 */
const URI_PARAM = (() => {
  const t = new Uint8Array(128);
  for (let c = 0x21; c < 0x7f; c++) t[c] = 1;
  for (const ch of ';?<>"@,') t[ch.charCodeAt(0)] = 0;
  return t;
})();
/** URI header chars (hname / hvalue), tolerated likewise: printable ASCII but &<>"; and '@'. */
const URI_HEADER = (() => {
  const t = new Uint8Array(128);
  for (let c = 0x21; c < 0x7f; c++) t[c] = 1;
  for (const ch of '&<>";@') t[ch.charCodeAt(0)] = 0;
  return t;
})();
/** Unquoted gen-value (token / host) tolerated widely: anything visible but ;,"<> and LWS. */
const GEN_VALUE_STOP = new Set([';', ',', '"', '<', '>', ' ', '\t']);

function isWsp(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Whether every char is in the table (ASCII only); `escapes` checks %HH. */
function allIn(s: string, t: Uint8Array, escapes: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || t[c] !== 1) return false;
    if (escapes && c === 0x25 && !(isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2)))) return false;
  }
  return true;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** Whether `s` is a non-empty token (RFC 3261 §25.1). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] !== 1) return false;
  }
  return true;
}

/** Trims SP and HTAB only: String.prototype.trim would also eat U+FEFF and U+00A0 inside values. */
export function trimLws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWsp(s.charCodeAt(a))) a++;
  while (b > a && isWsp(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function skipLws(s: string, i: number): number {
  while (i < s.length && isWsp(s.charCodeAt(i))) i++;
  return i;
}

function readToken(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] !== 1) break;
    i++;
  }
  return i;
}

/**
 * Reads a quoted-string starting at s[start] === '"'. Returns the unescaped text and the index
 * after the closing quote, or null when unterminated or holding CR/LF (§25.1: neither qdtext
 * nor quoted-pair allows them; a parsed header value never holds one).
 */
function readQuoted(s: string, start: number): { value: string; end: number } | null {
  let out = '';
  for (let i = start + 1; i < s.length; i++) {
    const ch = s[i] as string;
    if (ch === '\r' || ch === '\n') return null;
    if (ch === '\\') {
      if (i + 1 >= s.length || s[i + 1] === '\r' || s[i + 1] === '\n') return null;
      out += s[++i];
    } else if (ch === '"') {
      return { value: out, end: i + 1 };
    } else {
      out += ch;
    }
  }
  return null;
}

/** Writes a quoted-string: '"' and '\' and control characters become quoted-pairs; CR/LF (not representable) become SP. */
export function quoteString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    const c = s.charCodeAt(i);
    if (c === 0x0d || c === 0x0a) out += ' ';
    else if (ch === '"' || ch === '\\' || (c < 0x20 && c !== 0x09) || c === 0x7f) out += '\\' + ch;
    else out += ch;
  }
  return out + '"';
}

// ---------------------------------------------------------------------------------------------
// Percent escapes

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** %HH decoding into UTF-8 text; null when the bytes are not UTF-8 (SIP text is UTF-8, §7.3.1). */
function percentDecode(s: string): string | null {
  if (!s.includes('%')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(c); // ASCII only: callers validated the characters first
    }
  }
  try {
    return UTF8.decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
}

function percentEncode(s: string, safe: Uint8Array): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 128 && safe[c] === 1) {
      out += s[i];
      continue;
    }
    const cp = s.codePointAt(i) as number;
    if (cp > 0xffff) i++;
    for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Hosts and ports

function isIPv4(s: string): boolean {
  const parts = s.split('.');
  if (parts.length !== 4) return false;
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > 255) return false;
  }
  return true;
}

/** hostname = *( domainlabel "." ) toplabel [ "." ]; '_' tolerated in labels; toplabel starts with a letter. */
function isHostname(s: string): boolean {
  if (s.length === 0 || s.length > 255) return false;
  const labels = (s.endsWith('.') ? s.slice(0, -1) : s).split('.');
  for (const label of labels) {
    if (!/^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$/.test(label)) return false;
  }
  const top = labels[labels.length - 1] as string;
  return /^[A-Za-z]/.test(top);
}

/** host = hostname / IPv4address / IPv6reference ("[" IPv6address "]"). */
export function isValidHost(s: string): boolean {
  if (s.startsWith('[')) return s.endsWith(']') && isIPv6(s.slice(1, -1));
  return isIPv4(s) || isHostname(s);
}

/** port in 1..65535 from 1*DIGIT (leading zeros allowed), or null. */
function parsePort(s: string): number | null {
  if (!/^[0-9]{1,10}$/.test(s)) return null;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : null;
}

function parseHostPort(s: string): { host: string; port?: number } | null {
  let host: string;
  let rest: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close === -1) return null;
    host = s.slice(0, close + 1);
    rest = s.slice(close + 1);
  } else {
    const colon = s.indexOf(':');
    host = colon === -1 ? s : s.slice(0, colon);
    rest = colon === -1 ? '' : s.slice(colon);
  }
  if (!isValidHost(host)) return null;
  if (rest === '') return { host };
  if (rest[0] !== ':') return null;
  const port = parsePort(rest.slice(1));
  return port === null ? null : { host, port };
}

// ---------------------------------------------------------------------------------------------
// URIs (RFC 3261 §19.1, RFC 3966 for tel)

/**
 * Parses a sip:, sips: or tel: URI. The user part and password are percent-decoded; parameter
 * names are lower-cased and values kept as written; URI headers are kept raw.
 */
export function parseUri(input: string): SipUri | null {
  const s = trimLws(input);
  const colon = s.indexOf(':');
  if (colon <= 0) return null;
  const scheme = s.slice(0, colon).toLowerCase();
  const rest = s.slice(colon + 1);
  if (scheme === 'sip' || scheme === 'sips') return parseSipUri(scheme, rest);
  if (scheme === 'tel') return parseTelUri(rest);
  return null;
}

function parseSipUri(scheme: 'sip' | 'sips', rest: string): SipUri | null {
  let user = '';
  let password: string | undefined;
  let hostPart = rest;
  // userinfo ends at the first '@': neither user nor password may hold one unescaped.
  const at = rest.indexOf('@');
  if (at !== -1) {
    const userinfo = rest.slice(0, at);
    hostPart = rest.slice(at + 1);
    const pc = userinfo.indexOf(':');
    const rawUser = pc === -1 ? userinfo : userinfo.slice(0, pc);
    if (rawUser.length === 0 || !allIn(rawUser, USER_IN, true)) return null;
    const decoded = percentDecode(rawUser);
    if (decoded === null) return null;
    user = decoded;
    if (pc !== -1) {
      const rawPw = userinfo.slice(pc + 1);
      if (!allIn(rawPw, PASSWORD_IN, true)) return null;
      const pw = percentDecode(rawPw);
      if (pw === null) return null;
      password = pw;
    }
  }
  let end = hostPart.length;
  for (let i = 0; i < hostPart.length; i++) {
    const ch = hostPart[i];
    if (ch === ';' || ch === '?') {
      end = i;
      break;
    }
  }
  const hp = parseHostPort(hostPart.slice(0, end));
  if (hp === null) return null;
  const params = new Map<string, string | null>();
  const headers = new Map<string, string>();
  const tail = hostPart.slice(end);
  if (!parseUriTail(tail, params, headers, true)) return null;
  const uri: SipUri = { scheme, user, host: hp.host, params, headers };
  if (password !== undefined) uri.password = password;
  if (hp.port !== undefined) uri.port = hp.port;
  return uri;
}

/** ";name[=value]..." then "?h=v&h=v"; duplicate names keep the first (§19.1.1 forbids them). */
function parseUriTail(
  tail: string,
  params: Map<string, string | null>,
  headers: Map<string, string>,
  allowHeaders: boolean,
): boolean {
  const q = tail.indexOf('?');
  const paramText = q === -1 ? tail : tail.slice(0, q);
  if (paramText !== '') {
    // paramText starts with ';'
    for (const part of paramText.slice(1).split(';')) {
      const eq = part.indexOf('=');
      const name = eq === -1 ? part : part.slice(0, eq);
      const value = eq === -1 ? null : part.slice(eq + 1);
      if (name === '' || !allIn(name, URI_PARAM, false)) return false;
      if (value !== null && !allIn(value, URI_PARAM, false)) return false;
      const key = name.toLowerCase();
      if (!params.has(key)) params.set(key, value);
    }
  }
  if (q === -1) return true;
  if (!allowHeaders) return false;
  for (const part of tail.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? '' : part.slice(eq + 1);
    if (name === '' || !allIn(name, URI_HEADER, false)) return false;
    if (!allIn(value, URI_HEADER, false)) return false;
    if (!headers.has(name)) headers.set(name, value);
  }
  return true;
}

/** RFC 3966 telephone-subscriber: the number goes to `user`, `host` is ''. */
function parseTelUri(rest: string): SipUri | null {
  const semi = rest.indexOf(';');
  const number = semi === -1 ? rest : rest.slice(0, semi);
  if (!/^\+?[0-9A-Fa-f*#().-]*[0-9A-Fa-f*#][0-9A-Fa-f*#().-]*$/.test(number)) return null;
  const params = new Map<string, string | null>();
  const headers = new Map<string, string>();
  if (!parseUriTail(semi === -1 ? '' : rest.slice(semi), params, headers, false)) return null;
  return { scheme: 'tel', user: number, host: '', params, headers };
}

function formatParamList(params: Map<string, string | null>): string {
  let s = '';
  for (const [k, v] of params) s += v === null ? `;${k}` : `;${k}=${v}`;
  return s;
}

/** Writes a URI; the user part and password are escaped where §25.1 requires it. */
export function formatUri(u: SipUri): string {
  if (u.scheme === 'tel') return `tel:${u.user}${formatParamList(u.params)}`;
  let s = `${u.scheme}:`;
  if (u.user !== '') {
    s += percentEncode(u.user, USER_OUT);
    if (u.password !== undefined) s += ':' + percentEncode(u.password, PASSWORD_OUT);
    s += '@';
  }
  s += u.host;
  if (u.port !== undefined) s += `:${u.port}`;
  s += formatParamList(u.params);
  if (u.headers.size > 0) {
    const parts: string[] = [];
    for (const [k, v] of u.headers) parts.push(`${k}=${v}`);
    s += '?' + parts.join('&');
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Generic parameters (§25.1 generic-param, with LWS around ";" and "=" as SEMI and EQUAL allow)

/**
 * Parses `;name[=value]` pairs (the leading ';' is optional). Names are lower-cased; values are
 * kept as written, a quoted-string with its quotes; a flag has value null. Null on bad syntax.
 */
export function parseParams(input: string): Map<string, string | null> | null {
  const s = input;
  const params = new Map<string, string | null>();
  let i = skipLws(s, 0);
  let first = true;
  while (i < s.length) {
    if (s[i] === ';') i = skipLws(s, i + 1);
    else if (!first) return null;
    first = false;
    const nameEnd = readToken(s, i);
    if (nameEnd === i) return null;
    const name = s.slice(i, nameEnd).toLowerCase();
    i = skipLws(s, nameEnd);
    let value: string | null = null;
    if (s[i] === '=') {
      i = skipLws(s, i + 1);
      if (s[i] === '"') {
        const q = readQuoted(s, i);
        if (q === null) return null;
        value = s.slice(i, q.end);
        i = q.end;
      } else {
        const start = i;
        while (i < s.length && !GEN_VALUE_STOP.has(s[i] as string) && s.charCodeAt(i) >= 0x21 && s.charCodeAt(i) !== 0x7f) i++;
        value = s.slice(start, i);
      }
      i = skipLws(s, i);
    }
    if (i < s.length && s[i] !== ';') return null;
    if (!params.has(name)) params.set(name, value);
  }
  return params;
}

// ---------------------------------------------------------------------------------------------
// name-addr / addr-spec (§20.10, §25.1)

/** A display name without quotes: tokens separated by LWS (§25.1); UTF-8 tolerated as peers send it. */
function isTokenDisplayName(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || isWsp(c)) continue;
    if (TOKEN[c] !== 1) return false;
  }
  return true;
}

/**
 * Parses a From/To/Contact/Route value. Without angle brackets, parameters after the URI are
 * header parameters (§20.10). "*" (Contact wildcard) and non-SIP URIs give null.
 */
export function parseNameAddr(input: string): NameAddr | null {
  const s = trimLws(input);
  if (s === '') return null;
  let displayName: string | undefined;
  let lt: number;
  if (s[0] === '"') {
    const q = readQuoted(s, 0);
    if (q === null) return null;
    displayName = q.value;
    lt = skipLws(s, q.end);
    if (s[lt] !== '<') return null;
  } else {
    lt = s.indexOf('<');
    if (lt === -1) {
      const semi = s.indexOf(';');
      const uri = parseUri(semi === -1 ? s : s.slice(0, semi));
      if (uri === null) return null;
      const params = semi === -1 ? new Map<string, string | null>() : parseParams(s.slice(semi));
      return params === null ? null : { uri, params };
    }
    const dn = trimLws(s.slice(0, lt));
    if (dn !== '') {
      if (!isTokenDisplayName(dn)) return null;
      displayName = dn;
    }
  }
  const gt = s.indexOf('>', lt + 1);
  if (gt === -1) return null;
  const uri = parseUri(s.slice(lt + 1, gt));
  if (uri === null) return null;
  const tail = trimLws(s.slice(gt + 1));
  let params: Map<string, string | null> | null = new Map();
  if (tail !== '') params = tail[0] === ';' ? parseParams(tail) : null;
  if (params === null) return null;
  const na: NameAddr = { uri, params };
  if (displayName !== undefined) na.displayName = displayName;
  return na;
}

/** Always writes the name-addr form (`"name" <uri>;params`), which is safe for any URI (§20.10). */
export function formatNameAddr(n: NameAddr): string {
  const name = n.displayName !== undefined ? quoteString(n.displayName) + ' ' : '';
  return `${name}<${formatUri(n.uri)}>${formatParamList(n.params)}`;
}

// ---------------------------------------------------------------------------------------------
// Via (§20.42, RFC 3581 rport, RFC 5118 IPv6)

/**
 * Parses one Via value: `SIP/2.0/UDP host[:port];params`, with LWS allowed around "/" and ":"
 * (SLASH and COLON of §25.1). Null on a bad protocol, host, port, branch, received or rport.
 */
export function parseVia(input: string): Via | null {
  const s = input;
  let i = skipLws(s, 0);
  const parts: string[] = [];
  for (let k = 0; k < 3; k++) {
    if (k > 0) {
      if (s[i] !== '/') return null;
      i = skipLws(s, i + 1);
    }
    const end = readToken(s, i);
    if (end === i) return null;
    parts.push(s.slice(i, end));
    i = skipLws(s, end);
  }
  if ((parts[0] as string).toUpperCase() !== 'SIP' || parts[1] !== '2.0') return null;
  const transport = (parts[2] as string).toUpperCase();
  // sent-by = host [ COLON port ]
  let hostEnd = i;
  if (s[i] === '[') {
    hostEnd = s.indexOf(']', i);
    if (hostEnd === -1) return null;
    hostEnd++;
  } else {
    while (hostEnd < s.length && /[A-Za-z0-9._-]/.test(s[hostEnd] as string)) hostEnd++;
  }
  const host = s.slice(i, hostEnd);
  if (!isValidHost(host)) return null;
  i = skipLws(s, hostEnd);
  let port: number | undefined;
  if (s[i] === ':') {
    i = skipLws(s, i + 1);
    const start = i;
    while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
    const p = parsePort(s.slice(start, i));
    if (p === null) return null;
    port = p;
    i = skipLws(s, i);
  }
  const rest = s.slice(i);
  if (rest !== '' && rest[0] !== ';') return null;
  const params = parseParams(rest);
  if (params === null) return null;
  const via: Via = { transport, host, params };
  if (port !== undefined) via.port = port;
  if (params.has('branch')) {
    const b = params.get('branch');
    if (b === null || b === undefined || b === '') return null;
    via.branch = b;
  }
  if (params.has('received')) {
    const r = params.get('received');
    if (r === null || r === undefined || r === '') return null;
    via.received = r;
  }
  if (params.has('rport')) {
    const r = params.get('rport');
    if (r === null || r === undefined) via.rport = null;
    else {
      const p = parsePort(r);
      if (p === null) return null;
      via.rport = p;
      params.set('rport', String(p)); // "rport=05060" is 5060: params agree with the field
    }
  }
  return via;
}

/**
 * Writes a Via value. The `branch`, `received` and `rport` fields win over the same names in
 * `params` (a field left undefined removes the parameter); other params keep their order.
 */
export function formatVia(v: Via): string {
  let s = `SIP/2.0/${v.transport.toUpperCase()} ${v.host}`;
  if (v.port !== undefined) s += `:${v.port}`;
  const field = (name: string): string => {
    if (name === 'branch') return v.branch === undefined ? '' : `;branch=${v.branch}`;
    if (name === 'received') return v.received === undefined ? '' : `;received=${v.received}`;
    if (v.rport === undefined) return '';
    return v.rport === null ? ';rport' : `;rport=${v.rport}`;
  };
  const done = new Set<string>();
  for (const [k, val] of v.params) {
    if (k === 'branch' || k === 'received' || k === 'rport') {
      s += field(k);
      done.add(k);
    } else {
      s += val === null ? `;${k}` : `;${k}=${val}`;
    }
  }
  for (const k of ['branch', 'received', 'rport']) if (!done.has(k)) s += field(k);
  return s;
}

// ---------------------------------------------------------------------------------------------
// CSeq (§20.16)

const MAX_CSEQ = 0x7fffffff; // §8.1.1.5: the sequence number MUST be less than 2**31

/** `1*DIGIT LWS Method`; the number must be below 2**31 (§8.1.1.5). */
export function parseCSeq(input: string): CSeq | null {
  const m = /^[ \t]*([0-9]{1,10})[ \t]+([A-Za-z0-9.!%*_+`'~-]+)[ \t]*$/.exec(input);
  if (m === null) return null;
  const seq = Number(m[1]);
  if (seq > MAX_CSEQ) return null;
  return { seq, method: m[2] as string };
}

// ---------------------------------------------------------------------------------------------
// Auth parameters (§25.1 challenge/credentials; RFC 7235 §2.1 auth-param)

/**
 * Parses `scheme name=value, name="quoted", ...` (WWW-Authenticate, Proxy-Authenticate,
 * Authorization, Proxy-Authorization). Names are lower-cased, quoted values unescaped. A
 * repeated parameter gives null (RFC 7235 §2.1: each name occurs once; an ambiguous
 * credential must not be guessed at).
 */
export function parseAuthParams(input: string): { scheme: string; params: Map<string, string> } | null {
  const s = input;
  let i = skipLws(s, 0);
  const schemeEnd = readToken(s, i);
  if (schemeEnd === i) return null;
  const scheme = s.slice(i, schemeEnd);
  const params = new Map<string, string>();
  i = skipLws(s, schemeEnd);
  if (i === s.length) return { scheme, params };
  if (i === schemeEnd) return null; // scheme and parameters must be separated by LWS
  for (;;) {
    while (i < s.length && (s[i] === ',' || isWsp(s.charCodeAt(i)))) i++; // empty list elements are allowed
    if (i >= s.length) break;
    const nameEnd = readToken(s, i);
    if (nameEnd === i) return null;
    const name = s.slice(i, nameEnd).toLowerCase();
    i = skipLws(s, nameEnd);
    if (s[i] !== '=') return null;
    i = skipLws(s, i + 1);
    let value: string;
    if (s[i] === '"') {
      const q = readQuoted(s, i);
      if (q === null) return null;
      value = q.value;
      i = q.end;
    } else {
      // token (or token68-ish) value: visible characters up to ',' or LWS.
      const start = i;
      while (i < s.length && s[i] !== ',' && s[i] !== '"' && !isWsp(s.charCodeAt(i))) {
        const c = s.charCodeAt(i);
        if (c < 0x21 || c === 0x7f) return null;
        i++;
      }
      if (i === start) return null;
      value = s.slice(start, i);
    }
    if (params.has(name)) return null;
    params.set(name, value);
    i = skipLws(s, i);
    if (i < s.length && s[i] !== ',') return null;
  }
  return { scheme, params };
}

/**
 * Writes `scheme name=value, name="value"`. Values of names in `quoted` (any case) are quoted,
 * and so is any value that is not a token, so the result always parses back.
 */
export function formatAuthHeader(
  scheme: string,
  params: Map<string, string> | Iterable<readonly [string, string]>,
  quoted: Set<string>,
): string {
  const parts: string[] = [];
  const quotedLower = new Set([...quoted].map((n) => n.toLowerCase()));
  for (const [k, v] of params) {
    const q = quotedLower.has(k.toLowerCase()) || !isToken(v);
    parts.push(`${k}=${q ? quoteString(v) : v}`);
  }
  return parts.length === 0 ? scheme : `${scheme} ${parts.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// Identifiers

/** The RFC 3261 §8.1.1.7 magic cookie that marks a branch as globally unique. */
export const BRANCH_MAGIC_COOKIE = 'z9hG4bK';

/** A From/To tag with 64 random bits (§19.3 asks for at least 32), base64url so it is a token. */
/**
 * Random bytes for tags, branches and Call-IDs, drawn from a pool filled 4 KiB at a time by the
 * CSPRNG: a call takes about ten of them, and a randomBytes() each (a Buffer and a trip into
 * OpenSSL) was 0.1 ms of a call's set-up on a loaded event loop (bench:load --cpu-prof).
 */
const RANDOM_POOL = Buffer.alloc(4096);
let randomUsed = RANDOM_POOL.length;

/** `bytes` fresh random bytes as base64url (bytes <= 64). */
function randomToken(bytes: number): string {
  if (randomUsed + bytes > RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    randomUsed = 0;
  }
  const start = randomUsed;
  randomUsed += bytes;
  return RANDOM_POOL.toString('base64url', start, randomUsed);
}

export function generateTag(): string {
  return randomToken(8);
}

/** A branch: the magic cookie then 96 random bits (§8.1.1.7: unique across space and time). */
export function generateBranch(): string {
  return BRANCH_MAGIC_COOKIE + randomToken(12);
}

/** A Call-ID: 120 random bits, `@host` when a host is given (§8.1.1.4). */
export function generateCallId(host?: string): string {
  const id = randomToken(15);
  return host === undefined || host === '' ? id : `${id}@${host}`;
}
