/**
 * End to end in one process: two RTP legs over real UDP sockets on 127.0.0.1 -> endpoints ->
 * jitter buffers -> mixer (real-time clock) -> encoders -> files, then decoded with ffmpeg.
 * Caller sends 1000 Hz, callee 1500 Hz.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Mixer, FrameScheduler } from '../mixer/index.js';
import { AudioReceiver, AudioSender, PortAllocator, RtpEndpoint, PCMU, RtpHeaderReader, RtpDrop, decodePcmu } from '../rtp/index.js';
import { Recording } from '../recorder/index.js';
import type { RecordingResult } from '../recorder/index.js';
import { rms, toneFrames } from '../dsp/index.js';
import { decodeFile, probeFile } from './helpers/ffmpeg.js';
import { UdpPeer, randomPortRange } from './helpers/udpPeer.js';
import { ToneStream } from './helpers/rtpStream.js';
import type { SendPlan } from './helpers/udpPeer.js';

interface Call {
  dir: string;
  results: Record<string, RecordingResult>;
  callerPeer: UdpPeer;
  receivers: AudioReceiver[];
  sentMs: number;
  /** From the recordings' start to the first packet sent, in ms: the files open with this much silence. */
  leadMs: number;
}

/**
 * Runs a two-leg call for `packets` x 20 ms and records it in every format. The recordings
 * start together, `lateMs` before the first packet (as when the answer starts a recording and
 * a loaded peer's RTP comes later).
 */
async function recordCall(plan: Omit<SendPlan, 'seed'>, relay = false, lateMs = 0): Promise<Call> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-pipeline-'));
  const [min, max] = randomPortRange();
  const ports = new PortAllocator(min, max);
  const scheduler = new FrameScheduler();
  const mixer = new Mixer({ sampleRate: 8000, delayMs: 60 });
  const callerIn = mixer.createInput('caller');
  const calleeIn = mixer.createInput('callee');
  const legA = await RtpEndpoint.open({ ports, bindAddress: '127.0.0.1' });
  const legB = await RtpEndpoint.open({ ports, bindAddress: '127.0.0.1' });
  const callerPeer = await UdpPeer.open();
  const calleePeer = await UdpPeer.open();
  try {
    const receivers = [legA, legB].map((ep, i) => {
      const r = new AudioReceiver({ formats: [PCMU], mixerRate: 8000 });
      r.attach(i === 0 ? callerIn : calleeIn);
      ep.handler = r;
      return r;
    });
    if (relay) {
      // The caller hears the callee through the gateway (B2BUA media path), at the address its
      // SDP would give: what the gateway sends before the caller's first packet reaches it too.
      legA.setRemote({ address: '127.0.0.1', port: callerPeer.port });
      mixer.addOutput({ kind: 'track', input: calleeIn }, new AudioSender({ format: PCMU, mixerRate: 8000 }, legA));
    }
    scheduler.add(mixer);
    const rec = (name: string, o: Partial<Parameters<typeof Recording.start>[0]>) =>
      Recording.start({
        mixer,
        path: path.join(dir, name),
        format: 'wav',
        sampleRate: 8000,
        channels: 1,
        ...o,
      });
    // Each attaches to the mixer synchronously, so all five start at this instant.
    const tRec = performance.now();
    const [stereo, mono, mp3, opus, wav16k] = await Promise.all([
      rec('stereo.wav', { channels: 2, output: { kind: 'stereo', left: [callerIn], right: [calleeIn] } }),
      rec('mono.wav', {}),
      rec('stereo.mp3', { format: 'mp3', channels: 2, output: { kind: 'stereo', left: [callerIn], right: [calleeIn] } }),
      rec('mono.ogg', { format: 'opus', sampleRate: 48000 }),
      rec('mono16k.wav', { sampleRate: 16000 }),
    ]);
    const recs = { stereo, mono, mp3, opus, wav16k };
    const wait = lateMs - (performance.now() - tRec);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    await Promise.all([
      callerPeer.sendTone(legA.port, { freq: 1000, ssrc: 0xa }, { ...plan, seed: 1 }),
      calleePeer.sendTone(legB.port, { freq: 1500, ssrc: 0xb }, { ...plan, seed: 2 }),
    ]);
    const sentMs = performance.now() - t0;
    // The call ends: play out what is buffered, then stop every recording.
    await new Promise((r) => setTimeout(r, 30));
    mixer.drain();
    mixer.close(); // as a call's end does: the clock stops with the drain
    const results: Record<string, RecordingResult> = {};
    // All at once, as a call's end does (RecordingService.stopAllFor): the mixer's clock still
    // runs, and a recording stopped after another's await would take frames past the drain.
    const stopped = await Promise.all(Object.values(recs).map((r) => r.stop('hangup')));
    Object.keys(recs).forEach((k, i) => (results[k] = stopped[i]!));
    return { dir, results, callerPeer, receivers, sentMs, leadMs: t0 - tRec };
  } finally {
    scheduler.close();
    mixer.close();
    legA.close();
    legB.close();
    calleePeer.close();
    callerPeer.close();
  }
}

const SENT_MS = 2000;
/** The first packet comes this long after the recordings started. */
const LATE_MS = 200;
let clean: Call;
/** Frames to leave out of a tone check: the leading silence and then `ms` (playout, codec delay). */
const skip = (ms: number): number => clean.leadMs + ms;

test.before(async () => {
  clean = await recordCall({ packets: SENT_MS / 20 }, true, LATE_MS);
});

test.after(() => {
  fs.rmSync(clean.dir, { recursive: true, force: true });
});

test('stereo WAV: 1000 Hz only on the left, 1500 Hz only on the right', async () => {
  const a = await decodeFile(clean.results.stereo!.path);
  assert.is(a.channels, 2);
  const opt = (channel: number) => ({ channels: 2, channel, skipMs: skip(20) });
  assert.ok(toneFrames(a.pcm, 8000, 1000, opt(0)).ratio >= 0.95);
  assert.ok(toneFrames(a.pcm, 8000, 1500, opt(1)).ratio >= 0.95);
  assert.is(toneFrames(a.pcm, 8000, 1500, opt(0)).toneFrames, 0);
  assert.is(toneFrames(a.pcm, 8000, 1000, opt(1)).toneFrames, 0);
});

test('mono WAV holds both tones after the silence before the first packet; every file lasts from its start to the end within 20 ms', async () => {
  const a = await decodeFile(clean.results.mono!.path);
  assert.ok(clean.leadMs >= LATE_MS - 2, `the first packet ${clean.leadMs} ms after the start`);
  assert.is(rms(a.pcm, 0, Math.floor(clean.leadMs - 20) * 8), 0, 'silent before the first packet');
  // Each tone is half the energy of the mix: look for >= 40% at each.
  const both = { skipMs: skip(20), minFraction: 0.4 };
  assert.ok(toneFrames(a.pcm, 8000, 1000, both).ratio >= 0.95);
  assert.ok(toneFrames(a.pcm, 8000, 1500, both).ratio >= 0.95);
  const expected = clean.leadMs + SENT_MS;
  for (const r of Object.values(clean.results)) {
    assert.ok(Math.abs(r.durationMs - expected) <= 20, `${r.path}: ${r.durationMs} ms, expected ${expected.toFixed(1)}`);
    // What a player plays: ffmpeg's decoded length (it trims the MP3 delay from our LAME tag
    // and the Opus pre-skip and end granule).
    const decoded = await decodeFile(r.path);
    assert.ok(Math.abs(decoded.durationMs - expected) <= 20, `${r.path}: decodes to ${decoded.durationMs} ms, expected ${expected.toFixed(1)}`);
    assert.is(r.state, 'ended');
    assert.is(r.fileSize, fs.statSync(r.path).size);
    assert.match(r.sha256, /^[0-9a-f]{64}$/);
  }
  for (const st of clean.receivers.map((r) => r.stats())) {
    assert.is(st.received, SENT_MS / 20);
    assert.is(st.lost, 0);
  }
});

test('MP3 (stereo) and Opus (mono, 48 kHz) decode with ffmpeg and keep the tones', async () => {
  const mp3 = await decodeFile(clean.results.mp3!.path);
  assert.is((await probeFile(clean.results.mp3!.path)).codec, 'mp3');
  assert.ok(toneFrames(mp3.pcm, mp3.rate, 1000, { channels: 2, channel: 0, skipMs: skip(100) }).ratio >= 0.95);
  assert.ok(toneFrames(mp3.pcm, mp3.rate, 1500, { channels: 2, channel: 1, skipMs: skip(100) }).ratio >= 0.95);
  const ogg = await decodeFile(clean.results.opus!.path);
  const probe = await probeFile(clean.results.opus!.path);
  assert.is(probe.codec, 'opus');
  assert.is(ogg.rate, 48000);
  const both = { skipMs: skip(100), minFraction: 0.4 };
  assert.ok(toneFrames(ogg.pcm, 48000, 1000, both).ratio >= 0.95);
  assert.ok(toneFrames(ogg.pcm, 48000, 1500, both).ratio >= 0.95);
  const w16 = await decodeFile(clean.results.wav16k!.path);
  assert.is(w16.rate, 16000);
  assert.ok(toneFrames(w16.pcm, 16000, 1000, both).ratio >= 0.95);
});

test('send direction: the caller receives the callee\'s 1500 Hz, re-encoded by the gateway', () => {
  const h = new RtpHeaderReader();
  const pcm: number[] = [];
  const out = new Int16Array(160);
  let marker = 0;
  for (const b of clean.callerPeer.received) {
    assert.is(h.parse(b, 0, b.length), RtpDrop.None);
    assert.is(h.payloadType, 0);
    if (h.marker) marker++;
    decodePcmu(b, h.payloadOffset, h.payloadLength, out, 0);
    pcm.push(...out.subarray(0, h.payloadLength));
  }
  assert.is(marker, 1);
  assert.ok(clean.callerPeer.received.length >= 95, `received ${clean.callerPeer.received.length}`);
  assert.ok(toneFrames(pcm, 8000, 1500, { skipMs: skip(20) }).ratio >= 0.95);
});

test('relay: forwarded packets keep their payload and join one stream with the mixed frames (SSRC, sequence, timestamps), across hold and back', () => {
  const sent: Uint8Array[] = [];
  const sender = new AudioSender({ format: { payloadType: 0, codec: 'PCMU', clockRate: 8000 }, mixerRate: 8000 }, { send: (b, o, l) => void sent.push(b.slice(o, o + l)) });
  const h = new RtpHeaderReader();
  const head = (b: Uint8Array) => (h.parse(b, 0, b.length), { seq: h.sequenceNumber, ts: h.timestamp, ssrc: h.ssrc, pt: h.payloadType, m: h.marker });
  const frame = new Int16Array(160).fill(1000);
  // Two mixed frames, then the other party's packets (PT 8 on the wire here, the SSRC and
  // numbering of its own, one reordered pair and one lost), then mixed again.
  sender.onFrame(frame);
  sender.onFrame(frame);
  const src = new ToneStream({ freq: 1500, pt: 8, ssrc: 0xabcdef01, seq: 60000, ts: 4_000_000_000 });
  const incoming = Array.from({ length: 8 }, () => src.next().bytes);
  const relayOrder = [0, 1, 3, 2, 4, /* 5 lost */ 6, 7];
  const fwd = new RtpHeaderReader();
  for (const i of relayOrder) {
    fwd.parse(incoming[i]!, 0, incoming[i]!.length);
    sender.forward(incoming[i]!, fwd);
  }
  sender.active = false; // hold: nothing relayed
  const onHold = src.next().bytes;
  fwd.parse(onHold, 0, onHold.length);
  sender.forward(onHold, fwd);
  sender.active = true;
  const resumed = src.next().bytes;
  fwd.parse(resumed, 0, resumed.length);
  sender.forward(resumed, fwd);
  sender.onFrame(frame);
  const hs = sent.map(head);
  assert.is(sent.length, 2 + relayOrder.length + 1 + 1);
  assert.is(new Set(hs.map((x) => x.ssrc)).size, 1, 'one SSRC');
  assert.ok(hs.every((x) => x.pt === 0), 'our payload type');
  assert.is(sender.packetsRelayed, relayOrder.length + 1);
  const [m0, m1] = hs;
  // The relay continues the mixed stream: the next number and timestamp, with a marker.
  assert.equal([hs[2]!.seq, hs[2]!.ts, hs[2]!.m], [(m1!.seq + 1) & 0xffff, (m1!.ts + 160) >>> 0, true]);
  assert.is(m1!.seq, (m0!.seq + 1) & 0xffff);
  // Reordering and loss pass through: the source's numbering, shifted.
  const rel = hs.slice(2, 2 + relayOrder.length).map((x) => (x.seq - hs[2]!.seq) & 0xffff);
  assert.equal(rel, relayOrder);
  assert.equal(hs.slice(2, 2 + relayOrder.length).map((x) => (x.ts - hs[2]!.ts) >>> 0), relayOrder.map((i) => i * 160));
  // After hold: the next sequence number (no gap for what was not sent), the timestamp moved
  // on by the time on hold, and a marker.
  const back = hs[2 + relayOrder.length]!;
  assert.equal([back.seq, back.ts, back.m], [(hs[2]!.seq + 8) & 0xffff, (hs[2]!.ts + 9 * 160) >>> 0, true]);
  // Mixed again: after the newest packet relayed, with a marker.
  const last = hs[hs.length - 1]!;
  assert.equal([last.seq, last.ts, last.m], [(back.seq + 1) & 0xffff, (back.ts + 160) >>> 0, true]);
  // The payload is the source's, byte for byte.
  fwd.parse(incoming[3]!, 0, incoming[3]!.length);
  const relayedPayload = sent[4]!.subarray(12);
  assert.equal([...relayedPayload], [...incoming[3]!.subarray(fwd.payloadOffset, fwd.payloadOffset + fwd.payloadLength)]);
});

test('5% loss and reordering: the tones are still in >= 95% of frames', async () => {
  const lossy = await recordCall({ packets: 100, loss: 0.05, reorder: 0.1 });
  try {
    const a = await decodeFile(lossy.results.stereo!.path);
    const opt = (channel: number) => ({ channels: 2, channel, skipMs: lossy.leadMs + 20 });
    const left = toneFrames(a.pcm, 8000, 1000, opt(0)).ratio;
    const right = toneFrames(a.pcm, 8000, 1500, opt(1)).ratio;
    assert.ok(left >= 0.95 && right >= 0.95, `left ${left}, right ${right}`);
    const st = lossy.receivers[0]!.stats();
    assert.ok(st.lost >= 1 && st.reordered >= 1, JSON.stringify(st));
    assert.is(st.lost, st.concealed);
  } finally {
    fs.rmSync(lossy.dir, { recursive: true, force: true });
  }
});

/**
 * Sends `sends` from another process while this thread is blocked in execFileSync (as a busy
 * event loop leaves packets in the receive ring): each datagram at its `atMs` after the start,
 * on a 20 ms timer. Returns the wall time (performance.timeOrigin + now, ms) each was sent.
 */
function sendWhileBlocked(sends: { port: number; atMs: number; bytes: Uint8Array }[]): number[] {
  const input = JSON.stringify(sends.map((x) => ({ port: x.port, atMs: x.atMs, hex: Buffer.from(x.bytes).toString('hex') })));
  const script = `const d = require('dgram'); const tx = d.createSocket('udp4');
    const sends = JSON.parse(require('fs').readFileSync(0, 'utf8')); const sent = []; let next = 0;
    tx.bind(0, '127.0.0.1', () => {
      const t0 = performance.now();
      const step = () => {
        while (next < sends.length && sends[next].atMs <= performance.now() - t0 + 1) {
          tx.send(Buffer.from(sends[next].hex, 'hex'), sends[next].port, '127.0.0.1');
          sent.push(performance.timeOrigin + performance.now()); next++;
        }
        if (next < sends.length) setTimeout(step, 2);
        else setTimeout(() => { console.log(JSON.stringify(sent)); process.exit(0); }, 20);
      };
      step();
    });`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { input, encoding: 'utf8' })) as number[];
}

test('legs whose first packets wait in the receive ring (a blocked event loop) are placed at their arrival: in step with each other and with the call', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-pipeline-'));
  const [min, max] = randomPortRange();
  const ports = new PortAllocator(min, max);
  const scheduler = new FrameScheduler();
  const mixer = new Mixer({ sampleRate: 8000, delayMs: 60 });
  const inputs = [mixer.createInput('caller'), mixer.createInput('callee')];
  const legs = [await RtpEndpoint.open({ ports, bindAddress: '127.0.0.1' }), await RtpEndpoint.open({ ports, bindAddress: '127.0.0.1' })];
  try {
    assert.ok(legs.every((l) => l.path === 'native'), 'the native UDP path (built by npm install) carries RTP');
    legs.forEach((ep, i) => {
      const r = new AudioReceiver({ formats: [PCMU], mixerRate: 8000 });
      r.attach(inputs[i]!);
      ep.handler = r;
    });
    scheduler.add(mixer);
    const tRec = performance.timeOrigin + performance.now();
    const rec = await Recording.start({
      mixer,
      path: path.join(dir, 'stereo.wav'),
      format: 'wav',
      sampleRate: 8000,
      channels: 2,
      output: { kind: 'stereo', left: [inputs[0]!], right: [inputs[1]!] },
    });
    // The caller talks from 0 to 800 ms, the callee from 300 ms; this thread sees none of it
    // until the sender exits.
    const a = new ToneStream({ freq: 1000, ssrc: 0xa });
    const b = new ToneStream({ freq: 1500, ssrc: 0xb });
    const sends: { port: number; atMs: number; bytes: Uint8Array }[] = [];
    for (let i = 0; i < 40; i++) {
      sends.push({ port: legs[0]!.port, atMs: i * 20, bytes: a.next().bytes });
      if (i >= 15) sends.push({ port: legs[1]!.port, atMs: i * 20, bytes: b.next().bytes });
    }
    const sent = sendWhileBlocked(sends);
    const handedOver = performance.timeOrigin + performance.now();
    await new Promise((r) => setTimeout(r, 150));
    mixer.drain();
    mixer.close();
    const result = await rec.stop('hangup');
    const pcm = (await decodeFile(result.path)).pcm;
    const onset = (freq: number, channel: number): number => toneFrames(pcm, 8000, freq, { channels: 2, channel, frameMs: 10 }).firstToneFrame * 10;
    const callerAt = onset(1000, 0);
    const calleeAt = onset(1500, 1);
    const callerSent = sent[0]! - tRec;
    const calleeSent = sent[sends.findIndex((x) => x.port === legs[1]!.port)]! - tRec;
    console.log(
      `  blocked ${(handedOver - tRec).toFixed(0)} ms; caller sent at ${callerSent.toFixed(0)} ms, in the file at ${callerAt}; callee sent at ${calleeSent.toFixed(0)}, in the file at ${calleeAt}`,
    );
    // Each stream sits where the call was when it arrived (the file is the call's time from the
    // recording's start), not where it was handed over, up to a frame of placement and the
    // 10 ms analysis frame.
    assert.ok(Math.abs(callerAt - callerSent) <= 30, `caller in the file at ${callerAt} ms, sent at ${callerSent.toFixed(1)}`);
    assert.ok(Math.abs(calleeAt - calleeSent) <= 30, `callee in the file at ${calleeAt} ms, sent at ${calleeSent.toFixed(1)}`);
    assert.ok(Math.abs(calleeAt - callerAt - (calleeSent - callerSent)) <= 25, 'the legs keep the 300 ms between them');
    assert.ok(handedOver - tRec > calleeSent + 200, 'the packets did wait for this thread');
    const st = inputs.map((i) => i.stats());
    assert.is(st[0]!.overflowSamples + st[1]!.overflowSamples, 0);
  } finally {
    scheduler.close();
    mixer.close();
    for (const l of legs) l.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
