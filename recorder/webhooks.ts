/**
 * Webhook delivery from the store's outbox: durable, ordered per recording and URL, retried with
 * backoff, signed.
 *
 * What a receiver gets
 * --------------------
 * POST: the event as a JSON body, `Content-Type: application/json`.
 * GET (a recording's `callback_method: 'GET'`): the event's top-level fields as the query string;
 * strings as they are, numbers and booleans as text, null as empty, objects and arrays as JSON.
 * Both carry
 *   X-Recgate-Event-Id: <event id>   the same on every retry: deduplicate on it
 *   X-Recgate-Event: <type>          e.g. recording.started
 *   X-Recgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
 * The signature is sent when the account has a webhook_secret. The HMAC is keyed with that secret
 * over `<t>.<signed content>`, where the signed content is the raw body (POST) or the raw query
 * string as sent, without the leading '?' (GET).
 *
 * How to verify (what verifyWebhookSignature does)
 * ------------------------------------------------
 * 1. Take the raw bytes of the body (or the raw query string): not a re-serialised parse.
 * 2. Split the header on ',' into key=value pairs; `t` is the timestamp, each `v1` a signature
 *    (several `v1` may appear while a secret is being rotated; one match is enough).
 * 3. Compute hex HMAC-SHA256(secret, `${t}.${content}`) and compare in constant time.
 * 4. Refuse a `t` further than the tolerance (300 s) from your clock, so a captured request can
 *    not be replayed later. Retries are signed again with a fresh `t`.
 *
 * Delivery
 * --------
 * A 2xx response is delivered. Anything else (other status, redirect, network error, timeout) is
 * retried after baseDelayMs * 2^(attempts-1), capped at maxDelayMs, ±20% jitter; a failure once
 * the event is older than maxAgeMs makes it dead. An unusable URL is dead at once. Deliveries of
 * one recording to one URL go out one at a time in the order they were queued; a dead one lets
 * the next go. Everything lives in the store, so after a restart a new dispatcher carries on.
 * A crash while a request is out sends it again (at least once): receivers dedupe on the event
 * id. Run one dispatcher per store.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError } from '../common/index.js';
import type { OutboxRow, Store } from './model.js';

export const WEBHOOK_SIGNATURE_HEADER = 'X-Recgate-Signature';

/** Default clock tolerance of verifyWebhookSignature, s. */
const DEFAULT_TOLERANCE_SEC = 300;
/** Longest last_error kept in the outbox, characters. */
const MAX_ERROR_LENGTH = 500;

function hmacHex(secret: string, timestampSec: number, content: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestampSec}.`).update(content).digest('hex');
}

/**
 * The X-Recgate-Signature value for `content` (the raw POST body, or the raw GET query string
 * without '?'): `t=<timestampSec>,v1=<hex HMAC-SHA256 of "<t>.<content>" keyed with secret>`.
 */
export function signWebhook(secret: string, timestampSec: number, body: string | Uint8Array): string {
  if (typeof secret !== 'string' || secret === '') throw new InvalidArgumentError('webhook secret must be a non-empty string');
  if (!Number.isSafeInteger(timestampSec) || timestampSec < 0) {
    throw new InvalidArgumentError(`timestampSec must be a non-negative integer (unix seconds), got ${String(timestampSec)}`);
  }
  return `t=${timestampSec},v1=${hmacHex(secret, timestampSec, body)}`;
}

/**
 * Whether `header` (X-Recgate-Signature) signs `body` (the raw POST body, or the raw GET query
 * string without '?') with `secret`, at a time within `toleranceSec` (300; Infinity to skip)
 * of `nowSec` (the clock, unix seconds). Compares in constant time. A missing or malformed header
 * is false, never an exception.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | null | undefined,
  body: string | Uint8Array,
  toleranceSec: number = DEFAULT_TOLERANCE_SEC,
  nowSec: number = Math.floor(Date.now() / 1000),
): boolean {
  if (typeof secret !== 'string' || secret === '') throw new InvalidArgumentError('webhook secret must be a non-empty string');
  if (typeof header !== 'string' || header.length > 4096) return false;
  let t = -1;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (!/^\d{1,15}$/.test(value)) return false;
      t = Number(value);
    } else if (key === 'v1' && /^[0-9a-fA-F]{64}$/.test(value)) {
      signatures.push(Buffer.from(value, 'hex'));
    }
  }
  if (t < 0 || signatures.length === 0) return false;
  if (!(Math.abs(nowSec - t) <= toleranceSec)) return false;
  const expected = Buffer.from(hmacHex(secret, t, body), 'hex');
  let ok = false;
  // Every candidate is compared, so the time taken does not tell which one matched.
  for (const sig of signatures) ok = timingSafeEqual(sig, expected) || ok;
  return ok;
}

/**
 * Wait before the next try after `attempts` failed ones, ms:
 * min(maxDelayMs, baseDelayMs * 2^(attempts-1)), then ±jitter (0.2 = ±20%) from `random` in [0, 1).
 */
export function webhookRetryDelayMs(
  attempts: number,
  baseDelayMs: number,
  maxDelayMs: number,
  jitter = 0.2,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, Math.floor(attempts) - 1);
  const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** exponent);
  return Math.max(0, Math.round(delay * (1 + jitter * (2 * random() - 1))));
}

export interface WebhookDispatcherOptions {
  store: Store;
  /** Clock, epoch ms (Date.now). Due times, ages, signature timestamps and tm_delivered use it. */
  now?: () => number;
  fetch?: typeof fetch;
  /** Per request, body included, ms (10000). */
  timeoutMs?: number;
  /** A failure after this age (from the row's tm_create) makes the delivery dead, ms (24 h). */
  maxAgeMs?: number;
  /** First retry delay, ms (1000). */
  baseDelayMs?: number;
  /** Longest retry delay before jitter, ms (1 h). */
  maxDelayMs?: number;
  /** How often the outbox is read for due rows (kick() reads it at once), ms (500). */
  pollMs?: number;
  /** Requests out at once (8). */
  concurrency?: number;
  /** Fraction of a retry delay added or removed at random (0.2). */
  jitter?: number;
  /** Random source of the jitter, [0, 1) (Math.random). */
  random?: () => number;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new InvalidArgumentError(`${name} must be a positive number, got ${String(v)}`);
  }
  return v;
}

/** A failure no retry can fix (the row goes dead at once). */
class PermanentError extends Error {}

/** One line of text for last_error: the message and the system error code behind it. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  let text = err.message;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    text += `: ${typeof code === 'string' ? code : cause.message}`;
  }
  return text;
}

/** Query-string text of one top-level field of a GET event. */
function queryValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export class WebhookDispatcher {
  /** Called after each delivery; a throwing listener is counted in `errors`, never stops delivery. */
  onDelivered?: (row: OutboxRow) => void;
  /** Store failures and throwing listeners (row null when not about one row). */
  onError?: (err: unknown, row: OutboxRow | null) => void;

  readonly #store: Store;
  readonly #now: () => number;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #maxAgeMs: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #pollMs: number;
  readonly #concurrency: number;
  readonly #jitter: number;
  readonly #random: () => number;

  #running = false;
  #poll: NodeJS.Timeout | null = null;
  /** A timer for the earliest retry this dispatcher set, so it does not wait for the next poll. */
  #wake: NodeJS.Timeout | null = null;
  #wakeAt = Infinity;
  #pumpScheduled = false;
  /** Requests out, by outbox seq. */
  readonly #inFlight = new Map<number, Promise<void>>();

  #delivered = 0;
  #failedAttempts = 0;
  #dead = 0;
  #errors = 0;

  constructor(opts: WebhookDispatcherOptions) {
    this.#store = opts.store;
    this.#now = opts.now ?? Date.now;
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.#timeoutMs = positive('timeoutMs', opts.timeoutMs, 10_000);
    this.#maxAgeMs = positive('maxAgeMs', opts.maxAgeMs, 24 * 3600_000);
    this.#baseDelayMs = positive('baseDelayMs', opts.baseDelayMs, 1000);
    this.#maxDelayMs = positive('maxDelayMs', opts.maxDelayMs, 3600_000);
    this.#pollMs = positive('pollMs', opts.pollMs, 500);
    this.#concurrency = positive('concurrency', opts.concurrency, 8);
    this.#jitter = opts.jitter ?? 0.2;
    this.#random = opts.random ?? Math.random;
    if (this.#maxDelayMs < this.#baseDelayMs) {
      throw new InvalidArgumentError(`maxDelayMs (${this.#maxDelayMs}) must be at least baseDelayMs (${this.#baseDelayMs})`);
    }
    if (!Number.isInteger(this.#concurrency)) {
      throw new InvalidArgumentError(`concurrency must be a positive integer, got ${this.#concurrency}`);
    }
    if (!(this.#jitter >= 0 && this.#jitter < 1)) {
      throw new InvalidArgumentError(`jitter must be in [0, 1), got ${String(this.#jitter)}`);
    }
  }

  /** Deliveries that got a 2xx. */
  get delivered(): number {
    return this.#delivered;
  }

  /** Attempts that failed (each retry counts; the last one of a dead delivery too). */
  get failedAttempts(): number {
    return this.#failedAttempts;
  }

  /** Deliveries given up (too old, or an unusable URL or payload). */
  get dead(): number {
    return this.#dead;
  }

  /** Store failures and throwing listeners. */
  get errors(): number {
    return this.#errors;
  }

  /** Requests out now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Starts polling the outbox and delivers what is due. Calling it again does nothing. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#poll = setInterval(() => this.#pump(), this.#pollMs);
    this.#poll.unref();
    this.#schedulePump();
  }

  /** Stops taking new deliveries and resolves when the requests out have finished and been recorded. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#poll !== null) clearInterval(this.#poll);
    if (this.#wake !== null) clearTimeout(this.#wake);
    this.#poll = null;
    this.#wake = null;
    this.#wakeAt = Infinity;
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight.values()]);
  }

  /** Delivers what is due now, without waiting for the poll (call it after enqueue). */
  kick(): void {
    this.#schedulePump();
  }

  #schedulePump(): void {
    if (!this.#running || this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (!this.#running) return;
    const free = this.#concurrency - this.#inFlight.size;
    if (free <= 0) return;
    let rows: OutboxRow[];
    try {
      // The rows out are still pending and first in their line, so ask for room beyond them.
      rows = this.#store.dueDeliveries(this.#now(), this.#inFlight.size + free);
    } catch (err) {
      this.#report(err, null);
      return;
    }
    let started = 0;
    for (const row of rows) {
      if (started >= free) break;
      if (this.#inFlight.has(row.seq)) continue;
      started++;
      const done = this.#deliver(row).finally(() => {
        this.#inFlight.delete(row.seq);
        this.#schedulePump();
      });
      this.#inFlight.set(row.seq, done);
    }
  }

  async #deliver(row: OutboxRow): Promise<void> {
    let request: { url: string; init: RequestInit };
    try {
      request = this.#request(row);
    } catch (err) {
      this.#failed(row, describe(err), err instanceof PermanentError);
      return;
    }
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`timed out after ${this.#timeoutMs} ms`)), this.#timeoutMs);
    let error: string;
    try {
      const res = await this.#fetch(request.url, { ...request.init, signal: abort.signal, redirect: 'manual' });
      // The body is not needed; dropping it frees the connection.
      await res.body?.cancel().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) {
        this.#succeeded(row);
        return;
      }
      error = res.status >= 300 && res.status < 400 ? `HTTP ${res.status} (redirects are not followed)` : `HTTP ${res.status}`;
    } catch (err) {
      error = describe(err);
    } finally {
      clearTimeout(timer);
    }
    this.#failed(row, error, false);
  }

  /** URL and request of a row, signed with the account's secret; PermanentError if it can never be sent. */
  #request(row: OutboxRow): { url: string; init: RequestInit } {
    let url: URL;
    try {
      url = new URL(row.url);
    } catch {
      throw new PermanentError(`invalid URL ${JSON.stringify(row.url.slice(0, 200))}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PermanentError(`unsupported URL scheme ${url.protocol}`);
    const headers: Record<string, string> = {
      'User-Agent': 'recgate-webhooks',
      'X-Recgate-Event-Id': row.event_id,
      'X-Recgate-Event': row.type,
    };
    let signed: string;
    let body: string | null = null;
    if (row.method === 'GET') {
      let event: unknown;
      try {
        event = JSON.parse(row.payload);
      } catch {
        throw new PermanentError('payload is not JSON');
      }
      if (typeof event !== 'object' || event === null || Array.isArray(event)) {
        throw new PermanentError('a GET payload must be a JSON object');
      }
      for (const [k, v] of Object.entries(event)) url.searchParams.append(k, queryValue(v));
      signed = url.search.slice(1);
    } else {
      body = row.payload;
      signed = body;
      headers['Content-Type'] = 'application/json';
    }
    const secret = this.#store.getAccount(row.account_id)?.webhook_secret ?? '';
    if (secret !== '') headers[WEBHOOK_SIGNATURE_HEADER] = signWebhook(secret, Math.floor(this.#now() / 1000), signed);
    return { url: url.href, init: { method: row.method, headers, body } };
  }

  #succeeded(row: OutboxRow): void {
    try {
      this.#store.markDelivered(row.seq, new Date(this.#now()).toISOString());
    } catch (err) {
      this.#report(err, row);
      return;
    }
    this.#delivered++;
    if (this.onDelivered !== undefined) {
      try {
        this.onDelivered(row);
      } catch (err) {
        this.#report(err, row);
      }
    }
  }

  #failed(row: OutboxRow, error: string, permanent: boolean): void {
    this.#failedAttempts++;
    const now = this.#now();
    const text = error.length > MAX_ERROR_LENGTH ? error.slice(0, MAX_ERROR_LENGTH) : error;
    const created = Date.parse(row.tm_create);
    try {
      if (permanent || now - (Number.isNaN(created) ? now : created) > this.#maxAgeMs) {
        this.#store.markDead(row.seq, text);
        this.#dead++;
        return;
      }
      const at = now + webhookRetryDelayMs(row.attempts + 1, this.#baseDelayMs, this.#maxDelayMs, this.#jitter, this.#random);
      this.#store.markRetry(row.seq, at, text);
      this.#wakeUpAt(at);
    } catch (err) {
      this.#report(err, row);
    }
  }

  #wakeUpAt(at: number): void {
    if (!this.#running || at >= this.#wakeAt) return;
    if (this.#wake !== null) clearTimeout(this.#wake);
    this.#wakeAt = at;
    this.#wake = setTimeout(() => {
      this.#wake = null;
      this.#wakeAt = Infinity;
      // Timers run on the event loop's cached time and may fire a little before the clock says
      // `at`: the row would not be due yet and would wait for the next poll.
      if (this.#now() < at) this.#wakeUpAt(at);
      else this.#pump();
    }, Math.max(0, at - this.#now()) + 1);
    this.#wake.unref();
  }

  #report(err: unknown, row: OutboxRow | null): void {
    this.#errors++;
    if (this.onError === undefined) return;
    try {
      this.onError(err, row);
    } catch {
      // A throwing error listener is already counted above; nothing else to tell.
    }
  }
}
