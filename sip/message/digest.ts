/**
 * HTTP Digest authentication as SIP uses it (RFC 3261 §22.4, RFC 2617 §3, RFC 7616, RFC 8760):
 * challenges and their verification for the gateway as a server, Authorization values for the
 * gateway as a client of trunks that challenge it, and stateless signed nonces.
 *
 *   HA1      = H(username ":" realm ":" password)          (-sess: H(HA1 ":" nonce ":" cnonce))
 *   HA2      = H(method ":" digest-uri)                    (auth-int: ... ":" H(body))
 *   response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)   (no qop: H(HA1 ":" nonce ":" HA2))
 *
 * Parsing never throws on network input: bad challenges and credentials give null, and
 * verification of anything malformed gives false.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError, OutOfRangeError } from '../../common/index.js';
import { formatAuthHeader, parseAuthParams } from './headerValues.js';

/** RFC 7616 §6.1 / RFC 8760 §2 algorithms; "-sess" variants hash the cnonce into HA1. */
export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess' | 'SHA-512-256' | 'SHA-512-256-sess';
export type DigestQop = 'auth' | 'auth-int';

const ALGORITHMS: readonly DigestAlgorithm[] = ['MD5', 'MD5-sess', 'SHA-256', 'SHA-256-sess', 'SHA-512-256', 'SHA-512-256-sess'];

/** Node hash names; SHA-512-256 is OpenSSL's truncated SHA-512/256 (FIPS 180-4), as RFC 7616 means. */
function nodeHash(algorithm: DigestAlgorithm): string {
  if (algorithm.startsWith('MD5')) return 'md5';
  if (algorithm.startsWith('SHA-256')) return 'sha256';
  return 'sha512-256';
}

function isSess(algorithm: DigestAlgorithm): boolean {
  return algorithm.endsWith('-sess');
}

/** Hex digest length of an algorithm (32 for MD5, 64 for the SHA-2 ones). */
function hexLength(algorithm: DigestAlgorithm): number {
  return algorithm.startsWith('MD5') ? 32 : 64;
}

/** Case-insensitive lookup of an algorithm name (RFC 7616 §3.3 token). */
export function parseDigestAlgorithm(name: string): DigestAlgorithm | null {
  const upper = name.toUpperCase();
  return ALGORITHMS.find((a) => a.toUpperCase() === upper) ?? null;
}

function h(algorithm: DigestAlgorithm, data: string | Uint8Array): string {
  return createHash(nodeHash(algorithm)).update(data).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Challenges (WWW-Authenticate / Proxy-Authenticate)

export interface DigestChallenge {
  realm: string;
  nonce: string;
  algorithm: DigestAlgorithm;
  /** Offered qop values ([] when the challenge has none: RFC 2069 style). */
  qop: string[];
  opaque?: string;
  /** The previous nonce was stale but the credentials were right: retry without asking the user (RFC 2617 §3.2.1). */
  stale: boolean;
  domain?: string;
}

export interface ChallengeOptions {
  realm: string;
  /** MD5 when absent (what every SIP phone understands; RFC 8760 adds SHA-256). */
  algorithm?: DigestAlgorithm;
  /** A random nonce when absent; pass NonceManager.issue() for stateless checking. */
  nonce?: string;
  opaque?: string;
  stale?: boolean;
  /** Offered qop values (["auth"]). */
  qop?: DigestQop[];
  domain?: string;
}

/** The value of a WWW-Authenticate (or Proxy-Authenticate) header field. */
export function createChallenge(o: ChallengeOptions): string {
  const params: [string, string][] = [['realm', o.realm]];
  if (o.domain !== undefined) params.push(['domain', o.domain]);
  params.push(['nonce', o.nonce ?? randomBytes(16).toString('base64url')]);
  if (o.opaque !== undefined) params.push(['opaque', o.opaque]);
  if (o.stale === true) params.push(['stale', 'TRUE']);
  params.push(['algorithm', o.algorithm ?? 'MD5']);
  const qop = o.qop ?? ['auth'];
  if (qop.length > 0) params.push(['qop', qop.join(',')]);
  return formatAuthHeader('Digest', params, new Set(['realm', 'domain', 'nonce', 'opaque', 'qop']));
}

/** Parses a Digest challenge; null when it is not Digest, lacks realm or nonce, or names an unknown algorithm. */
export function parseChallenge(value: string): DigestChallenge | null {
  const parsed = parseAuthParams(value);
  if (parsed === null || parsed.scheme.toLowerCase() !== 'digest') return null;
  const p = parsed.params;
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  if (realm === undefined || nonce === undefined) return null;
  const algorithm = parseDigestAlgorithm(p.get('algorithm') ?? 'MD5');
  if (algorithm === null) return null;
  const qopText = p.get('qop');
  const qop = qopText === undefined ? [] : qopText.split(',').map((q) => q.trim().toLowerCase()).filter((q) => q !== '');
  const challenge: DigestChallenge = { realm, nonce, algorithm, qop, stale: (p.get('stale') ?? '').toLowerCase() === 'true' };
  const opaque = p.get('opaque');
  if (opaque !== undefined) challenge.opaque = opaque;
  const domain = p.get('domain');
  if (domain !== undefined) challenge.domain = domain;
  return challenge;
}

// ---------------------------------------------------------------------------------------------
// Credentials (Authorization / Proxy-Authorization)

export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  /** digest-uri as the client hashed it. */
  uri: string;
  /** Lower-case hex. */
  response: string;
  algorithm: DigestAlgorithm;
  qop?: DigestQop;
  /** 8 hex digits, present with qop. */
  nc?: string;
  cnonce?: string;
  opaque?: string;
}

/**
 * Parses Digest credentials; null when a required parameter is missing (username, realm, nonce,
 * uri, response; with qop also cnonce and an 8-hex-digit nc — RFC 2617 §3.2.2), the response
 * is not hex, or the algorithm or qop is unknown.
 */
export function parseCredentials(value: string): DigestCredentials | null {
  const parsed = parseAuthParams(value);
  if (parsed === null || parsed.scheme.toLowerCase() !== 'digest') return null;
  const p = parsed.params;
  const username = p.get('username');
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  const uri = p.get('uri');
  const response = p.get('response');
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) return null;
  if (!/^[0-9a-fA-F]+$/.test(response)) return null;
  const algorithm = parseDigestAlgorithm(p.get('algorithm') ?? 'MD5');
  if (algorithm === null) return null;
  const creds: DigestCredentials = { username, realm, nonce, uri, response: response.toLowerCase(), algorithm };
  const qop = p.get('qop');
  if (qop !== undefined) {
    const q = qop.toLowerCase();
    if (q !== 'auth' && q !== 'auth-int') return null;
    const nc = p.get('nc');
    const cnonce = p.get('cnonce');
    if (nc === undefined || cnonce === undefined || !/^[0-9a-fA-F]{8}$/.test(nc)) return null;
    creds.qop = q;
    creds.nc = nc.toLowerCase();
    creds.cnonce = cnonce;
  } else if (isSess(algorithm)) {
    // -sess hashes the cnonce into HA1, so it needs one even without qop.
    const cnonce = p.get('cnonce');
    if (cnonce === undefined) return null;
    creds.cnonce = cnonce;
  }
  const opaque = p.get('opaque');
  if (opaque !== undefined) creds.opaque = opaque;
  return creds;
}

// ---------------------------------------------------------------------------------------------
// Computing and verifying responses

/** H(username:realm:password): what a server may store instead of the password (RFC 2617 §3.2.2.2). */
export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return h(algorithm, `${username}:${realm}:${password}`);
}

export interface ComputeResponseOptions {
  algorithm: DigestAlgorithm;
  username: string;
  realm: string;
  /** The password, or `ha1` = H(username:realm:password) (not the -sess HA1: that is derived here). */
  password?: string;
  ha1?: string;
  nonce: string;
  method: string;
  /** digest-uri. */
  uri: string;
  qop?: DigestQop;
  /** 8 hex digits, with qop. */
  nc?: string;
  cnonce?: string;
  /** Message body, for qop=auth-int (empty when absent). */
  body?: Uint8Array;
}

/** The request-digest, lower-case hex (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1). */
export function computeResponse(o: ComputeResponseOptions): string {
  let ha1: string;
  if (o.ha1 !== undefined) ha1 = o.ha1.toLowerCase();
  else if (o.password !== undefined) ha1 = computeHa1(o.algorithm, o.username, o.realm, o.password);
  else throw new InvalidArgumentError('computeResponse needs a password or an ha1');
  if (isSess(o.algorithm)) {
    if (o.cnonce === undefined) throw new InvalidArgumentError(`${o.algorithm} needs a cnonce`);
    ha1 = h(o.algorithm, `${ha1}:${o.nonce}:${o.cnonce}`);
  }
  const a2 = o.qop === 'auth-int' ? `${o.method}:${o.uri}:${h(o.algorithm, o.body ?? new Uint8Array(0))}` : `${o.method}:${o.uri}`;
  const ha2 = h(o.algorithm, a2);
  if (o.qop === undefined) return h(o.algorithm, `${ha1}:${o.nonce}:${ha2}`);
  if (o.nc === undefined || o.cnonce === undefined) throw new InvalidArgumentError('qop needs nc and cnonce');
  return h(o.algorithm, `${ha1}:${o.nonce}:${o.nc}:${o.cnonce}:${o.qop}:${ha2}`);
}

export interface VerifyCredentialsOptions {
  credentials: DigestCredentials;
  /** Method of the request that carried the credentials (ACK and CANCEL use the INVITE's: §22.1 leaves that to the caller). */
  method: string;
  /** Our realm: credentials for another realm never verify. */
  realm: string;
  password?: string;
  /** H(username:realm:password) for the credentials' algorithm, instead of the password. */
  ha1?: string;
  /** When given, credentials.uri must equal it (RFC 2617 §3.2.2.5). */
  uri?: string;
  /** When given, the credentials must use this algorithm (no downgrade from the one challenged with). */
  algorithm?: DigestAlgorithm;
  /** Refuse RFC 2069-style credentials without qop (true: our challenges always offer qop=auth). */
  requireQop?: boolean;
  /** Request body, for qop=auth-int. */
  body?: Uint8Array;
}

/**
 * Whether the credentials answer our challenge: right realm, algorithm and qop, and a response
 * equal (constant time) to the one computed from the password. The nonce's freshness is the
 * NonceManager's business (check it separately to send stale=TRUE).
 */
export function verifyCredentials(o: VerifyCredentialsOptions): boolean {
  const c = o.credentials;
  if (o.password === undefined && o.ha1 === undefined) throw new InvalidArgumentError('verifyCredentials needs a password or an ha1');
  if (c.realm !== o.realm) return false;
  if (o.uri !== undefined && c.uri !== o.uri) return false;
  if (o.algorithm !== undefined && c.algorithm !== o.algorithm) return false;
  if (c.qop === undefined && (o.requireQop ?? true)) return false;
  if (o.ha1 !== undefined && o.ha1.length !== hexLength(c.algorithm)) return false;
  if (c.qop !== undefined && (c.nc === undefined || c.cnonce === undefined)) return false;
  if (isSess(c.algorithm) && c.cnonce === undefined) return false;
  const args: ComputeResponseOptions = {
    algorithm: c.algorithm,
    username: c.username,
    realm: c.realm,
    nonce: c.nonce,
    method: o.method,
    uri: c.uri,
  };
  if (o.ha1 !== undefined) args.ha1 = o.ha1;
  else if (o.password !== undefined) args.password = o.password;
  if (c.qop !== undefined) args.qop = c.qop;
  if (c.nc !== undefined) args.nc = c.nc;
  if (c.cnonce !== undefined) args.cnonce = c.cnonce;
  if (o.body !== undefined) args.body = o.body;
  const expected = Buffer.from(computeResponse(args), 'latin1');
  const given = Buffer.from(c.response.toLowerCase(), 'latin1');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

// ---------------------------------------------------------------------------------------------
// Client side

export interface CreateAuthorizationOptions {
  /** The WWW-Authenticate / Proxy-Authenticate value, or a parsed challenge. */
  challenge: string | DigestChallenge;
  method: string;
  /** digest-uri: the Request-URI of the request being authorised (§22.4). */
  uri: string;
  username: string;
  password: string;
  /** Nonce count, 1 for the first use of this nonce (RFC 2617 §3.2.2). */
  nc?: number;
  /** A random cnonce when absent. */
  cnonce?: string;
  /** Request body, if the server asks for qop=auth-int only. */
  body?: Uint8Array;
}

/**
 * The Authorization (or Proxy-Authorization) value answering a challenge; null when the
 * challenge cannot be answered (not Digest, unknown algorithm, only unknown qop values).
 * qop=auth is preferred; auth-int is used when it is the only one offered.
 */
export function createAuthorization(o: CreateAuthorizationOptions): string | null {
  const ch = typeof o.challenge === 'string' ? parseChallenge(o.challenge) : o.challenge;
  if (ch === null) return null;
  let qop: DigestQop | undefined;
  if (ch.qop.length > 0) {
    if (ch.qop.includes('auth')) qop = 'auth';
    else if (ch.qop.includes('auth-int')) qop = 'auth-int';
    else return null;
  }
  const nc = o.nc ?? 1;
  if (!Number.isInteger(nc) || nc < 1 || nc > 0xffffffff) throw new OutOfRangeError(`nc ${nc} is not in 1..2^32-1`);
  const ncHex = nc.toString(16).padStart(8, '0');
  const cnonce = o.cnonce ?? randomBytes(12).toString('base64url');
  const args: ComputeResponseOptions = {
    algorithm: ch.algorithm,
    username: o.username,
    realm: ch.realm,
    password: o.password,
    nonce: ch.nonce,
    method: o.method,
    uri: o.uri,
  };
  const sess = isSess(ch.algorithm);
  if (qop !== undefined) {
    args.qop = qop;
    args.nc = ncHex;
  }
  if (qop !== undefined || sess) args.cnonce = cnonce;
  if (o.body !== undefined) args.body = o.body;
  const response = computeResponse(args);
  const params: [string, string][] = [
    ['username', o.username],
    ['realm', ch.realm],
    ['nonce', ch.nonce],
    ['uri', o.uri],
    ['response', response],
    ['algorithm', ch.algorithm],
  ];
  if (qop !== undefined || sess) params.push(['cnonce', cnonce]);
  if (ch.opaque !== undefined) params.push(['opaque', ch.opaque]);
  if (qop !== undefined) {
    params.push(['qop', qop]);
    params.push(['nc', ncHex]);
  }
  return formatAuthHeader('Digest', params, new Set(['username', 'realm', 'nonce', 'uri', 'response', 'cnonce', 'opaque']));
}

// ---------------------------------------------------------------------------------------------
// Stateless nonces

export interface NonceManagerOptions {
  /** HMAC-SHA-256 key, at least 16 bytes; random per process when absent (nonces then die with it). */
  secret?: Uint8Array;
  /** Age in seconds after which a nonce is stale (300). */
  maxAgeSec?: number;
  /** Clock in milliseconds (Date.now); tests pass a fake one. */
  now?: () => number;
  /**
   * Remember the highest nc seen per nonce and refuse one that does not grow (RFC 7616 §3.3
   * replay protection; off by default: it needs state, and retransmissions over UDP repeat nc).
   */
  checkNc?: boolean;
  /** Most nonces whose nc is remembered (10000); the oldest are forgotten first. */
  maxTrackedNonces?: number;
}

/** 'stale': genuine but older than maxAgeSec (challenge again with stale=TRUE); 'replay': nc did not grow. */
export type NonceStatus = 'valid' | 'stale' | 'invalid' | 'replay';

const NONCE_TIME_BYTES = 6; // milliseconds since 1970 fit 48 bits until the year 10889
const NONCE_RANDOM_BYTES = 10;
const NONCE_MAC_BYTES = 16; // HMAC-SHA-256 truncated to 128 bits
const NONCE_BYTES = NONCE_TIME_BYTES + NONCE_RANDOM_BYTES + NONCE_MAC_BYTES;
const NONCE_PATTERN = /^[A-Za-z0-9_-]{43}$/; // base64url of 32 bytes, unpadded

/**
 * Issues nonces that carry their own issue time and an HMAC over it, so checking one needs no
 * server state (RFC 7616 §3.3 suggests a time stamp and a private key in the nonce).
 */
export class NonceManager {
  readonly #secret: Uint8Array;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #checkNc: boolean;
  readonly #maxTracked: number;
  /** nonce -> highest nc and issue time (ms); insertion order ~ age, so the oldest go first. */
  readonly #nc = new Map<string, { nc: number; issued: number }>();

  constructor(options: NonceManagerOptions = {}) {
    if (options.secret !== undefined && options.secret.length < 16) throw new OutOfRangeError('NonceManager secret must be at least 16 bytes');
    const maxAgeSec = options.maxAgeSec ?? 300;
    if (!(maxAgeSec > 0) || !Number.isFinite(maxAgeSec)) throw new OutOfRangeError(`maxAgeSec must be positive, got ${maxAgeSec}`);
    const maxTracked = options.maxTrackedNonces ?? 10000;
    if (!Number.isSafeInteger(maxTracked) || maxTracked < 1) throw new OutOfRangeError(`maxTrackedNonces must be a positive integer, got ${maxTracked}`);
    this.#secret = options.secret ?? randomBytes(32);
    this.#maxAgeMs = maxAgeSec * 1000;
    this.#now = options.now ?? Date.now;
    this.#checkNc = options.checkNc ?? false;
    this.#maxTracked = maxTracked;
  }

  /** A fresh nonce: base64url(time ‖ random ‖ HMAC(time ‖ random)), 43 characters. */
  issue(): string {
    const out = Buffer.alloc(NONCE_BYTES);
    out.writeUIntBE(Math.max(0, Math.floor(this.#now())), 0, NONCE_TIME_BYTES);
    randomBytes(NONCE_RANDOM_BYTES).copy(out, NONCE_TIME_BYTES);
    this.#mac(out.subarray(0, NONCE_TIME_BYTES + NONCE_RANDOM_BYTES)).copy(out, NONCE_TIME_BYTES + NONCE_RANDOM_BYTES);
    return out.toString('base64url');
  }

  /**
   * Checks a nonce from credentials: 'invalid' when we did not issue it (or it comes from a
   * far future), 'stale' when older than maxAgeSec, 'replay' when nc checking is on and `nc`
   * (8 hex digits) did not grow, else 'valid'.
   */
  check(nonce: string, nc?: string): NonceStatus {
    if (!NONCE_PATTERN.test(nonce)) return 'invalid';
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== NONCE_BYTES) return 'invalid';
    const signed = raw.subarray(0, NONCE_TIME_BYTES + NONCE_RANDOM_BYTES);
    const mac = raw.subarray(NONCE_TIME_BYTES + NONCE_RANDOM_BYTES);
    if (!timingSafeEqual(mac, this.#mac(signed))) return 'invalid';
    const issued = raw.readUIntBE(0, NONCE_TIME_BYTES);
    const now = this.#now();
    const age = now - issued;
    if (age < -this.#maxAgeMs) return 'invalid'; // the clock went back a long way: do not trust it
    if (age > this.#maxAgeMs) {
      this.#nc.delete(nonce);
      return 'stale';
    }
    if (!this.#checkNc || nc === undefined) return 'valid';
    if (!/^[0-9a-fA-F]{8}$/.test(nc)) return 'invalid';
    const count = Number.parseInt(nc, 16);
    const seen = this.#nc.get(nonce);
    if (seen !== undefined && count <= seen.nc) return 'replay';
    if (seen === undefined) this.#prune(now);
    this.#nc.set(nonce, { nc: count, issued });
    return 'valid';
  }

  /** A challenge with a fresh nonce (stale=TRUE when the credentials were right but the nonce old). */
  challenge(options: Omit<ChallengeOptions, 'nonce' | 'stale'>, stale = false): string {
    return createChallenge({ ...options, nonce: this.issue(), stale });
  }

  /** Number of nonces whose nc is remembered. */
  get trackedNonces(): number {
    return this.#nc.size;
  }

  #mac(data: Uint8Array): Buffer {
    return createHmac('sha256', this.#secret).update(data).digest().subarray(0, NONCE_MAC_BYTES);
  }

  #prune(now: number): void {
    if (this.#nc.size < this.#maxTracked) return;
    for (const [key, v] of this.#nc) {
      if (now - v.issued > this.#maxAgeMs) this.#nc.delete(key);
    }
    while (this.#nc.size >= this.#maxTracked) {
      const oldest = this.#nc.keys().next();
      if (oldest.done === true) break;
      this.#nc.delete(oldest.value);
    }
  }
}
