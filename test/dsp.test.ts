import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ToneGenerator, toneFraction, toneFrames, rms } from '../dsp/index.js';

test('a generated 1000 Hz tone is found by Goertzel and 1500 Hz is not', () => {
  const pcm = new Int16Array(8000);
  new ToneGenerator(1000, 8000, 16000).fill(pcm, 0, pcm.length);
  assert.ok(toneFraction(pcm, 0, 160, 1000, 8000) > 0.99);
  assert.ok(toneFraction(pcm, 0, 160, 1500, 8000) < 0.01);
  const stats = toneFrames(pcm, 8000, 1000);
  assert.is(stats.frames, 50);
  assert.is(stats.toneFrames, 50);
  assert.is(stats.firstToneFrame, 0);
  // RMS of a sine is peak / sqrt(2)
  assert.ok(Math.abs(rms(pcm, 0, 8000) - 16000 / Math.SQRT2) < 20);
});

test('interleaved stereo: each channel is read on its own', () => {
  const pcm = new Int16Array(2 * 4800);
  new ToneGenerator(1000, 48000).fill(pcm, 0, 4800, 2);
  new ToneGenerator(1500, 48000).fill(pcm, 1, 4800, 2);
  const left1000 = toneFrames(pcm, 48000, 1000, { channels: 2, channel: 0 });
  const right1000 = toneFrames(pcm, 48000, 1000, { channels: 2, channel: 1 });
  const right1500 = toneFrames(pcm, 48000, 1500, { channels: 2, channel: 1 });
  assert.is(left1000.ratio, 1);
  assert.is(right1000.toneFrames, 0);
  assert.is(right1500.ratio, 1);
});

test('silence and noise hold no tone; phase stays continuous across fills', () => {
  const silent = new Int16Array(1600);
  assert.is(toneFrames(silent, 8000, 1000).toneFrames, 0);
  const noise = new Int16Array(1600);
  let seed = 1;
  for (let i = 0; i < noise.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    noise[i] = (seed % 20000) - 10000;
  }
  assert.is(toneFrames(noise, 8000, 1000).toneFrames, 0);
  // Two fills of 80 samples equal one fill of 160.
  const a = new Int16Array(160);
  const b = new Int16Array(160);
  const g1 = new ToneGenerator(1234, 8000);
  g1.fill(a, 0, 80);
  g1.fill(a, 80, 80);
  new ToneGenerator(1234, 8000).fill(b, 0, 160);
  assert.equal(Array.from(a), Array.from(b));
});

test.run();
