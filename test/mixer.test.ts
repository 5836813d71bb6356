import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Mixer, FrameScheduler } from '../mixer/index.js';
import type { MixerInput, FrameConsumer } from '../mixer/index.js';
import { ToneGenerator, toneFrames } from '../dsp/index.js';
import { prng } from './helpers/prng.js';

/** A virtual monotonic clock in ms. */
function clock(start = 1000) {
  const c = { t: start, now: () => c.t };
  return c;
}

/** Collects every frame an output produces, checking positions are contiguous. */
class Collector implements FrameConsumer {
  chunks: Int16Array[] = [];
  positions: number[] = [];
  gaps = 0;
  #next = -1;
  onFrame(pcm: Int16Array, position: number): void {
    if (this.#next !== -1 && position !== this.#next) this.gaps++;
    this.#next = position + pcm.length / this.channels;
    this.chunks.push(pcm.slice());
    this.positions.push(position);
  }
  constructor(readonly channels = 1) {}
  pcm(): Int16Array {
    const total = this.chunks.reduce((n, c) => n + c.length, 0);
    const out = new Int16Array(total);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/** A producer writing a tone in real-time-sized chunks, anchoring on its first write. */
class ToneProducer {
  readonly gen: ToneGenerator;
  readonly buf = new Int16Array(4096);
  constructor(readonly input: MixerInput, freq: number, rate: number, amplitude = 8000) {
    this.gen = new ToneGenerator(freq, rate, amplitude);
  }
  push(samples: number): void {
    if (!this.input.anchored) this.input.anchor();
    this.gen.fill(this.buf, 0, samples);
    this.input.write(this.buf, 0, samples);
  }
}

test('mono, stereo, track and N-1 outputs hold the right legs', () => {
  const c = clock();
  const mixer = new Mixer({ sampleRate: 8000, delayMs: 40, now: c.now });
  const a = mixer.createInput('a');
  const b = mixer.createInput('b');
  const d = mixer.createInput('d');
  const mono = new Collector();
  const stereo = new Collector(2);
  const track = new Collector();
  const minusA = new Collector();
  const minusB = new Collector();
  mixer.addOutput({ kind: 'mono' }, mono);
  mixer.addOutput({ kind: 'stereo', left: [a], right: [b] }, stereo);
  mixer.addOutput({ kind: 'track', input: d }, track);
  mixer.addOutput({ kind: 'minus', input: a }, minusA);
  mixer.addOutput({ kind: 'minus', input: b }, minusB);
  const pa = new ToneProducer(a, 800, 8000);
  const pb = new ToneProducer(b, 1000, 8000);
  const pd = new ToneProducer(d, 1200, 8000);
  for (let i = 0; i < 100; i++) {
    pa.push(160);
    pb.push(160);
    pd.push(160);
    c.t += 20;
    mixer.service(c.t);
  }
  mixer.drain();
  const has = (pcm: Int16Array, f: number, ch = 1, channel = 0) =>
    toneFrames(pcm, 8000, f, { channels: ch, channel, minFraction: 0.2, skipMs: 60 }).ratio;
  // Mono holds all three.
  for (const f of [800, 1000, 1200]) assert.ok(has(mono.pcm(), f) > 0.95, `mono lacks ${f}`);
  // Stereo: a left only, b right only.
  assert.ok(has(stereo.pcm(), 800, 2, 0) > 0.95);
  assert.ok(has(stereo.pcm(), 1000, 2, 0) < 0.05);
  assert.ok(has(stereo.pcm(), 1000, 2, 1) > 0.95);
  assert.ok(has(stereo.pcm(), 800, 2, 1) < 0.05);
  // Track of d: d alone.
  assert.ok(toneFrames(track.pcm(), 8000, 1200, { skipMs: 60 }).ratio > 0.95);
  // N-1 of a: b and d, never a.
  assert.ok(has(minusA.pcm(), 800) < 0.05);
  assert.ok(has(minusA.pcm(), 1000) > 0.95 && has(minusA.pcm(), 1200) > 0.95);
  assert.ok(has(minusB.pcm(), 1000) < 0.05);
  assert.ok(has(minusB.pcm(), 800) > 0.95);
  assert.is(mono.gaps + stereo.gaps + track.gaps + minusA.gaps, 0);
  // Everything written came out: 100 x 160 samples per leg, nothing more.
  assert.is(mono.pcm().length, 16000);
  assert.is(stereo.pcm().length, 32000);
});

test('every leg count 1..12 mixes exactly (the 2-, 4- and 8-leg kernels, padding, the accumulator path)', () => {
  for (let count = 1; count <= 12; count++) {
    const c = clock();
    const mixer = new Mixer({ sampleRate: 8000, delayMs: 0, now: c.now });
    const inputs = Array.from({ length: count }, () => mixer.createInput());
    const mono = new Collector();
    const stereo = new Collector(2);
    mixer.addOutput({ kind: 'mono' }, mono);
    const half = Math.ceil(count / 2);
    mixer.addOutput({ kind: 'stereo', left: inputs.slice(0, half), right: inputs.slice(half) }, stereo);
    inputs.forEach((input, k) => {
      input.anchor();
      input.write(new Int16Array(160).fill((k + 1) * 100), 0, 160);
    });
    mixer.drain();
    const total = (count * (count + 1) * 100) / 2;
    const left = (half * (half + 1) * 100) / 2;
    assert.ok(mono.pcm().every((v) => v === total), `${count} legs mono`);
    const st = stereo.pcm();
    for (let i = 0; i < st.length; i += 2) {
      if (st[i] !== left || st[i + 1] !== total - left) assert.unreachable(`${count} legs stereo at ${i}: ${st[i]}/${st[i + 1]}`);
    }
  }
});

test('the sum saturates instead of wrapping', () => {
  const c = clock();
  const mixer = new Mixer({ sampleRate: 8000, delayMs: 0, now: c.now });
  const inputs = [mixer.createInput(), mixer.createInput(), mixer.createInput()];
  const two = new Collector();
  const three = new Collector();
  const minus = new Collector();
  mixer.addOutput({ kind: 'mono', inputs: inputs.slice(0, 2) }, two);
  mixer.addOutput({ kind: 'mono' }, three);
  mixer.addOutput({ kind: 'minus', input: inputs[2]! }, minus);
  const hi = new Int16Array(160).fill(30000);
  const lo = new Int16Array(160).fill(-30000);
  inputs[0]!.anchor();
  inputs[1]!.anchor();
  inputs[2]!.anchor();
  inputs[0]!.write(hi, 0, 160);
  inputs[1]!.write(hi, 0, 160);
  inputs[2]!.write(lo, 0, 160);
  inputs[0]!.write(lo, 0, 160);
  inputs[1]!.write(lo, 0, 160);
  inputs[2]!.write(lo, 0, 160);
  mixer.drain();
  const p2 = two.pcm();
  const p3 = three.pcm();
  const pm = minus.pcm();
  assert.is(p2[0], 32767); // 60000 clamps
  assert.is(p3[0], 30000); // 30000 + 30000 - 30000
  assert.is(pm[0], 32767);
  assert.is(p2[160], -32768);
  assert.is(p3[160], -32768);
});

test('after a 300 ms stall the clock catches up tick by tick and loses nothing', () => {
  const c = clock();
  const mixer = new Mixer({ sampleRate: 8000, delayMs: 60, now: c.now });
  const a = mixer.createInput();
  const out = new Collector();
  mixer.addOutput({ kind: 'track', input: a }, out);
  const p = new ToneProducer(a, 1000, 8000);
  // Normal operation for 1 s.
  for (let i = 0; i < 50; i++) {
    p.push(160);
    c.t += 20;
    mixer.service(c.t, 1);
  }
  // Stall: 300 ms pass with no service; the packets of that time arrive in a burst.
  c.t += 300;
  for (let i = 0; i < 15; i++) p.push(160);
  let rounds = 0;
  while (mixer.service(c.t, 4)) rounds++;
  assert.ok(rounds >= 3, 'catch-up ran in several rounds');
  for (let i = 0; i < 50; i++) {
    p.push(160);
    c.t += 20;
    mixer.service(c.t, 1);
  }
  mixer.drain();
  assert.is(out.gaps, 0);
  assert.is(a.underrunSamples, 0);
  assert.is(a.overflowSamples, 0);
  assert.ok(mixer.catchUpTicks >= 10);
  const pcm = out.pcm();
  assert.is(pcm.length, 115 * 160);
  assert.is(toneFrames(pcm, 8000, 1000).ratio, 1);
});

/** Two legs on a stereo output (a left, 1000 Hz; b right, 1500 Hz), 60 ms delay, virtual clock. */
function twoTones() {
  const c = clock();
  const mixer = new Mixer({ sampleRate: 8000, delayMs: 60, now: c.now });
  const a = mixer.createInput('a');
  const b = mixer.createInput('b');
  const out = new Collector(2);
  mixer.addOutput({ kind: 'stereo', left: [a], right: [b] }, out);
  return { c, mixer, a, b, out, pa: new ToneProducer(a, 1000, 8000), pb: new ToneProducer(b, 1500, 8000) };
}

test('a late leg contributes silence and joins at the live edge plus the delay', () => {
  const { c, mixer, a, out, pa, pb } = twoTones();
  for (let i = 0; i < 100; i++) {
    pa.push(160);
    if (i >= 50) pb.push(160); // b starts 1 s later
    c.t += 20;
    mixer.service(c.t);
  }
  mixer.drain();
  const right = toneFrames(out.pcm(), 8000, 1500, { channels: 2, channel: 1 });
  // b's first sample arrived at 1000 ms on a's timeline: frame 50.
  assert.is(right.firstToneFrame, 50);
  assert.is(a.underrunSamples, 0);
});

test('a stream is placed at its packet\'s arrival (arrivalMs), not at when the producer got to it', () => {
  const { c, mixer, a, b, out, pa, pb } = twoTones();
  mixer.start(); // position 0 is now (t = 1000 ms)
  // Both streams' packets waited in a receive ring until 1300 ms: a's arrived from 1100 ms on,
  // b's from 1200 ms on, 20 ms apart. Handed over together, each carries its arrival.
  c.t = 1300;
  for (let k = 0; k < 15; k++) {
    a.arrivalMs = 1100 + 20 * k;
    pa.push(160);
    if (k < 10) {
      b.arrivalMs = 1200 + 20 * k;
      pb.push(160);
    }
  }
  a.arrivalMs = b.arrivalMs = NaN;
  for (; c.t < 1600; c.t += 20) mixer.service(c.t);
  mixer.drain({ toNow: false });
  const pcm = out.pcm();
  // Frames are 20 ms from position 0 (t = 1000): a from frame 5 (1100 ms), b from frame 10.
  assert.is(toneFrames(pcm, 8000, 1000, { channels: 2, channel: 0 }).firstToneFrame, 5);
  assert.is(toneFrames(pcm, 8000, 1500, { channels: 2, channel: 1 }).firstToneFrame, 10);
  // Without arrival times both would start at 1300 ms: frame 15, side by side.
  assert.is(a.overflowSamples + b.overflowSamples, 0);
});

test('a sender 1000 ppm fast or slow stays in step, and the correction is measured and counted', () => {
  for (const ppm of [1000, -1000]) {
    const c = clock();
    const mixer = new Mixer({ sampleRate: 8000, delayMs: 60, now: c.now });
    const a = mixer.createInput('drifting');
    const ref = mixer.createInput('reference');
    const out = new Collector(2);
    mixer.addOutput({ kind: 'stereo', left: [a], right: [ref] }, out);
    const pa = new ToneProducer(a, 1000, 8000);
    const pr = new ToneProducer(ref, 1500, 8000);
    let owed = 0;
    const seconds = 60;
    for (let i = 0; i < seconds * 50; i++) {
      // The drifting sender produces 160 * (1 + ppm/1e6) samples per 20 ms of gateway time.
      owed += 160 * (1 + ppm / 1e6);
      const n = Math.floor(owed);
      owed -= n;
      pa.push(n);
      pr.push(160);
      c.t += 20;
      mixer.service(c.t);
    }
    const s = a.stats();
    assert.ok(Math.abs(s.driftPpm - ppm) < 150, `measured ${s.driftPpm} ppm for ${ppm}`);
    const corrected = ppm > 0 ? s.driftDropped : s.driftInserted;
    const expected = (Math.abs(ppm) / 1e6) * 8000 * seconds; // 480 samples
    assert.ok(Math.abs(corrected - expected) < 0.25 * expected, `corrected ${corrected}, expected ~${expected}`);
    // The buffer level stayed near its target: neither grew nor emptied. It may wander the dead
    // band (16 samples) plus two windows of drift (8 samples each) before a correction starts.
    assert.ok(Math.abs(s.lastLead - s.targetLead) < 40, `lead ${s.lastLead} target ${s.targetLead}`);
    assert.is(s.underrunSamples, 0);
    assert.is(s.overflowSamples, 0);
    assert.ok(toneFrames(out.pcm(), 8000, 1000, { channels: 2, channel: 0, skipMs: 100 }).ratio > 0.99);
  }
});


/**
 * A sender `ppm` fast (or slow) whose packets reach a busy gateway: network delay 0-8 ms with
 * a 20 ms spike every ~5 s, and event-loop stalls (1-30 ms, about one per 100 ms, as a loaded
 * gateway's p99 loop delay of 18 ms) during which neither packets nor ticks are processed.
 * Time advances in 1 ms steps for `seconds`; returns the drifting input's stats.
 */
function jitteryRun(ppm: number, seconds: number, seed: number) {
  const rnd = prng(seed);
  const c = clock(0);
  const mixer = new Mixer({ sampleRate: 8000, delayMs: 60, now: c.now });
  const a = mixer.createInput('sender');
  const out = new Collector();
  mixer.addOutput({ kind: 'track', input: a }, out);
  const p = new ToneProducer(a, 1000, 8000);
  let nextSend = 0; // sender time of the next packet, in gateway ms
  let lastArrival = 0;
  const arrivals: number[] = []; // arrival times of packets not yet processed, in order
  let stallUntil = 0;
  for (let t = 0; t < seconds * 1000; t++) {
    while (nextSend <= t) {
      // The worst case (8 + 20 ms network, a 30 ms stall) stays inside the 60 ms playout delay:
      // AudioReceiver drops a packet later than that, which this producer cannot model.
      const spike = rnd() < 0.004 ? 20 : 0;
      // Packets keep their order (one path): one cannot arrive before the previous one.
      lastArrival = Math.max(lastArrival, nextSend + rnd() * 8 + spike);
      arrivals.push(lastArrival);
      nextSend += 20 / (1 + ppm / 1e6);
    }
    if (t >= stallUntil && rnd() < 0.01) stallUntil = t + 1 + Math.floor(rnd() * 30);
    if (t < stallUntil) continue;
    c.t = t;
    while (arrivals.length > 0 && arrivals[0]! <= t) {
      arrivals.shift();
      p.push(160);
    }
    mixer.service(t, 1000);
  }
  return { stats: a.stats(), pcm: out.pcm() };
}

test('a steady sender through network jitter and event-loop stalls gets no drift correction', () => {
  // Jitter and stalls move the lead by tens of ms from packet to packet; none of it is drift.
  // Every sample inserted or dropped here would be a needless click in a clean recording.
  for (const seed of [1, 2, 3]) {
    const { stats } = jitteryRun(0, 120, seed);
    assert.is(stats.driftDropped + stats.driftInserted, 0, `seed ${seed}: dropped ${stats.driftDropped}, inserted ${stats.driftInserted}, ${stats.driftPpm.toFixed(0)} ppm`);
    assert.ok(Math.abs(stats.driftPpm) < 50, `seed ${seed}: measured ${stats.driftPpm} ppm`);
  }
});

test('a drifting sender through the same jitter and stalls is still measured and corrected', () => {
  for (const ppm of [300, -1000]) {
    const seconds = 120;
    const { stats, pcm } = jitteryRun(ppm, seconds, 7);
    assert.ok(Math.abs(stats.driftPpm - ppm) < 100, `measured ${stats.driftPpm} ppm for ${ppm}`);
    const corrected = ppm > 0 ? stats.driftDropped - stats.driftInserted : stats.driftInserted - stats.driftDropped;
    const expected = (Math.abs(ppm) / 1e6) * 8000 * seconds;
    assert.ok(Math.abs(corrected - expected) < 0.25 * expected, `net corrected ${corrected}, expected ~${expected}`);
    // Corrections in the wrong direction are noise being chased: at most a few.
    const wrong = ppm > 0 ? stats.driftInserted : stats.driftDropped;
    assert.ok(wrong <= 0.05 * expected, `${wrong} corrections the wrong way`);
    assert.ok(Math.abs(stats.lastLead - stats.targetLead) < 48, `lead ${stats.lastLead} target ${stats.targetLead}`);
    assert.is(stats.underrunSamples, 0);
    assert.ok(toneFrames(pcm, 8000, 1000, { skipMs: 200 }).ratio > 0.97);
  }
});

test('close() lets the audio go: rings empty, later writes refused as overflow, no frame after it', () => {
  const c = clock();
  const mixer = new Mixer({ sampleRate: 8000, delayMs: 40, now: c.now });
  const a = mixer.createInput('a');
  const out = new Collector();
  mixer.addOutput({ kind: 'mono' }, out);
  const tone = new ToneProducer(a, 1000, 8000);
  for (let i = 0; i < 10; i++) {
    tone.push(160);
    c.t += 20;
    mixer.service(c.t);
  }
  const frames = out.chunks.length;
  assert.ok(frames >= 5 && a.ring.length >= 16384, `${frames} frames from a ${a.ring.length}-sample ring`);
  mixer.drain();
  mixer.close();
  // The 2 s ring (32 KiB here, 128 KiB for a call's bank) is no longer held by the mixer or its input.
  assert.is(a.ring.length, 0);
  const overflowBefore = a.overflowSamples;
  const written = out.chunks.length;
  tone.push(160);
  assert.is(a.overflowSamples - overflowBefore, 160, 'a packet after the close is counted, not stored');
  c.t += 1000;
  mixer.service(c.t);
  mixer.tick(160);
  mixer.drain();
  assert.is(out.chunks.length, written, 'no frame after the close');
  mixer.close(); // idempotent
});

test('FrameScheduler reads input (readIo) before every round of ticks: after a stall no frame is mixed while its audio waits unread', async () => {
  // A sender puts 20 ms of audio "in the socket" every 20 ms of wall time. The event loop's own
  // reader takes at most one frame per loop turn (as one poll phase reads at most 2048
  // datagrams); readIo, when given, takes everything waiting. Then the loop stalls for 150 ms.
  const run = async (withReadIo: boolean): Promise<number> => {
    const mixer = new Mixer({ sampleRate: 8000, delayMs: 60 });
    const a = mixer.createInput('sender');
    mixer.addOutput({ kind: 'track', input: a }, new Collector());
    const p = new ToneProducer(a, 1000, 8000);
    const t0 = performance.now();
    let read = 0;
    const waiting = (): number => Math.floor((performance.now() - t0) / 20) + 1 - read;
    const readOne = (): void => {
      if (waiting() > 0) {
        p.push(160);
        read++;
      }
    };
    const readAll = (): void => {
      for (let n = waiting(); n > 0; n--, read++) p.push(160);
    };
    const scheduler = new FrameScheduler(withReadIo ? { readIo: readAll } : {});
    const loopReader = setInterval(readOne, 1);
    try {
      readAll();
      scheduler.add(mixer);
      await new Promise((r) => setTimeout(r, 200));
      const until = performance.now() + 150;
      while (performance.now() < until); // the stall
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      scheduler.remove(mixer);
      clearInterval(loopReader);
    }
    assert.ok(mixer.ticks >= 25, `${mixer.ticks} ticks`);
    return a.underrunSamples;
  };
  assert.is(await run(true), 0, 'with readIo: every frame read before it is mixed');
  // The control: without it, the catch-up ticks after the stall outrun the loop's reader.
  assert.ok((await run(false)) > 0, 'without readIo the stall costs audio');
});

test('FrameScheduler drives a mixer from real timers', async () => {
  const scheduler = new FrameScheduler();
  const mixer = new Mixer({ sampleRate: 8000, delayMs: 20 });
  const a = mixer.createInput();
  const out = new Collector();
  mixer.addOutput({ kind: 'track', input: a }, out);
  scheduler.add(mixer);
  const p = new ToneProducer(a, 1000, 8000);
  p.push(160 * 10);
  await new Promise((r) => setTimeout(r, 260));
  scheduler.remove(mixer);
  assert.is(scheduler.size, 0);
  // 200 ms of audio plus a 20 ms delay: every frame played after ~240 ms.
  assert.ok(out.chunks.length >= 10, `ticks ${out.chunks.length}`);
  assert.is(out.gaps, 0);
});

test.run();
