/**
 * The short fuzz run inside `npm test`: every target of fuzz/targets.ts (SDP, RTP header, RTCP,
 * RFC 4733, AudioReceiver into a mixer, the HTTP body parsers) with a few thousand cases and a
 * fixed seed, then the http-api target (fuzz/http.ts): a few hundred random requests to a
 * running HTTP API. The SIP targets run in sipFuzz.test.ts. The long run is `npm run fuzz`
 * (fuzz/run.ts, every target of fuzz/index.ts, 10^6 cases each). RECGATE_FUZZ_RUNS=<n> sets every target to n runs.
 * Regression cases for the bugs the fuzzing found are at the end, each naming its bug.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import dgram from 'node:dgram';
import { FlowError, parseFlow } from '../calls/index.js';
import { RecordingOptionError, parseRecordingSpec } from '../recorder/index.js';
import { PortAllocator, RtpEndpoint } from '../rtp/index.js';
import { TARGETS, checkReply, httpApiTarget, runTarget, send } from '../fuzz/index.js';
import { fuzzTests, report, runs } from './helpers/fuzzPlan.js';
import type { FuzzPlan } from './helpers/fuzzPlan.js';
import { startApi } from './helpers/api.js';
import { randomPortRange } from './helpers/udpPeer.js';

/**
 * Cases per target (about 4 s in all) and the least share of them that must reach the checks on
 * accepted results (or the target's own counters).
 */
const PLAN: Record<string, FuzzPlan> = {
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

const done: string[] = [];
fuzzTests(TARGETS, PLAN, done);

// ---------------------------------------------------------------------------------------------
// HTTP API: random query strings, bodies and content types, over HTTP (fuzz/http.ts)

test('HTTP API: random query strings, bodies and content types get no 5xx and the one error shape; the server keeps serving', async () => {
  const r = await runTarget(httpApiTarget, { runs: runs(400), seed: 7118 });
  if (r.failure !== null) assert.unreachable(report(r));
  // The round reached the handlers (lists, creations), not only the error paths.
  const { listed = 0, created = 0, invalid = 0 } = r.counts;
  assert.ok(listed > r.runs * 0.05 && created > r.runs * 0.0125 && invalid > r.runs * 0.05, `answers ${JSON.stringify(r.counts)} of ${r.runs}`);
  done.push(`http ${r.runs} requests (200: ${listed}, 201: ${created}, 400: ${invalid}; ${(r.ms / 1000).toFixed(1)} s)`);
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
