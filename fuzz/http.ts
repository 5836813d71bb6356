/**
 * The HTTP API's fuzz target (`http-api`): random query strings, JSON bodies, content types and
 * path parameters sent over HTTP to a running gateway's API. Every answer is below 500, JSON,
 * and a 4xx is the one error shape with a documented code (api/ ERROR_CODES) and its status.
 * The short run (test/fuzz.test.ts) and the long run (`npm run fuzz`) both use it.
 *
 * What a case creates (a conference, a flow, a SIP user: a 201) is deleted at once through the
 * API, so a run of 10^6 cases keeps the gateway's state bounded and the DELETE routes answer
 * too. The gateway is the tests' (test/helpers/api.ts: temporary data directory, 127.0.0.1,
 * free ports), started once per run.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import fc from 'fast-check';
import { ERROR_CODES } from '../api/index.js';
import { startApi } from '../test/helpers/api.js';
import type { TestApi } from '../test/helpers/api.js';
import { TARGETS } from './targets.js';
import type { FuzzTarget } from './targets.js';

/**
 * Keep-alive connections to the API while a run is open: a fresh TCP connection per case would
 * mostly measure the kernel, and 10^6 of them would exhaust the ephemeral ports (TIME_WAIT).
 */
let agent: http.Agent | undefined;

export interface Reply {
  status: number;
  type: string;
  text: string;
}

/** One request with exactly these bytes (fetch would normalise the path and add a content type). */
export function send(base: URL, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request({ ...(agent !== undefined ? { agent } : {}), host: base.hostname, port: base.port, method, path, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(body.length) } : {}) } }, (res) => {
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
export function checkReply(r: Reply, what: string): void {
  assert.ok(r.status >= 200 && r.status < 500, `${what}: status ${r.status} ${r.text.slice(0, 300)}`);
  assert.ok(r.type.startsWith('application/json'), `${what}: content-type ${r.type}`);
  const json = JSON.parse(r.text) as Record<string, unknown>;
  if (r.status < 400) return;
  assert.deepEqual(Object.keys(json), ['error'], `${what}: ${r.text.slice(0, 300)}`);
  const e = json['error'] as Record<string, unknown>;
  for (const k of Object.keys(e)) assert.ok(['code', 'message', 'field'].includes(k), `${what}: error key ${k}`);
  assert.equal(typeof e['code'], 'string');
  assert.equal(typeof e['message'], 'string');
  if (e['field'] !== undefined) assert.equal(typeof e['field'], 'string');
  const known = ERROR_CODES[e['code'] as keyof typeof ERROR_CODES];
  assert.ok(known !== undefined, `${what}: undocumented code ${String(e['code'])}`);
  assert.equal(known.status, r.status, `${what}: ${String(e['code'])} with status ${r.status}`);
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

export type HttpCase = { method: string; path: string; query: string; auth: 'bearer' | 'none' | 'x-auth'; contentType: string | null; body: string | null };

const ENDPOINTS = [
  { method: 'GET', path: '/v1/recordings' },
  { method: 'GET', path: '/v1/calls' },
  { method: 'POST', path: '/v1/conferences' },
  { method: 'POST', path: '/v1/flows' },
  { method: 'POST', path: '/v1/accounts/default/users' },
] as const;

export const httpCase: fc.Arbitrary<HttpCase> = fc.oneof(
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

let api: TestApi | null = null;
let base: URL | null = null;

/** Answers the run reached: 200 (a list or a delete), 201 (created), 400 (a field or body refused). */
const counts = { listed: 0, created: 0, invalid: 0 };

/** Deletes what a 201 created (the answer names it), checking that answer like any other. */
async function remove(c: HttpCase, r: Reply, headers: Record<string, string>): Promise<void> {
  const row = JSON.parse(r.text) as { id?: string; username?: string };
  const path = c.path.endsWith('/users') ? `${c.path}/${encodeURIComponent(row.username ?? '')}` : `${c.path}/${encodeURIComponent(row.id ?? '')}`;
  const gone = await send(base!, 'DELETE', path, { authorization: headers['authorization'] ?? `Bearer ${api!.admin}` });
  checkReply(gone, `DELETE ${path}`);
  assert.equal(gone.status, 200, `DELETE ${path}: ${gone.text.slice(0, 300)}`);
}

export const httpApiTarget: FuzzTarget<HttpCase> = {
  name: 'http-api',
  what: 'HTTP API over HTTP: query strings, bodies, content types, path parameters: no 5xx, the one error shape, documented codes',
  arbitrary: httpCase,
  counts,
  async: true,
  async open() {
    api = await startApi({ http: { rate: 1e6, burst: 1e6 } });
    base = new URL(api.base);
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  },
  async close() {
    if (api === null) return;
    try {
      // The server still serves after the round.
      const health = await send(base!, 'GET', '/healthz', {});
      assert.equal(health.status, 200, `GET /healthz after the run: ${health.status}`);
    } finally {
      agent?.destroy();
      agent = undefined;
      await api.stop();
      api = null;
      base = null;
    }
  },
  async check(c) {
    const headers: Record<string, string> = {};
    if (c.auth === 'bearer') headers['authorization'] = `Bearer ${api!.admin}`;
    if (c.auth === 'x-auth') headers['x-auth-token'] = api!.admin;
    if (c.contentType !== null) headers['content-type'] = c.contentType;
    const r = await send(base!, c.method, c.path + c.query, headers, c.body === null ? undefined : Buffer.from(c.body, 'utf8'));
    checkReply(r, `${c.method} ${c.path}${c.query.slice(0, 200)}`);
    if (r.status === 200) counts.listed++;
    if (r.status === 400) counts.invalid++;
    if (r.status === 201) {
      counts.created++;
      await remove(c, r, headers);
    }
    return r.status < 400;
  },
};
