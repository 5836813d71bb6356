/**
 * Streaming rational polyphase FIR resampler for 16-bit PCM (mono or interleaved stereo).
 *
 * The rate change in/out is reduced to up/down (L/M, e.g. 8000 -> 48000 is 6/1, 48000 -> 8000 is
 * 1/6, 16000 -> 24000 is 3/2). Conceptually the input is zero-stuffed to in*L Hz, low-passed by a
 * Kaiser-windowed sinc and kept every M-th sample; the polyphase form only computes the kept
 * samples and skips the zero products, so each output sample costs `tapsPerPhase` multiply-adds.
 *
 * Filter: -6 dB at 0.45 x the lower rate (0.9 x its Nyquist), pass band to 0.40 x, stop band from
 * 0.50 x (exactly the lower rate's Nyquist, so nothing aliases), Kaiser designed for 70 dB
 * (measured >= 70 dB; test/resampler.test.ts asserts 60). 8000 -> 48000 runs 44 taps per output
 * sample (264-tap prototype, 6 phases); 48000 -> 8000 runs 261 taps per output sample.
 *
 * Coefficients are designed once per (inRate, outRate) pair and shared module-wide, so thousands
 * of resamplers (one per recording) cost one table each pair. process() allocates nothing.
 */
import { InvalidArgumentError, OutOfRangeError } from '../common/index.js';

/** Rates the resampler converts between, in Hz. */
export const RESAMPLER_RATES: readonly number[] = [8000, 12000, 16000, 24000, 48000];

/** Kaiser design target in dB; the formula is approximate, so this leaves a margin over 60 dB. */
const STOPBAND_DB = 70;
/** -6 dB point of the low-pass as a fraction of the lower of the two rates (0.9 x Nyquist). */
const CUTOFF = 0.45;
/** Transition width as a fraction of the lower rate: pass band edge 0.40, stop band edge 0.50. */
const TRANSITION = 0.1;

interface PolyphaseTable {
  /** L: output samples per `down` input samples. */
  readonly up: number;
  /** M. */
  readonly down: number;
  /** Coefficients per phase (K); the prototype filter has up * K taps. */
  readonly taps: number;
  /** up * taps coefficients, phase-major, each phase in time order oldest -> newest input. */
  readonly coeffs: Float64Array;
  /** Group delay of the prototype, in output frames (may be fractional). */
  readonly delayFrames: number;
}

/** One table per (inRate, outRate), built on first use; key = inRate * 1e6 + outRate. */
const tables = new Map<number, PolyphaseTable>();

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** Modified Bessel function of the first kind, order 0 (series; converges fast for beta < 10). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function designTable(inRate: number, outRate: number): PolyphaseTable {
  const g = gcd(inRate, outRate);
  const up = outRate / g;
  const down = inRate / g;
  const high = inRate * up; // rate of the zero-stuffed signal the prototype filters, Hz
  const low = Math.min(inRate, outRate);
  const fc = (CUTOFF * low) / high; // cycles per high-rate sample
  const df = (TRANSITION * low) / high;
  const beta = 0.1102 * (STOPBAND_DB - 8.7); // Kaiser's beta for A > 50 dB
  const estimate = Math.ceil((STOPBAND_DB - 7.95) / (2.285 * 2 * Math.PI * df)) + 1;
  const taps = Math.ceil(estimate / up);
  const n = taps * up;
  const center = (n - 1) / 2;
  const i0beta = besselI0(beta);
  const h = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const x = i - center;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    const r = (2 * x) / (n - 1);
    const w = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0beta;
    h[i] = sinc * w;
    sum += h[i]!;
  }
  // Zero-stuffing divides the level by L: scale so the DC gain of the whole chain is exactly 1.
  const scale = up / sum;
  // y[m] = sum_j h[p + j*up] * x[i0 - j]; stored reversed per phase so the inner loop walks the
  // history forwards (oldest first).
  const coeffs = new Float64Array(n);
  for (let p = 0; p < up; p++) {
    for (let j = 0; j < taps; j++) {
      coeffs[p * taps + (taps - 1 - j)] = h[p + j * up]! * scale;
    }
  }
  return { up, down, taps, coeffs, delayFrames: center / down };
}

function tableFor(inRate: number, outRate: number): PolyphaseTable {
  const key = inRate * 1e6 + outRate;
  let t = tables.get(key);
  if (t === undefined) {
    t = designTable(inRate, outRate);
    tables.set(key, t);
  }
  return t;
}

export class Resampler {
  readonly inRate: number;
  readonly outRate: number;
  readonly channels: 1 | 2;
  /** Group delay of the filter in output frames (0 for equal rates). */
  readonly delayFrames: number;

  readonly #passthrough: boolean;
  readonly #up: number;
  readonly #down: number;
  readonly #taps: number;
  readonly #coeffs: Float64Array;
  /**
   * Input history per channel, doubled (2 * taps) so the last `taps` samples are always one
   * contiguous run hist[pos + 1 .. pos + taps] without a modulo in the inner loop.
   */
  readonly #hist: Int16Array;
  #pos = 0;
  /** (high-rate time of the next output) - (newest input index) * up; outputs are due while < up. */
  #phase = 0;
  /** Input frames consumed and output frames produced since reset (exact up to 2^53). */
  #inCount = 0;
  #outCount = 0;

  constructor(inRate: number, outRate: number, channels: 1 | 2) {
    if (!RESAMPLER_RATES.includes(inRate)) {
      throw new OutOfRangeError(`inRate: ${inRate} Hz is not one of ${RESAMPLER_RATES.join(', ')}`);
    }
    if (!RESAMPLER_RATES.includes(outRate)) {
      throw new OutOfRangeError(`outRate: ${outRate} Hz is not one of ${RESAMPLER_RATES.join(', ')}`);
    }
    if (channels !== 1 && channels !== 2) {
      throw new OutOfRangeError(`channels: ${String(channels)} is not 1 or 2`);
    }
    this.inRate = inRate;
    this.outRate = outRate;
    this.channels = channels;
    this.#passthrough = inRate === outRate;
    if (this.#passthrough) {
      this.#up = 1;
      this.#down = 1;
      this.#taps = 0;
      this.#coeffs = new Float64Array(0);
      this.delayFrames = 0;
    } else {
      const t = tableFor(inRate, outRate);
      this.#up = t.up;
      this.#down = t.down;
      this.#taps = t.taps;
      this.#coeffs = t.coeffs;
      this.delayFrames = t.delayFrames;
    }
    this.#hist = new Int16Array(2 * this.#taps * channels);
    this.reset();
  }

  /**
   * Upper bound of the frames one process() call with `inFrames` input frames writes, and of what
   * flush() writes (call it with 0). Size `out` to this times `channels` samples.
   */
  maxOutputFrames(inFrames: number): number {
    if (this.#passthrough) return inFrames;
    return Math.ceil((inFrames * this.#up) / this.#down) + Math.ceil(this.delayFrames) + 1;
  }

  /**
   * Resamples `inFrames` interleaved frames of `input` starting at frame `inOffsetFrames` into
   * `out` (from index 0). Returns the frames written. State carries over between calls, so any
   * chunking gives the same samples as one call.
   * @throws OutOfRangeError when `input` is shorter than claimed or `out` is smaller than
   *   maxOutputFrames(inFrames) frames.
   */
  process(input: Int16Array, inFrames: number, out: Int16Array, inOffsetFrames = 0): number {
    const ch = this.channels;
    if (!Number.isInteger(inFrames) || inFrames < 0 || !Number.isInteger(inOffsetFrames) || inOffsetFrames < 0) {
      throw new InvalidArgumentError(`inFrames/inOffsetFrames must be non-negative integers, got ${inFrames}/${inOffsetFrames}`);
    }
    if ((inOffsetFrames + inFrames) * ch > input.length) {
      throw new OutOfRangeError(
        `input holds ${input.length} samples, need ${(inOffsetFrames + inFrames) * ch} (${inFrames} frames at ${inOffsetFrames})`,
      );
    }
    if (out.length < this.maxOutputFrames(inFrames) * ch) {
      throw new OutOfRangeError(`out holds ${out.length} samples, need ${this.maxOutputFrames(inFrames) * ch}`);
    }
    if (this.#passthrough) {
      // A plain copy: subarray() would allocate a view per call.
      const start = inOffsetFrames * ch;
      const n = inFrames * ch;
      for (let i = 0; i < n; i++) out[i] = input[start + i]!;
      this.#inCount += inFrames;
      this.#outCount += inFrames;
      return inFrames;
    }
    return this.#run(input, inOffsetFrames * ch, inFrames, out, Number.POSITIVE_INFINITY);
  }

  /**
   * Emits the tail still in the filter (input followed by silence) so that, over the whole
   * stream, output frames = ceil(input frames * outRate / inRate + delayFrames). Then resets.
   * `out` must hold maxOutputFrames(0) frames.
   */
  flush(out: Int16Array): number {
    if (this.#passthrough) {
      this.reset();
      return 0;
    }
    if (out.length < this.maxOutputFrames(0) * this.channels) {
      throw new OutOfRangeError(`out holds ${out.length} samples, need ${this.maxOutputFrames(0) * this.channels}`);
    }
    const target = this.#inCount === 0 ? 0 : Math.ceil((this.#inCount * this.#up) / this.#down + this.delayFrames);
    let written = 0;
    while (this.#outCount < target) {
      // Silence in, one input frame at a time, until the output covers the delayed input.
      written += this.#run(null, 0, 1, out, target - this.#outCount, written * this.channels);
    }
    this.reset();
    return written;
  }

  /** Forgets the history: the next process() starts a new stream. */
  reset(): void {
    this.#hist.fill(0);
    this.#pos = 0;
    this.#phase = this.#up; // no output is due before the first input frame
    this.#inCount = 0;
    this.#outCount = 0;
  }

  /**
   * The polyphase loop. `input` null feeds silence. Writes at most `maxOut` frames into `out`
   * from sample index `outStart`; returns the frames written.
   */
  #run(input: Int16Array | null, inStart: number, inFrames: number, out: Int16Array, maxOut: number, outStart = 0): number {
    const ch = this.channels;
    const taps = this.#taps;
    const up = this.#up;
    const down = this.#down;
    const coeffs = this.#coeffs;
    const hist = this.#hist;
    const span = 2 * taps; // per-channel history length
    let pos = this.#pos;
    let phase = this.#phase;
    let o = outStart;
    let produced = 0;
    for (let f = 0; f < inFrames; f++) {
      pos = pos + 1 === taps ? 0 : pos + 1;
      for (let c = 0; c < ch; c++) {
        const v = input === null ? 0 : input[inStart + f * ch + c]!;
        hist[c * span + pos] = v;
        hist[c * span + pos + taps] = v;
      }
      phase -= up;
      while (phase < up && produced < maxOut) {
        const cBase = phase * taps;
        for (let c = 0; c < ch; c++) {
          const hBase = c * span + pos + 1;
          let acc = 0;
          for (let j = 0; j < taps; j++) acc += coeffs[cBase + j]! * hist[hBase + j]!;
          // Saturate: the sinc overshoots on full-scale square-ish input.
          const s = Math.round(acc);
          out[o++] = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
        }
        phase += down;
        produced++;
      }
    }
    this.#pos = pos;
    this.#phase = phase;
    this.#inCount += inFrames;
    this.#outCount += produced;
    return produced;
  }
}
