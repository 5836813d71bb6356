/**
 * The REST API against a real call (sipp streaming 1000 Hz): recordings started, paused,
 * resumed and stopped over HTTP, several at once in different formats, time_limit and
 * record_min_sec, hang-up; then download with Range/ETag, listing and paging, delete, errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rms, toneFrames } from '../dsp/index.js';
import { decodeFile } from './helpers/ffmpeg.js';
import { startApi, waitFor } from './helpers/api.js';
import type { TestApi } from './helpers/api.js';
import { runSipp, uacScenario, writeScenario, writeToneFile } from './helpers/sipp.js';
import { startCapture } from './helpers/pcap.js';
import { RtpDrop, RtpHeaderReader, decodePcmu } from '../rtp/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-api-'));
const tone = path.join(dir, 'tone.ul');
writeToneFile(tone, 1000, 12);
let sipPort = 41000 + 2 * Math.floor(Math.random() * 2000);
let api: TestApi;
let callId = '';
const ids: Record<string, string> = {};

test.before(async () => {
  api = await startApi({ routes: { routes: [{ match: { user: '*' }, action: 'record', recording: false }] } });
});
test.after(async () => {
  await api.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('recordings driven over HTTP on a live call: several at once, pause/resume, stop one, time limit, minimum length, hang-up', async () => {
  sipPort += 10;
  const sipp = runSipp([
    '-sf',
    writeScenario(dir, 'call.xml', uacScenario({ toneFile: tone, holdMs: 6000 })),
    '-s',
    'api',
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
  const call = await waitFor(async () => (await api.request('GET', '/v1/calls?status=progressing')).json.result[0], 5000, 'an answered call');
  callId = call.id;
  assert.is(call.status, 'progressing');
  assert.is(call.direction, 'inbound');
  const start = async (label: string, body: Record<string, unknown>) => {
    const r = await api.request('POST', `/v1/calls/${callId}/recording_start`, { body: { label, ...body } });
    assert.is(r.status, 201, JSON.stringify(r.json));
    assert.is(r.json.status, 'recording');
    ids[label] = r.json.id;
    return r.json;
  };
  const t0 = Date.now();
  await start('a', { format: 'wav' });
  await start('b', { format: 'mp3', channels: 'stereo', bitrate: 32 });
  await start('c', { format: 'wav', pause_behavior: 'silence' });
  const live = (await api.request('GET', `/v1/calls/${callId}`)).json;
  assert.is(live.recording_ids.length, 3);
  assert.is(live.recording_id, ids.c);
  await sleep(1000 - (Date.now() - t0));
  for (const l of ['a', 'c']) {
    const r = await api.request('POST', `/v1/calls/${callId}/recording_pause`, { body: { recording_id: ids[l] } });
    assert.is(r.status, 200);
    assert.is(r.json.result[0].status, 'paused');
  }
  await sleep(2000 - (Date.now() - t0));
  const resumed = await api.request('POST', `/v1/calls/${callId}/recording_resume`, { body: { recording_id: ids.a } });
  assert.is(resumed.json.result[0].status, 'recording');
  await api.request('POST', `/v1/calls/${callId}/recording_resume`, { body: { recording_id: ids.c } });
  await sleep(3000 - (Date.now() - t0));
  const stopped = await api.request('POST', `/v1/calls/${callId}/recording_stop`, { body: { recording_id: ids.b } });
  assert.is(stopped.status, 200);
  assert.is(stopped.json.result[0].status, 'ended');
  await start('d', { time_limit: 1 });
  await start('e', { record_min_sec: 10 });
  await sleep(500);
  const e = await api.request('POST', `/v1/calls/${callId}/recording_stop`, { body: { recording_id: ids.e } });
  assert.is(e.json.result[0].status, 'deleted');
  assert.is(e.json.result[0].reason, 'min_length');
  const r = await sipp;
  assert.is(r.code, 0, r.stderr.slice(-500));
  // The hang-up stops what still runs.
  await waitFor(async () => (await api.request('GET', `/v1/recordings/${ids.a}`)).json.status === 'ended', 5000, 'a ended');
  const rec = async (l: string) => (await api.request('GET', `/v1/recordings/${ids[l]}`)).json;
  const [a, b, c, d] = [await rec('a'), await rec('b'), await rec('c'), await rec('d')];
  assert.ok(Math.abs(a.duration_ms - 5000) < 250, `a: ${a.duration_ms} ms (6 s call, 1 s paused, skip)`);
  assert.ok(Math.abs(c.duration_ms - 6000) < 250, `c: ${c.duration_ms} ms (silence keeps the timeline)`);
  assert.ok(Math.abs(b.duration_ms - 3000) < 250, `b: ${b.duration_ms} ms`);
  assert.is(d.status, 'ended');
  assert.is(d.reason, 'time_limit');
  assert.is(d.duration_ms, 1000);
  assert.is(a.pauses.length, 1);
  // The pause lands where the recording had run for as long as it had when it was asked (from
  // its tm_start, the start request): about 1000 ms after t0, less what starting 'a' took,
  // which on a loaded machine was once 180 ms.
  const ranMs = Date.parse(a.pauses[0].tm_start) - Date.parse(a.tm_start);
  assert.ok(ranMs > 700 && ranMs < 1150, `paused ${ranMs} ms after the start`);
  assert.ok(Math.abs(a.pauses[0].offset_ms - ranMs) < 150, `${JSON.stringify(a.pauses)}, started ${a.tm_start}`);
  assert.ok(a.pauses[0].call_end_ms - a.pauses[0].call_start_ms > 800);
  assert.is(a.checksum_sha256.length, 64);
  // The files, decoded by ffmpeg.
  const file = (id: string) => path.join(api.dir, 'recordings', `${id}.${id === ids.b ? 'mp3' : 'wav'}`);
  const pa = await decodeFile(file(ids.a!));
  assert.ok(toneFrames(pa.pcm, 8000, 1000, { skipMs: 100 }).ratio > 0.95, 'a holds the tone (pause skipped)');
  const pc = await decodeFile(file(ids.c!));
  const off = Math.round(c.pauses[0].offset_ms * 8);
  assert.is(rms(pc.pcm, off + 400, 6400), 0, 'c is silent while paused');
  assert.ok(toneFrames(pc.pcm.subarray(0, off), 8000, 1000, { skipMs: 100 }).ratio > 0.95);
  assert.ok(toneFrames(pc.pcm.subarray(off + 8400), 8000, 1000).ratio > 0.9);
  const pb = await decodeFile(file(ids.b!));
  assert.is(pb.channels, 2);
  assert.ok(toneFrames(pb.pcm, pb.rate, 1000, { channels: 2, channel: 0, skipMs: 150 }).ratio > 0.9, 'caller on the left');
  assert.is(toneFrames(pb.pcm, pb.rate, 1000, { channels: 2, channel: 1 }).toneFrames, 0, 'no callee on the right');
  const after = (await api.request('GET', `/v1/calls/${callId}`)).json;
  assert.is(after.status, 'ended');
  assert.is(after.recording_id, '');
  assert.equal([...after.recording_ids].sort(), Object.values(ids).sort());
  assert.ok(after.tm_answer && after.tm_end);
});

test('download: whole file with ETag, byte ranges exact, 416, 304, inline, HEAD; deleted -> 410; not ready -> 409', async () => {
  const whole = await api.request('GET', `/v1/recordings/${ids.a}/file`);
  assert.is(whole.status, 200);
  assert.is(whole.headers.get('content-type'), 'audio/wav');
  assert.is(whole.headers.get('accept-ranges'), 'bytes');
  assert.is(Number(whole.headers.get('content-length')), whole.bytes.length);
  const onDisk = fs.readFileSync(path.join(api.dir, 'recordings', `${ids.a}.wav`));
  assert.ok(whole.bytes.equals(onDisk));
  const etag = whole.headers.get('etag')!;
  assert.match(etag, /^"[0-9a-f]{64}"$/);
  assert.match(whole.headers.get('content-disposition')!, /^attachment/);
  const size = onDisk.length;
  for (const [range, start, end] of [
    ['bytes=0-99', 0, 99],
    ['bytes=100-', 100, size - 1],
    ['bytes=-500', size - 500, size - 1],
    [`bytes=${size - 10}-${size + 100}`, size - 10, size - 1],
  ] as const) {
    const r = await api.request('GET', `/v1/recordings/${ids.a}/file`, { headers: { range } });
    assert.is(r.status, 206, range);
    assert.is(r.headers.get('content-range'), `bytes ${start}-${end}/${size}`);
    assert.ok(r.bytes.equals(onDisk.subarray(start, end + 1)), `${range} byte-exact`);
  }
  const bad = await api.request('GET', `/v1/recordings/${ids.a}/file`, { headers: { range: `bytes=${size}-` } });
  assert.is(bad.status, 416);
  assert.is(bad.headers.get('content-range'), `bytes */${size}`);
  assert.is(bad.json.error.code, 'range_not_satisfiable');
  const cached = await api.request('GET', `/v1/recordings/${ids.a}/file`, { headers: { 'if-none-match': etag } });
  assert.is(cached.status, 304);
  const inline = await api.request('GET', `/v1/recordings/${ids.a}/file?inline=true`);
  assert.match(inline.headers.get('content-disposition')!, /^inline; filename="[0-9a-f-]+\.wav"/);
  const head = await api.request('HEAD', `/v1/recordings/${ids.b}/file`);
  assert.is(head.status, 200);
  assert.is(head.headers.get('content-type'), 'audio/mpeg');
  assert.is(head.bytes.length, 0);
  const gone = await api.request('GET', `/v1/recordings/${ids.e}/file`);
  assert.is(gone.status, 410);
  assert.is(gone.json.error.code, 'recording_deleted');
});

test('list: filters, newest first, page tokens stable under inserts; invalid parameters are 400', async () => {
  const all = await api.request('GET', `/v1/recordings?call_id=${callId}&page_size=2`);
  assert.is(all.json.result.length, 2);
  assert.ok(all.json.next_page_token);
  const seen = [...all.json.result.map((r: { id: string }) => r.id)];
  let token = all.json.next_page_token;
  while (token) {
    const p = await api.request('GET', `/v1/recordings?call_id=${callId}&page_size=2&page_token=${encodeURIComponent(token)}`);
    seen.push(...p.json.result.map((r: { id: string }) => r.id));
    token = p.json.next_page_token;
  }
  assert.equal([...seen].sort(), Object.values(ids).sort());
  const times = seen.map((id) => Object.entries(ids).find(([, v]) => v === id)![0]);
  assert.equal(times, ['e', 'd', 'c', 'b', 'a'], 'newest first');
  const labeled = await api.request('GET', '/v1/recordings?label=b');
  assert.equal(labeled.json.result.map((r: { id: string }) => r.id), [ids.b]);
  const deleted = await api.request('GET', '/v1/recordings?status=deleted');
  assert.equal(deleted.json.result.map((r: { id: string }) => r.id), [ids.e]);
  const none = await api.request('GET', `/v1/recordings?until=2000-01-01T00:00:00Z`);
  assert.is(none.json.result.length, 0);
  for (const q of ['page_size=0', 'page_size=101', 'page_size=x', 'status=done', 'reference_type=meeting', 'since=yesterday', 'page_token=garbage!']) {
    const r = await api.request('GET', `/v1/recordings?${q}`);
    assert.is(r.status, 400, q);
    assert.is(r.json.error.code, 'invalid_parameter', q);
  }
  const calls = await api.request('GET', '/v1/calls');
  assert.ok(calls.json.result.some((c: { id: string }) => c.id === callId));
});

test('delete: the file goes, the record stays with status deleted and tm_delete; errors and codes', async () => {
  const del = await api.request('DELETE', `/v1/recordings/${ids.d}`);
  assert.is(del.status, 200);
  assert.is(del.json.status, 'deleted');
  assert.ok(del.json.tm_delete);
  assert.not.ok(fs.existsSync(path.join(api.dir, 'recordings', `${ids.d}.wav`)));
  assert.is((await api.request('GET', `/v1/recordings/${ids.d}/file`)).status, 410);
  assert.is((await api.request('GET', `/v1/recordings/${ids.d}`)).json.status, 'deleted');
  const cases: [string, string, unknown, number, string][] = [
    ['POST', `/v1/calls/${callId}/recording_start`, {}, 409, 'call_ended'],
    ['POST', '/v1/calls/nope/recording_start', {}, 404, 'not_found'],
    ['POST', `/v1/calls/${callId}/recording_start`, { format: 'flac' }, 400, 'invalid_option'],
    ['POST', `/v1/calls/${callId}/recording_start`, { sample_rate: 44100 }, 400, 'invalid_option'],
    ['POST', `/v1/calls/${callId}/recording_start`, { colour: 'red' }, 400, 'invalid_option'],
    ['POST', `/v1/calls/${callId}/hangup`, undefined, 409, 'call_ended'],
    ['GET', '/v1/recordings/nope', undefined, 404, 'not_found'],
    ['GET', '/v1/nothing', undefined, 404, 'not_found'],
    ['PATCH', '/v1/recordings', undefined, 405, 'method_not_allowed'],
  ];
  for (const [method, p, body, status, code] of cases) {
    const r = await api.request(method, p, body === undefined ? {} : { body });
    assert.is(r.status, status, `${method} ${p} ${JSON.stringify(body)}`);
    assert.is(r.json.error.code, code, `${method} ${p}`);
  }
  const field = await api.request('POST', `/v1/calls/${callId}/recording_start`, { body: { format: 'flac' } });
  assert.is(field.json.error.field, 'format');
  const badJson = await api.request('POST', `/v1/calls/${callId}/recording_start`, { raw: '{not json', headers: { 'content-type': 'application/json' } });
  assert.is(badJson.json.error.code, 'invalid_json');
  const big = await api.request('POST', `/v1/calls/${callId}/recording_start`, { raw: JSON.stringify({ label: 'x'.repeat(1100 * 1024) }), headers: { 'content-type': 'application/json' } });
  assert.is(big.status, 413);
  assert.is(big.json.error.code, 'body_too_large');
  const text = await api.request('POST', `/v1/calls/${callId}/recording_start`, { raw: 'format=wav', headers: { 'content-type': 'text/plain' } });
  assert.is(text.status, 415);
});

test('auth: Bearer, X-Auth-Token and ?token= work; none or an unknown token is 401', async () => {
  assert.is((await api.request('GET', '/v1/recordings', { token: null })).status, 401);
  assert.is((await api.request('GET', '/v1/recordings', { token: 'wrong' })).json.error.code, 'unauthorized');
  assert.is((await api.request('GET', '/v1/recordings', { token: null, headers: { 'x-auth-token': api.admin } })).status, 200);
  assert.is((await api.request('GET', `/v1/recordings?token=${api.admin}`, { token: null })).status, 200);
});

test('OpenAPI 3.1 document lists exactly the routes the server answers', async () => {
  const doc = (await api.request('GET', '/v1/openapi.json', { token: null })).json;
  assert.is(doc.openapi, '3.1.0');
  const documented = new Set<string>();
  for (const [p, methods] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const m of Object.keys(methods)) documented.add(`${m.toUpperCase()} ${p}`);
  }
  const registered = new Set(api.http.router.routes.map((r) => `${r.method} ${r.path}`));
  assert.equal([...documented].sort(), [...registered].sort());
  for (const route of registered) {
    // Every documented route answers something other than "no such route".
    const [method, p] = route.split(' ') as [string, string];
    const r = await api.request(method, p.replace(/\{id\}/g, 'x'), method === 'GET' || method === 'DELETE' ? {} : { body: {} });
    assert.ok(!(r.status === 404 && r.json?.error?.message?.startsWith('no route')), `${route} is not served`);
  }
  for (const code of ['unauthorized', 'not_found', 'recording_not_ready', 'range_not_satisfiable', 'rate_limited']) assert.match(doc.info.description, code);
});

test('metrics: Prometheus text with the gateway gauges', async () => {
  const r = await api.request('GET', '/metrics', { token: null });
  assert.is(r.status, 200);
  const text = r.bytes.toString();
  for (const m of ['recgate_active_calls', 'recgate_active_recordings', 'recgate_rtp_packets_received_total', 'recgate_rtp_packets_lost_total', 'recgate_rtp_packets_concealed_total', 'recgate_rtp_packets_late_total', 'recgate_rtp_packets_relayed_total', 'recgate_mixer_drift_inserted_samples_total', 'recgate_mixer_drift_dropped_samples_total', 'recgate_recording_failures_total', 'recgate_webhook_queue_depth', 'recgate_event_loop_delay_p50_seconds', 'recgate_event_loop_delay_p99_seconds']) {
    assert.match(text, new RegExp(`^${m} `, 'm'));
  }
  const received = Number(/^recgate_rtp_packets_received_total (\d+)/m.exec(text)![1]);
  assert.ok(received >= 290, `received ${received}`);
  // The loop is sampled every 10 ms and each sample includes that interval: a median of 8..1000 ms.
  const p50 = Number(/^recgate_event_loop_delay_p50_seconds (\S+)/m.exec(text)![1]);
  const p99 = Number(/^recgate_event_loop_delay_p99_seconds (\S+)/m.exec(text)![1]);
  assert.ok(p50 >= 0.008 && p50 < 1 && p50 <= p99, `p50 ${p50} s, p99 ${p99} s`);
  // The store's journal is checkpointed by its worker thread, round after round.
  const rounds = async (): Promise<number> => {
    const t = (await api.request('GET', '/metrics', { token: null })).bytes.toString();
    assert.match(t, /^recgate_store_checkpoint_worker 1$/m);
    assert.match(t, /^recgate_store_wal_frames \d+$/m);
    return Number(/^recgate_store_checkpoint_rounds_total (\d+)$/m.exec(t)![1]);
  };
  // The recordings of the earlier tests went to the disk in batches: fewer jobs than writes.
  assert.match(text, /^recgate_file_writes_batched 1$/m);
  const writes = Number(/^recgate_file_writes_total (\d+)$/m.exec(text)![1]);
  const jobs = Number(/^recgate_file_write_jobs_total (\d+)$/m.exec(text)![1]);
  assert.ok(writes > 0 && jobs > 0 && jobs <= writes, `${writes} writes in ${jobs} jobs`);
  const first = await rounds();
  await new Promise((r) => setTimeout(r, 600));
  assert.ok((await rounds()) > first, 'a round every 250 ms');
});

test('metrics: CPU seconds of the main thread and of the native UDP threads, which follow the work done', async () => {
  const cpu = async (): Promise<Map<string, number>> => {
    const text = (await api.request('GET', '/metrics', { token: null })).bytes.toString();
    return new Map([...text.matchAll(/^recgate_thread_cpu_seconds_total\{thread="(\w+)"\} (\S+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
  };
  const before = await cpu();
  // This process is the gateway: burn 300 ms of the main thread's CPU.
  const until = performance.now() + 300;
  let spin = 0;
  while (performance.now() < until) spin++;
  const after = await cpu();
  assert.ok(spin > 0);
  assert.ok(before.has('main'), `threads: ${[...before.keys()].join(', ')}`);
  const used = after.get('main')! - before.get('main')!;
  assert.ok(used >= 0.2 && used < 5, `the main thread used ${used.toFixed(3)} s of CPU over a 300 ms spin`);
  const stats = api.gateway.udpStats();
  // The native path's threads are reported when they run (RECGATE_UDP_RECV_THREAD/SEND_THREAD).
  assert.is(after.has('udp_recv'), stats.recvThread, 'udp_recv reported when the receive thread runs');
  assert.is(after.has('udp_send'), stats.sendThread, 'udp_send reported when the send thread runs');
});

test('beep: recording_start with beep plays a short 1 kHz tone to the caller (seen on the wire), kept out of the file', async () => {
  sipPort += 10;
  const silent = path.join(dir, 'silence.ul');
  fs.writeFileSync(silent, Buffer.alloc(8000 * 6, 0xff)); // mu-law silence
  const { min, max } = api.config.rtpPorts;
  const capture = await startCapture(path.join(dir, 'beep.pcap'), `udp and src portrange ${min}-${max}`);
  try {
    const sipp = runSipp(['-sf', writeScenario(dir, 'beep.xml', uacScenario({ toneFile: silent, holdMs: 2500 })), '-s', 'beep', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-m', '1', '-p', String(sipPort), '-mp', String(sipPort + 2), `127.0.0.1:${api.sipPort}`]);
    const c = await waitFor(async () => (await api.request('GET', '/v1/calls?status=progressing')).json.result[0], 5000, 'call');
    const started = await api.request('POST', `/v1/calls/${c.id}/recording_start`, { body: { beep: true } });
    assert.is(started.status, 201);
    assert.is((await sipp).code, 0);
    const packets = await capture.stop();
    const h = new RtpHeaderReader();
    const pcm: number[] = [];
    const buf = new Int16Array(400);
    for (const p of packets) {
      if (h.parse(p.payload, 0, p.payload.length) !== RtpDrop.None) continue;
      decodePcmu(p.payload, h.payloadOffset, h.payloadLength, buf, 0);
      for (let i = 0; i < h.payloadLength; i++) pcm.push(buf[i]!);
    }
    const beep = toneFrames(pcm, 8000, 1000);
    assert.ok(beep.toneFrames >= 12 && beep.toneFrames <= 18, `the caller heard ${beep.toneFrames} frames of beep (300 ms = 15)`);
    await waitFor(async () => (await api.request('GET', `/v1/recordings/${started.json.id}`)).json.status === 'ended', 5000, 'ended');
    const rec = await decodeFile(path.join(api.dir, 'recordings', `${started.json.id}.wav`));
    assert.is(toneFrames(rec.pcm, 8000, 1000).toneFrames, 0, 'the beep is not in the recording');
  } finally {
    await capture.stop();
  }
});

test('hangup over the API: the caller gets a BYE and the call ends', async () => {
  sipPort += 10;
  const { waitForByeScenario } = await import('./helpers/sippScenarios.js');
  const sipp = runSipp(['-sf', writeScenario(dir, 'hangup.xml', waitForByeScenario(8000)), '-s', 'h', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-m', '1', '-p', String(sipPort), '-mp', String(sipPort + 2), `127.0.0.1:${api.sipPort}`]);
  const c = await waitFor(async () => (await api.request('GET', '/v1/calls?status=progressing')).json.result[0], 5000, 'call');
  const r = await api.request('POST', `/v1/calls/${c.id}/hangup`);
  assert.is(r.status, 200);
  assert.is((await sipp).code, 0, 'the caller received BYE and answered it');
  const ended = await waitFor(async () => {
    const x = (await api.request('GET', `/v1/calls/${c.id}`)).json;
    return x.status === 'ended' ? x : null;
  }, 3000, 'ended');
  assert.match(ended.end_reason, /api/);
});

test('rate limit: a token over its budget gets 429 with Retry-After', async () => {
  const limited = await startApi({ http: { rate: 5, burst: 5 } });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await limited.request('GET', '/v1/recordings')).status);
    assert.ok(statuses.includes(429));
    const r = await limited.request('GET', '/v1/recordings');
    if (r.status === 429) {
      assert.is(r.json.error.code, 'rate_limited');
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
    }
  } finally {
    await limited.stop();
  }
});

test.run();
