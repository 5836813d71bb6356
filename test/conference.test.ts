/**
 * Conferences with real callers: three sipp callers (800, 1000 and 1200 Hz; the third joins
 * 3 s late) in a conference created by the API with auto-recording and tracks. What each
 * caller receives is read off the wire (tcpdump): the two others, never itself. The mix holds
 * all three, each track only its participant, and the late joiner starts 3 s into the mix,
 * where the manifest says. A fourth caller finds it full (486); mute, kick and DELETE work.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toneFraction } from '../dsp/index.js';
import { RtpDrop, RtpHeaderReader, decodePcmu } from '../rtp/index.js';
import { parseRecordingSpec } from '../recorder/index.js';
import type { Call } from '../calls/index.js';
import { startApi, waitFor } from './helpers/api.js';
import { decodeFile } from './helpers/ffmpeg.js';
import { startCapture } from './helpers/pcap.js';
import type { CapturedPacket } from './helpers/pcap.js';
import { runSipp, uacScenario, writeScenario, writeToneFile } from './helpers/sipp.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-conf-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
const base = 36000 + 2 * Math.floor(Math.random() * 3000);
const common = ['-i', '127.0.0.1', '-mi', '127.0.0.1', '-m', '1'];
const TONES = [800, 1000, 1200] as const;

/** Mean share of the energy at `hz` over 100 ms blocks in [fromMs, toMs) of mono PCM. */
function share(pcm: ArrayLike<number>, rate: number, hz: number, fromMs: number, toMs: number): number {
  const block = Math.round(rate / 10);
  let sum = 0;
  let n = 0;
  for (let s = Math.round((fromMs * rate) / 1000); s + block <= Math.min(pcm.length, Math.round((toMs * rate) / 1000)); s += block) {
    sum += toneFraction(pcm, s, block, hz, rate);
    n++;
  }
  return n === 0 ? 0 : sum / n;
}

/** First 100 ms block (ms) where `hz` holds at least 20% of the energy, or -1. */
function onsetMs(pcm: ArrayLike<number>, rate: number, hz: number): number {
  const block = Math.round(rate / 50);
  for (let s = 0; s + block <= pcm.length; s += block) if (toneFraction(pcm, s, block, hz, rate) >= 0.2) return (s / rate) * 1000;
  return -1;
}

/** PCMU payloads of the packets from or to one gateway port, decoded in order. */
function decodeStream(packets: CapturedPacket[], pick: (p: CapturedPacket) => boolean): Int16Array {
  const h = new RtpHeaderReader();
  const out: number[] = [];
  const buf = new Int16Array(400);
  for (const p of packets) {
    if (!pick(p) || h.parse(p.payload, 0, p.payload.length) !== RtpDrop.None || h.payloadType !== 0) continue;
    decodePcmu(p.payload, h.payloadOffset, h.payloadLength, buf, 0);
    for (let i = 0; i < h.payloadLength; i++) out.push(buf[i]!);
  }
  return Int16Array.from(out);
}

test('three sipp callers: N-1 audio on the wire, mix with all three, one track each, a late joiner in place, full at 3', async () => {
  const api = await startApi({ routes: { routes: [{ match: { user: 'room*' }, action: 'conference', conference: '{user}', recording: false }] } });
  const { min, max } = api.config.rtpPorts;
  const capture = await startCapture(path.join(dir, 'conf.pcap'), `udp and portrange ${min}-${max}`);
  try {
    const created = await api.request('POST', '/v1/conferences', { body: { name: 'room1', max_participants: 3, recording: { format: 'wav', tracks: true } } });
    assert.is(created.status, 201, JSON.stringify(created.json));
    const confId = created.json.id as string;
    const files = TONES.map((hz) => {
      const f = path.join(dir, `t${hz}.ul`);
      writeToneFile(f, hz, 12);
      return f;
    });
    const caller = (i: number, holdMs: number, expect = 200) =>
      runSipp(
        [
          '-sf',
          writeScenario(dir, `c${i}.xml`, uacScenario({ toneFile: files[i % 3]!, holdMs, expect })),
          '-s',
          'room1',
          ...common,
          '-p',
          String(base + i * 10),
          '-mp',
          String(base + i * 10 + 2),
          `127.0.0.1:${api.sipPort}`,
        ],
        30_000,
      );
    const t0 = Date.now();
    const a = caller(0, 9000);
    await new Promise((r) => setTimeout(r, 300));
    const b = caller(1, 8700);
    await new Promise((r) => setTimeout(r, 3000 - (Date.now() - t0)));
    const c = caller(2, 5500);
    const joined = await waitFor(async () => {
      const r = await api.request('GET', `/v1/conferences/${confId}`);
      return r.json.participants.length === 3 ? (r.json.participants as { call_id: string }[]) : null;
    }, 5000, 'three joined');
    // The gateway's RTP port of each participant (the streams on the wire are told apart by it).
    const gwPorts = joined.map((p) => api.gateway.call(p.call_id)!.legs[0]!.port);
    // A fourth finds it full: 486 before any answer.
    const d = await caller(3, 0, 486);
    assert.is(d.code, 0, `fourth caller: ${d.stderr.slice(-400)}`);
    for (const [i, r] of [a, b, c].entries()) {
      const res = await r;
      assert.is(res.code, 0, `caller ${i}: ${res.stderr.slice(-400)}`);
    }
    // The last one out ends the conference; the recordings are final.
    const ended = await waitFor(async () => {
      const r = await api.request('GET', `/v1/conferences/${confId}`);
      return r.json.status === 'ended' ? r.json : null;
    }, 8000, 'conference ended');
    assert.is(ended.end_reason, 'last_participant_left');
    assert.is(ended.participants.length, 3);
    const packets = await capture.stop();

    const recs = (await api.request('GET', `/v1/recordings?reference_id=${confId}`)).json.result as Record<string, unknown>[];
    await waitFor(async () => {
      const all = (await api.request('GET', `/v1/recordings?reference_id=${confId}`)).json.result as { status: string }[];
      return all.length === 4 && all.every((r) => r.status === 'ended');
    }, 8000, 'four recordings ended');
    assert.is(recs.length, 4);
    const mixRow = api.gateway.store.getRecording(recs.find((r) => !String(r.label).startsWith('track:'))!.id as string)!;
    assert.is(mixRow.tracks.length, 3);

    // Each participant's stream on the wire: into the gateway (its tone) and back (what it hears).
    const byTone = new Map<number, number>(); // tone -> gateway port
    for (const port of gwPorts) {
      const inbound = decodeStream(packets, (p) => p.dstPort === port);
      if (inbound.length < 8000) continue;
      const tone = TONES.find((hz) => share(inbound, 8000, hz, 500, 2500) > 0.8);
      if (tone !== undefined) byTone.set(tone, port);
    }
    assert.equal([...byTone.keys()].sort((x, y) => x - y), [...TONES], 'each caller sent its tone to its own gateway port');
    for (const hz of TONES) {
      const heard = decodeStream(packets, (p) => p.srcPort === byTone.get(hz));
      // While all three were in (3.5 s .. 8 s after the first joined, in the heard stream's time
      // for the first two; the late one's whole stream), the others are heard, never itself.
      const from = hz === 1200 ? 500 : 4000;
      const to = hz === 1200 ? 4500 : 8000;
      for (const other of TONES) {
        const s = share(heard, 8000, other, from, to);
        if (other === hz) assert.ok(s < 0.02, `${hz} Hz caller hears itself: ${s.toFixed(3)}`);
        else assert.ok(s > 0.2, `${hz} Hz caller hears ${other} Hz only ${s.toFixed(3)}`);
      }
    }

    // The mix (mono) holds all three once the third is in; it joined about 3 s in, where the manifest says.
    const mix = await decodeFile(api.gateway.recordings.fileOf(mixRow));
    const late = mixRow.tracks.find((t) => t.join_offset_ms > 2000)!;
    assert.ok(late, JSON.stringify(mixRow.tracks));
    assert.ok(Math.abs(late.join_offset_ms - 3000) < 400, `late joiner at ${late.join_offset_ms} ms`);
    const onset1200 = onsetMs(mix.pcm, mix.rate, 1200);
    // Never before the join; after it by the caller's own start (sipp streams once its ACK is
    // out) plus the playout delay: one full-suite run measured exactly 200 ms.
    const lag = onset1200 - late.join_offset_ms;
    assert.ok(lag > -100 && lag < 350, `1200 Hz starts at ${onset1200} ms in the mix, manifest ${late.join_offset_ms} ms`);
    assert.ok(onsetMs(mix.pcm, mix.rate, 800) < 300);
    for (const hz of TONES) assert.ok(share(mix.pcm, mix.rate, hz, late.join_offset_ms + 500, late.join_offset_ms + 4500) > 0.15, `${hz} Hz in the mix`);
    assert.ok(share(mix.pcm, mix.rate, 1200, 500, 2500) < 0.02, 'no 1200 Hz before the late joiner');

    // Each track holds its participant only, and starts at its join (offsets in the manifest).
    for (const t of mixRow.tracks) {
      const row = api.gateway.store.getRecording(t.recording_id)!;
      assert.is(row.status, 'ended');
      assert.ok(t.leave_offset_ms > t.join_offset_ms, JSON.stringify(t));
      const track = await decodeFile(api.gateway.recordings.fileOf(row));
      const own = TONES.find((hz) => share(track.pcm, track.rate, hz, 500, 2000) > 0.8);
      assert.ok(own !== undefined, `track ${t.recording_id} holds one tone`);
      for (const other of TONES) if (other !== own) assert.ok(share(track.pcm, track.rate, other, 0, track.durationMs) < 0.02, `track of ${own} Hz holds ${other} Hz`);
      assert.ok(Math.abs(track.durationMs - (t.leave_offset_ms - t.join_offset_ms)) < 300, `track ${track.durationMs} ms vs manifest ${t.leave_offset_ms - t.join_offset_ms} ms`);
    }
  } finally {
    await capture.stop().catch(() => undefined);
    await api.stop();
  }
});

test('API: create, list, mute and unmute, join by API and by flow, kick, DELETE ends with BYE; errors', async () => {
  const api = await startApi({
    routes: {
      routes: [
        { match: { user: 'conf-*' }, action: 'conference', conference: '{user}', recording: false },
        { match: { user: 'rec' }, action: 'record', recording: { format: 'wav' } },
        { match: { user: 'ivr' }, action: 'flow', flow: [{ action: 'beep' }, { action: 'conference_join', option: { conference: 'conf-a' } }] },
      ],
    },
  });
  try {
    assert.is((await api.request('POST', '/v1/conferences', { body: { name: '' } })).json.error.field, 'name');
    assert.is((await api.request('POST', '/v1/conferences', { body: { name: 'x', max_participants: 0 } })).json.error.field, 'max_participants');
    assert.is((await api.request('POST', '/v1/conferences', { body: { name: 'x', recording: { channels: 'stereo' } } })).json.error.field, 'recording.channels');
    const tone = path.join(dir, 'api.ul');
    writeToneFile(tone, 1000, 12);
    const sipp = (i: number, user = 'conf-a') =>
      runSipp(['-sf', writeScenario(dir, `api${i}.xml`, uacScenario({ toneFile: tone, holdMs: 15000 })), '-s', user, ...common, '-p', String(base + 200 + i * 10), '-mp', String(base + 202 + i * 10), `127.0.0.1:${api.sipPort}`], 30_000);
    const first = sipp(0);
    // The route created the conference on demand, by name.
    const conf = await waitFor(async () => {
      const list = (await api.request('GET', '/v1/conferences?status=active')).json.result as { id: string; name: string; participants: unknown[] }[];
      return list.find((c) => c.name === 'conf-a' && c.participants.length === 1) ?? null;
    }, 5000, 'conference on demand');
    assert.is((await api.request('POST', '/v1/conferences', { body: { name: 'conf-a' } })).json.error.code, 'conference_exists');
    const second = sipp(1);
    const two = await waitFor(async () => {
      const r = (await api.request('GET', `/v1/conferences/${conf.id}`)).json;
      return r.participants.length === 2 ? r : null;
    }, 5000, 'two in');
    const [p1, p2] = two.participants.map((p: { call_id: string }) => p.call_id) as [string, string];
    const muted = await api.request('POST', `/v1/conferences/${conf.id}/participants/${p1}/mute`);
    assert.is(muted.status, 200);
    assert.is(muted.json.participants[0].muted, true);
    assert.is(api.gateway.call(p1)!.legs[0]!.input.muted, true);
    assert.is((await api.request('POST', `/v1/conferences/${conf.id}/participants/${p1}/unmute`)).json.participants[0].muted, false);
    assert.is((await api.request('POST', `/v1/conferences/${conf.id}/participants/nobody/mute`)).status, 404);
    // A recorded call moves in by API (its own recording stops); a flow beeps and joins by name.
    const third = sipp(2, 'rec');
    const recorded = await waitFor(() => [...api.gateway.calls.values()].find((c) => c.routeName !== '' && c.conference === null && c.status === 'progressing') ?? null, 5000, 'recorded call');
    const ownRec = recorded.recordings[0]!.id;
    assert.is((await api.request('POST', `/v1/calls/${recorded.id}/conference_join`, { body: {} })).json.error.field, 'conference_id');
    assert.is((await api.request('POST', `/v1/calls/${recorded.id}/conference_join`, { body: { name: 'nope' } })).status, 404);
    // The leg's RTP counters (/metrics) survive the move, though it gets a new receiver and input there.
    const legTotals = () => {
      const t = { received: 0, lost: 0, concealed: 0, late: 0, driftInserted: 0, driftDropped: 0, relayed: 0 };
      recorded.legs[0]!.addTotals(t);
      return t;
    };
    const before = await waitFor(() => (legTotals().received >= 20 ? legTotals().received : null), 5000, 'RTP from the recorded call');
    const joined = await api.request('POST', `/v1/calls/${recorded.id}/conference_join`, { body: { conference_id: conf.id } });
    assert.is(joined.status, 200, JSON.stringify(joined.json));
    assert.ok(legTotals().received >= before, `received ${legTotals().received} after the join, ${before} before`);
    assert.is(joined.json.participants.length, 3);
    await waitFor(() => api.gateway.store.getRecording(ownRec)?.status === 'ended', 5000, "the call's own recording stopped");
    const fourth = sipp(3, 'ivr');
    await waitFor(async () => (await api.request('GET', `/v1/conferences/${conf.id}`)).json.participants.length === 4, 8000, 'the flow joined');
    // Recording by API, then kick p1 (BYE): its sipp ends with a BYE it did not expect (non-zero), the other stays.
    const rec = await api.request('POST', `/v1/conferences/${conf.id}/recording_start`, { body: { format: 'wav' } });
    assert.is(rec.status, 201, JSON.stringify(rec.json));
    assert.is((await api.request('POST', `/v1/conferences/${conf.id}/recording_pause`)).json.result[0].status, 'paused');
    assert.is((await api.request('POST', `/v1/conferences/${conf.id}/recording_resume`)).json.result[0].status, 'recording');
    assert.is((await api.request('DELETE', `/v1/conferences/${conf.id}/participants/${p1}`)).status, 200);
    await waitFor(async () => (await api.request('GET', `/v1/conferences/${conf.id}`)).json.participants.filter((p: { present: boolean }) => p.present).length === 3, 5000, 'kicked');
    // DELETE: the other participant gets BYE, the conference ends, the recording is final.
    const del = await api.request('DELETE', `/v1/conferences/${conf.id}`);
    assert.is(del.status, 200);
    assert.is(del.json.status, 'ended');
    assert.is((await api.request('DELETE', `/v1/conferences/${conf.id}`)).json.error.code, 'conference_ended');
    const row = await waitFor(() => {
      const r = api.gateway.store.getRecording(rec.json.id as string);
      return r !== null && r.status === 'ended' ? r : null;
    }, 5000, 'recording ended');
    assert.is(row.pauses.length, 1);
    await Promise.all([first, second, third, fourth]);
    assert.is(api.gateway.calls.size, 0);
    assert.is((await api.request('GET', `/v1/calls/${p2}`)).json.end_reason !== '', true);
  } finally {
    await api.stop();
  }
});

test('two callers joining at once start one auto-recording, not two', async () => {
  const api = await startApi({ routes: { routes: [{ match: { user: 'x' }, action: 'record' }] } });
  try {
    const conf = api.gateway.conferences.create({ account: 'default', name: 'race', recording: parseRecordingSpec({ format: 'wav' }, 'recording') });
    // Participants without media (the race is in the bookkeeping): the second joins while the
    // first one's auto-recording is still creating its file.
    const fake = (id: string): Call => ({ id, legs: [], caller: { from: `sip:${id}@127.0.0.1` } }) as unknown as Call;
    await Promise.all([conf.add(fake('a')), conf.add(fake('b'))]);
    assert.is(conf.activeRecordingIds().length, 1);
    const rows = api.gateway.store.listRecordings({ account_id: 'default', page_size: 10, reference_id: conf.id }).result;
    assert.is(rows.length, 1);
    await conf.end('test');
  } finally {
    await api.stop();
  }
});

test.run();
