/**
 * Faults with real callers (sipp) on 127.0.0.1: a full recordings disk (a small tmpfs, root as
 * in CI), an exhausted RTP port range, an RTP flood from a stranger into a live call's port and
 * an INVITE flood. Calls in progress go on, recordings made earlier stay intact, new work is
 * refused with a clear status (HTTP 507, SIP 503 with Retry-After) and the process keeps serving.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toneFrames } from '../dsp/index.js';
import type { RecordingEvent } from '../recorder/index.js';
import { startApi, waitFor } from './helpers/api.js';
import { startGatewayProcess } from './helpers/gatewayProcess.js';
import { decodeFile } from './helpers/ffmpeg.js';
import { runSipp, uacScenario, writeScenario, writeToneFile } from './helpers/sipp.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-faults-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
// Below the gateways' RTP ranges (40000+, test/helpers/udpPeer.ts).
let port = 27000 + 2 * Math.floor(Math.random() * 3000);
const tone = path.join(dir, 'tone.ul');
writeToneFile(tone, 1000, 30);

function caller(api: { sipPort: number }, user: string, holdMs: number, expect = 200, retryAfter = false) {
  port += 10;
  return runSipp(
    ['-sf', writeScenario(dir, `c${port}.xml`, uacScenario({ toneFile: tone, holdMs, expect, retryAfter })), '-s', user, '-i', '127.0.0.1', '-mi', '127.0.0.1', '-m', '1', '-p', String(port), '-mp', String(port + 2), `127.0.0.1:${api.sipPort}`],
    holdMs + 20_000,
  );
}

test('disk full: the running recording fails with disk_full (event sent), its call goes on, earlier files stay intact, new recordings get 507 / 503 until space returns', async () => {
  const data = path.join(dir, 'data');
  const recordingsDir = path.join(data, 'recordings');
  fs.mkdirSync(recordingsDir, { recursive: true });
  // 1 MiB of tmpfs for the recordings only (the database stays on the real disk).
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', recordingsDir]);
  const api = await startApi({ dir: data, keepDir: true, config: { minFreeMb: 0 }, routes: { routes: [{ match: { user: '*' }, action: 'record', recording: { format: 'wav' } }] } });
  const events: RecordingEvent[] = [];
  api.gateway.recordings.on('event', (e) => events.push(e));
  const filler = path.join(recordingsDir, 'filler');
  try {
    // A first call is recorded whole (about 2 s of 8 kHz WAV = 32 kB).
    const first = api.nextEnded();
    assert.is((await caller(api, 'first', 2000)).code, 0);
    const c1 = await first;
    const firstRow = await waitFor(() => {
      const r = api.gateway.store.getRecording(c1.recordings[0]!.id);
      return r?.status === 'ended' ? r : null;
    }, 5000, 'first recording');
    const firstFile = api.gateway.recordings.fileOf(firstRow);
    const firstBytes = fs.readFileSync(firstFile);
    // Fill the disk but for about 40 kB: the next call's recording runs out after ~2.5 s.
    const free = api.gateway.recordings.freeBytes();
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free - 40 * 1024)));
    api.gateway.recordings.minFreeBytes = 0;
    const secondCall = caller(api, 'second', 6000);
    const failed = await waitFor(() => events.find((e) => e.type === 'recording.failed') ?? null, 10_000, 'recording.failed');
    assert.is(failed.recording.reason, 'disk_full');
    // The call goes on: a new recording on it is refused with 507 while the disk is full.
    const live = [...api.gateway.calls.values()][0]!;
    const second = new Promise<typeof live>((resolve) => live.once('ended', () => resolve(live)));
    assert.ok(live !== undefined && live.status === 'progressing', 'the call is still up');
    api.gateway.recordings.minFreeBytes = 64 * 1024;
    const refused = await api.request('POST', `/v1/calls/${live.id}/recording_start`, { body: { format: 'wav' } });
    assert.is(refused.status, 507, JSON.stringify(refused.json));
    assert.is(refused.json.error.code, 'insufficient_storage');
    assert.is(refused.headers.get('retry-after'), '60');
    // A new call whose route records is refused by SIP: 503 with Retry-After (the trunk can fail over).
    assert.is((await caller(api, 'third', 0, 503)).code, 0);
    assert.ok((api.gateway.stats().rejected.disk_full ?? 0) >= 1);
    // The second call ended normally (its caller's BYE), its recording failed but its row is there.
    assert.is((await secondCall).code, 0);
    const c2 = await second;
    assert.is(c2.endReason.startsWith('caller:'), true, c2.endReason);
    const row2 = api.gateway.store.getRecording(c2.recordings[0]!.id)!;
    assert.is(row2.status, 'failed');
    assert.is(row2.reason, 'disk_full');
    // The first recording is intact: same bytes, its checksum, its tone.
    assert.ok(fs.readFileSync(firstFile).equals(firstBytes));
    assert.is(createHash('sha256').update(firstBytes).digest('hex'), firstRow.checksum_sha256);
    const audio = await decodeFile(firstFile);
    assert.ok(toneFrames(audio.pcm, audio.rate, 1000, { skipMs: 200 }).ratio > 0.9);
    // Space returns: recordings start again.
    fs.rmSync(filler);
    const fourth = caller(api, 'fourth', 1500);
    const c4 = await api.nextEnded();
    assert.is((await fourth).code, 0);
    const row4 = await waitFor(() => {
      const r = api.gateway.store.getRecording(c4.recordings[0]!.id);
      return r?.status === 'ended' ? r : null;
    }, 5000, 'recording after space returned');
    assert.ok(row4.duration_ms > 1000);
  } finally {
    await api.stop();
    execFileSync('umount', ['-l', recordingsDir]);
  }
});

/** The first of `n` consecutive UDP ports on 127.0.0.1 that are free now (the machine is shared). */
async function freeRange(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 50000 + 4 * Math.floor(Math.random() * 2000);
    const sockets: dgram.Socket[] = [];
    let ok = true;
    for (let p = base; p < base + n && ok; p++) {
      const s = dgram.createSocket('udp4');
      ok = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(false));
        s.bind(p, '127.0.0.1', () => resolve(true));
      });
      sockets.push(s);
    }
    for (const s of sockets) s.close();
    if (ok) return base;
  }
  throw new Error('no free port range');
}

test('RTP port range exhausted: the next call gets 503 with Retry-After, the calls in progress keep their audio', async () => {
  // Two record calls take 2 ports each (RTP + RTCP): a range of 4 free ports holds exactly two.
  const base = await freeRange(4);
  const api = await startApi({ config: { rtpPorts: { min: base, max: base + 3 } }, routes: { routes: [{ match: { user: '*' }, action: 'record', recording: { format: 'wav' } }] } });
  try {
    const ends = [api.nextEnded()];
    const a = caller(api, 'a', 4000);
    await waitFor(() => api.gateway.calls.size === 1, 5000, 'first call');
    ends.push(api.nextEnded());
    const b = caller(api, 'b', 3500);
    await waitFor(() => api.gateway.calls.size === 2, 5000, 'second call');
    assert.is((await caller(api, 'c', 0, 503)).code, 0, 'third call refused with 503');
    assert.ok((api.gateway.stats().rejected.no_rtp_port ?? 0) >= 1);
    assert.is((await a).code, 0);
    assert.is((await b).code, 0);
    for (const ended of ends) {
      const c = await ended;
      const row = await waitFor(() => {
        const r = api.gateway.store.getRecording(c.recordings[0]!.id);
        return r?.status === 'ended' ? r : null;
      }, 5000, 'recording');
      const audio = await decodeFile(api.gateway.recordings.fileOf(row));
      assert.ok(toneFrames(audio.pcm, audio.rate, 1000, { skipMs: 200 }).ratio > 0.9, 'audio intact');
    }
    assert.is(api.gateway.stats().rtpPortsInUse, 0);
  } finally {
    await api.stop();
  }
});

const RECORD_ALL = { routes: [{ match: { user: '*' }, action: 'record', recording: { format: 'wav' } }] };

/** A call's recording, once final: ended, and its audio. */
async function recordingOf(api: Awaited<ReturnType<typeof startApi>>, call: { recordings: { id: string }[] }) {
  const row = await waitFor(() => {
    const r = api.gateway.store.getRecording(call.recordings[0]!.id);
    return r?.status === 'ended' ? r : null;
  }, 5000, 'recording');
  return { row, audio: await decodeFile(api.gateway.recordings.fileOf(row)) };
}

test('call cap (RECGATE_MAX_CALLS): past it a new call gets 503 with Retry-After, the calls up keep their audio, and calls are taken again below it', async () => {
  const api = await startApi({ config: { maxCalls: 2 }, routes: RECORD_ALL });
  try {
    const ends = [api.nextEnded()];
    const a = caller(api, 'a', 3000);
    await waitFor(() => api.gateway.calls.size === 1, 5000, 'first call');
    ends.push(api.nextEnded());
    const b = caller(api, 'b', 2500);
    await waitFor(() => api.gateway.calls.size === 2, 5000, 'second call');
    assert.is((await caller(api, 'c', 0, 503, true)).code, 0, 'third call refused with 503 and a Retry-After');
    assert.is(api.gateway.stats().rejected.max_calls, 1);
    assert.is((await a).code, 0);
    assert.is((await b).code, 0);
    for (const ended of ends) {
      const { audio } = await recordingOf(api, await ended);
      assert.ok(toneFrames(audio.pcm, audio.rate, 1000, { skipMs: 200 }).ratio > 0.9, 'audio intact');
    }
    assert.is((await caller(api, 'd', 500)).code, 0, 'below the cap again: taken');
    assert.is(api.gateway.stats().rejected.max_calls, 1);
  } finally {
    await api.stop();
  }
});

test('overload guard: while the media thread cannot keep its clock new calls get 503 with Retry-After, the call up keeps its audio, and calls are taken again once it eases', async () => {
  const api = await startApi({ config: { overloadDelayMs: 40 }, routes: RECORD_ALL });
  try {
    const HOLD = 9000;
    const a = caller(api, 'a', HOLD);
    const callA = await waitFor(() => [...api.gateway.calls.values()].find((c) => c.recordings.length > 0) ?? null, 5000, 'first call recording');
    // What a saturated media thread looks like from its timers: 100 ms of work per loop turn,
    // so every timer is late (this test shares the gateway's loop; SIP and RTP are let through
    // between turns). The receive thread keeps reading the sockets.
    const block = (ms: number): void => {
      const end = performance.now() + ms;
      while (performance.now() < end) {
        // busy
      }
    };
    const until = performance.now() + 5000;
    while (performance.now() < until && !api.gateway.admission.overloaded) {
      block(100);
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(api.gateway.admission.overloaded, JSON.stringify(api.gateway.admission.stats()));
    const metrics = (await api.request('GET', '/metrics')).bytes.toString();
    assert.match(metrics, /^recgate_overloaded 1$/m);
    // The loop was busy nearly all the time: its utilization says so too.
    const utilization = Number(/^recgate_event_loop_utilization (\S+)$/m.exec(metrics)?.[1]);
    assert.ok(utilization > 0.5 && utilization <= 1, `utilization ${utilization}`);
    assert.is((await caller(api, 'b', 0, 503, true)).code, 0, 'refused with 503 and a Retry-After while overloaded');
    assert.is(api.gateway.stats().rejected.overload, 1);
    assert.match((await api.request('GET', '/metrics')).bytes.toString(), /^recgate_calls_refused_overload_total 1$/m);
    await waitFor(() => !api.gateway.admission.overloaded, 8000, 'the guard eases');
    assert.is((await caller(api, 'c', 300)).code, 0, 'taken again once the loop keeps time');
    assert.is((await a).code, 0, 'the call up went on');
    const { row, audio } = await recordingOf(api, callA);
    assert.ok(toneFrames(audio.pcm, audio.rate, 1000, { skipMs: 200 }).ratio > 0.9, 'its audio whole through the stalls');
    assert.ok(Math.abs(row.duration_ms - HOLD) < 500, `recorded ${row.duration_ms} ms of a ${HOLD} ms call`);
  } finally {
    await api.stop();
  }
});

test('file descriptors exhausted (gateway under prlimit --nofile=80): new calls get 503 with Retry-After, the calls up keep recording, and calls work again once fds return', async () => {
  const data = path.join(dir, 'fd');
  const routes = path.join(dir, 'fd-routes.json');
  fs.writeFileSync(routes, JSON.stringify({ routes: [{ match: { user: '*' }, action: 'record', recording: { format: 'wav' } }] }));
  const sip = 26000 + 2 * Math.floor(Math.random() * 500);
  const rtpBase = await freeRange(4);
  const gw = startGatewayProcess(
    { RECGATE_SIP_PORT: String(sip), RECGATE_HTTP_PORT: '0', RECGATE_BIND_ADDRESS: '127.0.0.1', RECGATE_RTP_PORTS: `${rtpBase}-${rtpBase + 999}`, RECGATE_DATA_DIR: data, RECGATE_ROUTES: routes, RECGATE_API_TOKEN: 'fd-admin', RECGATE_LOG: 'off' },
    ['prlimit', '--nofile=80'],
  );
  const child = gw.child;
  try {
    const httpPort = await gw.ready;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const get = async (p: string): Promise<any> => (await fetch(`http://127.0.0.1:${httpPort}${p}`, { headers: { authorization: 'Bearer fd-admin' } })).json();
    port += 10;
    const many = await runSipp(
      ['-sf', writeScenario(dir, 'fd.xml', uacScenario({ toneFile: tone, holdMs: 3000 })), '-s', 'fd', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-m', '30', '-l', '30', '-r', '50', '-p', String(port), '-mp', String(port + 2), `127.0.0.1:${sip}`],
      30_000,
    );
    const ok = Number(/Successful call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(many.stdout)?.[1] ?? -1);
    const failed = Number(/Failed call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(many.stdout)?.[1] ?? -1);
    assert.ok(ok >= 3 && failed >= 3 && ok + failed === 30, `calls: ${ok} ok, ${failed} refused`);
    const health = await get('/healthz');
    assert.is(health.rejected.no_fd, failed, JSON.stringify(health.rejected));
    // Every answered call was recorded whole (the overload did not cut them).
    const recs = (await get('/v1/recordings?page_size=100')).result as { status: string; duration_ms: number; id: string; reason: string }[];
    // A refused call may have got as far as its recording (the file open was what ran out of
    // descriptors): that recording failed, and says why.
    const ended = recs.filter((r) => r.status === 'ended');
    const refused = recs.filter((r) => r.status !== 'ended');
    assert.is(ended.length, ok, JSON.stringify(recs.map((r) => [r.status, r.duration_ms, r.reason])));
    for (const r of refused) assert.equal([r.status, r.reason], ['failed', 'no_fd']);
    for (const r of ended) assert.ok(r.duration_ms > 2500, `${r.duration_ms} ms`);
    const audio = await decodeFile(path.join(data, 'recordings', `${ended[0]!.id}.wav`));
    assert.ok(toneFrames(audio.pcm, audio.rate, 1000, { skipMs: 200 }).ratio > 0.9);
    // The descriptors came back with the calls' end: a new call is answered and recorded.
    assert.is((await caller({ sipPort: sip }, 'after', 1000)).code, 0);
  } finally {
    child.kill('SIGKILL');
  }
});

test('floods: RTP from a stranger into a live call is counted and dropped (audio intact); an INVITE flood gets stateless 503s past the rate, memory stays bounded', async () => {
  const api = await startApi({ config: { inviteRate: 50 }, routes: { routes: [{ match: { user: '*' }, action: 'record', recording: { format: 'wav' } }] } });
  const flood = dgram.createSocket('udp4');
  await new Promise<void>((r) => flood.bind(0, '127.0.0.1', () => r()));
  flood.setRecvBufferSize(4 * 1024 * 1024);
  try {
    const ended = api.nextEnded();
    const call = caller(api, 'victim', 5000);
    const live = await waitFor(() => [...api.gateway.calls.values()].find((c) => (c.legs[0]?.receiver?.stats().received ?? 0) > 20) ?? null, 5000, 'live call with audio');
    const rtpPort = live.legs[0]!.port;
    const heapBefore = process.memoryUsage().heapUsed;
    // 20 000 RTP packets (PCMU, loud noise) from an address the call never latched.
    const pkt = Buffer.alloc(172);
    pkt[0] = 0x80;
    for (let i = 0; i < 20_000; i++) {
      pkt.writeUInt16BE(i & 0xffff, 2);
      pkt.writeUInt32BE(i * 160, 4);
      for (let j = 12; j < 172; j++) pkt[j] = (i * 31 + j * 7) & 0xff;
      flood.send(pkt, rtpPort, '127.0.0.1');
      // About 10 000 packets/s (200 calls' worth) into one port.
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 10));
    }
    // 3000 INVITEs from one source in a burst: past 100 (the burst) they get a stateless 503.
    const answers = new Map<number, number>();
    flood.on('message', (m) => {
      const status = Number(/^SIP\/2\.0 (\d{3})/.exec(m.toString())?.[1] ?? 0);
      answers.set(status, (answers.get(status) ?? 0) + 1);
    });
    const sourcePort = (flood.address() as { port: number }).port;
    for (let i = 0; i < 3000; i++) {
      const invite = [
        `INVITE sip:flood${i}@127.0.0.1:${api.sipPort} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${sourcePort};branch=z9hG4bKflood${i}`,
        'Max-Forwards: 70',
        `From: <sip:f@127.0.0.1>;tag=f${i}`,
        `To: <sip:flood${i}@127.0.0.1>`,
        `Call-ID: flood-${i}@127.0.0.1`,
        'CSeq: 1 INVITE',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      flood.send(invite, api.sipPort, '127.0.0.1');
      // About 10 000 INVITEs/s: a flood, paced so the kernel's socket buffer does not drop it before the gateway sees it.
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 10));
    }
    // Wait until the answers stop coming (the kernel may drop part of the burst before the
    // gateway reads it; what it read, it answered).
    let last = -1;
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const now = [...answers.values()].reduce((a, b) => a + b, 0);
      if (now === last) break;
      last = now;
    }
    const st = api.gateway.stats().rejected;
    const limited = st.rate_limited ?? 0;
    assert.ok(limited >= 1500, `rate limited ${limited}: ${JSON.stringify([...answers])}`);
    assert.ok((answers.get(503) ?? 0) >= limited * 0.98, `503s ${answers.get(503)} for ${limited} refused`);
    // Past the burst (100) only the rate (50/s) got through: each of those a transaction (no SDP: 488).
    assert.ok((st.no_offer ?? 0) <= 200, `let through: ${JSON.stringify(st)}`);
    assert.is((await call).code, 0, 'the victim call completed');
    const c = await ended;
    const stats = c.legs[0]!.endpoint instanceof Object ? (c.legs[0]!.endpoint as unknown as { stats(): { wrongSource: number } }).stats() : null;
    assert.ok(stats !== null && stats.wrongSource >= 15_000, `flood counted: ${JSON.stringify(stats)}`);
    const row = await waitFor(() => {
      const r = api.gateway.store.getRecording(c.recordings[0]!.id);
      return r?.status === 'ended' ? r : null;
    }, 5000, 'recording');
    const audio = await decodeFile(api.gateway.recordings.fileOf(row));
    assert.ok(toneFrames(audio.pcm, audio.rate, 1000, { skipMs: 200 }).ratio > 0.9, 'the call audio is intact');
    // The INVITEs let through (at most the burst plus the rate over the run) got their own answers (no SDP: 488).
    const served = api.gateway.stats().transactions.serverTransactions;
    assert.ok(served <= 400, `server transactions ${served}`);
    if (global.gc) global.gc();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(heapGrowth < 64 * 1024 * 1024, `heap grew ${(heapGrowth / 1048576).toFixed(1)} MiB`);
    // Still serving: OPTIONS-like health over HTTP and a new call.
    assert.is((await api.request('GET', '/healthz', { token: null })).status, 200);
  } finally {
    flood.close();
    await api.stop();
  }
});

test.run();
