/**
 * Tenants: the admin token creates accounts; a route names the account that owns its calls;
 * every route tried with another tenant's token answers 404, and without a token 401.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApi, waitFor } from './helpers/api.js';
import type { TestApi } from './helpers/api.js';
import { runSipp, uacScenario, writeScenario, writeToneFile } from './helpers/sipp.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-tenants-'));
let api: TestApi;
let sipPort = 43000 + 2 * Math.floor(Math.random() * 1000);

test.after(async () => {
  await api?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('accounts, ownership by route, and isolation on every route', async () => {
  api = await startApi({
    routes: {
      routes: [
        { match: { user: 'alpha*' }, action: 'record', account: 'alpha', recording: { format: 'wav' } },
        { match: { user: 'beta*' }, action: 'record', account: 'beta', recording: { format: 'wav' } },
      ],
    },
  });
  const mk = async (id: string) => {
    const r = await api.request('POST', '/v1/accounts', { body: { id, name: `Tenant ${id}` } });
    assert.is(r.status, 201, JSON.stringify(r.json));
    assert.ok(r.json.token.length >= 20);
    assert.ok(r.json.webhook_secret);
    return r.json.token as string;
  };
  const alpha = await mk('alpha');
  const beta = await mk('beta');
  // Only the admin manages accounts.
  assert.is((await api.request('POST', '/v1/accounts', { token: alpha, body: { id: 'gamma' } })).status, 403);
  assert.is((await api.request('GET', '/v1/accounts', { token: alpha })).json.error.code, 'forbidden');
  assert.is((await api.request('GET', '/v1/accounts')).json.result.length >= 2, true);
  assert.is((await api.request('POST', '/v1/accounts', { body: { id: 'alpha' } })).status, 400, 'duplicate id');

  // One call for alpha, kept up while we probe.
  const tone = path.join(dir, 'tone.ul');
  writeToneFile(tone, 1000, 6);
  sipPort += 10;
  const sipp = runSipp([
    '-sf',
    writeScenario(dir, 'call.xml', uacScenario({ toneFile: tone, holdMs: 3000 })),
    '-s',
    'alpha1',
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
  const call = await waitFor(async () => (await api.request('GET', '/v1/calls?status=progressing', { token: alpha })).json.result[0], 5000, 'alpha call');
  assert.is(call.account_id, 'alpha');
  const started = await api.request('POST', `/v1/calls/${call.id}/recording_start`, { token: alpha, body: { label: 'second' } });
  assert.is(started.status, 201);
  const recId = started.json.id as string;
  // Beta sees nothing of alpha's; the admin (acting for the default account) neither.
  const probes: [string, string, unknown?][] = [
    ['GET', `/v1/calls/${call.id}`],
    ['POST', `/v1/calls/${call.id}/hangup`],
    ['POST', `/v1/calls/${call.id}/recording_start`, {}],
    ['POST', `/v1/calls/${call.id}/recording_stop`, {}],
    ['POST', `/v1/calls/${call.id}/recording_pause`, {}],
    ['POST', `/v1/calls/${call.id}/recording_resume`, {}],
    ['GET', `/v1/recordings/${recId}`],
    ['GET', `/v1/recordings/${recId}/file`],
    ['DELETE', `/v1/recordings/${recId}`],
    ['GET', '/v1/accounts/alpha'],
    ['PATCH', '/v1/accounts/alpha', { webhook_url: 'http://127.0.0.1:9/x' }],
  ];
  for (const [method, p, body] of probes) {
    const other = await api.request(method, p, { token: beta, ...(body !== undefined ? { body } : {}) });
    assert.is(other.status, 404, `beta: ${method} ${p} -> ${other.status}`);
    assert.is(other.json.error.code, 'not_found');
    const anon = await api.request(method, p, { token: null, ...(body !== undefined ? { body } : {}) });
    assert.is(anon.status, 401, `no token: ${method} ${p}`);
    if (!p.includes('/accounts/')) {
      const admin = await api.request(method, p, body !== undefined ? { body } : {});
      assert.is(admin.status, 404, `admin (default account): ${method} ${p}`);
    }
  }
  assert.is((await api.request('GET', '/v1/calls', { token: beta })).json.result.length, 0);
  assert.is((await api.request('GET', '/v1/recordings', { token: beta })).json.result.length, 0);
  assert.is((await api.request('GET', '/v1/accounts/alpha', { token: alpha })).status, 200);
  // Alpha's own view is complete.
  const r = await sipp;
  assert.is(r.code, 0, r.stderr.slice(-400));
  await waitFor(async () => (await api.request('GET', `/v1/recordings/${recId}`, { token: alpha })).json.status === 'ended', 5000, 'ended');
  const mine = await api.request('GET', '/v1/recordings', { token: alpha });
  assert.is(mine.json.result.length, 2, 'the route recording and the API one');
  assert.ok(mine.json.result.every((x: { account_id: string }) => x.account_id === 'alpha'));
  assert.is((await api.request('GET', `/v1/recordings/${recId}/file`, { token: alpha })).status, 200);
});

test.run();
