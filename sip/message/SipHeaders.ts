/**
 * Ordered, case-insensitive multimap of SIP header fields (RFC 3261 §7.3).
 *
 * Names are stored in canonical form: compact forms are expanded (RFC 3261 §7.3.3 and the IANA
 * "Header Fields" registry), well-known names get their registered capitalisation, unknown names
 * keep the case they arrived with. Lookups compare names case-insensitively (§7.3.1).
 */
import type { SipHeaderList } from './types.js';

/** Compact forms: RFC 3261 §7.3.3, RFC 3265 (o, u), RFC 3515 (r), RFC 3892 (b), RFC 4028 (x), RFC 3841 (a, j, d), RFC 4474 (y, n). */
const COMPACT = new Map<string, string>([
  ['i', 'Call-ID'],
  ['m', 'Contact'],
  ['e', 'Content-Encoding'],
  ['l', 'Content-Length'],
  ['c', 'Content-Type'],
  ['f', 'From'],
  ['s', 'Subject'],
  ['k', 'Supported'],
  ['t', 'To'],
  ['v', 'Via'],
  ['o', 'Event'],
  ['u', 'Allow-Events'],
  ['r', 'Refer-To'],
  ['b', 'Referred-By'],
  ['x', 'Session-Expires'],
  ['a', 'Accept-Contact'],
  ['j', 'Reject-Contact'],
  ['d', 'Request-Disposition'],
  ['y', 'Identity'],
  ['n', 'Identity-Info'],
]);

/** Registered spellings (RFC 3261 §20 and later RFCs); the key is the lower-case name. */
const WELL_KNOWN = new Map<string, string>(
  [
    'Accept',
    'Accept-Contact',
    'Accept-Encoding',
    'Accept-Language',
    'Accept-Resource-Priority',
    'Alert-Info',
    'Allow',
    'Allow-Events',
    'Authentication-Info',
    'Authorization',
    'Call-ID',
    'Call-Info',
    'Contact',
    'Content-Disposition',
    'Content-Encoding',
    'Content-Language',
    'Content-Length',
    'Content-Type',
    'CSeq',
    'Date',
    'Diversion',
    'Error-Info',
    'Event',
    'Expires',
    'From',
    'History-Info',
    'Identity',
    'Identity-Info',
    'In-Reply-To',
    'Join',
    'Max-Forwards',
    'MIME-Version',
    'Min-Expires',
    'Min-SE',
    'Organization',
    'P-Access-Network-Info',
    'P-Asserted-Identity',
    'P-Associated-URI',
    'P-Called-Party-ID',
    'P-Charging-Function-Addresses',
    'P-Charging-Vector',
    'P-Early-Media',
    'P-Preferred-Identity',
    'P-Visited-Network-ID',
    'Path',
    'Priority',
    'Privacy',
    'Proxy-Authenticate',
    'Proxy-Authorization',
    'Proxy-Require',
    'RAck',
    'Reason',
    'Record-Route',
    'Refer-Sub',
    'Refer-To',
    'Referred-By',
    'Reject-Contact',
    'Remote-Party-ID',
    'Replaces',
    'Reply-To',
    'Request-Disposition',
    'Require',
    'Resource-Priority',
    'Retry-After',
    'Route',
    'RSeq',
    'Security-Client',
    'Security-Server',
    'Security-Verify',
    'Server',
    'Service-Route',
    'Session-Expires',
    'SIP-ETag',
    'SIP-If-Match',
    'Subject',
    'Subscription-State',
    'Supported',
    'Target-Dialog',
    'Timestamp',
    'To',
    'Unsupported',
    'User-Agent',
    'Via',
    'Warning',
    'WWW-Authenticate',
  ].map((name) => [name.toLowerCase(), name]),
);

export class SipHeaders implements SipHeaderList {
  /** Canonical names, lower-cased keys and values, index-aligned; a few dozen entries, so linear scans. */
  readonly #names: string[] = [];
  readonly #keys: string[] = [];
  readonly #values: string[] = [];

  constructor(entries?: Iterable<readonly [string, string]>) {
    if (entries !== undefined) for (const [name, value] of entries) this.append(name, value);
  }

  /** The canonical spelling of a header name: compact forms expanded, registered names re-cased. */
  static canonicalName(name: string): string {
    const lower = name.toLowerCase();
    if (lower.length === 1) {
      const long = COMPACT.get(lower);
      if (long !== undefined) return long;
    }
    return WELL_KNOWN.get(lower) ?? name;
  }

  /** Number of values (not distinct names). */
  get size(): number {
    return this.#values.length;
  }

  get(name: string): string | undefined {
    const i = this.#keys.indexOf(keyOf(name));
    return i === -1 ? undefined : this.#values[i];
  }

  getAll(name: string): string[] {
    const key = keyOf(name);
    const out: string[] = [];
    for (let i = 0; i < this.#keys.length; i++) if (this.#keys[i] === key) out.push(this.#values[i] as string);
    return out;
  }

  has(name: string): boolean {
    return this.#keys.includes(keyOf(name));
  }

  /** Replaces every value; the new values take the place of the first old one (or go last). */
  set(name: string, value: string | string[]): void {
    const canonical = SipHeaders.canonicalName(name);
    const key = canonical.toLowerCase();
    const values = typeof value === 'string' ? [value] : value;
    let at = this.#keys.indexOf(key);
    if (at === -1) at = this.#keys.length;
    this.#remove(key);
    this.#names.splice(at, 0, ...values.map(() => canonical));
    this.#keys.splice(at, 0, ...values.map(() => key));
    this.#values.splice(at, 0, ...values);
  }

  append(name: string, value: string): void {
    const canonical = SipHeaders.canonicalName(name);
    this.#names.push(canonical);
    this.#keys.push(canonical.toLowerCase());
    this.#values.push(value);
  }

  /** Inserts before the first value of the same header (or at the top when it has none). */
  prepend(name: string, value: string): void {
    const canonical = SipHeaders.canonicalName(name);
    const key = canonical.toLowerCase();
    let at = this.#keys.indexOf(key);
    if (at === -1) at = 0;
    this.#names.splice(at, 0, canonical);
    this.#keys.splice(at, 0, key);
    this.#values.splice(at, 0, value);
  }

  delete(name: string): void {
    this.#remove(keyOf(name));
  }

  entries(): [string, string][] {
    const out: [string, string][] = [];
    for (let i = 0; i < this.#names.length; i++) out.push([this.#names[i] as string, this.#values[i] as string]);
    return out;
  }

  clone(): SipHeaders {
    const copy = new SipHeaders();
    copy.#names.push(...this.#names);
    copy.#keys.push(...this.#keys);
    copy.#values.push(...this.#values);
    return copy;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries()[Symbol.iterator]();
  }

  #remove(key: string): void {
    for (let i = this.#keys.length - 1; i >= 0; i--) {
      if (this.#keys[i] !== key) continue;
      this.#names.splice(i, 1);
      this.#keys.splice(i, 1);
      this.#values.splice(i, 1);
    }
  }
}

function keyOf(name: string): string {
  return SipHeaders.canonicalName(name).toLowerCase();
}
