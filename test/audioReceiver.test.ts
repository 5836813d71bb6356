/**
 * The jitter buffer and receiver against the mixer clock, in virtual time: every scenario
 * is a schedule of (arrival ms, RTP bytes), so reordering, loss, wrap-around, duplicates,
 * SSRC changes, timestamp jumps, ptimes and drift are exact and repeatable.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Mixer } from '../mixer/index.js';
import type { FrameConsumer } from '../mixer/index.js';
import { AudioReceiver, RtpHeaderReader, RtpDrop, JitterBuffer, JitterPush, PCMU } from '../rtp/index.js';
import type { DtmfEvent, PayloadFormat } from '../rtp/index.js';
import { toneFrames } from '../dsp/index.js';
import { ToneStream } from './helpers/rtpStream.js';
import type { Packet } from './helpers/rtpStream.js';

interface Arrival {
  at: number;
  bytes: Uint8Array;
}

class Collect implements FrameConsumer {
  parts: Int16Array[] = [];
  onFrame(pcm: Int16Array): void {
    this.parts.push(pcm.slice());
  }
  pcm(): Int16Array {
    const out = new Int16Array(this.parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

interface RunOptions {
  durationMs: number;
  formats?: PayloadFormat[];
  mixerRate?: 8000 | 16000 | 48000;
  delayMs?: number;
}

function run(arrivals: Arrival[], o: RunOptions) {
  let t = 0;
  const mixer = new Mixer({ sampleRate: o.mixerRate ?? 8000, delayMs: o.delayMs ?? 60, now: () => t });
  const input = mixer.createInput('leg');
  const receiver = new AudioReceiver({ formats: o.formats ?? [PCMU], mixerRate: o.mixerRate ?? 8000 });
  receiver.attach(input);
  const out = new Collect();
  mixer.addOutput({ kind: 'track', input }, out);
  const dtmf: DtmfEvent[] = [];
  receiver.on('dtmf', (e) => dtmf.push(e));
  const h = new RtpHeaderReader();
  const sorted = arrivals.map((a, i) => ({ ...a, i })).sort((a, b) => a.at - b.at || a.i - b.i);
  let k = 0;
  // Run the clock until the last packet has arrived (the call ends then), then play out what
  // the packets hold: these tests compare media time, not the wall time up to a hang-up.
  const end = Math.min(o.durationMs, sorted[sorted.length - 1]!.at);
  for (t = 0; t <= end; t++) {
    while (k < sorted.length && sorted[k]!.at <= t) {
      const b = sorted[k++]!.bytes;
      assert.is(h.parse(b, 0, b.length), RtpDrop.None);
      h.arrivalMs = t;
      receiver.receive(b, h);
    }
    mixer.service(t, 1000);
  }
  mixer.drain({ toNow: false });
  return { pcm: out.pcm(), receiver, input, stats: receiver.stats(), dtmf, mixer };
}

/** n packets of a stream, one every ptime from `start` ms. */
function paced(stream: ToneStream, n: number, start = 0): Arrival[] {
  const out: Arrival[] = [];
  for (let i = 0; i < n; i++) out.push({ at: start + i * stream.ptimeMs, bytes: stream.next().bytes });
  return out;
}

const reference = run(paced(new ToneStream({ freq: 1000 }), 100), { durationMs: 2500 });

test('in order: 2 s of PCMU play out whole, tone in every frame, nothing counted as lost', () => {
  const { pcm, stats } = reference;
  assert.is(pcm.length, 16000); // 100 packets x 160 samples, exactly
  assert.is(toneFrames(pcm, 8000, 1000).ratio, 1);
  assert.is(stats.received, 100);
  assert.is(stats.lost + stats.late + stats.duplicate + stats.reordered + stats.concealed, 0);
});

test('reordered packets within the window are put back in order: output is identical', () => {
  const a = paced(new ToneStream({ freq: 1000 }), 100);
  // Swap every 7th packet with its successor, and delay every 13th by 45 ms. (Not the very
  // first packet: the first packet received starts the stream, an earlier one after it is late.)
  for (let i = 7; i + 1 < a.length; i += 7) [a[i]!.at, a[i + 1]!.at] = [a[i + 1]!.at, a[i]!.at];
  for (let i = 5; i < a.length; i += 13) a[i]!.at += 45;
  const r = run(a, { durationMs: 2500 });
  assert.ok(r.stats.reordered >= 14, `reordered ${r.stats.reordered}`);
  assert.is(r.stats.lost, 0);
  assert.equal(r.pcm, reference.pcm);
});

test('loss is concealed and counted; the timeline after it is unchanged', () => {
  const a = paced(new ToneStream({ freq: 1000 }), 100).filter((_, i) => ![10, 40, 41, 42, 70].includes(i));
  const r = run(a, { durationMs: 2500 });
  assert.is(r.stats.lost, 5);
  assert.is(r.stats.concealed, 5);
  assert.is(r.pcm.length, reference.pcm.length);
  // Audio after the last loss is sample-identical to the lossless run.
  assert.equal(r.pcm.subarray(71 * 160), reference.pcm.subarray(71 * 160));
  // Repeat-then-silence: packet 40 is a repeat of 39, 41 and 42 are silent.
  assert.equal(r.pcm.subarray(40 * 160, 41 * 160), reference.pcm.subarray(39 * 160, 40 * 160));
  assert.ok(r.pcm.subarray(41 * 160, 43 * 160).every((v) => v === 0));
});

test('sequence and timestamp wrap-around (65535 -> 0, 2^32 -> 0) cost nothing', () => {
  const s = new ToneStream({ freq: 1000, seq: 65500, ts: 0xffffffff - 160 * 60 });
  const r = run(paced(s, 100), { durationMs: 2500 });
  assert.equal(r.pcm, reference.pcm);
  assert.is(r.stats.lost + r.stats.late + r.stats.concealed, 0);
});

test('duplicates are dropped and counted', () => {
  const a = paced(new ToneStream({ freq: 1000 }), 100);
  const dup = a.map((x) => ({ at: x.at + 30, bytes: x.bytes }));
  const r = run([...a, ...dup], { durationMs: 2500 });
  assert.is(r.stats.duplicate, 100);
  assert.equal(r.pcm, reference.pcm);
});

test('a packet later than the playout delay is concealed, then counted late', () => {
  const a = paced(new ToneStream({ freq: 1000 }), 100);
  a[50]!.at += 200;
  const r = run(a, { durationMs: 2500 });
  assert.is(r.stats.late, 1);
  assert.is(r.stats.lost, 1);
  assert.is(r.pcm.length, reference.pcm.length);
});

test('SSRC change: the new source takes over after two packets, no audio lost', () => {
  const first = new ToneStream({ freq: 1000, ssrc: 1 });
  const a = paced(first, 50);
  const second = new ToneStream({ freq: 1000, ssrc: 2, seq: 7, ts: 99999 });
  const b = paced(second, 50, 1000);
  const r = run([...a, ...b], { durationMs: 2500 });
  assert.is(r.stats.ssrcChanges, 1);
  assert.is(r.stats.lost + r.stats.late, 0);
  assert.is(r.pcm.length, 16000);
  assert.ok(toneFrames(r.pcm, 8000, 1000).ratio > 0.97);
  // A stray packet from a third SSRC does not take over.
  const stray = new ToneStream({ freq: 1000, ssrc: 3 });
  const c = paced(new ToneStream({ freq: 1000, ssrc: 1 }), 100);
  c.push({ at: 500, bytes: stray.next().bytes });
  const r2 = run(c, { durationMs: 2500 });
  assert.is(r2.stats.ssrcChanges, 0);
  assert.is(r2.stats.strayPackets, 1);
  assert.equal(r2.pcm, reference.pcm);
});

test('silence suppression: a timestamp gap becomes silence and audio resumes where its timestamp says', () => {
  const s = new ToneStream({ freq: 1000 });
  const a = paced(s, 50); // 0..1000 ms
  s.silence(500); // nothing sent for 500 ms; the RTP clock moves on
  const b = paced(s, 50, 1500);
  const r = run([...a, ...b], { durationMs: 3500 });
  const stats = toneFrames(r.pcm, 8000, 1000);
  assert.is(r.pcm.length, 20000); // 1 s + 0.5 s silence + 1 s
  assert.is(stats.toneFrames, 100);
  // The second talkspurt starts at 1.5 s: frame 75.
  const second = toneFrames(r.pcm.subarray(1000 * 8), 8000, 1000);
  assert.is(second.firstToneFrame, 25);
  assert.is(r.stats.lost, 0);
});

test('a sender restart (timestamps and sequence jump) re-anchors without losing audio', () => {
  const s = new ToneStream({ freq: 1000 });
  const a = paced(s, 50);
  s.ts = 12345; // clock restarted, same SSRC
  s.seq = 40000;
  const b = paced(s, 50, 1000);
  const r = run([...a, ...b], { durationMs: 2500 });
  assert.is(r.stats.seqResyncs, 1);
  assert.ok(r.stats.tsJumps >= 1);
  assert.ok(toneFrames(r.pcm, 8000, 1000).toneFrames >= 98);
});

for (const ptime of [10, 20, 30, 40, 60]) {
  test(`ptime ${ptime} ms: 1.2 s of audio, exact length, tone throughout`, () => {
    const s = new ToneStream({ freq: 1000, ptimeMs: ptime });
    const r = run(paced(s, 1200 / ptime), { durationMs: 2000 });
    assert.is(r.pcm.length, 9600);
    assert.is(toneFrames(r.pcm, 8000, 1000).ratio, 1);
    assert.is(r.stats.lost + r.stats.concealed, 0);
  });
}

test('Opus at 48 kHz into 8 kHz and 48 kHz mixers: tone kept, exact duration', () => {
  for (const mixerRate of [8000, 48000] as const) {
    const s = new ToneStream({ freq: 1000, codec: 'opus' });
    const r = run(paced(s, 50), {
      durationMs: 1500,
      mixerRate,
      formats: [{ payloadType: 111, codec: 'opus', clockRate: 48000, channels: 2 }],
    });
    assert.is(r.pcm.length, mixerRate); // 1 s
    assert.ok(toneFrames(r.pcm, mixerRate, 1000, { skipMs: 40 }).ratio > 0.97);
    assert.is(r.stats.decodeErrors, 0);
  }
});

test('PCMU into a 16 kHz mixer is upsampled with a filter, tone kept', () => {
  const r = run(paced(new ToneStream({ freq: 1000 }), 50), { durationMs: 1500, mixerRate: 16000 });
  assert.ok(Math.abs(r.pcm.length - 16000) <= 32);
  assert.ok(toneFrames(r.pcm, 16000, 1000, { skipMs: 20 }).ratio > 0.97);
});

test('RFC 4733 events: one start and one end per digit, not mixed as audio, no false loss', () => {
  const s = new ToneStream({ freq: 1000 });
  const a = paced(s, 25);
  // Event packets every 20 ms (10 updates, then 2 retransmits of the end), then audio again.
  const ev = s.dtmf(5, 200).map((p: Packet, i) => ({ at: 500 + i * 20, bytes: p.bytes }));
  const b = paced(s, 25, 500 + 240);
  const r = run([...a, ...ev, ...b], {
    durationMs: 2000,
    formats: [PCMU, { payloadType: 101, codec: 'telephone-event', clockRate: 8000 }],
  });
  assert.equal(
    r.dtmf.map((e) => `${e.type}:${e.digit}`),
    ['start:5', 'end:5'],
  );
  const end = r.dtmf[1]!;
  assert.ok(end.type === 'end' && Math.abs(end.durationMs - 200) <= 20);
  assert.is(r.stats.lost, 0);
  assert.is(r.stats.dtmfEvents, 2);
  // 500 ms tone, 200 ms silence (the event), 500 ms tone.
  assert.is(r.pcm.length, 1200 * 8);
  assert.ok(r.pcm.subarray(510 * 8, 690 * 8).every((v) => v === 0));
});

test('unexpected payload types are dropped and counted, never played', () => {
  const a = paced(new ToneStream({ freq: 1000 }), 100);
  const other = new ToneStream({ freq: 1500, pt: 18, ssrc: 0x11223344 });
  const b = paced(other, 10, 300);
  const r = run([...a, ...b], { durationMs: 2500 });
  assert.is(r.stats.unexpectedPayloadType, 10);
  assert.equal(r.pcm, reference.pcm);
});

test('a sender 1000 ppm fast stays aligned over 60 s: drift measured and corrected, nothing lost', () => {
  const s = new ToneStream({ freq: 1000 });
  const arrivals: Arrival[] = [];
  // Packets every 20 ms of the sender's clock = 19.98 ms of ours.
  for (let i = 0; i < 3000; i++) arrivals.push({ at: Math.floor(i * 20 * (1 - 0.001)), bytes: s.next().bytes });
  const r = run(arrivals, { durationMs: 60500 });
  const st = r.input.stats();
  assert.ok(Math.abs(st.driftPpm - 1000) < 150, `measured ${st.driftPpm} ppm`);
  assert.ok(st.driftDropped > 300 && st.driftDropped < 600, `dropped ${st.driftDropped}`);
  assert.is(r.stats.lost + r.stats.late, 0);
  assert.is(st.overflowSamples, 0);
});

test('regression: a mixer that stops reading (teardown race) never hangs the receiver', () => {
  // Bug: with the ring full, drain() concealed a stored head forever (infinite loop).
  let t = 0;
  const mixer = new Mixer({ sampleRate: 8000, delayMs: 60, now: () => t });
  const input = mixer.createInput();
  const receiver = new AudioReceiver({ formats: [PCMU], mixerRate: 8000 });
  receiver.attach(input);
  const h = new RtpHeaderReader();
  const s = new ToneStream({ freq: 1000 });
  const all = Array.from({ length: 600 }, () => s.next().bytes); // 12 s, never read
  for (let i = 0; i < all.length; i++) {
    // Every 10th pair swapped, so packets also wait in the jitter buffer.
    const b = all[i % 10 === 0 && i + 1 < all.length ? i + 1 : i % 10 === 1 ? i - 1 : i]!;
    t = i * 20;
    h.parse(b, 0, b.length);
    h.arrivalMs = t;
    receiver.receive(b, h);
  }
  receiver.drain(input);
  mixer.drain();
  const st = receiver.stats();
  assert.ok(input.stats().overflowSamples + st.overflowPackets * 160 > 0, 'overflow is counted');
});

test('JitterBuffer: table of push results', () => {
  const jb = new JitterBuffer({ slots: 8, slotBytes: 4 });
  const p = new Uint8Array([1, 2, 3, 4, 5]);
  const push = (seq: number, len = 4) => jb.push(seq, seq * 160, 0, false, p, 0, len);
  assert.is(push(100), JitterPush.Accepted); // first packet sets the head
  assert.is(push(100), JitterPush.Duplicate); // stored twice
  assert.is(push(102), JitterPush.Accepted); // gap: 101 missing
  assert.is(push(101), JitterPush.Accepted); // reordered
  assert.is(jb.reordered, 1);
  assert.is(push(99), JitterPush.Late); // before the head
  assert.is(push(108), JitterPush.TooFarAhead); // beyond 8 slots
  assert.is(push(103, 5), JitterPush.Oversize);
  assert.is(jb.count, 3);
  jb.pop();
  assert.is(push(100), JitterPush.Duplicate); // already played
  jb.pop();
  jb.pop();
  jb.skip(); // 103 lost
  assert.is(push(103), JitterPush.Late); // its turn passed
  assert.is(jb.lost, 1);
  assert.is(jb.late, 2);
});

test.run();
