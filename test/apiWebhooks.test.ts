/**
 * Webhooks end to end: a local receiver gets every recording event, signed, in order per
 * recording; retries after failures; a GET callback carries the fields as a query string;
 * events queued while the receiver is down survive a gateway restart and arrive exactly once.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { verifyWebhookSignature } from '../recorder/index.js';
import { startApi, waitFor } from './helpers/api.js';
import type { TestApi } from './helpers/api.js';
import { runSipp, uacScenario, writeScenario, writeToneFile } from './helpers/sipp.js';

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver; `failFirst` fails each event id's first N attempts with 500; `down` refuses all. */
async function receiver(failFirst = 0) {
  const got: Received[] = [];
  const attempts = new Map<string, number>();
  const state = { down: false };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const id = String(req.headers['x-recgate-event-id'] ?? '');
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      if (state.down || n <= failFirst) {
        res.writeHead(500).end('not now');
        return;
      }
      got.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { got, attempts, state, url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-hooks-'));
const tone = path.join(dir, 'tone.ul');
writeToneFile(tone, 1000, 5);
let sipPort = 45000 + 2 * Math.floor(Math.random() * 1000);
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

function call(api: TestApi, user: string, holdMs = 1500) {
  sipPort += 10;
  return runSipp([
    '-sf',
    writeScenario(dir, `${user}.xml`, uacScenario({ toneFile: tone, holdMs })),
    '-s',
    user,
    '-i',
    '127.0.0.1',
    '-mi',
    '127.0.0.1',
    '-m',
    '1',
    '-p',
    String(sipPort),
    '-mp',
    String(sipPort + 2),
    `127.0.0.1:${api.sipPort}`,
  ]);
}

test('account webhook: signed events in order (started, stopped, completed), each delivered after two failures', async () => {
  const rx = await receiver(2);
  const api = await startApi({ routes: { routes: [{ match: { user: '*' }, action: 'record', recording: { format: 'wav' } }] }, webhookDelayMs: 30 });
  try {
    const acc = await api.request('PATCH', '/v1/accounts/default', { body: { webhook_url: rx.url } });
    assert.is(acc.status, 200);
    const secret = acc.json.webhook_secret as string;
    assert.ok(secret.length > 10);
    const r = await call(api, 'hooks');
    assert.is(r.code, 0, r.stderr.slice(-300));
    await waitFor(() => rx.got.length >= 3, 10000, 'three events');
    const types = rx.got.map((g) => JSON.parse(g.body).type);
    assert.equal(types, ['recording.started', 'recording.stopped', 'recording.completed']);
    for (const g of rx.got) {
      assert.is(g.method, 'POST');
      assert.ok(verifyWebhookSignature(secret, String(g.headers['x-recgate-signature']), g.body), 'signature verifies');
      assert.not.ok(verifyWebhookSignature('wrong-secret', String(g.headers['x-recgate-signature']), g.body));
      assert.is(rx.attempts.get(String(g.headers['x-recgate-event-id'])), 3, 'delivered on the third attempt');
    }
    const done = JSON.parse(rx.got[2]!.body);
    assert.ok(done.recording_duration_ms >= 1400);
    assert.is(done.recording.checksum_sha256.length, 64);
    assert.match(done.record_url, /\/v1\/recordings\/[0-9a-f-]+\/file$/);
    const file = await fetch(done.record_url, { headers: { authorization: `Bearer ${api.admin}` } });
    assert.is(file.status, 200);
  } finally {
    await api.stop();
    await rx.close();
  }
});

test('callback_url with GET: the fields come as a query string (Vobiz style)', async () => {
  const rx = await receiver();
  const api = await startApi({ routes: { routes: [{ match: { user: '*' }, action: 'record', recording: false }] } });
  try {
    const sipp = call(api, 'cb', 2500);
    const c = await waitFor(async () => (await api.request('GET', '/v1/calls?status=progressing')).json.result[0], 5000, 'call');
    const started = await api.request('POST', `/v1/calls/${c.id}/recording_start`, { body: { callback_url: rx.url, callback_method: 'GET', format: 'mp3' } });
    assert.is(started.status, 201);
    assert.is((await sipp).code, 0);
    await waitFor(() => rx.got.some((g) => g.url.includes('recording.completed')), 8000, 'completed');
    const g = rx.got.find((x) => x.url.includes('recording.completed'))!;
    assert.is(g.method, 'GET');
    const q = new URL(g.url, 'http://x').searchParams;
    assert.is(q.get('recording_id'), started.json.id);
    assert.ok(Number(q.get('recording_duration_ms')) > 500);
    assert.ok(Number(q.get('recording_end_ms')) > Number(q.get('recording_start_ms')));
    assert.match(q.get('record_url') ?? '', /\/file$/);
  } finally {
    await api.stop();
    await rx.close();
  }
});

test('upload_url: the finished file is PUT there, retried after a failure, byte-identical', async () => {
  const bodies: Buffer[] = [];
  let attempts = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      attempts++;
      if (attempts === 1) return void res.writeHead(503).end();
      bodies.push(Buffer.concat(chunks));
      res.writeHead(201).end();
      assert.is(req.method, 'PUT');
      assert.is(req.headers['content-type'], 'audio/wav');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/store/x.wav`;
  const api = await startApi({ routes: { routes: [{ match: { user: '*' }, action: 'record', recording: false }] } });
  api.gateway.recordings.uploadDelayMs = 50;
  try {
    const sipp = call(api, 'up', 1500);
    const c = await waitFor(async () => (await api.request('GET', '/v1/calls?status=progressing')).json.result[0], 5000, 'call');
    const started = await api.request('POST', `/v1/calls/${c.id}/recording_start`, { body: { upload_url: url } });
    assert.is(started.status, 201);
    assert.is((await sipp).code, 0);
    await waitFor(() => bodies.length === 1, 8000, 'upload');
    const file = fs.readFileSync(path.join(api.dir, 'recordings', `${started.json.id}.wav`));
    assert.ok(bodies[0]!.equals(file), 'the uploaded bytes are the file');
    assert.is(attempts, 2);
  } finally {
    await api.stop();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('the receiver is down across a gateway restart: every event arrives once, in order per recording', async () => {
  const rx = await receiver();
  rx.state.down = true;
  const data = path.join(dir, 'restart');
  const routes = { routes: [{ match: { user: '*' }, action: 'record', recording: { format: 'wav' } }] };
  const first = await startApi({ routes, dir: data, keepDir: true, webhookDelayMs: 40 });
  let second: TestApi | null = null;
  try {
    await first.request('PATCH', '/v1/accounts/default', { body: { webhook_url: rx.url } });
    const [a, b] = await Promise.all([call(first, 'one'), call(first, 'two')]);
    assert.is(a.code, 0);
    assert.is(b.code, 0);
    await waitFor(() => first.gateway.store.pendingDeliveries() === 6, 5000, '6 queued');
    await first.stop();
    second = await startApi({ routes, dir: data, keepDir: true, webhookDelayMs: 40 });
    rx.state.down = false;
    await waitFor(() => rx.got.length >= 6, 15000, 'six deliveries');
    await new Promise((r) => setTimeout(r, 300)); // nothing more may come
    const events = rx.got.map((g) => JSON.parse(g.body));
    assert.is(new Set(events.map((e) => e.event_id)).size, 6, 'each event once');
    for (const rec of new Set(events.map((e) => e.recording_id))) {
      assert.equal(
        events.filter((e) => e.recording_id === rec).map((e) => e.type),
        ['recording.started', 'recording.stopped', 'recording.completed'],
      );
    }
    assert.is(second.gateway.store.pendingDeliveries(), 0);
  } finally {
    await second?.stop();
    await rx.close();
    fs.rmSync(data, { recursive: true, force: true });
  }
});

test.run();
