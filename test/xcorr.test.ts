/**
 * test/helpers/xcorr.ts on synthetic signals (no tools needed): the FFT against a direct DFT,
 * the correlation against a direct sum, and the score/lag on delayed, scaled and unrelated
 * signals. The same checks on real speech run in baresip.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crossCorrelate, fft } from './helpers/xcorr.js';

const RATE = 8000;

/** Seeded "speech-like" signal: white noise through a one-pole low-pass with bursts of silence. */
function noise(seed: number, samples: number): Int16Array {
  let s = seed >>> 0;
  const rand = (): number => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
  const out = new Int16Array(samples);
  let y = 0;
  for (let i = 0; i < samples; i++) {
    y = 0.7 * y + 0.3 * (rand() * 2 - 1);
    // 200 ms on, 100 ms off
    const on = i % 2400 < 1600;
    out[i] = on ? Math.round(y * 20000) : 0;
  }
  return out;
}

function delayed(x: Int16Array, delaySamples: number, tailSamples = 0): Int16Array {
  const out = new Int16Array(x.length + delaySamples + tailSamples);
  out.set(x, delaySamples);
  return out;
}

test('fft matches a direct DFT and the inverse restores the input', () => {
  const n = 64;
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    re[i] = Math.sin(i * 0.37) + (i % 5) * 0.1;
    im[i] = Math.cos(i * 0.11) * 0.5;
  }
  const x = { re: re.slice(), im: im.slice() };
  fft(re, im);
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let t = 0; t < n; t++) {
      const a = (-2 * Math.PI * k * t) / n;
      sr += (x.re[t] as number) * Math.cos(a) - (x.im[t] as number) * Math.sin(a);
      si += (x.re[t] as number) * Math.sin(a) + (x.im[t] as number) * Math.cos(a);
    }
    assert.ok(Math.abs((re[k] as number) - sr) < 1e-9, `bin ${k} re`);
    assert.ok(Math.abs((im[k] as number) - si) < 1e-9, `bin ${k} im`);
  }
  fft(re, im, true);
  for (let i = 0; i < n; i++) {
    assert.ok(Math.abs((re[i] as number) / n - (x.re[i] as number)) < 1e-12);
    assert.ok(Math.abs((im[i] as number) / n - (x.im[i] as number)) < 1e-12);
  }
});

test('fft refuses lengths that are not a power of two (RangeError)', () => {
  assert.throws(() => fft(new Float64Array(12), new Float64Array(12)), (e: unknown) => e instanceof RangeError);
  assert.throws(() => fft(new Float64Array(8), new Float64Array(4)), (e: unknown) => e instanceof RangeError);
  assert.throws(() => crossCorrelate(new Int16Array(0), new Int16Array(4), RATE, 10), (e: unknown) => e instanceof TypeError);
});

test('the FFT correlation equals the direct sum, normalised by the overlapping energies', () => {
  const ref = noise(7, 300);
  const sig = noise(8, 500);
  const r = crossCorrelate(ref, sig, RATE, 1000, { minOverlap: 0.5 });
  // Direct search with the same rules.
  let best = -Infinity;
  let bestLag = 0;
  for (let lag = -(ref.length - 1); lag <= sig.length - 1; lag++) {
    const lo = Math.max(0, -lag);
    const hi = Math.min(ref.length, sig.length - lag);
    if (hi - lo < 150) continue;
    let c = 0;
    let e1 = 0;
    let e2 = 0;
    for (let i = lo; i < hi; i++) {
      const a = ref[i] as number;
      const b = sig[i + lag] as number;
      c += a * b;
      e1 += a * a;
      e2 += b * b;
    }
    if (e1 === 0 || e2 === 0) continue;
    const s = c / Math.sqrt(e1 * e2);
    if (s > best) {
      best = s;
      bestLag = lag;
    }
  }
  assert.is(r.lagSamples, bestLag);
  assert.ok(Math.abs(r.score - Math.max(0, best)) < 1e-9, `${r.score} vs ${best}`);
});

test('a signal against itself delayed by 300 ms: score ~1, lag 300 ms; halved and padded it still matches', () => {
  const ref = noise(1, 4 * RATE);
  const sig = delayed(ref, 0.3 * RATE, RATE);
  const r = crossCorrelate(ref, sig, RATE, 1000);
  assert.ok(r.score > 0.9999, `score ${r.score}`);
  assert.is(r.lagMs, 300);
  const quiet = sig.map((v) => v >> 1);
  const q = crossCorrelate(ref, quiet, RATE, 1000);
  assert.ok(q.score > 0.999, `scaled: ${q.score}`);
  assert.is(q.lagMs, 300);
});

test('negative lag: the signal starts 120 ms early', () => {
  const base = noise(3, 3 * RATE);
  const ref = delayed(base, 0.12 * RATE);
  const r = crossCorrelate(ref, base, RATE, 500);
  assert.ok(r.score > 0.9999, `score ${r.score}`);
  assert.is(r.lagMs, -120);
});

test('a lag beyond maxLagMs is not found; an unrelated signal scores < 0.3', () => {
  const ref = noise(1, 2 * RATE);
  const late = delayed(ref, 0.6 * RATE);
  assert.ok(crossCorrelate(ref, late, RATE, 500).score < 0.3);
  const other = noise(99, 2 * RATE);
  const r = crossCorrelate(ref, other, RATE, 1000);
  assert.ok(r.score < 0.3, `unrelated: ${r.score}`);
});

test('silence against anything scores 0 (no division by zero)', () => {
  const r = crossCorrelate(new Int16Array(800), noise(4, 800), RATE, 50);
  assert.is(r.score, 0);
  const f = crossCorrelate(new Float32Array([0.5, -0.25, 0.125, 0]), new Float32Array([0, 0.5, -0.25, 0.125]), 1000, 5);
  assert.ok(f.score > 0.9999);
  assert.is(f.lagMs, 1);
});

test.run();
