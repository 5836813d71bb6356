/**
 * Writing SIP messages (RFC 3261 §7) and building requests and responses (§8.1.1, §8.2.6).
 *
 * The serializer writes one header line per value, in order, with canonical names, and always
 * sets Content-Length to the body's byte length (§20.14: the UA computes it; a stale value from
 * a copied message would desynchronise a stream, §18.3).
 */
import { InvalidArgumentError, OutOfRangeError } from '../../common/index.js';
import { isToken, parseParams, trimLws } from './headerValues.js';
import { SipHeaders } from './SipHeaders.js';
import type { SipMessage, SipRequest, SipResponse } from './types.js';

/** Reason phrases of RFC 3261 §21 and the extensions a gateway meets. */
const REASONS = new Map<number, string>([
  [100, 'Trying'],
  [180, 'Ringing'],
  [181, 'Call Is Being Forwarded'],
  [182, 'Queued'],
  [183, 'Session Progress'],
  [199, 'Early Dialog Terminated'],
  [200, 'OK'],
  [202, 'Accepted'],
  [204, 'No Notification'],
  [300, 'Multiple Choices'],
  [301, 'Moved Permanently'],
  [302, 'Moved Temporarily'],
  [305, 'Use Proxy'],
  [380, 'Alternative Service'],
  [400, 'Bad Request'],
  [401, 'Unauthorized'],
  [402, 'Payment Required'],
  [403, 'Forbidden'],
  [404, 'Not Found'],
  [405, 'Method Not Allowed'],
  [406, 'Not Acceptable'],
  [407, 'Proxy Authentication Required'],
  [408, 'Request Timeout'],
  [410, 'Gone'],
  [412, 'Conditional Request Failed'],
  [413, 'Request Entity Too Large'],
  [414, 'Request-URI Too Long'],
  [415, 'Unsupported Media Type'],
  [416, 'Unsupported URI Scheme'],
  [417, 'Unknown Resource-Priority'],
  [420, 'Bad Extension'],
  [421, 'Extension Required'],
  [422, 'Session Interval Too Small'],
  [423, 'Interval Too Brief'],
  [428, 'Use Identity Header'],
  [429, 'Provide Referrer Identity'],
  [433, 'Anonymity Disallowed'],
  [436, 'Bad Identity-Info'],
  [437, 'Unsupported Certificate'],
  [438, 'Invalid Identity Header'],
  [439, 'First Hop Lacks Outbound Support'],
  [440, 'Max-Breadth Exceeded'],
  [469, 'Bad Info Package'],
  [470, 'Consent Needed'],
  [480, 'Temporarily Unavailable'],
  [481, 'Call/Transaction Does Not Exist'],
  [482, 'Loop Detected'],
  [483, 'Too Many Hops'],
  [484, 'Address Incomplete'],
  [485, 'Ambiguous'],
  [486, 'Busy Here'],
  [487, 'Request Terminated'],
  [488, 'Not Acceptable Here'],
  [489, 'Bad Event'],
  [491, 'Request Pending'],
  [493, 'Undecipherable'],
  [494, 'Security Agreement Required'],
  [500, 'Server Internal Error'],
  [501, 'Not Implemented'],
  [502, 'Bad Gateway'],
  [503, 'Service Unavailable'],
  [504, 'Server Time-out'],
  [505, 'Version Not Supported'],
  [513, 'Message Too Large'],
  [555, 'Push Notification Service Not Supported'],
  [580, 'Precondition Failure'],
  [600, 'Busy Everywhere'],
  [603, 'Decline'],
  [604, 'Does Not Exist Anywhere'],
  [606, 'Not Acceptable'],
  [607, 'Unwanted'],
  [608, 'Rejected'],
]);

const CLASS_REASONS = ['Provisional', 'Success', 'Redirection', 'Client Error', 'Server Error', 'Global Failure'];

/** The usual reason phrase for a status code; a generic one per class for unlisted codes. */
export function reasonPhrase(status: number): string {
  return REASONS.get(status) ?? CLASS_REASONS[Math.floor(status / 100) - 1] ?? 'Unknown';
}

// ---------------------------------------------------------------------------------------------
// Serializer

/** A value may hold NUL inside a quoted-pair (RFC 4475 intmeth) but never a line break. */
const LINE_BREAK = /[\r\n]/;
const REQUEST_URI = /^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+$/;

/**
 * Writes a message. Throws InvalidArgumentError when the message could not be read back the
 * same way (a CR or LF in a value or reason, a method or header name that is not a token,
 * a Request-URI with spaces): those come from our own code, never from the parser.
 */
export function serializeMessage(msg: SipMessage): Buffer {
  let head: string;
  if (msg.kind === 'request') {
    if (!isToken(msg.method)) throw new InvalidArgumentError(`method "${msg.method}" is not a token`);
    if (!REQUEST_URI.test(msg.uri)) throw new InvalidArgumentError(`Request-URI "${msg.uri}" is not an absolute URI`);
    head = `${msg.method} ${msg.uri} SIP/2.0\r\n`;
  } else {
    if (!Number.isInteger(msg.status) || msg.status < 100 || msg.status > 699) throw new OutOfRangeError(`status ${msg.status} is not in 100..699`);
    if (LINE_BREAK.test(msg.reason)) throw new InvalidArgumentError('reason phrase holds CR or LF');
    head = `SIP/2.0 ${msg.status} ${msg.reason}\r\n`;
  }
  const length = `Content-Length: ${msg.body.length}\r\n`;
  let lengthWritten = false;
  for (const [name, value] of msg.headers.entries()) {
    if (name === 'Content-Length') {
      // Written where the first one stood, with the real length; the others are dropped.
      if (!lengthWritten) head += length;
      lengthWritten = true;
      continue;
    }
    if (!isToken(name)) throw new InvalidArgumentError(`header name "${name}" is not a token`);
    if (LINE_BREAK.test(value)) throw new InvalidArgumentError(`${name} value holds CR or LF`);
    head += `${name}: ${value}\r\n`;
  }
  if (!lengthWritten) head += length;
  head += '\r\n';
  const headLength = Buffer.byteLength(head, 'utf8');
  const out = Buffer.allocUnsafe(headLength + msg.body.length);
  out.write(head, 0, 'utf8');
  out.set(msg.body, headLength);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Builders

function toBody(body: Buffer | Uint8Array | string | undefined): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/**
 * A request from parts. Header names are canonicalised; Max-Forwards: 70 is added when the
 * caller gave none (§8.1.1.6: a UAC MUST insert it, 70 SHOULD be used). Via, From, To,
 * Call-ID and CSeq are the caller's (the transaction and dialog layers own them).
 */
export function createRequest(
  method: string,
  uri: string,
  headers: readonly (readonly [string, string])[] = [],
  body?: Buffer | Uint8Array | string,
): SipRequest {
  if (!isToken(method)) throw new InvalidArgumentError(`method "${method}" is not a token`);
  if (!REQUEST_URI.test(uri)) throw new InvalidArgumentError(`Request-URI "${uri}" is not an absolute URI`);
  const h = new SipHeaders(headers);
  if (!h.has('Max-Forwards')) h.append('Max-Forwards', '70');
  return { kind: 'request', method, uri, headers: h, body: toBody(body) };
}

export interface CreateResponseOptions {
  /**
   * Tag to add to To when the request's To has none (§8.2.6.2: a UAS adds one to every
   * response but 100; one dialog keeps one tag). Undefined: To is copied unchanged.
   */
  toTag?: string | undefined;
  /** Copy Record-Route into 101..299 responses (§12.1.1: dialog-creating requests only; the caller knows). */
  copyRecordRoute?: boolean;
  /** Headers appended after the copied ones. */
  headers?: readonly (readonly [string, string])[];
  body?: Buffer | Uint8Array | string;
}

/**
 * A response to `request` (§8.2.6.2): Via (all, in order), From, To, Call-ID and CSeq are
 * copied; a 100 also copies Timestamp (§8.2.6.1). The fourth argument is either options or,
 * for short calls, the extra headers alone. Headers missing from the request (a partial
 * request from the parser) are simply not copied.
 */
export function createResponse(
  request: SipRequest,
  status: number,
  reason?: string,
  extra?: CreateResponseOptions | readonly (readonly [string, string])[],
): SipResponse {
  if (!Number.isInteger(status) || status < 100 || status > 699) throw new OutOfRangeError(`status ${status} is not in 100..699`);
  const options: CreateResponseOptions = extra === undefined ? {} : isHeaderArray(extra) ? { headers: extra } : extra;
  const src = request.headers;
  const h = new SipHeaders();
  for (const v of src.getAll('Via')) h.append('Via', v);
  for (const name of ['From', 'To', 'Call-ID', 'CSeq']) {
    const v = src.get(name);
    if (v === undefined) continue;
    h.append(name, name === 'To' && options.toTag !== undefined ? withTag(v, options.toTag) : v);
  }
  if (status === 100) {
    const ts = src.get('Timestamp');
    if (ts !== undefined) h.append('Timestamp', ts);
  }
  if (options.copyRecordRoute === true && status > 100 && status < 300) {
    for (const v of src.getAll('Record-Route')) h.append('Record-Route', v);
  }
  for (const [n, v] of options.headers ?? []) h.append(n, v);
  return { kind: 'response', status, reason: reason ?? reasonPhrase(status), headers: h, body: toBody(options.body) };
}

function isHeaderArray(x: CreateResponseOptions | readonly (readonly [string, string])[]): x is readonly (readonly [string, string])[] {
  return Array.isArray(x);
}

/** Adds `;tag=` to a To value unless it already has a tag (§8.2.6.2: then To is copied as is). */
function withTag(to: string, tag: string): string {
  if (hasTag(to)) return to;
  return `${trimLws(to)};tag=${tag}`;
}

/** Whether a From/To value carries a tag parameter (after the URI, outside <> and quotes). */
function hasTag(value: string): boolean {
  const gt = value.lastIndexOf('>');
  let tail: string;
  if (gt !== -1) tail = value.slice(gt + 1);
  else {
    const semi = value.indexOf(';');
    tail = semi === -1 ? '' : value.slice(semi);
  }
  const params = parseParams(tail);
  return params !== null && params.has('tag');
}
