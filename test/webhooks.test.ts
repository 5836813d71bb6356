import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RecgateError } from '../common/index.js';
import { Mixer } from '../mixer/index.js';
import { RecordingService, SqliteStore, WebhookDispatcher, parseRecordingSpec, signWebhook, verifyWebhookSignature, webhookRetryDelayMs } from '../recorder/index.js';
import type { OutboxRow, Store, WebhookDispatcherOptions } from '../recorder/index.js';

const SECRET = 'whsec_test';

interface Received {
  method: string;
  /** Path and raw query, as on the request line. */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Arrival, epoch ms. */
  at: number;
}

interface Receiver {
  url: string;
  port: number;
  requests: Received[];
  /** Requests being answered now, and the most at once. */
  open: number;
  maxOpen: number;
  close(): Promise<void>;
}

type Reply = (req: Received, n: number) => number | Promise<number>;

/** An HTTP receiver on 127.0.0.1 that answers each request with the status `reply` gives. */
async function receiver(reply: Reply = () => 200, port = 0): Promise<Receiver> {
  const r: Receiver = { url: '', port: 0, requests: [], open: 0, maxOpen: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const got: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      r.requests.push(got);
      r.open++;
      r.maxOpen = Math.max(r.maxOpen, r.open);
      void Promise.resolve(reply(got, r.requests.length)).then((status) => {
        r.open--;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  r.port = (server.address() as AddressInfo).port;
  r.url = `http://127.0.0.1:${r.port}/hook`;
  r.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return r;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean, timeoutMs = 4000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(3);
  }
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-hooks-'));
}

function openStore(file = ':memory:', secret = SECRET): SqliteStore {
  const store = SqliteStore.open(file);
  if (store.getAccount('A') === null) {
    const t = new Date().toISOString();
    store.createAccount({ id: 'A', name: 'a', token_sha256: 'h', webhook_url: '', webhook_secret: secret, admin: false, tm_create: t, tm_update: t });
  }
  return store;
}

/** Event `n` of recording `rec`, due now. */
function event(rec: string, n: number, url: string, extra: Partial<OutboxRow> = {}) {
  const eventId = `${rec}-${n}`;
  return {
    event_id: eventId,
    account_id: 'A',
    recording_id: rec,
    type: n === 1 ? 'recording.started' : 'recording.ended',
    url,
    method: 'POST' as const,
    payload: JSON.stringify({ event_id: eventId, recording_id: rec, n, recording: { id: rec, format: 'wav' } }),
    next_attempt_at: Date.now(),
    tm_create: new Date().toISOString(),
    ...extra,
  };
}

/** The `n` field of each request of recording `rec`, in arrival order. */
function sequenceOf(requests: Received[], rec: string): number[] {
  return requests
    .map((r) => JSON.parse(r.body) as { recording_id: string; n: number })
    .filter((e) => e.recording_id === rec)
    .map((e) => e.n);
}

function dispatcher(store: SqliteStore, opts: Partial<WebhookDispatcherOptions> = {}): WebhookDispatcher {
  return new WebhookDispatcher({ store, baseDelayMs: 20, maxDelayMs: 200, pollMs: 20, timeoutMs: 2000, ...opts });
}

test('signWebhook: known vectors (computed with openssl dgst -sha256 -hmac)', () => {
  assert.is(signWebhook(SECRET, 1700000000, '{"a":1}'), 't=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789');
  assert.is(signWebhook(SECRET, 1700000000, Buffer.from('a=1&b=x+y')), 't=1700000000,v1=3ac0add25e8d5682e219a8415d368336e27bfc85f5a6270805e7e810fb0f9687');
  for (const [name, fn] of [
    ['empty secret', () => signWebhook('', 1, 'x')],
    ['fractional time', () => signWebhook(SECRET, 1.5, 'x')],
    ['negative time', () => signWebhook(SECRET, -1, 'x')],
  ] as const) {
    try {
      fn();
      assert.unreachable(name);
    } catch (err) {
      assert.is((err as RecgateError).code, 'ERR_INVALID_ARGUMENT', name);
    }
  }
});

test('verifyWebhookSignature: accepts ours, refuses each kind of bad header without throwing', () => {
  const body = '{"a":1}';
  const t = 1700000000;
  const good = signWebhook(SECRET, t, body);
  const sig = good.split('v1=')[1]!;
  assert.ok(verifyWebhookSignature(SECRET, good, body, 300, t + 299));
  assert.ok(verifyWebhookSignature(SECRET, good, Buffer.from(body), 300, t - 300));
  assert.ok(verifyWebhookSignature(SECRET, ` t=${t} , v1=${'0'.repeat(64)}, v1=${sig}`, body, 300, t), 'rotation: any v1 may match');
  assert.ok(verifyWebhookSignature(SECRET, good, body, Infinity, t + 10 ** 9), 'tolerance off');
  const cases: [string, string | null | undefined, string, number][] = [
    ['missing header', undefined, body, t],
    ['null header', null, body, t],
    ['empty header', '', body, t],
    ['no t', `v1=${sig}`, body, t],
    ['no v1', `t=${t}`, body, t],
    ['t not a number', `t=abc,v1=${sig}`, body, t],
    ['t negative', `t=-5,v1=${sig}`, body, t],
    ['v1 too short', `t=${t},v1=${sig.slice(2)}`, body, t],
    ['v1 not hex', `t=${t},v1=${'z'.repeat(64)}`, body, t],
    ['v0 scheme only', `t=${t},v0=${sig}`, body, t],
    ['other timestamp', `t=${t + 1},v1=${sig}`, body, t],
    ['body changed', good, '{"a":2}', t],
    ['body re-serialised', good, '{ "a": 1 }', t],
    ['too old', good, body, t + 301],
    ['from the future', good, body, t - 301],
    ['huge header', `t=${t},v1=${sig},${'x'.repeat(5000)}`, body, t],
  ];
  for (const [name, header, b, now] of cases) assert.is(verifyWebhookSignature(SECRET, header, b, 300, now), false, name);
  assert.is(verifyWebhookSignature('other secret', good, body, 300, t), false, 'wrong secret');
});

test('webhookRetryDelayMs: doubles from the base, caps, and jitters within ±20%', () => {
  const mid = (): number => 0.5;
  assert.equal([1, 2, 3, 4, 5, 6].map((n) => webhookRetryDelayMs(n, 1000, 10_000, 0.2, mid)), [1000, 2000, 4000, 8000, 10_000, 10_000]);
  assert.is(webhookRetryDelayMs(2000, 1000, 3_600_000, 0.2, mid), 3_600_000);
  assert.is(webhookRetryDelayMs(3, 1000, 10_000, 0.2, () => 0), 3200);
  assert.is(webhookRetryDelayMs(3, 1000, 10_000, 0.2, () => 0.999999), 4800);
  for (let i = 0; i < 200; i++) {
    const d = webhookRetryDelayMs(2, 100, 1000);
    assert.ok(d >= 160 && d <= 240, String(d));
  }
});

test('dispatcher options are checked when it is built', () => {
  const store = openStore();
  const bad: [string, Partial<WebhookDispatcherOptions>][] = [
    ['concurrency 0', { concurrency: 0 }],
    ['concurrency 1.5', { concurrency: 1.5 }],
    ['negative base delay', { baseDelayMs: -1 }],
    ['max below base', { baseDelayMs: 100, maxDelayMs: 50 }],
    ['timeout NaN', { timeoutMs: Number.NaN }],
    ['poll 0', { pollMs: 0 }],
    ['jitter 1', { jitter: 1 }],
    ['max age 0', { maxAgeMs: 0 }],
  ];
  for (const [name, opts] of bad) {
    try {
      new WebhookDispatcher({ store, ...opts });
      assert.unreachable(name);
    } catch (err) {
      assert.is((err as RecgateError).code, 'ERR_INVALID_ARGUMENT', name);
    }
  }
  store.close();
});

test('POST: JSON body as queued, event headers, a signature that verifies over the received raw body', async () => {
  const rx = await receiver();
  const store = openStore();
  const d = dispatcher(store);
  const seen: string[] = [];
  d.onDelivered = (row) => seen.push(row.event_id);
  try {
    const ev = event('rec1', 1, rx.url);
    store.enqueue([ev]);
    d.start();
    d.kick();
    await waitFor('delivery', () => d.delivered === 1);
    const req = rx.requests[0]!;
    assert.is(req.method, 'POST');
    assert.is(req.url, '/hook');
    assert.is(req.body, ev.payload);
    assert.is(req.headers['content-type'], 'application/json');
    assert.is(req.headers['x-recgate-event-id'], 'rec1-1');
    assert.is(req.headers['x-recgate-event'], 'recording.started');
    const header = String(req.headers['x-recgate-signature']);
    assert.match(header, /^t=\d+,v1=[0-9a-f]{64}$/);
    assert.ok(verifyWebhookSignature(SECRET, header, req.body));
    assert.ok(Math.abs(Number(/t=(\d+)/.exec(header)?.[1]) - Date.now() / 1000) < 5, 't is now, in seconds');
    assert.is(verifyWebhookSignature(SECRET, header, `${req.body} `), false);
    assert.equal(seen, ['rec1-1']);
    assert.is(store.pendingDeliveries(), 0);
  } finally {
    await d.stop();
    store.close();
    await rx.close();
  }
});

test('an account without a secret gets no signature header', async () => {
  const rx = await receiver();
  const store = openStore(':memory:', '');
  const d = dispatcher(store);
  try {
    store.enqueue([event('rec1', 1, rx.url)]);
    d.start();
    await waitFor('delivery', () => d.delivered === 1);
    assert.is(rx.requests[0]!.headers['x-recgate-signature'], undefined);
    assert.is(rx.requests[0]!.headers['x-recgate-event-id'], 'rec1-1');
  } finally {
    await d.stop();
    store.close();
    await rx.close();
  }
});

test('GET: top-level fields as the query string (objects as JSON), signed over the raw query', async () => {
  const rx = await receiver();
  const store = openStore();
  const d = dispatcher(store);
  try {
    const payload = { event_id: 'g-1', type: 'recording.ended', duration_ms: 61234, recovered: false, reason: null, note: 'a b&c=d/é', recording: { id: 'g', pauses: [1, 2] } };
    store.enqueue([event('g', 1, `${rx.url}?token=abc`, { method: 'GET', payload: JSON.stringify(payload) })]);
    d.start();
    await waitFor('delivery', () => d.delivered === 1);
    const req = rx.requests[0]!;
    assert.is(req.method, 'GET');
    assert.is(req.body, '');
    assert.is(req.headers['content-type'], undefined);
    const [pathname, query = ''] = req.url.split('?');
    assert.is(pathname, '/hook');
    const q = new URLSearchParams(query);
    assert.equal([...q.keys()], ['token', 'event_id', 'type', 'duration_ms', 'recovered', 'reason', 'note', 'recording']);
    assert.is(q.get('token'), 'abc');
    assert.is(q.get('event_id'), 'g-1');
    assert.is(q.get('duration_ms'), '61234');
    assert.is(q.get('recovered'), 'false');
    assert.is(q.get('reason'), '');
    assert.is(q.get('note'), 'a b&c=d/é');
    assert.equal(JSON.parse(q.get('recording') ?? ''), payload.recording);
    assert.is(req.headers['x-recgate-event-id'], 'g-1');
    assert.ok(verifyWebhookSignature(SECRET, String(req.headers['x-recgate-signature']), query));
  } finally {
    await d.stop();
    store.close();
    await rx.close();
  }
});

test('order: several recordings interleaved, each in queue order, delivered concurrently', async () => {
  // Each answer takes 0-12 ms, so a recording's events would overtake each other if not held in line.
  const rx = await receiver(async (_req, n) => {
    await sleep((n * 7) % 13);
    return 200;
  });
  const store = openStore();
  const d = dispatcher(store, { concurrency: 8 });
  try {
    const recs = ['r1', 'r2', 'r3', 'r4', 'r5'];
    for (let n = 1; n <= 6; n++) store.enqueue(recs.map((r) => event(r, n, rx.url)));
    d.start();
    await waitFor('30 deliveries', () => d.delivered === 30);
    for (const r of recs) assert.equal(sequenceOf(rx.requests, r), [1, 2, 3, 4, 5, 6], r);
    assert.is(rx.requests.length, 30);
    assert.ok(rx.maxOpen > 1, `requests overlapped (${rx.maxOpen} at once)`);
    assert.ok(rx.maxOpen <= recs.length, 'at most one request per recording at a time');
  } finally {
    await d.stop();
    store.close();
    await rx.close();
  }
});

test('retry: two 500s then 200; delivered on the third try after backoff, the next event waits', async () => {
  const dir = tmpDir();
  const rx = await receiver((req) => {
    const id = req.headers['x-recgate-event-id'];
    const tries = rx.requests.filter((r) => r.headers['x-recgate-event-id'] === id).length;
    return id === 'r1-1' && tries <= 2 ? 500 : 200;
  });
  const file = path.join(dir, 'recgate.db');
  const store = openStore(file);
  // A long poll: retries must come from the dispatcher's own wake-up, not from polling.
  const d = dispatcher(store, { baseDelayMs: 40, maxDelayMs: 1000, pollMs: 10_000 });
  try {
    store.enqueue([event('r1', 1, rx.url), event('r1', 2, rx.url)]);
    d.start();
    await waitFor('both delivered', () => d.delivered === 2);
    assert.is(d.failedAttempts, 2);
    const ids = rx.requests.map((r) => r.headers['x-recgate-event-id']);
    assert.equal(ids, ['r1-1', 'r1-1', 'r1-1', 'r1-2']);
    const [t1, t2, t3] = rx.requests.map((r) => r.at) as [number, number, number];
    // 40 ms then 80 ms, -20% jitter at most (1 ms for clock granularity).
    assert.ok(t2 - t1 >= 32 - 1, `first retry after ${t2 - t1} ms`);
    assert.ok(t3 - t2 >= 64 - 1, `second retry after ${t3 - t2} ms`);
    assert.ok(t3 - t1 < 1000, 'without waiting for a poll');
    // Every try is signed afresh.
    for (const r of rx.requests) assert.ok(verifyWebhookSignature(SECRET, String(r.headers['x-recgate-signature']), r.body));
  } finally {
    await d.stop();
    store.close();
    await rx.close();
  }
  const raw = new Database(file, { readonly: true });
  assert.equal(raw.prepare('SELECT event_id, status, attempts FROM outbox ORDER BY seq').all(), [
    { event_id: 'r1-1', status: 'delivered', attempts: 3 },
    { event_id: 'r1-2', status: 'delivered', attempts: 1 },
  ]);
  raw.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('backoff on an injected clock: next_attempt_at is base*2^(n-1) after each failure, and not tried before', async () => {
  const dir = tmpDir();
  const rx = await receiver(() => 503);
  const file = path.join(dir, 'recgate.db');
  const store = openStore(file);
  let clock = Date.parse('2024-05-01T00:00:00.000Z');
  const d = dispatcher(store, { now: () => clock, baseDelayMs: 1000, maxDelayMs: 4000, pollMs: 10_000, random: () => 0.5 });
  const raw = new Database(file, { readonly: true });
  const row = (): { attempts: number; next_attempt_at: number; last_error: string; status: string } =>
    raw.prepare('SELECT attempts, next_attempt_at, last_error, status FROM outbox').get() as never;
  try {
    store.enqueue([event('r1', 1, rx.url, { next_attempt_at: clock, tm_create: new Date(clock).toISOString() })]);
    d.start();
    const expected = [1000, 2000, 4000, 4000];
    for (let i = 0; i < expected.length; i++) {
      await waitFor(`attempt ${i + 1}`, () => row().attempts === i + 1);
      assert.is(row().next_attempt_at, clock + expected[i]!, `delay after attempt ${i + 1}`);
      assert.is(row().last_error, 'HTTP 503');
      // One ms early: nothing goes out.
      clock += expected[i]! - 1;
      d.kick();
      await sleep(30);
      assert.is(rx.requests.length, i + 1, `not before it is due (${i + 1})`);
      clock += 1;
      d.kick();
    }
    await waitFor('attempt 5', () => row().attempts === 5);
    assert.is(d.failedAttempts, 5);
    assert.is(row().status, 'pending');
  } finally {
    await d.stop();
    raw.close();
    store.close();
    await rx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('receiver down (connection refused), then up: everything arrives, in order per recording, once', async () => {
  // A port that was free a moment ago.
  const probe = await receiver();
  const port = probe.port;
  await probe.close();
  const url = `http://127.0.0.1:${port}/hook`;
  const store = openStore();
  const d = dispatcher(store, { baseDelayMs: 10, maxDelayMs: 40, pollMs: 10 });
  const errors: string[] = [];
  let rx: Receiver | null = null;
  try {
    const recs = ['a', 'b', 'c'];
    for (let n = 1; n <= 4; n++) store.enqueue(recs.map((r) => event(r, n, url)));
    d.start();
    await waitFor('failures while down', () => d.failedAttempts >= 9);
    assert.is(d.delivered, 0);
    const first = store.dueDeliveries(Date.now() + 60_000, 10);
    errors.push(...first.map((r) => r.last_error));
    assert.ok(errors.every((e) => /ECONNREFUSED/.test(e)), errors.join('; '));
    assert.equal(first.map((r) => r.event_id).sort(), ['a-1', 'b-1', 'c-1']);
    rx = await receiver(() => 200, port);
    await waitFor('all delivered after the receiver is back', () => d.delivered === 12);
    for (const r of recs) assert.equal(sequenceOf(rx.requests, r), [1, 2, 3, 4], r);
    assert.is(rx.requests.length, 12);
    assert.is(store.pendingDeliveries(), 0);
  } finally {
    await d.stop();
    store.close();
    await rx?.close();
  }
});

test('restart: stop with deliveries pending, reopen the file with a new dispatcher: each event once, in order', async () => {
  const dir = tmpDir();
  const rx = await receiver(async () => {
    await sleep(8);
    return 200;
  });
  const file = path.join(dir, 'recgate.db');
  try {
    const store1 = openStore(file);
    const recs = ['x', 'y', 'z'];
    for (let n = 1; n <= 6; n++) store1.enqueue(recs.map((r) => event(r, n, rx.url)));
    const d1 = dispatcher(store1, { concurrency: 2 });
    d1.start();
    await waitFor('some delivered', () => d1.delivered >= 4);
    await d1.stop();
    const pending = store1.pendingDeliveries();
    assert.ok(pending > 0 && pending < 18, `${pending} left`);
    assert.is(d1.inFlight, 0);
    store1.close();

    const store2 = SqliteStore.open(file);
    const d2 = dispatcher(store2);
    d2.start();
    await waitFor('the rest delivered', () => store2.pendingDeliveries() === 0);
    await d2.stop();
    store2.close();

    assert.is(d1.delivered + d2.delivered, 18);
    const ids = rx.requests.map((r) => String(r.headers['x-recgate-event-id']));
    assert.is(ids.length, 18);
    assert.is(new Set(ids).size, 18, 'each event id once');
    for (const r of recs) assert.equal(sequenceOf(rx.requests, r), [1, 2, 3, 4, 5, 6], r);
  } finally {
    await rx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('dead: a failure after maxAge, and an unusable URL at once; the next in line then goes', async () => {
  const dir = tmpDir();
  const rx = await receiver((req) => (req.headers['x-recgate-event-id'] === 'old-2' ? 200 : 500));
  const file = path.join(dir, 'recgate.db');
  const store = openStore(file);
  const d = dispatcher(store, { maxAgeMs: 60_000 });
  try {
    const twoMinutesAgo = new Date(Date.now() - 120_000).toISOString();
    store.enqueue([
      event('old', 1, rx.url, { tm_create: twoMinutesAgo }),
      event('old', 2, rx.url, { tm_create: twoMinutesAgo }),
      event('young', 1, rx.url),
      event('bad', 1, 'not a url'),
      event('bad', 2, 'ftp://files.example/hook'),
    ]);
    d.start();
    await waitFor('old-2 delivered', () => d.delivered === 1);
    await waitFor('young retried', () => rx.requests.filter((r) => r.headers['x-recgate-event-id'] === 'young-1').length >= 2);
    await d.stop();
    assert.is(d.dead, 3);
    assert.equal(
      rx.requests.map((r) => r.headers['x-recgate-event-id']).filter((id) => id !== 'young-1'),
      ['old-1', 'old-2'],
    );
  } finally {
    store.close();
    await rx.close();
  }
  const raw = new Database(file, { readonly: true });
  const rows = raw.prepare('SELECT event_id, status, attempts, last_error FROM outbox ORDER BY seq').all() as { event_id: string; status: string; attempts: number; last_error: string }[];
  raw.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const by = new Map(rows.map((r) => [r.event_id, r]));
  assert.equal(by.get('old-1'), { event_id: 'old-1', status: 'dead', attempts: 1, last_error: 'HTTP 500' });
  assert.is(by.get('old-2')?.status, 'delivered');
  assert.is(by.get('young-1')?.status, 'pending');
  assert.is(by.get('bad-1')?.status, 'dead');
  assert.match(by.get('bad-1')?.last_error ?? '', /invalid URL/);
  assert.is(by.get('bad-2')?.status, 'dead');
  assert.match(by.get('bad-2')?.last_error ?? '', /scheme ftp/);
});

test('timeout: a receiver that never answers is a failed attempt with a timeout error', async () => {
  const dir = tmpDir();
  let release: () => void = () => undefined;
  const rx = await receiver(() => new Promise<number>((resolve) => (release = () => resolve(200))));
  const file = path.join(dir, 'recgate.db');
  const store = openStore(file);
  const d = dispatcher(store, { timeoutMs: 100, baseDelayMs: 5000, maxDelayMs: 5000 });
  try {
    store.enqueue([event('slow', 1, rx.url)]);
    d.start();
    await waitFor('timeout', () => d.failedAttempts === 1);
    assert.is(d.delivered, 0);
    const row = new Database(file, { readonly: true });
    assert.match(String(row.prepare('SELECT last_error FROM outbox').pluck().get()), /timed out after 100 ms/);
    row.close();
  } finally {
    release();
    await d.stop();
    store.close();
    await rx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('stop() waits for the requests out and records their outcome', async () => {
  let release: () => void = () => undefined;
  const rx = await receiver(() => new Promise<number>((resolve) => (release = () => resolve(200))));
  const store = openStore();
  const d = dispatcher(store);
  try {
    store.enqueue([event('s', 1, rx.url), event('s', 2, rx.url)]);
    d.start();
    await waitFor('request out', () => rx.requests.length === 1);
    assert.is(d.inFlight, 1);
    let stopped = false;
    const stopping = d.stop().then(() => (stopped = true));
    await sleep(60);
    assert.is(stopped, false, 'still waiting for the response');
    release();
    await stopping;
    assert.is(d.inFlight, 0);
    assert.is(d.delivered, 1);
    assert.is(store.pendingDeliveries(), 1, 's-2 waits for the next start');
    await sleep(50);
    assert.is(rx.requests.length, 1, 'nothing sent after stop');
  } finally {
    await d.stop();
    store.close();
    await rx.close();
  }
});

test("a recording's new state and its event are one transaction: a failure between them keeps neither", async () => {
  const dir = tmpDir();
  const dbFile = path.join(dir, 'recgate.db');
  const store = openStore(dbFile);
  store.updateAccount('A', { webhook_url: 'http://127.0.0.1:9/hook' });
  // The store as the service sees it; armed, queueing deliveries fails (as a crash there would
  // end the process between the two writes).
  let armed = false;
  const failing = new Proxy(store, {
    get(target, key) {
      if (key === 'enqueue' && armed) {
        return () => {
          throw new Error('injected: the process dies here');
        };
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as Store;
  const service = new RecordingService({ store: failing, dataDir: dir });
  let t = 0;
  const mixer = new Mixer({ sampleRate: 8000, now: () => t });
  mixer.createInput('a');
  // What a restart would find: the file's rows, read on a connection of their own.
  const onDisk = (id: string): { status: string; events: string[] } => {
    const db = new Database(dbFile, { readonly: true });
    try {
      const row = db.prepare('SELECT status FROM recordings WHERE id = ?').get(id) as { status: string };
      const events = (db.prepare('SELECT type FROM outbox WHERE recording_id = ? ORDER BY seq').all(id) as { type: string }[]).map((r) => r.type);
      return { status: row.status, events };
    } finally {
      db.close();
    }
  };
  try {
    const spec = parseRecordingSpec({ format: 'wav', channels: 'mono' });
    const row = await service.start({ account_id: 'A', reference_type: 'call', reference_id: 'c1', mixer, output: { kind: 'mono' }, spec });
    assert.equal(onDisk(row.id), { status: 'recording', events: ['recording.started'] });
    t += 100;
    mixer.service(t);

    armed = true;
    assert.throws(() => service.pause(row.id), /injected/);
    armed = false;
    assert.equal(onDisk(row.id), { status: 'recording', events: ['recording.started'] }, 'not paused without its event');
    assert.is(service.store.getRecording(row.id)?.status, 'recording');

    // It goes on from there: stop ends it, each state with its event.
    const ended = await service.stop(row.id);
    assert.is(ended.status, 'ended');
    assert.equal(onDisk(row.id), { status: 'ended', events: ['recording.started', 'recording.stopped', 'recording.completed'] });
  } finally {
    mixer.close();
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
