/**
 * Tokens and tenants. A token arrives as `Authorization: Bearer T`, `X-Auth-Token: T` or
 * `?token=T`; only its SHA-256 is stored. The admin token comes from RECGATE_API_TOKEN, or is
 * generated at first start, kept in <data dir>/admin-token (mode 600) and printed once.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import type { AccountRow, Store } from '../recorder/index.js';

export const ADMIN_ACCOUNT = 'admin';
export const DEFAULT_ACCOUNT = 'default';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The token of a request, or null. */
export function tokenOf(req: http.IncomingMessage, url: URL): string | null {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1]!;
  }
  const x = req.headers['x-auth-token'];
  if (typeof x === 'string' && x !== '') return x;
  const q = url.searchParams.get('token');
  return q !== null && q !== '' ? q : null;
}

/** The account a token belongs to, or null (constant-time compare of the hashes). */
export function accountFor(store: Store, token: string): AccountRow | null {
  const hash = sha256(token);
  const row = store.getAccountByToken(hash);
  if (row === null) return null;
  const a = Buffer.from(row.token_sha256, 'hex');
  const b = Buffer.from(hash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b) ? row : null;
}

export interface AdminTokenResult {
  /** The token, when it was generated now (print it once), else null. */
  generated: string | null;
  /** Where a generated token is kept. */
  file: string;
}

/**
 * Makes sure the admin account exists with the right token: RECGATE_API_TOKEN when set,
 * else the one in <dataDir>/admin-token, else a new one (returned so it can be printed once).
 */
export function ensureAdmin(store: Store, dataDir: string, envToken: string | undefined): AdminTokenResult {
  const file = path.join(dataDir, 'admin-token');
  let token = envToken && envToken !== '' ? envToken : null;
  let generated: string | null = null;
  if (token === null) {
    try {
      token = fs.readFileSync(file, 'utf8').trim() || null;
    } catch {
      token = null;
    }
  }
  if (token === null) {
    token = newToken();
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
    generated = token;
  }
  const now = new Date().toISOString();
  const existing = store.getAccount(ADMIN_ACCOUNT);
  if (existing === null) {
    store.createAccount({ id: ADMIN_ACCOUNT, name: 'admin', token_sha256: sha256(token), webhook_url: '', webhook_secret: '', admin: true, tm_create: now, tm_update: now });
  } else if (existing.token_sha256 !== sha256(token)) {
    store.updateAccount(ADMIN_ACCOUNT, { token_sha256: sha256(token), admin: true, tm_update: now });
  }
  return { generated, file };
}

/** A token bucket per token: `rate` requests per second, bursts of `burst`. */
export class RateLimiter {
  readonly rate: number;
  readonly burst: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(rate = 100, burst = 200) {
    this.rate = rate;
    this.burst = burst;
  }

  /** Takes one request; returns 0 when allowed, else the seconds to wait. */
  take(key: string, nowMs = Date.now()): number {
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = { tokens: this.burst, at: nowMs };
      this.#buckets.set(key, b);
      if (this.#buckets.size > 10_000) this.#buckets.clear(); // bounded memory under token floods
    }
    b.tokens = Math.min(this.burst, b.tokens + ((nowMs - b.at) / 1000) * this.rate);
    b.at = nowMs;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / this.rate);
  }
}
