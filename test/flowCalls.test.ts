/**
 * Call flows with real callers: sipp replays scripted media (test/helpers/rtpPcap.ts) into a
 * consent flow (answer, talk, gather one digit, branch): "1" is recorded, "2" is not, with the
 * digit sent as RFC 4733 and as in-band tones. PCI pause by DTMF: the span between *1 and *2
 * is absent (skip) or silent (silence) in the file and listed in the recording's pauses.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toneFraction, toneFrames } from '../dsp/index.js';
import { startApi, waitFor } from './helpers/api.js';
import type { TestApi } from './helpers/api.js';
import { decodeFile } from './helpers/ffmpeg.js';
import { writeRtpPcap } from './helpers/rtpPcap.js';
import type { MediaSegment } from './helpers/rtpPcap.js';
import { runSipp, writeScenario, writeToneFile } from './helpers/sipp.js';
import { pcapCallerScenario, uasToneScenario, waitForByeScenario } from './helpers/sippScenarios.js';
import { startCapture } from './helpers/pcap.js';
import { RtpDrop, RtpHeaderReader, decodePcmu } from '../rtp/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-flow-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
// Below the gateways' RTP ranges (40000+, test/helpers/udpPeer.ts).
let port = 24000 + 2 * Math.floor(Math.random() * 3000);

/** Calls `user` with scripted media; resolves with the ended call once the gateway is done with it. */
async function call(api: TestApi, user: string, segments: MediaSegment[]) {
  const pcap = path.join(dir, `${user}-${port}.pcap`);
  const { durationMs } = writeRtpPcap(pcap, segments);
  const ended = api.nextEnded();
  port += 10;
  const r = await runSipp(
    ['-sf', writeScenario(dir, `${user}-${port}.xml`, pcapCallerScenario(pcap, durationMs + 400)), '-s', user, '-i', '127.0.0.1', '-mi', '127.0.0.1', '-m', '1', '-p', String(port), '-mp', String(port + 2), `127.0.0.1:${api.sipPort}`],
    durationMs + 20_000,
  );
  assert.is(r.code, 0, `sipp: ${r.stderr.slice(-600)}`);
  return ended;
}

const CONSENT = [
  { action: 'answer' },
  { action: 'talk', option: { text: 'This call may be recorded. Press 1 to agree.' } },
  { action: 'gather', option: { variable: 'consent', max_digits: 1, timeout_ms: 4000 } },
  { action: 'branch', option: { variable: 'consent', cases: { '1': [{ action: 'recording_start', option: { format: 'wav', label: 'consented' } }] } } },
];

for (const kind of ['dtmf-rfc4733', 'dtmf-inband'] as const) {
  test(`consent flow (${kind === 'dtmf-rfc4733' ? 'RFC 4733' : 'in-band tones'}): "1" is recorded, "2" is not`, async () => {
    const api = await startApi({ routes: { routes: [{ match: { user: 'consent' }, action: 'flow', flow: CONSENT }] } });
    try {
      // The prompt plays while the caller is quiet; the key comes about 3.5 s in, then the tone.
      const script = (digit: string): MediaSegment[] => [
        { kind: 'silence', ms: 3500 },
        { kind, digit, ms: 120 } as MediaSegment,
        { kind: 'silence', ms: 200 },
        { kind: 'tone', hz: 1000, ms: 3000 },
      ];
      const yes = await call(api, 'consent', script('1'));
      assert.equal(yes.dtmf.map((d) => `${d.digit}:${d.via}`), [`1:${kind === 'dtmf-rfc4733' ? 'rfc4733' : 'inband'}`]);
      assert.is(yes.recordings.length, 1, 'consent given: one recording');
      const row = await waitFor(() => {
        const r = api.gateway.store.getRecording(yes.recordings[0]!.id);
        return r?.status === 'ended' ? r : null;
      }, 5000, 'recording final');
      assert.is(row.label, 'consented');
      const audio = await decodeFile(api.gateway.recordings.fileOf(row));
      const t = toneFrames(audio.pcm, audio.rate, 1000, { skipMs: 500 });
      assert.ok(t.toneFrames >= 100, `the caller's tone after consent: ${t.toneFrames} frames`);
      // The prompt was before the recording: it is not in the file (no speech energy before the tone).
      assert.ok(audio.durationMs < 4000, `${audio.durationMs} ms`);

      const no = await call(api, 'consent', script('2'));
      assert.equal(no.dtmf.map((d) => d.digit), ['2']);
      assert.is(no.recordings.length, 0, 'consent refused: nothing recorded');
      assert.is((await api.request('GET', `/v1/recordings?call_id=${no.id}`)).json.result.length, 0);
    } finally {
      await api.stop();
    }
  });
}

for (const behavior of ['skip', 'silence'] as const) {
  test(`PCI pause by DTMF (${behavior}): the card number between *1 and *2 is not in the file, and the pause is listed`, async () => {
    const flow = [{ action: 'recording_start', option: { format: 'wav', pause_behavior: behavior, pci_pause: { pause_digits: '*1', resume_digits: '*2' } } }];
    // skip: the flow inline in the route; silence: stored with POST /v1/flows, the route names its id.
    const api = await startApi({
      routes: { routes: [behavior === 'skip' ? { match: { user: 'pay' }, action: 'flow', flow } : { match: { user: 'pay' }, action: 'flow', flow_id: 'pci-flow' }] },
    });
    try {
      if (behavior === 'silence') {
        const stored = await api.request('POST', '/v1/flows', { body: { id: 'pci-flow', name: 'pci', actions: flow } });
        assert.is(stored.status, 201, JSON.stringify(stored.json));
        assert.is((await api.request('POST', '/v1/flows', { body: { id: 'pci-flow', name: 'again', actions: flow } })).json.error.field, 'id');
      }
      const ended = await call(api, 'pay', [
        { kind: 'tone', hz: 1000, ms: 1500 },
        { kind: 'dtmf-rfc4733', digit: '*', ms: 100 },
        { kind: 'dtmf-rfc4733', digit: '1', ms: 100 },
        { kind: 'tone', hz: 1500, ms: 2000 }, // the card number: must not be recorded
        { kind: 'dtmf-rfc4733', digit: '*', ms: 100 },
        { kind: 'dtmf-rfc4733', digit: '2', ms: 100 },
        { kind: 'tone', hz: 1000, ms: 1500 },
      ]);
      const row = await waitFor(() => {
        const r = api.gateway.store.getRecording(ended.recordings[0]!.id);
        return r?.status === 'ended' ? r : null;
      }, 5000, 'recording final');
      assert.is(row.pauses.length, 1, JSON.stringify(row.pauses));
      assert.is(row.pauses[0]!.by, 'dtmf');
      const span = row.pauses[0]!.call_end_ms - row.pauses[0]!.call_start_ms;
      assert.ok(span > 1900 && span < 2800, `paused ${span} ms`);
      const audio = await decodeFile(api.gateway.recordings.fileOf(row));
      // No frame of the 1500 Hz "card number" is in the file.
      assert.is(toneFrames(audio.pcm, audio.rate, 1500, { minFraction: 0.3 }).toneFrames, 0, 'card digits recorded');
      const kept = toneFrames(audio.pcm, audio.rate, 1000);
      assert.ok(kept.toneFrames >= 100, `the talk around it is recorded: ${JSON.stringify(kept)} in ${audio.durationMs} ms, pauses ${JSON.stringify(row.pauses)}`);
      const offset = Math.round((row.pauses[0]!.offset_ms * audio.rate) / 1000);
      if (behavior === 'skip') {
        // The span is cut: about 3 s of tone plus keys remain, not 5.
        assert.ok(audio.durationMs > 2800 && audio.durationMs < 4000, `${audio.durationMs} ms`);
      } else {
        // The span is kept as digital silence, so the file keeps the call's length.
        assert.ok(audio.durationMs > 4800, `${audio.durationMs} ms`);
        const gap = audio.pcm.subarray(offset + 800, offset + Math.round((span - 200) * audio.rate / 1000));
        assert.ok(gap.length > 8000 && gap.every((v) => v === 0), 'the paused span is silent');
        // 300 to 200 ms before the pause: the tone just before the keys (*1, 200 ms of RFC 4733
        // events, silent in the file). Not closer: where the tone ends against the pause offset
        // moves with the silence before the caller's first packet, now that a recording starts
        // the clock.
        assert.ok(toneFraction(audio.pcm, offset - 2400, 800, 1000, audio.rate) > 0.5, 'tone right before the pause');
      }
    } finally {
      await api.stop();
    }
  });
}

test('a flow that beeps, then connects to a trunk: bridged and recorded stereo after the prompt', async () => {
  const uasPort = port + 500;
  const api = await startApi({
    routes: {
      routes: [
        {
          match: { user: 'sales' },
          action: 'flow',
          flow: [
            { action: 'beep', option: { frequency_hz: 440, duration_ms: 400 } },
            { action: 'connect', option: { target: `sip:agent@127.0.0.1:${uasPort}`, recording: { format: 'wav', channels: 'stereo' } } },
          ],
        },
      ],
    },
  });
  try {
    const agentTone = path.join(dir, 'agent.ul');
    writeToneFile(agentTone, 1500, 12);
    const agent = runSipp(['-sf', writeScenario(dir, 'agent.xml', uasToneScenario(agentTone)), '-i', '127.0.0.1', '-mi', '127.0.0.1', '-m', '1', '-p', String(uasPort), '-mp', String(uasPort + 2)], 30_000);
    await new Promise((r) => setTimeout(r, 300));
    const ended = await call(api, 'sales', [{ kind: 'tone', hz: 1000, ms: 5000 }]);
    assert.is((await agent).code, 0, 'the agent got the call and its BYE');
    assert.ok(ended.callee !== null, 'bridged');
    assert.is(ended.recordings.length, 1);
    const row = await waitFor(() => {
      const r = api.gateway.store.getRecording(ended.recordings[0]!.id);
      return r?.status === 'ended' ? r : null;
    }, 5000, 'recording final');
    const audio = await decodeFile(api.gateway.recordings.fileOf(row));
    assert.is(audio.channels, 2);
    assert.ok(toneFrames(audio.pcm, audio.rate, 1000, { channels: 2, channel: 0, skipMs: 300 }).ratio > 0.85, 'caller left');
    assert.ok(toneFrames(audio.pcm, audio.rate, 1500, { channels: 2, channel: 1, skipMs: 300 }).ratio > 0.85, 'agent right');
    assert.is(toneFrames(audio.pcm, audio.rate, 440, { channels: 2, channel: 0, minFraction: 0.3 }).toneFrames, 0, 'the beep is not recorded');
    // Once the prompt was silent, both parties (PCMU) were relayed to each other: about 5 s x
    // 50 packets/s each way.
    const relayed = api.gateway.rtpTotals().relayed;
    assert.ok(relayed >= 300, `${relayed} packets relayed`);
  } finally {
    await api.stop();
  }
});

test('play, announcement, pause/resume/stop by the flow and hangup: the caller hears the clips, the file holds neither', async () => {
  const api = await startApi({
    routes: {
      routes: [
        {
          match: { user: 'ivr' },
          action: 'flow',
          flow: [
            { action: 'answer' },
            { action: 'play', option: { file: 'hello.wav' } },
            { action: 'recording_start', option: { format: 'wav', announcement_file: 'hello.wav', variable: 'rec' } },
            { action: 'gather', option: { variable: 'wait1', timeout_ms: 1500 } },
            { action: 'recording_pause' },
            { action: 'gather', option: { variable: 'wait2', timeout_ms: 600 } },
            { action: 'recording_resume' },
            { action: 'gather', option: { variable: 'wait3', timeout_ms: 600 } },
            { action: 'recording_stop' },
            { action: 'hangup' },
          ],
        },
      ],
    },
  });
  try {
    // The clip: 0.5 s of 440 Hz, a 16 kHz WAV under <data dir>/media.
    const media = path.join(api.config.dataDir, 'media');
    fs.mkdirSync(media, { recursive: true });
    const n = 8000;
    const wav = Buffer.alloc(44 + n * 2);
    wav.write('RIFF', 0, 'ascii');
    wav.writeUInt32LE(36 + n * 2, 4);
    wav.write('WAVEfmt ', 8, 'ascii');
    wav.writeUInt32LE(16, 16);
    wav.writeUInt16LE(1, 20);
    wav.writeUInt16LE(1, 22);
    wav.writeUInt32LE(16000, 24);
    wav.writeUInt32LE(32000, 28);
    wav.writeUInt16LE(2, 32);
    wav.writeUInt16LE(16, 34);
    wav.write('data', 36, 'ascii');
    wav.writeUInt32LE(n * 2, 40);
    for (let i = 0; i < n; i++) wav.writeInt16LE(Math.round(10000 * Math.sin((2 * Math.PI * 440 * i) / 16000)), 44 + i * 2);
    fs.writeFileSync(path.join(media, 'hello.wav'), wav);
    port += 10;
    const { min, max } = api.config.rtpPorts;
    const capture = await startCapture(path.join(dir, 'ivr.pcap'), `udp and portrange ${min}-${max}`);
    const ended = api.nextEnded();
    // A silent caller that waits for the gateway's BYE.
    const r = await runSipp(['-sf', writeScenario(dir, 'ivr.xml', waitForByeScenario(15_000)), '-s', 'ivr', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-m', '1', '-p', String(port), '-mp', String(port + 2), `127.0.0.1:${api.sipPort}`], 25_000);
    const packets = await capture.stop();
    assert.is(r.code, 0, `the caller got the flow's BYE: ${r.stderr.slice(-400)}`);
    const c = await ended;
    assert.match(c.endReason, /flow_hangup/);
    // What the caller heard: the clip twice (play, then the announcement), about 1 s of 440 Hz.
    const h = new RtpHeaderReader();
    const heard: number[] = [];
    const buf = new Int16Array(400);
    for (const p of packets) {
      if (p.srcPort !== c.legs[0]!.port || h.parse(p.payload, 0, p.payload.length) !== RtpDrop.None) continue;
      decodePcmu(p.payload, h.payloadOffset, h.payloadLength, buf, 0);
      for (let i = 0; i < h.payloadLength; i++) heard.push(buf[i]!);
    }
    const clip = toneFrames(heard, 8000, 440).toneFrames;
    assert.ok(clip >= 40 && clip <= 55, `440 Hz heard in ${clip} frames of 20 ms (two 0.5 s clips)`);
    // The recording: started after the announcement, paused 0.6 s by the flow (skip), stopped by it.
    const row = await waitFor(() => {
      const x = api.gateway.store.getRecording(c.recordings[0]!.id);
      return x?.status === 'ended' ? x : null;
    }, 5000, 'recording final');
    assert.is(row.pauses.length, 1);
    assert.is(row.pauses[0]!.by, 'flow');
    assert.ok(row.duration_ms > 1800 && row.duration_ms < 2500, `${row.duration_ms} ms (1.5 s + 0.6 s recorded)`);
    const audio = await decodeFile(api.gateway.recordings.fileOf(row));
    assert.is(toneFrames(audio.pcm, audio.rate, 440, { minFraction: 0.3 }).toneFrames, 0, 'the announcement is not in the file');
    const steps = api.logs.filter((l) => l.event === 'flow.action' && l.call_id === c.id).map((l) => l.action);
    assert.equal(steps, ['answer', 'play', 'recording_start', 'gather', 'recording_pause', 'gather', 'recording_resume', 'gather', 'recording_stop', 'hangup']);
  } finally {
    await api.stop();
  }
});

test.run();
