/**
 * The gateway against sipp, a real SIP peer (tier 3): recorded calls over UDP and TCP, PCMU
 * and PCMA, CANCEL, RTP timeout, hold/resume, 488, OPTIONS, digest authentication.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { toneFrames } from '../dsp/index.js';
import { decodeFile } from './helpers/ffmpeg.js';
import { startGateway } from './helpers/gateway.js';
import type { TestGateway } from './helpers/gateway.js';
import { runSipp, uacScenario, writeScenario, writeToneFile } from './helpers/sipp.js';
import {
  authScenario,
  cancelScenario,
  holdResumeScenario,
  optionsScenario,
  uasRingScenario,
  waitForByeScenario,
} from './helpers/sippScenarios.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-sipp-'));
const ulaw = path.join(dir, 'tone1k.ul');
const alaw = path.join(dir, 'tone1k.al');
writeToneFile(ulaw, 1000, 10, 'ulaw');
writeToneFile(alaw, 1000, 10, 'alaw');
let portBase = 30000 + 2 * Math.floor(Math.random() * 4000);
/** sipp's own SIP and RTP ports, distinct per run. */
function sippPorts(): string[] {
  const p = (portBase += 20);
  return ['-p', String(p), '-mp', String(p + 2)];
}
const common = ['-i', '127.0.0.1', '-mi', '127.0.0.1', '-m', '1'];
let gw: TestGateway;

test.before(async () => {
  gw = await startGateway({ config: { rtpTimeoutSec: 2 } });
});
test.after(async () => {
  await gw.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function toneCall(name: string, transport: 'u1' | 't1', pt: 0 | 8): Promise<void> {
  const scenario = writeScenario(dir, `${name}.xml`, uacScenario({ toneFile: pt === 0 ? ulaw : alaw, payloadType: pt, holdMs: 5000 }));
  const ended = new Promise<void>((resolve) => {
    const check = () => (gw.ended.some((c) => c.caller.from.includes(`SIPpTag`) && c.sipCallId.includes(name)) ? resolve() : undefined);
    gw.gateway.on('callEnded', check);
  });
  void ended;
  const r = await runSipp(['-sf', scenario, '-s', 'record', ...common, ...sippPorts(), '-t', transport, '-cid_str', `${name}-%u-%p@%s`, `127.0.0.1:${gw.sipPort}`]);
  assert.is(r.code, 0, `${name}: sipp failed: ${r.stderr.slice(-600)}`);
}

test('sipp calls over UDP (PCMU), TCP (PCMU) and UDP (PCMA) are recorded: tone in >= 95% of frames, 5 s +- 100 ms', async () => {
  const before = gw.ended.length;
  await Promise.all([toneCall('udp-pcmu', 'u1', 0), toneCall('tcp-pcmu', 't1', 0), toneCall('udp-pcma', 'u1', 8)]);
  // The gateway finishes a recording right after the BYE; wait for all three.
  for (let i = 0; i < 50 && gw.ended.length < before + 3; i++) await new Promise((r) => setTimeout(r, 100));
  const calls = gw.ended.slice(before);
  assert.is(calls.length, 3);
  for (const call of calls) {
    const rec = call.recordings[0]?.result;
    assert.ok(rec, `${call.sipCallId}: no recording`);
    assert.is(rec.state, 'ended');
    const audio = await decodeFile(rec.path);
    const tone = toneFrames(audio.pcm, audio.rate, 1000);
    assert.ok(tone.ratio >= 0.95, `${call.sipCallId}: tone in ${(tone.ratio * 100).toFixed(1)}% of frames`);
    assert.ok(Math.abs(audio.durationMs - 5000) <= 100, `${call.sipCallId}: ${audio.durationMs} ms`);
    assert.is(call.codec, call.sipCallId.includes('pcma') ? 'PCMA' : 'PCMU');
  }
  const start = gw.logs.find((l) => l.event === 'call.start' && String(l.sip_call_id).includes('tcp-pcmu'));
  const end = gw.logs.find((l) => l.event === 'call.end' && String(l.sip_call_id).includes('tcp-pcmu'));
  assert.ok(start && end, 'one log line at start and one at end');
  assert.is(end.packets_lost, 0);
  assert.ok(Number(end.duration_ms) >= 4900);
});

test('a call\'s RTP ports are given back at its hang-up, before its recording has finished closing its file', async () => {
  // What the allocator holds when each recording of the call ends (its file closed and hashed).
  const inUse: number[] = [];
  const onEvent = (e: { type: string }): void => {
    if (e.type === 'recording.completed') inUse.push(gw.gateway.ports.used);
  };
  gw.gateway.recordings.on('event', onEvent);
  try {
    assert.is(gw.gateway.ports.used, 0, 'no call up before');
    const scenario = writeScenario(dir, 'ports.xml', uacScenario({ toneFile: ulaw, holdMs: 1000 }));
    const r = await runSipp(['-sf', scenario, '-s', 'record', ...common, ...sippPorts(), `127.0.0.1:${gw.sipPort}`]);
    assert.is(r.code, 0, r.stderr.slice(-600));
    for (let i = 0; i < 50 && inUse.length === 0; i++) await new Promise((res) => setTimeout(res, 50));
    assert.equal(inUse, [0], 'the call\'s ports were free when its recording ended');
  } finally {
    gw.gateway.recordings.off('event', onEvent);
  }
});

/**
 * Places a short recorded call and, once it ended, returns weak references to it and its mixer
 * (and lets go of it in the test's own list): no strong reference stays in the caller's frame.
 */
async function endedCall(): Promise<{ call: WeakRef<object>; mixer: WeakRef<object> }> {
  const before = gw.ended.length;
  const scenario = writeScenario(dir, 'collected.xml', uacScenario({ toneFile: ulaw, holdMs: 500 }));
  const r = await runSipp(['-sf', scenario, '-s', 'record', ...common, ...sippPorts(), `127.0.0.1:${gw.sipPort}`]);
  assert.is(r.code, 0, r.stderr.slice(-600));
  for (let i = 0; i < 50 && gw.ended.length === before; i++) await new Promise((res) => setTimeout(res, 50));
  const [call] = gw.ended.splice(before, 1);
  assert.ok(call, 'the call ended');
  assert.is(call.recordings[0]?.result?.state, 'ended');
  return { call: new WeakRef(call), mixer: new WeakRef(call.mixer) };
}

test('an ended call can be collected at once, with its media: its SIP transactions live on 32 s (RFC 3261 timers) but do not keep it', async () => {
  // --expose-gc for this test alone: whether anything still reaches the call.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const refs = await endedCall();
  const layer = gw.gateway.transactions.stats();
  assert.ok(layer.serverTransactions > 0, `its INVITE and BYE transactions still live: ${JSON.stringify(layer)}`);
  for (let i = 0; i < 5 && refs.call.deref() !== undefined; i++) {
    await new Promise((res) => setTimeout(res, 20));
    gc();
  }
  assert.is(refs.call.deref(), undefined, 'the call was collected');
  assert.is(refs.mixer.deref(), undefined, 'and its mixer');
});

test('no common codec: 488 Not Acceptable Here', async () => {
  const scenario = writeScenario(
    dir,
    'g729.xml',
    uacScenario({ holdMs: 0, expect: 488, codecs: 'm=audio [rtpstream_audio_port] RTP/AVP 18 9\na=rtpmap:18 G729/8000\na=rtpmap:9 G722/8000' }),
  );
  const r = await runSipp(['-sf', scenario, '-s', 'record', ...common, ...sippPorts(), `127.0.0.1:${gw.sipPort}`]);
  assert.is(r.code, 0, r.stderr.slice(-600));
  assert.ok((gw.gateway.stats().rejected.no_common_codec ?? 0) >= 1);
});

test('OPTIONS keep-alive gets 200 with Allow', async () => {
  const r = await runSipp(['-sf', writeScenario(dir, 'options.xml', optionsScenario()), '-s', 'trunk', ...common, ...sippPorts(), `127.0.0.1:${gw.sipPort}`]);
  assert.is(r.code, 0, r.stderr.slice(-600));
});

test('re-INVITE: hold (sendonly -> we answer recvonly) and resume (sendrecv)', async () => {
  const r = await runSipp(['-sf', writeScenario(dir, 'hold.xml', holdResumeScenario()), '-s', 'record', ...common, ...sippPorts(), `127.0.0.1:${gw.sipPort}`]);
  assert.is(r.code, 0, r.stderr.slice(-800));
});

test('RTP inactivity: the gateway hangs up with BYE after the timeout (2 s here)', async () => {
  const before = gw.ended.length;
  const t0 = Date.now();
  const r = await runSipp(['-sf', writeScenario(dir, 'silent.xml', waitForByeScenario(10000)), '-s', 'record', ...common, ...sippPorts(), `127.0.0.1:${gw.sipPort}`]);
  assert.is(r.code, 0, r.stderr.slice(-600));
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 2000 && elapsed < 6000, `BYE after ${elapsed} ms`);
  // Wait for this call's end (other tests' calls may end meanwhile).
  for (let i = 0; i < 60 && !gw.ended.slice(before).some((c) => c.endReason.includes('rtp_timeout')); i++) {
    await new Promise((res) => setTimeout(res, 50));
  }
  const silent = gw.ended.find((c) => c.endReason.includes('rtp_timeout'));
  assert.ok(silent, `ended: ${gw.ended.map((c) => c.endReason).join(', ')}`);
});

test('digest authentication: 401 challenge, then the call with credentials is accepted; a wrong password is refused', async () => {
  const auth = await startGateway({
    routes: {
      // sipp only answers MD5 challenges.
      trunks: { auth: { realm: 'recgate.test', users: { trunk1: 's3cret' }, algorithms: ['MD5'] } },
      routes: [{ match: { user: '*' }, action: 'record', auth: true }],
    },
  });
  try {
    const scenario = writeScenario(dir, 'auth.xml', authScenario());
    const ok = await runSipp(['-sf', scenario, '-s', 'record', ...common, ...sippPorts(), '-au', 'trunk1', '-ap', 's3cret', `127.0.0.1:${auth.sipPort}`]);
    assert.is(ok.code, 0, ok.stderr.slice(-800));
    const bad = await runSipp(['-sf', scenario, '-s', 'record', ...common, ...sippPorts(), '-au', 'trunk1', '-ap', 'wrong', `127.0.0.1:${auth.sipPort}`]);
    assert.is.not(bad.code, 0);
    assert.match(bad.stderr + bad.stdout, /403/);
    assert.ok((auth.gateway.stats().rejected.auth_failed ?? 0) >= 1);
  } finally {
    await auth.stop();
  }
});

test('CANCEL before answer: 200 for the CANCEL, 487 for the INVITE, and the callee leg is cancelled too', async () => {
  const uasPort = (portBase += 20);
  const bridge = await startGateway({
    routes: { routes: [{ match: { user: '*' }, action: 'connect', target: `sip:{user}@127.0.0.1:${uasPort}` }] },
  });
  try {
    const uas = runSipp(['-sf', writeScenario(dir, 'uas-ring.xml', uasRingScenario()), ...common, '-p', String(uasPort), '-mp', String(uasPort + 2)], 20000);
    await new Promise((r) => setTimeout(r, 300));
    const uac = await runSipp(['-sf', writeScenario(dir, 'cancel.xml', cancelScenario()), '-s', 'ringing', ...common, ...sippPorts(), `127.0.0.1:${bridge.sipPort}`]);
    assert.is(uac.code, 0, `caller: ${uac.stderr.slice(-800)}`);
    const callee = await uas;
    assert.is(callee.code, 0, `callee: ${callee.stderr.slice(-800)}`);
  } finally {
    await bridge.stop();
  }
});

test.run();
