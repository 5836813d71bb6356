/**
 * Mixer throughput against the same kernel in scalar C and in a plain JS loop.
 * "Output samples" are sample frames of the mix (one per 8 kHz instant, whatever the legs).
 */
import { Mixer, accStore, accSum, copyStrided, mix2, mix4, mix8 } from '../mixer/index.js';
import type { FrameConsumer, InputFeeder } from '../mixer/index.js';
import { bestNsPer, noise, runC } from './util.js';
import type { Row } from './util.js';

const FRAME = 160;
const RING = 16384;

/** The obvious JS: per sample, sum the legs from an array of arrays, clamp. */
function plainJsMix(rings: Int16Array[], out: Int16Array, ticks: number, stereo: boolean): void {
  const legs = rings.length;
  const half = legs >> 1;
  for (let t = 0; t < ticks; t++) {
    let base = (t * FRAME) & (RING - 1);
    if (base + FRAME > RING) base = 0;
    for (let i = 0; i < FRAME; i++) {
      if (!stereo) {
        let acc = 0;
        for (let l = 0; l < legs; l++) acc += rings[l]![base + i]!;
        out[i] = Math.max(-32768, Math.min(32767, acc));
      } else {
        let a = 0;
        let b = 0;
        for (let l = 0; l < half; l++) a += rings[l]![base + i]!;
        for (let l = half; l < legs; l++) b += rings[l]![base + i]!;
        out[2 * i] = Math.max(-32768, Math.min(32767, a));
        out[2 * i + 1] = Math.max(-32768, Math.min(32767, b));
      }
    }
  }
}

/** recgate's kernels over a shared bank, called the way Mixer calls them. */
function kernelMix(bank: Int16Array, legs: number, acc: Int32Array, out: Int16Array, ticks: number, stereo: boolean): void {
  const all = Int32Array.from({ length: legs }, (_, l) => l * RING);
  const left = all.slice(0, legs >> 1);
  const right = all.slice(legs >> 1);
  const side = (bases: Int32Array, base: number, o: number, stride: number): void => {
    if (bases.length === 1) copyStrided(bank, bases[0]! + base, FRAME, out, o, stride);
    else if (bases.length === 2) mix2(bank, bases[0]! + base, bases[1]! + base, FRAME, out, o, stride);
    else if (bases.length === 4) mix4(bank, bases[0]! + base, bases[1]! + base, bases[2]! + base, bases[3]! + base, FRAME, out, o, stride);
    else if (bases.length === 8) {
      const b = bases;
      mix8(bank, b[0]! + base, b[1]! + base, b[2]! + base, b[3]! + base, b[4]! + base, b[5]! + base, b[6]! + base, b[7]! + base, FRAME, out, o, stride);
    } else {
      accSum(acc, bank, bases, bases.length, base, FRAME);
      accStore(acc, FRAME, out, o, stride);
    }
  };
  for (let t = 0; t < ticks; t++) {
    let base = (t * FRAME) & (RING - 1);
    if (base + FRAME > RING) base = 0;
    if (!stereo) side(all, base, 0, 1);
    else {
      side(left, base, 0, 2);
      side(right, base, 1, 2);
    }
  }
}

/** The whole Mixer.tick: inputs prepared by a feeder, one output, consumer called. */
function mixerTicks(legs: number, stereo: boolean): (n: number) => void {
  let t = 0;
  const mixer = new Mixer({ sampleRate: 8000, delayMs: 20, now: () => t });
  const inputs = Array.from({ length: legs }, () => mixer.createInput());
  const feeder: InputFeeder = {
    feed(input, deadline) {
      // The ring already holds audio (noise); just say it was written up to the deadline.
      input.writeHead = deadline;
    },
    drain() {},
  };
  inputs.forEach((input, i) => {
    input.ring.set(noise(input.ring.length, i + 1));
    input.feeder = feeder;
    input.anchor();
  });
  let sink = 0;
  const consumer: FrameConsumer = { onFrame: (pcm) => void (sink += pcm[0]!) };
  const half = legs >> 1;
  mixer.addOutput(stereo ? { kind: 'stereo', left: inputs.slice(0, half), right: inputs.slice(half) } : { kind: 'mono' }, consumer);
  return (n) => {
    for (let i = 0; i < n; i++) mixer.tick(FRAME);
  };
}

export function benchMixer(cBin: string | null): Row[] {
  const rows: Row[] = [];
  for (const stereo of [false, true]) {
    for (const legs of [2, 8, 32]) {
      const rings = Array.from({ length: legs }, (_, i) => noise(RING, i + 1));
      const bank = new Int16Array(legs * RING);
      rings.forEach((r, i) => bank.set(r, i * RING));
      const out = new Int16Array(FRAME * 2);
      const acc = new Int32Array(FRAME);
      const ticks = Math.max(2000, Math.floor(6e5 / legs));
      const frames = ticks * FRAME;
      const plain = bestNsPer((n) => plainJsMix(rings, out, n, stereo), ticks) / FRAME;
      const kernel = bestNsPer((n) => kernelMix(bank, legs, acc, out, n, stereo), ticks) / FRAME;
      const full = bestNsPer(mixerTicks(legs, stereo), ticks) / FRAME;
      const c = runC(cBin, ['mix', String(legs), stereo ? '1' : '0', String(frames * 10)]);
      rows.push({
        mix: `${legs} legs ${stereo ? 'stereo' : 'mono'}`,
        'C ns/sample': c,
        'C samples/s': 1e9 / c,
        'plain JS % of C': (100 * c) / plain,
        'kernels samples/s': 1e9 / kernel,
        'kernels % of C': (100 * c) / kernel,
        'Mixer.tick samples/s': 1e9 / full,
        'Mixer.tick % of C': (100 * c) / full,
      });
    }
  }
  return rows;
}
