/**
 * The short fuzz run inside `npm test`: every target of fuzz/targets.ts (SDP, RTP header, RTCP,
 * RFC 4733, AudioReceiver into a mixer, the HTTP body parsers) with a few thousand cases and a
 * fixed seed, then a few hundred random requests to a running HTTP API. The long run is
 * fuzz/run.ts (10^6 cases per target). RECGATE_FUZZ_RUNS=<n> sets every target to n runs.
 * Regression cases for the bugs the fuzzing found are at the end, each naming its bug.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import dgram from 'node:dgram';
import http from 'node:http';
import fc from 'fast-check';
import { ERROR_CODES } from '../api/index.js';
import { FlowError, parseFlow } from '../calls/index.js';
import { RecordingOptionError, parseRecordingSpec } from '../recorder/index.js';
import { PortAllocator, RtpEndpoint } from '../rtp/index.js';
import { TARGETS, runTarget } from '../fuzz/targets.js';
import type { FuzzResult } from '../fuzz/targets.js';
import { startApi } from './helpers/api.js';
import { randomPortRange } from './helpers/udpPeer.js';

const OVERRIDE = Number.parseInt(process.env['RECGATE_FUZZ_RUNS'] ?? '', 10);
const runs = (n: number): number => (Number.isSafeInteger(OVERRIDE) && OVERRIDE > 0 ? OVERRIDE : n);

/**
 * Cases per target (about 4 s in all) and the least share of them that must reach the checks on
 * accepted results (or the target's own counters), so a generator that drifts into producing
 * only garbage fails here instead of silently testing nothing.
 */
const PLAN: Record<string, { runs: number; seed: number; accepted: number; counts?: Record<string, number> }> = {
  sdp: { runs: 3000, seed: 4733, accepted: 0.1, counts: { answered: 0.02, answerReceived: 0.003 } },
  'rtp-header': { runs: 5000, seed: 3550, accepted: 0.1 },
  rtcp: { runs: 3000, seed: 5761, accepted: 0.2 },
  'telephone-event': { runs: 3000, seed: 4734, accepted: 0.5 },
  'audio-receiver': { runs: 1500, seed: 3551, accepted: 0.5 },
  'recording-spec': { runs: 3000, seed: 8000, accepted: 0.05 },
  flow: { runs: 3000, seed: 3264, accepted: 0.05 },
  'dtmf-info': { runs: 3000, seed: 2833, accepted: 0.03 },
  'ice-servers': { runs: 3000, seed: 8445, accepted: 0.02 },
};

function report(r: FuzzResult): string {
  const f = r.failure!;
  return [
    `${r.target}: property failed after ${r.runs} runs (seed ${f.seed}, path ${f.path})`,
    `replay: node --import tsx fuzz/run.ts --target ${r.target} --seed ${f.seed} --path ${f.path} --runs 1`,
    `counterexample: ${f.counterexample.slice(0, 2000)}`,
    f.error,
  ].join('\n');
}

const done: string[] = [];
for (const t of TARGETS) {
  const plan = PLAN[t.name];
  test(`fuzz ${t.name}: ${t.what}`, async () => {
    assert.ok(plan !== undefined, `no plan for target ${t.name}`);
    if (plan === undefined) return;
    const r = await runTarget(t, { runs: runs(plan.runs), seed: plan.seed });
    if (r.failure !== null) assert.unreachable(report(r));
    assert.ok(r.accepted >= r.runs * plan.accepted, `${t.name}: only ${r.accepted} of ${r.runs} accepted`);
    for (const [k, share] of Object.entries(plan.counts ?? {})) {
      assert.ok((r.counts[k] ?? 0) >= r.runs * share, `${t.name}: ${k} reached ${r.counts[k]} of ${r.runs}`);
    }
    done.push(`${t.name} ${r.runs} (${(r.ms / 1000).toFixed(1)} s)`);
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP API: random query strings, bodies and content types

interface Reply {
  status: number;
  type: string;
  text: string;
}

/** One request with exactly these bytes (fetch would normalise the path and add a content type). */
function send(base: URL, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request({ host: base.hostname, port: base.port, method, path, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // A 413 may come before the body is written; an error after the answer is not the server's failure.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.end(body);
  });
}

/** Every answer: below 500, JSON, and a 4xx in the one error shape with a documented code. */
function checkReply(r: Reply, what: string): void {
  assert.ok(r.status >= 200 && r.status < 500, `${what}: status ${r.status} ${r.text.slice(0, 300)}`);
  assert.ok(r.type.startsWith('application/json'), `${what}: content-type ${r.type}`);
  const json = JSON.parse(r.text) as Record<string, unknown>;
  if (r.status < 400) return;
  assert.equal(Object.keys(json), ['error'], `${what}: ${r.text.slice(0, 300)}`);
  const e = json['error'] as Record<string, unknown>;
  for (const k of Object.keys(e)) assert.ok(['code', 'message', 'field'].includes(k), `${what}: error key ${k}`);
  assert.type(e['code'], 'string');
  assert.type(e['message'], 'string');
  if (e['field'] !== undefined) assert.type(e['field'], 'string');
  const known = ERROR_CODES[e['code'] as keyof typeof ERROR_CODES];
  assert.ok(known !== undefined, `${what}: undocumented code ${String(e['code'])}`);
  assert.is(known.status, r.status, `${what}: ${String(e['code'])} with status ${r.status}`);
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
const QUERY_VALUES: Record<string, readonly string[]> = {
  page_size: ['1', '25', '100', '0', '101', '-1', '1.5', '1e2', 'abc', '', ' 5', '٣', '99999999999999999999'],
  page_token: [b64(['r', '2024-01-01T00:00:00.000Z', 'x']), b64(['c', '2024-01-01T00:00:00.000Z', 'x']), b64(['k', 1, 'x']), b64(['f', 'a', '']), b64({}), b64(null), 'abc', '!!', '-_-', 'A'.repeat(3000), ''],
  status: ['ringing', 'progressing', 'ended', 'recording', 'deleted', 'active', 'ENDED', ''],
  call_id: ['x', '', "'; DROP TABLE calls; --"],
  reference_type: ['call', 'conference', 'x', ''],
  reference_id: ['x', ''],
  label: ['a', '', '%'],
  since: ['2024-01-01', '2024-02-30T00:00:00Z', 'yesterday', '9999999999999', '-1', '+275760-09-13T00:00:00.001Z', '0', ''],
  until: ['2024-01-01T00:00:00Z', 'x', '+275760-09-13T00:00:00.000Z'],
  inline: ['true', 'false', ''],
  token: ['admin-test-token', 'nope', ''],
};
/** Known parameters with values from their pools (mostly), or any string. */
const structuredQuery = fc
  .uniqueArray(fc.constantFrom(...Object.keys(QUERY_VALUES)), { maxLength: 3 })
  .chain((keys) => fc.tuple(...keys.map((k) => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...QUERY_VALUES[k]!) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }))).map((values) => keys.map((k, i) => `${k}=${encodeURIComponent(values[i]!)}`)));
/** Raw pieces a URL parser and URLSearchParams must survive, and unknown parameters. */
const rawQuery = fc.array(
  fc.oneof(
    fc.constantFrom('%', '%%', '%E0%A4%A', '%FF', '%00', '&', '==', '=', '+', 'page_size', 'page_size=%31', 'status=%65nded', 'a[]=1', 'token', 'page_token=%'),
    fc.tuple(fc.string({ maxLength: 6 }), fc.string({ maxLength: 8 })).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
  ),
  { maxLength: 4 },
);
const queryArb = fc.oneof({ weight: 3, arbitrary: structuredQuery }, { weight: 1, arbitrary: rawQuery }).map((p) => (p.length === 0 ? '' : `?${p.join('&')}`));

/** A path segment for the routes with an id: the router decodes it. */
const idSegment = fc.oneof(fc.constantFrom('x', '%', '%E0%A4%A', '%FF', '%2F', '..', '%00', 'a%20b', '%C3%A9'), fc.string({ unit: fc.constantFrom(...'abc019-_.~%'), maxLength: 12 }));

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/merge-patch+json',
  'APPLICATION/JSON',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/jsonx',
  'application/json; charset=utf-16',
  '',
];

/** A JSON body text: generated values (through the fuzz targets' arbitraries), raw text, deep nesting, or oversize. */
function bodyFor(path: string): fc.Arbitrary<string> {
  const spec = TARGETS.find((t) => t.name === 'recording-spec')!.arbitrary.map((x: { value: unknown }) => x.value);
  const flow = TARGETS.find((t) => t.name === 'flow')!.arbitrary;
  const few = <T>(valid: fc.Arbitrary<T>, ...invalid: T[]): fc.Arbitrary<T> => fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: fc.constantFrom(...invalid) });
  // Mostly valid, so the handlers' success paths (201) run too, not only their checks.
  const structured: fc.Arbitrary<unknown> = path.endsWith('/users')
    ? fc.record({ username: few(fc.nat().map((n) => `u${n}`), '-x', '', 'a'.repeat(65), 'é', 'alice'), password: few(fc.constant('s3cret-pass'), 'short', '', 'p'.repeat(257)) }, { requiredKeys: [] })
    : path.endsWith('/flows')
      ? fc.record({ name: few(fc.constant('IVR'), '', ' ', 'n'.repeat(201)), actions: flow, id: few(fc.nat().map((n) => `f${n}`), 'bad id', 'x'.repeat(65)) }, { requiredKeys: ['name', 'actions'] })
      : fc.record(
          { name: few(fc.nat().map((n) => `room-${n}`), '', 'r'.repeat(129)), max_participants: few<unknown>(fc.integer({ min: 1, max: 500 }), 0, 501, 2.5, '10'), recording: fc.oneof(spec, fc.constant(false)) },
          { requiredKeys: ['name'] },
        );
  const deep = fc.integer({ min: 5000, max: 200000 }).map((n) => '['.repeat(n) + ']'.repeat(n));
  return fc.oneof(
    { weight: 10, arbitrary: structured.map((v) => serialize(v)) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) },
    { weight: 2, arbitrary: fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('', '{', 'null', '[]', '"x"', '1e999', '{"name":', '\uFEFF{}', '{"__proto__":{"name":"x"}}', '{"name":"x","name":1}')) },
    { weight: 1, arbitrary: fc.tuple(deep, fc.constantFrom('voice', 'recording', 'actions', 'name')).map(([d, k]) => deepBody(path, k, d)) },
    { weight: 1, arbitrary: fc.constant(`{"name":"${'a'.repeat(1024 * 1024 + 10)}"}`) },
  );
}

/** JSON text of a generated value; one too deep for JSON.stringify is written by hand. */
function serialize(v: unknown): string {
  try {
    return JSON.stringify(v) ?? 'null';
  } catch {
    return '[' + '['.repeat(20000) + ']'.repeat(20000) + ']';
  }
}

/** A body for `path` with a deeply nested value where a field is expected. */
function deepBody(path: string, key: string, deep: string): string {
  if (path.endsWith('/flows')) {
    if (key === 'actions') return `{"name":"x","actions":${deep}}`;
    return `{"name":"x","actions":[{"action":"talk","option":{"text":"hi","voice":${deep}}}]}`;
  }
  if (path.endsWith('/conferences')) return key === 'recording' ? `{"name":"x","recording":{"format":${deep}}}` : `{"name":${deep}}`;
  return `{"username":${deep}}`;
}

type HttpCase = { method: string; path: string; query: string; auth: 'bearer' | 'none' | 'x-auth'; contentType: string | null; body: string | null };

const ENDPOINTS = [
  { method: 'GET', path: '/v1/recordings' },
  { method: 'GET', path: '/v1/calls' },
  { method: 'POST', path: '/v1/conferences' },
  { method: 'POST', path: '/v1/flows' },
  { method: 'POST', path: '/v1/accounts/default/users' },
] as const;

const httpCase: fc.Arbitrary<HttpCase> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.constantFrom(...ENDPOINTS).chain((e) =>
      fc.record({
        method: fc.oneof({ weight: 12, arbitrary: fc.constant<string>(e.method) }, { weight: 1, arbitrary: fc.constantFrom('PUT', 'DELETE', 'PATCH', e.method === 'GET' ? 'POST' : 'GET') }),
        path: fc.constant<string>(e.path),
        query: queryArb,
        auth: fc.constantFrom('bearer' as const, 'bearer' as const, 'bearer' as const, 'none' as const, 'x-auth' as const),
        contentType: fc.oneof({ weight: 4, arbitrary: fc.constant('application/json') }, { weight: 2, arbitrary: fc.constantFrom<string | null>(...CONTENT_TYPES, null) }),
        body: e.method === 'POST' ? bodyFor(e.path).map((b): string | null => b) : fc.option(fc.constantFrom('{}', 'x'), { nil: null }),
      }),
    ),
  },
  {
    // The router's path parameters, for the same families of routes.
    weight: 2,
    arbitrary: fc.record({
      method: fc.constantFrom('GET', 'DELETE'),
      path: fc.tuple(fc.constantFrom('/v1/recordings/', '/v1/calls/', '/v1/flows/', '/v1/conferences/', '/v1/accounts/'), idSegment).map(([p, id]) => p + id),
      query: queryArb,
      auth: fc.constant('bearer' as const),
      contentType: fc.constant(null),
      body: fc.constant(null),
    }),
  },
);

test('HTTP API: random query strings, bodies and content types get no 5xx and the one error shape; the server keeps serving', async () => {
  const api = await startApi({ http: { rate: 1e6, burst: 1e6 } });
  const base = new URL(api.base);
  const statuses = new Map<number, number>();
  try {
    await fc.assert(
      fc.asyncProperty(httpCase, async (c) => {
        const headers: Record<string, string> = {};
        if (c.auth === 'bearer') headers['authorization'] = `Bearer ${api.admin}`;
        if (c.auth === 'x-auth') headers['x-auth-token'] = api.admin;
        if (c.contentType !== null) headers['content-type'] = c.contentType;
        const r = await send(base, c.method, c.path + c.query, headers, c.body === null ? undefined : Buffer.from(c.body, 'utf8'));
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        checkReply(r, `${c.method} ${c.path}${c.query.slice(0, 200)}`);
      }),
      { numRuns: runs(400), seed: 7118 },
    );
    checkReply(await send(base, 'GET', '/healthz', {}), 'GET /healthz');
    const health = await send(base, 'GET', '/healthz', {});
    assert.is(health.status, 200);
    // The round reached the handlers, not only the error paths.
    assert.ok((statuses.get(200) ?? 0) > 20 && (statuses.get(201) ?? 0) > 5, `statuses ${JSON.stringify([...statuses])}`);
    assert.ok((statuses.get(400) ?? 0) > 20, `statuses ${JSON.stringify([...statuses])}`);
    done.push(`http ${runs(400)} requests (${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}: ${n}`).join(', ')})`);
  } finally {
    await api.stop();
  }
});

// ---------------------------------------------------------------------------------------------
// Regressions: inputs the fuzzing found, each with the bug it showed

test('regression (rtcp target): a 0-, 1- or 3-byte datagram on the RTCP port is counted malformed, not thrown out of the socket handler (which killed the process)', async () => {
  const [min, max] = randomPortRange();
  const ep = await RtpEndpoint.open({ ports: new PortAllocator(min, max), bindAddress: '127.0.0.1' });
  const peer = dgram.createSocket('udp4');
  try {
    const datagrams = [[], [0x80], [0x80, 0xc8, 0x00]];
    for (const d of datagrams) await new Promise<void>((resolve, reject) => peer.send(Uint8Array.from(d), ep.rtcpPort, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    const end = Date.now() + 5000;
    while (ep.stats().rtcp < datagrams.length && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    assert.is(ep.stats().rtcp, datagrams.length);
    assert.is(ep.stats().rtcpMalformed, datagrams.length);
  } finally {
    peer.close();
    ep.close();
  }
});

test('regression (http round): a bad %-escape in a path, a foreign page_token on /v1/calls and 100 000-deep bodies are 4xx, not 500', async () => {
  const api = await startApi({ http: { rate: 1e6, burst: 1e6 } });
  const base = new URL(api.base);
  const auth = { authorization: `Bearer ${api.admin}`, 'content-type': 'application/json' };
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  const recordingsToken = Buffer.from(JSON.stringify(['r', '2024-01-01T00:00:00.000Z', 'x'])).toString('base64url');
  const cases: [string, string, string | undefined, number, string, string?][] = [
    // decodeURIComponent's URIError in the router was a 500.
    ['GET', '/v1/recordings/%', undefined, 404, 'not_found'],
    ['DELETE', '/v1/flows/%E0%A4%A', undefined, 404, 'not_found'],
    // GET /v1/calls did not turn the store's InvalidArgumentError into 400 as the other lists do.
    ['GET', `/v1/calls?page_token=${recordingsToken}`, undefined, 400, 'invalid_parameter', 'page_token'],
    ['GET', '/v1/calls?page_token=abc', undefined, 400, 'invalid_parameter', 'page_token'],
    // JSON.stringify of a deep value in the validation message overflowed the stack: 500.
    ['POST', '/v1/flows', `{"name":"x","actions":[{"action":"talk","option":{"text":"hi","voice":${deep}}}]}`, 400, 'invalid_flow', '0'],
    ['POST', '/v1/flows', `{"name":"x","actions":[{"action":${deep}}]}`, 400, 'invalid_flow', '0'],
    ['POST', '/v1/conferences', `{"name":"x","recording":{"format":${deep}}}`, 400, 'invalid_option', 'recording.format'],
  ];
  try {
    for (const [method, path, body, status, code, field] of cases) {
      const r = await send(base, method, path, auth, body === undefined ? undefined : Buffer.from(body));
      checkReply(r, `${method} ${path.slice(0, 60)}`);
      const e = (JSON.parse(r.text) as { error: { code: string; field?: string } }).error;
      assert.is(r.status, status, `${method} ${path.slice(0, 60)}`);
      assert.is(e.code, code);
      if (field !== undefined) assert.is(e.field, field);
    }
    assert.is((await send(base, 'GET', '/healthz', {})).status, 200);
  } finally {
    await api.stop();
  }
});

/** `depth` levels of arrays, as JSON.parse builds them from a 2 * depth byte body. */
const nested = (depth: number): unknown => JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown;

test('regression (recording-spec target): a value nested 200 000 deep is a RecordingOptionError, not the RangeError of JSON.stringify in the message', () => {
  for (const key of ['format', 'bitrate', 'time_limit', 'record_min_sec', 'sample_rate']) {
    try {
      parseRecordingSpec({ [key]: nested(200_000) }, 'recording');
      assert.unreachable(key);
    } catch (err) {
      assert.instance(err, RecordingOptionError, key);
      assert.is((err as RecordingOptionError).field, `recording.${key}`);
    }
  }
});

test('regression (flow target): a value nested 200 000 deep is a FlowError naming the action, not a RangeError', () => {
  const deep = nested(200_000);
  const flows: [unknown, string][] = [
    [[{ action: deep }], 'action'],
    [[{ action: 'talk', option: { text: 'hi', voice: deep } }], 'voice'],
    [[{ action: 'beep', option: { frequency_hz: deep } }], 'frequency_hz'],
    [[{ action: 'answer' }, { action: 'connect', option: { target: deep } }], 'target'],
    [[{ action: 'recording_start', option: { format: deep } }], 'format'],
  ];
  for (const [flow, field] of flows) {
    try {
      parseFlow(flow);
      assert.unreachable(field);
    } catch (err) {
      assert.instance(err, FlowError, field);
      assert.is((err as FlowError).field, field);
    }
  }
});

test('regression (flow target): a branch case named "__proto__" is kept as a case, not made the prototype of cases (and lost when stored)', () => {
  const input = JSON.parse('[{"action":"branch","option":{"variable":"digits","cases":{"__proto__":[{"action":"hangup"}],"1":[{"action":"answer"}]}}}]') as unknown;
  const flow = parseFlow(input);
  const branch = flow[0]!;
  assert.is(branch.action, 'branch');
  if (branch.action !== 'branch') return;
  const cases = branch.option.cases;
  assert.is(Object.getPrototypeOf(cases), Object.prototype);
  assert.equal(Object.keys(cases).sort(), ['1', '__proto__']);
  assert.ok(Object.prototype.hasOwnProperty.call(cases, '__proto__'));
  // Stored as JSON and read back (GET /v1/flows/{id}, a routes file): the same flow.
  const stored = JSON.parse(JSON.stringify(flow)) as unknown;
  assert.equal(stored, flow);
  assert.equal(parseFlow(stored), flow);
});

test('report fuzz runs', () => {
  console.log(`\n  fuzz runs: ${done.join('; ')}`);
  assert.ok(done.length > 0);
});

test.run();
