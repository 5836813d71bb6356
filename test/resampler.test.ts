import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Resampler, ToneGenerator, goertzelPower, rms, toneFrames } from '../dsp/index.js';

/** Resamples all of `input` in one call plus flush; returns the output (interleaved). */
function resampleAll(r: Resampler, input: Int16Array): Int16Array {
  const frames = input.length / r.channels;
  const out = new Int16Array((r.maxOutputFrames(frames) + r.maxOutputFrames(0)) * r.channels);
  const n = r.process(input, frames, out);
  const tail = new Int16Array(r.maxOutputFrames(0) * r.channels);
  const t = r.flush(tail);
  out.set(tail.subarray(0, t * r.channels), n * r.channels);
  return out.slice(0, (n + t) * r.channels);
}

function tone(freqHz: number, rateHz: number, frames: number, amplitude = 16000): Int16Array {
  const pcm = new Int16Array(frames);
  new ToneGenerator(freqHz, rateHz, amplitude).fill(pcm, 0, frames);
  return pcm;
}

/** Level change in dB of a steady tone, measured away from the start and end transients. */
function gainDb(input: Int16Array, output: Int16Array, r: Resampler): number {
  const edge = Math.ceil(2 * r.delayFrames) + 20;
  const inLevel = rms(input, 0, input.length);
  const outLevel = rms(output, edge, output.length - 2 * edge);
  return 20 * Math.log10(outLevel / inLevel);
}

for (const [inRate, outRate] of [
  [8000, 16000],
  [8000, 48000],
  [48000, 8000],
  [16000, 8000],
  [48000, 16000],
  [16000, 48000],
] as const) {
  test(`1000 Hz survives ${inRate} -> ${outRate}: right frequency, level within 1 dB`, () => {
    const r = new Resampler(inRate, outRate, 1);
    const input = tone(1000, inRate, inRate); // 1 s
    const out = resampleAll(r, input);
    const stats = toneFrames(out, outRate, 1000, { skipMs: 20 });
    assert.ok(stats.ratio >= 0.97, `tone in ${stats.toneFrames}/${stats.frames} frames`);
    // The energy sits at 1000 Hz, not at a neighbouring frequency (a wrong ratio would move it).
    assert.is(toneFrames(out, outRate, 1100, { skipMs: 20, minFraction: 0.3 }).toneFrames, 0);
    const db = gainDb(input, out, r);
    assert.ok(Math.abs(db) < 1, `gain ${db.toFixed(3)} dB`);
  });
}

test('a 3500 Hz tone at 48 kHz is kept at 16 kHz (pass band)', () => {
  const r = new Resampler(48000, 16000, 1);
  const input = tone(3500, 48000, 48000);
  const db = gainDb(input, resampleAll(r, input), r);
  assert.ok(Math.abs(db) < 1, `gain ${db.toFixed(3)} dB`);
});

test('48k -> 8k low-passes: 6000 Hz is >= 40 dB down (not aliased to 2000 Hz), stop band >= 60 dB', () => {
  const r = new Resampler(48000, 8000, 1);
  const input = tone(6000, 48000, 48000);
  const out = resampleAll(r, input);
  const db = gainDb(input, out, r);
  assert.ok(db <= -40, `6000 Hz only ${db.toFixed(1)} dB down`);
  // Plain decimation would fold 6000 Hz onto 2000 Hz at full level.
  assert.ok(rms(out, 100, out.length - 200) < 100, `residual ${rms(out, 100, out.length - 200).toFixed(1)}`);
  // The whole stop band, from the 4000 Hz Nyquist up: measured >= 70 dB, asserted 60.
  for (const f of [4050, 4400, 5000, 7000, 9000, 12000, 16000, 20000, 23000]) {
    const x = tone(f, 48000, 48000);
    const g = gainDb(x, resampleAll(r, x), r);
    assert.ok(g <= -60, `${f} Hz only ${g.toFixed(1)} dB down`);
  }
});

test('8k -> 48k suppresses the images of the input spectrum by >= 60 dB', () => {
  const r = new Resampler(8000, 48000, 1);
  const out = resampleAll(r, tone(1000, 8000, 8000));
  const start = 1000;
  const n = 4800 * 8; // 0.8 s window
  const main = goertzelPower(out, start, n, 1000, 48000);
  for (const image of [7000, 9000, 15000, 17000, 23000]) {
    const p = goertzelPower(out, start, n, image, 48000);
    const db = 10 * Math.log10(p / main);
    assert.ok(db <= -60, `image at ${image} Hz only ${db.toFixed(1)} dB down`);
  }
});

test('output length = input x ratio + the filter delay; an impulse comes out delayFrames late', () => {
  for (const [inRate, outRate, frames] of [
    [8000, 48000, 8000],
    [48000, 8000, 48003],
    [8000, 16000, 1601],
    [16000, 8000, 16001],
    [12000, 8000, 1234],
    [8000, 12000, 999],
  ] as const) {
    const r = new Resampler(inRate, outRate, 1);
    const out = resampleAll(r, new Int16Array(frames));
    const ideal = (frames * outRate) / inRate;
    assert.is(out.length, Math.ceil(ideal + r.delayFrames), `${inRate}->${outRate}`);
    assert.ok(Math.abs(out.length - ideal) <= r.delayFrames + 1);
  }
  const r = new Resampler(8000, 48000, 1);
  const impulse = new Int16Array(800);
  impulse[100] = 30000;
  const out = resampleAll(r, impulse);
  let peak = 0;
  for (let i = 1; i < out.length; i++) if (Math.abs(out[i]!) > Math.abs(out[peak]!)) peak = i;
  assert.ok(Math.abs(peak - (100 * 6 + r.delayFrames)) <= 1, `peak at ${peak}, expected ${100 * 6 + r.delayFrames}`);
  assert.is(r.delayFrames, 131.5);
});

test('chunks of 7, 160 and 333 frames give exactly the samples of one big call', () => {
  for (const [inRate, outRate, channels] of [
    [8000, 48000, 1],
    [48000, 8000, 2],
    [16000, 24000, 1],
    [8000, 16000, 2],
  ] as const) {
    const frames = 5000;
    const input = new Int16Array(frames * channels);
    let seed = 7;
    for (let i = 0; i < input.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      input[i] = (seed % 40000) - 20000;
    }
    const whole = resampleAll(new Resampler(inRate, outRate, channels), input);
    const r = new Resampler(inRate, outRate, channels);
    const pieces = new Int16Array(whole.length);
    const out = new Int16Array(r.maxOutputFrames(333) * channels);
    const sizes = [7, 160, 333];
    let at = 0;
    let written = 0;
    for (let k = 0; at < frames; k++) {
      const n = Math.min(sizes[k % 3]!, frames - at);
      const got = r.process(input, n, out, at);
      pieces.set(out.subarray(0, got * channels), written * channels);
      written += got;
      at += n;
    }
    const t = r.flush(out);
    pieces.set(out.subarray(0, t * channels), written * channels);
    written += t;
    assert.is(written * channels, whole.length, `${inRate}->${outRate} x${channels} length`);
    assert.ok(Buffer.from(pieces.buffer).equals(Buffer.from(whole.buffer)), `${inRate}->${outRate} x${channels} samples differ`);
  }
});

test('stereo keeps channels apart: each equals the mono result of its own channel', () => {
  const frames = 4000;
  const left = tone(1000, 8000, frames);
  const right = tone(1500, 8000, frames, 12000);
  const stereo = new Int16Array(frames * 2);
  for (let i = 0; i < frames; i++) {
    stereo[2 * i] = left[i]!;
    stereo[2 * i + 1] = right[i]!;
  }
  const out = resampleAll(new Resampler(8000, 48000, 2), stereo);
  const l = resampleAll(new Resampler(8000, 48000, 1), left);
  const r = resampleAll(new Resampler(8000, 48000, 1), right);
  assert.is(out.length, 2 * l.length);
  for (let i = 0; i < l.length; i++) {
    if (out[2 * i] !== l[i] || out[2 * i + 1] !== r[i]) assert.unreachable(`frame ${i} differs`);
  }
  assert.is(toneFrames(out, 48000, 1000, { channels: 2, channel: 0, skipMs: 20 }).ratio, 1);
  assert.is(toneFrames(out, 48000, 1500, { channels: 2, channel: 1, skipMs: 20 }).ratio, 1);
  assert.is(toneFrames(out, 48000, 1500, { channels: 2, channel: 0, minFraction: 0.01 }).toneFrames, 0);
  assert.is(toneFrames(out, 48000, 1000, { channels: 2, channel: 1, minFraction: 0.01 }).toneFrames, 0);
});

test('equal rates copy bit-exactly with no delay; flush emits nothing', () => {
  const r = new Resampler(16000, 16000, 2);
  const input = new Int16Array([1, -2, 3, -4, 32767, -32768]);
  const out = new Int16Array(r.maxOutputFrames(3) * 2);
  assert.is(r.delayFrames, 0);
  assert.is(r.process(input, 2, out, 1), 2);
  assert.equal(Array.from(out.subarray(0, 4)), [3, -4, 32767, -32768]);
  assert.is(r.flush(out), 0);
});

test('full-scale square wave saturates instead of wrapping around', () => {
  const inRate = 8000;
  const outRate = 48000;
  const input = new Int16Array(800);
  for (let i = 0; i < input.length; i++) input[i] = Math.floor(i / 8) % 2 === 0 ? 32767 : -32768; // 500 Hz
  const r = new Resampler(inRate, outRate, 1);
  const out = resampleAll(r, input);
  let clipped = 0;
  for (let m = 0; m < out.length; m++) {
    const t = ((m - r.delayFrames) * inRate) / outRate; // input time of this output sample
    if (t < 16 || t > input.length - 16) continue;
    const phase = t % 8;
    if (phase < 2 || phase > 6) continue; // near an edge the sign is legitimately mixed
    const expected = input[Math.floor(t)]!;
    if (Math.sign(out[m]!) !== Math.sign(expected) || Math.abs(out[m]!) < 16000) {
      assert.unreachable(`sample ${m} = ${out[m]} for input ${expected}`);
    }
    if (out[m] === 32767 || out[m] === -32768) clipped++;
  }
  assert.ok(clipped > 0, 'the overshoot should have hit the int16 limits');
});

test('misuse: unsupported rates or channels, short input or output -> ERR_OUT_OF_RANGE', () => {
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      return (err as { code?: string }).code ?? 'no code';
    }
    return 'no error';
  };
  assert.is(code(() => new Resampler(44100, 48000, 1)), 'ERR_OUT_OF_RANGE');
  assert.is(code(() => new Resampler(8000, 22050, 1)), 'ERR_OUT_OF_RANGE');
  assert.is(code(() => new Resampler(8000, 16000, 3 as 1)), 'ERR_OUT_OF_RANGE');
  const r = new Resampler(8000, 16000, 1);
  assert.is(code(() => r.process(new Int16Array(100), 160, new Int16Array(1000))), 'ERR_OUT_OF_RANGE');
  assert.is(code(() => r.process(new Int16Array(160), 160, new Int16Array(100))), 'ERR_OUT_OF_RANGE');
  assert.is(code(() => r.process(new Int16Array(160), -1, new Int16Array(1000))), 'ERR_INVALID_ARGUMENT');
  assert.is(code(() => r.flush(new Int16Array(1))), 'ERR_OUT_OF_RANGE');
});

test('reset() forgets the history: the same input gives the same output again', () => {
  const r = new Resampler(48000, 8000, 1);
  const input = tone(1000, 48000, 960);
  const a = resampleAll(r, input); // flush resets
  const out = new Int16Array(r.maxOutputFrames(960));
  r.process(tone(3000, 48000, 960), 960, out);
  r.reset();
  const b = resampleAll(r, input);
  assert.equal(Array.from(b), Array.from(a));
});

test.run();
