/**
 * In-band DTMF (dsp/DtmfDetector.ts) on real dual tones built from two ToneGenerators, summed
 * into Int16Array: every digit at 8, 16 and 48 kHz, any chunking, the Q.24-style limits (twist,
 * level, duration, breaks and pauses at every block alignment), noise, single tones, silence,
 * and espeak-ng speech (talk-off). Fails, not skips, when espeak-ng is missing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DtmfDetector, ToneGenerator } from '../dsp/index.js';
import { RecgateError } from '../common/index.js';
import { measureAllocation } from './helpers/allocation.js';

const ROWS_HZ = [697, 770, 852, 941];
const COLS_HZ = [1209, 1336, 1477, 1633];
const KEYPAD = ['123A', '456B', '789C', '*0#D'];
const ALL = '123A456B789C*0#D';

/** Row and column frequency of a key, in Hz. */
function freqs(digit: string): [number, number] {
  for (let r = 0; r < 4; r++) {
    const c = KEYPAD[r]!.indexOf(digit);
    if (c >= 0) return [ROWS_HZ[r]!, COLS_HZ[c]!];
  }
  throw new Error(`not a DTMF key: ${digit}`);
}

function clamp16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

/** Adds a sine of `amplitude` (peak, sample units) to out[offset .. offset + count). */
function addTone(out: Int16Array, offset: number, count: number, freqHz: number, rateHz: number, amplitude: number): void {
  const tone = new Int16Array(count);
  new ToneGenerator(freqHz, rateHz, amplitude).fill(tone, 0, count);
  for (let i = 0; i < count; i++) out[offset + i] = clamp16(out[offset + i]! + tone[i]!);
}

/** Adds the dual tone of `digit`; amplitudes are peak per component. */
function addDigit(
  out: Int16Array,
  offset: number,
  count: number,
  digit: string,
  rateHz: number,
  rowAmp = 8000,
  colAmp = rowAmp,
): void {
  const [row, col] = freqs(digit);
  addTone(out, offset, count, row, rateHz, rowAmp);
  addTone(out, offset, count, col, rateHz, colAmp);
}

/** Deterministic Gaussian noise (LCG + Box-Muller) of standard deviation `sigma`, added. */
function addNoise(out: Int16Array, sigma: number, seed = 1): void {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  for (let i = 0; i < out.length; i++) {
    const g = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    out[i] = clamp16(Math.round(out[i]! + sigma * g));
  }
}

function samples(ms: number, rateHz: number): number {
  return Math.round((ms * rateHz) / 1000);
}

/** `digits` as tones of toneMs separated (and preceded and followed) by gapMs of silence. */
function sequence(rateHz: number, digits: string, toneMs = 80, gapMs = 60, amp = 8000): { pcm: Int16Array; starts: number[] } {
  const tone = samples(toneMs, rateHz);
  const gap = samples(gapMs, rateHz);
  const pcm = new Int16Array(gap + digits.length * (tone + gap));
  const starts: number[] = [];
  for (let i = 0; i < digits.length; i++) {
    const at = gap + i * (tone + gap);
    starts.push(at);
    addDigit(pcm, at, tone, digits[i]!, rateHz, amp);
  }
  return { pcm, starts };
}

interface Press {
  digit: string;
  startSample: number;
  durationMs: number;
}

/** Runs the detector over `pcm` in chunks of `chunk` samples, then flush(). */
function detect(rateHz: number, pcm: Int16Array, chunk = 160): { presses: Press[]; detector: DtmfDetector } {
  const presses: Press[] = [];
  const detector = new DtmfDetector({
    sampleRateHz: rateHz,
    onDigit: (digit, startSample, durationMs) => presses.push({ digit, startSample, durationMs }),
  });
  for (let i = 0; i < pcm.length; i += chunk) detector.push(pcm, i, Math.min(chunk, pcm.length - i));
  detector.flush();
  return { presses, detector };
}

function digitsOf(presses: Press[]): string {
  return presses.map((p) => p.digit).join('');
}

// ---------------------------------------------------------------------------------------------
// All keys, all rates, any chunking

for (const rate of [8000, 16000, 48000]) {
  test(`all 16 keys at ${rate} Hz (80 ms tone, 60 ms pause): each once, in order, at its time`, () => {
    const { pcm, starts } = sequence(rate, ALL);
    const { presses, detector } = detect(rate, pcm, samples(20, rate));
    assert.is(digitsOf(presses), ALL);
    const block = detector.blockSamples;
    assert.is(block, Math.round((102 * rate) / 8000), 'block of 12.75 ms');
    const blockMs = (block * 1000) / rate;
    presses.forEach((p, i) => {
      // Start and duration are known to one block (a partial block may or may not count).
      assert.ok(Math.abs(p.startSample - starts[i]!) < block, `${p.digit} starts at ${p.startSample}, tone at ${starts[i]}`);
      assert.ok(Math.abs(p.durationMs - 80) <= 2 * blockMs, `${p.digit} lasts ${p.durationMs} ms`);
      assert.is(p.startSample % block, 0, 'starts on a block boundary');
    });
    assert.is(detector.digits, 16);
    assert.is(detector.blocks, Math.floor(pcm.length / block));
    assert.is(detector.listenerErrors, 0);
  });
}

test('chunks of 160, 37, 1 and 1 s give the same presses as one push (8 kHz and 48 kHz)', () => {
  for (const rate of [8000, 48000]) {
    const { pcm } = sequence(rate, ALL);
    const whole = detect(rate, pcm, pcm.length).presses;
    assert.is(digitsOf(whole), ALL);
    for (const chunk of [160, 37, 1, rate, samples(20, rate)]) {
      assert.equal(detect(rate, pcm, chunk).presses, whole, `chunk ${chunk} at ${rate} Hz`);
    }
  }
});

test('each press is reported at its end, from inside push(), without waiting for flush()', () => {
  const rate = 8000;
  const { pcm } = sequence(rate, '5', 200, 60);
  const seen: number[] = [];
  let pushed = 0;
  const d = new DtmfDetector({ sampleRateHz: rate });
  d.onDigit = () => seen.push(pushed);
  for (; pushed < pcm.length; pushed += 8) d.push(pcm, pushed, 8);
  assert.is(seen.length, 1);
  // The tone ends at 260 ms (2080 samples); three empty blocks later (38.25 ms) the press ends.
  assert.ok(seen[0]! > 2080 && seen[0]! <= 2080 + 4 * 102, `reported after ${seen[0]} samples`);
});

// ---------------------------------------------------------------------------------------------
// Signals that are not digits

test('no digit from a 1000 Hz tone, a 1500 Hz tone, white noise or silence (8, 16, 48 kHz)', () => {
  for (const rate of [8000, 16000, 48000]) {
    const n = 2 * rate;
    const cases: [string, Int16Array][] = [];
    for (const f of [1000, 1500]) {
      const pcm = new Int16Array(n);
      addTone(pcm, 0, n, f, rate, 16000);
      cases.push([`${f} Hz`, pcm]);
    }
    const noise = new Int16Array(n);
    addNoise(noise, 8000, 7);
    cases.push(['white noise', noise]);
    cases.push(['silence', new Int16Array(n)]);
    for (const [name, pcm] of cases) {
      const { presses, detector } = detect(rate, pcm);
      assert.is(presses.length, 0, `${name} at ${rate} Hz gave ${digitsOf(presses)}`);
      assert.is(detector.blocks, Math.floor(n / detector.blockSamples));
    }
  }
});

test('noise 6 dB below the digit (SNR 6 dB, Gaussian white): all 16 keys still found', () => {
  for (const rate of [8000, 16000, 48000]) {
    const { pcm } = sequence(rate, ALL);
    // Each 8000-peak component has power 8000^2 / 2, so the digit has 8000^2: noise sigma 4000.
    addNoise(pcm, 4000, 3);
    assert.is(digitsOf(detect(rate, pcm).presses), ALL, `at ${rate} Hz`);
  }
});

test('twist: row 12 dB or column 6 dB louder rejected; row 6 dB or column 3 dB louder accepted', () => {
  const rate = 8000;
  const cases: [string, number, number, boolean][] = [
    ['row +12 dB (normal twist beyond 8 dB)', 8000, 8000 / 10 ** (12 / 20), false],
    ['column +6 dB (reverse twist beyond 4 dB)', 8000 / 10 ** (6 / 20), 8000, false],
    ['row +6 dB', 8000, 8000 / 10 ** (6 / 20), true],
    ['column +3 dB', 8000 / 10 ** (3 / 20), 8000, true],
  ];
  for (const [name, rowAmp, colAmp, accepted] of cases) {
    for (const digit of ['1', '5', '9', 'D']) {
      const pcm = new Int16Array(samples(300, rate));
      addDigit(pcm, samples(60, rate), samples(100, rate), digit, rate, rowAmp, colAmp);
      assert.is(digitsOf(detect(rate, pcm).presses), accepted ? digit : '', `${name}, key ${digit}`);
    }
  }
});

test('level: 8000 and 1000 peak per tone found; 500 (-33 dBm0) and 200 (-41 dBm0) not', () => {
  for (const [amp, found] of [[8000, true], [1000, true], [500, false], [200, false]] as const) {
    for (const rate of [8000, 48000]) {
      const { pcm } = sequence(rate, '1590', 80, 60, amp);
      assert.is(digitsOf(detect(rate, pcm).presses), found ? '1590' : '', `amplitude ${amp} at ${rate} Hz`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Durations, breaks and pauses at every block alignment (8 kHz: block 102 samples)

/** Runs `build(lead)` for every lead-in of 0..101 samples (every alignment to the blocks). */
function everyAlignment(build: (lead: number) => Int16Array, expected: string, what: string): void {
  for (let lead = 0; lead < 102; lead++) {
    const got = digitsOf(detect(8000, build(lead)).presses);
    assert.is(got, expected, `${what}, tone ${lead} samples after a block boundary`);
  }
}

test('a 20 ms tone is never a digit; a 50 ms tone always is', () => {
  for (const [ms, expected] of [[20, ''], [50, '7']] as const) {
    everyAlignment((lead) => {
      const pcm = new Int16Array(lead + samples(ms + 200, 8000));
      addDigit(pcm, lead, samples(ms, 8000), '7', 8000);
      return pcm;
    }, expected, `${ms} ms`);
  }
});

test('one key twice with a 50 ms or 40 ms pause is two presses; a 10 ms break is one', () => {
  for (const [gapMs, expected] of [[50, '##'], [40, '##'], [10, '#']] as const) {
    everyAlignment((lead) => {
      const tone = samples(100, 8000);
      const gap = samples(gapMs, 8000);
      const pcm = new Int16Array(lead + 2 * tone + gap + samples(100, 8000));
      addDigit(pcm, lead, tone, '#', 8000);
      addDigit(pcm, lead + tone + gap, tone, '#', 8000);
      return pcm;
    }, expected, `${gapMs} ms pause`);
  }
});

test('one key straight after another, without a pause, is two presses', () => {
  const rate = 16000;
  const pcm = new Int16Array(samples(400, rate));
  addDigit(pcm, samples(40, rate), samples(120, rate), '4', rate);
  addDigit(pcm, samples(160, rate), samples(120, rate), 'B', rate);
  assert.is(digitsOf(detect(rate, pcm).presses), '4B');
});

// ---------------------------------------------------------------------------------------------
// Speech (talk-off)

/** Reads a 16-bit mono PCM WAV (as espeak-ng writes it): its rate and samples. */
function readWav(file: string): { rateHz: number; pcm: Int16Array } {
  const b = fs.readFileSync(file);
  assert.is(b.toString('ascii', 0, 4), 'RIFF');
  assert.is(b.toString('ascii', 8, 12), 'WAVE');
  let rateHz = 0;
  for (let o = 12; o + 8 <= b.length; ) {
    const id = b.toString('ascii', o, o + 4);
    const size = b.readUInt32LE(o + 4);
    if (id === 'fmt ') {
      assert.is(b.readUInt16LE(o + 8), 1, 'PCM');
      assert.is(b.readUInt16LE(o + 10), 1, 'mono');
      rateHz = b.readUInt32LE(o + 12);
      assert.is(b.readUInt16LE(o + 22), 16, '16-bit');
    } else if (id === 'data') {
      // espeak-ng may leave the size at its maximum when writing a stream: read what is there.
      const n = Math.min(size, b.length - o - 8) >> 1;
      const pcm = new Int16Array(n);
      for (let i = 0; i < n; i++) pcm[i] = b.readInt16LE(o + 8 + 2 * i);
      return { rateHz, pcm };
    }
    o += 8 + size + (size & 1);
  }
  throw new Error(`${file}: no data chunk`);
}

const ESPEAK = '/usr/bin/espeak-ng';

/** Speaks `text` with espeak-ng; throws (the test fails, not skips) when it is not installed. */
function speak(dir: string, name: string, args: string[], text: string): { rateHz: number; pcm: Int16Array } {
  if (!fs.existsSync(ESPEAK)) {
    throw new Error(`${ESPEAK} is missing: apt-get install -y --no-install-recommends espeak-ng (CI installs it)`);
  }
  const file = path.join(dir, `${name}.wav`);
  const r = spawnSync(ESPEAK, [...args, '-w', file, text], { encoding: 'utf8', timeout: 30_000 });
  if (r.error !== undefined || r.status !== 0) {
    throw new Error(`espeak-ng ${args.join(' ')} failed (${r.status}): ${r.error?.message ?? r.stderr}`);
  }
  return readWav(file);
}

const SPEECH =
  'One two three four five six seven eight nine zero. The quick brown fox jumps over the lazy dog. ' +
  'She sells sea shells by the sea shore. Please hold while we connect your call, beep beep, ooh, eee, aah, mmm.';

test('espeak-ng speech in four voices (male, female, very high pitch) gives no digit; digits after it are found', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-dtmf-'));
  try {
    const voices: [string, string[]][] = [
      ['en-us', ['-v', 'en-us']],
      ['female', ['-v', 'en-us+f3']],
      // Very high pitch gave 3-block runs above a 60% concentration (a false '#' with 'it').
      ['it-high', ['-v', 'it', '-p', '99']],
      ['de-high', ['-v', 'de', '-p', '99']],
    ];
    for (const [name, args] of voices) {
      const { rateHz, pcm } = speak(dir, name, args, SPEECH);
      // espeak-ng writes 22050 Hz, which the detector takes as is (block of 281 samples).
      assert.is(rateHz, 22050);
      assert.ok(pcm.length > 5 * rateHz, `${name}: ${pcm.length} samples of speech`);
      // Four alignments of the speech to the blocks (281 samples), by silence before it.
      for (const lead of [0, 70, 140, 210]) {
        const shifted = new Int16Array(lead + pcm.length);
        shifted.set(pcm, lead);
        const { presses, detector } = detect(rateHz, shifted, samples(20, rateHz));
        assert.is(digitsOf(presses), '', `${name}, ${lead} samples late: speech taken for digits`);
        assert.ok(detector.blocks > 400);
      }
      // The same speech followed by the 16 keys: only the keys.
      const keys = sequence(rateHz, ALL).pcm;
      const both = new Int16Array(pcm.length + keys.length);
      both.set(pcm, 0);
      both.set(keys, pcm.length);
      assert.is(digitsOf(detect(rateHz, both, 441).presses), ALL, `${name} then the keys`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// API: flush, reset, listener errors, bad arguments, allocation

test('flush() reports a press still held; reset() restarts sample numbers; counters keep counting', () => {
  const rate = 8000;
  const presses: Press[] = [];
  const d = new DtmfDetector({
    sampleRateHz: rate,
    onDigit: (digit, startSample, durationMs) => presses.push({ digit, startSample, durationMs }),
  });
  const held = new Int16Array(samples(200, rate));
  addDigit(held, 0, held.length, 'C', rate);
  d.push(held, 0, held.length);
  assert.is(presses.length, 0, 'still held');
  d.flush();
  assert.equal(presses, [{ digit: 'C', startSample: 0, durationMs: (15 * 102 * 1000) / rate }]);
  d.flush();
  assert.is(presses.length, 1, 'a second flush reports nothing');
  // The same tone continuing after flush() is not a second press until it has held 3 new blocks.
  d.push(held, 0, 204);
  d.flush();
  assert.is(presses.length, 1);

  d.reset();
  const { pcm } = sequence(rate, '0');
  d.push(pcm, 0, pcm.length);
  assert.is(presses.length, 2);
  assert.is(presses[1]!.digit, '0');
  assert.ok(presses[1]!.startSample < 60 * 8 + 102, 'sample numbers restart at reset()');
  assert.is(d.digits, 2);
  assert.ok(d.blocks > 20);
});

test('a throwing listener is counted and reported, and detection goes on', () => {
  const d = new DtmfDetector({ sampleRateHz: 8000 });
  const errors: unknown[] = [];
  let calls = 0;
  d.onDigit = () => {
    calls++;
    throw new Error('listener bug');
  };
  d.onListenerError = (err) => errors.push(err);
  const { pcm } = sequence(8000, '12');
  d.push(pcm, 0, pcm.length);
  assert.is(calls, 2);
  assert.is(d.digits, 2);
  assert.is(d.listenerErrors, 2);
  assert.is(errors.length, 2);
  d.onDigit = null;
  d.push(pcm, 0, pcm.length);
  assert.is(d.digits, 4, 'digits counted without a listener');
});

test('bad arguments throw with stable codes', () => {
  const cases: [string, () => void, string][] = [
    ['rate 7999', () => new DtmfDetector({ sampleRateHz: 7999 }), 'ERR_OUT_OF_RANGE'],
    ['rate 192001', () => new DtmfDetector({ sampleRateHz: 192001 }), 'ERR_OUT_OF_RANGE'],
    ['rate 8000.5', () => new DtmfDetector({ sampleRateHz: 8000.5 }), 'ERR_INVALID_ARGUMENT'],
    ['rate NaN', () => new DtmfDetector({ sampleRateHz: Number.NaN }), 'ERR_INVALID_ARGUMENT'],
    ['span past the end', () => new DtmfDetector({ sampleRateHz: 8000 }).push(new Int16Array(160), 100, 61), 'ERR_OUT_OF_RANGE'],
    ['negative offset', () => new DtmfDetector({ sampleRateHz: 8000 }).push(new Int16Array(160), -1, 10), 'ERR_OUT_OF_RANGE'],
    ['negative length', () => new DtmfDetector({ sampleRateHz: 8000 }).push(new Int16Array(160), 0, -1), 'ERR_OUT_OF_RANGE'],
    ['fractional length', () => new DtmfDetector({ sampleRateHz: 8000 }).push(new Int16Array(160), 0, 1.5), 'ERR_INVALID_ARGUMENT'],
  ];
  for (const [name, fn, code] of cases) {
    try {
      fn();
      assert.unreachable(`${name}: no error`);
    } catch (err) {
      assert.instance(err, RecgateError, name);
      assert.is((err as RecgateError).code, code, name);
    }
  }
  // An empty push is fine.
  new DtmfDetector({ sampleRateHz: 8000 }).push(new Int16Array(0), 0, 0);
});

test('push() allocates nothing: 20 ms frames of keys and noise at 48 kHz', async () => {
  const rate = 48000;
  const { pcm } = sequence(rate, ALL);
  addNoise(pcm, 2000, 5);
  let digits = 0;
  const d = new DtmfDetector({ sampleRateHz: rate, onDigit: () => void digits++ });
  const frame = samples(20, rate);
  const run = (rounds: number): void => {
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i + frame <= pcm.length; i += frame) d.push(pcm, i, frame);
    }
  };
  run(20); // warm up: V8 optimises, inline caches settle
  digits = 0;
  const r = await measureAllocation(() => run(200));
  assert.is(r.collections, 0, 'no garbage collection');
  // 200 rounds of 112 frames; one 16-byte object per frame would be 358 kB.
  assert.ok(r.bytes < 64 * 1024, `allocated ${r.bytes} bytes`);
  assert.is(digits, 200 * 16);
});

test.run();
