/**
 * In-band DTMF detection: finds the key presses carried as dual tones in 16-bit mono PCM
 * (ITU-T Q.23 frequencies, acceptance tests in the style of Q.24), for callers that send DTMF as
 * audio instead of RFC 4733 events or SIP INFO.
 *
 *            1209 Hz  1336 Hz  1477 Hz  1633 Hz   (columns, the high group)
 *   697 Hz      1        2        3        A
 *   770 Hz      4        5        6        B
 *   852 Hz      7        8        9        C
 *   941 Hz      *        0        #        D
 *   (rows, the low group)
 *
 * Blocks: the input is cut into fixed blocks of 12.75 ms, aligned on the sample count since
 * construction or reset(), so any chunking gives the same blocks and the same digits. That is
 * 102 samples at 8 kHz, 204 at 16 kHz, 612 at 48 kHz (round(102 * rate / 8000) at other rates).
 * 102 samples at 8 kHz put the nearest other row (770 Hz next to 697 Hz, 73 Hz away) close to the
 * first null of the block's response (8000 / 102 = 78 Hz): a row leaks at most -18 dB into another
 * row's filter and a column -14 dB into another column's, well clear of the 8 dB peak test below.
 * At 16 and 48 kHz the block is scaled rather than decimated first: the same duration gives the
 * same frequency resolution, and 8 Goertzel filters cost 8 multiply-adds per sample, which is
 * less than the anti-alias FIR a 48 -> 8 kHz decimation would need (261 taps per output sample,
 * see Resampler.ts).
 *
 * A block holds a digit when all of these hold (powers are Goertzel |X(f)|^2 over the block):
 * - level: both tones at or above -30 dBm0 each (peak amplitude >= 716, taking 0 dBm0 as a sine
 *   of peak 22 650 in 16-bit PCM, since a full-scale G.711 sine is +3.17 dBm0);
 * - relative peak: the strongest row is >= 8 dB above each other row, same for columns;
 * - twist: the row tone at most 8 dB above the column tone (normal twist) and the column at most
 *   4 dB above the row (reverse twist), as Q.24 asks of most administrations;
 * - concentration: the two tones hold >= 70% of the block's energy. A clean digit gives 1.0, a
 *   digit with white noise 6 dB below it 0.8 (0.70 at worst over 2000 blocks of 102 samples).
 *   This is what rejects speech, noise and music, whose energy is spread over many frequencies,
 *   and a single tone (1000 Hz leaks ~10% into 941 Hz). Over ~440 s of espeak-ng speech in 11
 *   voices and 4 pitches, single blocks reached 0.81 but never two in a row above 0.7, while a
 *   0.6 threshold let 3-block runs of very high-pitched voices through.
 *
 * Debounce: a press starts when the same digit holds in 3 consecutive blocks (38.25 ms; two
 * blocks, 25.5 ms, would let a 20 ms tone through when it straddles two blocks evenly), and ends
 * after 3 consecutive blocks without it (38.25 ms). With the 70% concentration a block needs
 * > 70% of its samples in the tone, so (as Q.24 asks) tones of 20 ms are never taken and tones of
 * 50 ms always are, a break of 10 ms (up to ~20 ms) never splits a press and a pause of 40 ms
 * always does, whatever the block alignment (test/dtmfDetector.test.ts tries every one).
 *
 * Each press is reported once, at its end (so the duration is known): `onDigit(digit,
 * startSample, durationMs)` where startSample is the first sample of the first block that held
 * the digit, counted from construction or the last reset(), and durationMs runs from there to the
 * end of the last block that held it. Both have a resolution of one block (12.75 ms). A press
 * still held when the input stops is reported by flush().
 *
 * push() allocates nothing: the filter state lives in preallocated typed arrays and a digit is
 * reported as a constant one-character string. goertzel.ts's goertzelPower is not used here: it
 * makes one pass per frequency over a contiguous block, which would mean copying each block and
 * reading it 9 times; the fused single pass below measured 3-4x faster at 48 kHz. A throwing
 * listener is caught and counted (STYLE.md point 8).
 */
import { InvalidArgumentError, OutOfRangeError } from '../common/index.js';

/** Told of each key press at its end: the digit, its first sample and its length in ms. */
export type DtmfDigitListener = (digit: string, startSample: number, durationMs: number) => void;

export interface DtmfDetectorOptions {
  /** Sample rate of the PCM given to push(), in Hz: an integer in [8000, 192000]. */
  sampleRateHz: number;
  /** The listener; may also be set later through the `onDigit` property. */
  onDigit?: DtmfDigitListener | null;
}

/** Row (low group) frequencies in Hz, ITU-T Q.23. */
const ROWS_HZ = [697, 770, 852, 941] as const;
/** Column (high group) frequencies in Hz, ITU-T Q.23. */
const COLS_HZ = [1209, 1336, 1477, 1633] as const;
/** Digit of row r and column c at index 4 * r + c. */
const DIGITS = ['1', '2', '3', 'A', '4', '5', '6', 'B', '7', '8', '9', 'C', '*', '0', '#', 'D'] as const;

/** Block length at 8 kHz in samples (12.75 ms); scaled with the rate. */
const BLOCK_SAMPLES_8K = 102;
/** Consecutive blocks holding the same digit that start a press (38.25 ms). */
const START_BLOCKS = 3;
/** Consecutive blocks without the digit that end a press (38.25 ms; 2 would let a 10 ms break split it). */
const END_BLOCKS = 3;
/** Minimum peak amplitude of each tone: -30 dBm0 with 0 dBm0 = 22 650 peak in 16-bit PCM. */
const MIN_TONE_AMPLITUDE = 22650 * 10 ** (-30 / 20);
/** Power ratio by which the best row (column) must exceed every other row (column): 8 dB. */
const RELATIVE_PEAK = 10 ** (8 / 10);
/** Largest power ratio row / column (normal twist): 8 dB. */
const NORMAL_TWIST = 10 ** (8 / 10);
/** Largest power ratio column / row (reverse twist): 4 dB. */
const REVERSE_TWIST = 10 ** (4 / 10);
/** Share of the block's energy the two tones must hold (see the class comment for why 0.7). */
const MIN_CONCENTRATION = 0.7;

const MIN_RATE_HZ = 8000;
const MAX_RATE_HZ = 192000;

export class DtmfDetector {
  readonly sampleRateHz: number;
  /** Samples per analysis block (12.75 ms). */
  readonly blockSamples: number;
  /** Called once per key press, at its end; null to ignore digits. */
  onDigit: DtmfDigitListener | null;
  /** Key presses reported. */
  digits = 0;
  /** Blocks analysed. */
  blocks = 0;
  /** Listener calls that threw. */
  listenerErrors = 0;
  /** Told about each listener error; defaults to a console warning. */
  onListenerError: (err: unknown) => void = defaultListenerError;

  /** 2 cos(2 pi f / rate) of the 8 filters: rows then columns. */
  readonly #coeffs = new Float64Array(8);
  /**
   * Running state of the current block: s[n-1] and s[n-2] of each filter (pairs, rows then
   * columns), then the sum of squares at index 16. Kept here between pushes.
   */
  readonly #state = new Float64Array(17);
  /** |X(f)|^2 of the 8 filters for the block just completed. */
  readonly #power = new Float64Array(8);
  /** Minimum |X(f)|^2 of a tone over a whole block: (N * MIN_TONE_AMPLITUDE / 2)^2. */
  readonly #minPower: number;
  /** Samples of the current block already filtered. */
  #filled = 0;
  /** Sample index (since reset) of the current block's first sample. */
  #blockStart = 0;
  /** Digit index (0..15) of the current run of identical blocks, or -1. */
  #runDigit = -1;
  /** Blocks in that run. */
  #runBlocks = 0;
  /** First sample of that run. */
  #runStart = 0;
  /** Digit index of the press in progress (reported at its end), or -1. */
  #pressDigit = -1;
  /** First sample of the press in progress. */
  #pressStart = 0;
  /** One past the last sample of the last block that held the press. */
  #pressEnd = 0;
  /** Consecutive blocks without the press's digit. */
  #misses = 0;

  /** @throws InvalidArgumentError / OutOfRangeError unless sampleRateHz is an integer in [8000, 192000]. */
  constructor(options: DtmfDetectorOptions) {
    const rate = options.sampleRateHz;
    if (!Number.isInteger(rate)) {
      throw new InvalidArgumentError(`sampleRateHz must be an integer, got ${rate}`);
    }
    if (rate < MIN_RATE_HZ || rate > MAX_RATE_HZ) {
      throw new OutOfRangeError(`sampleRateHz must be in [${MIN_RATE_HZ}, ${MAX_RATE_HZ}], got ${rate}`);
    }
    this.sampleRateHz = rate;
    this.blockSamples = Math.round((BLOCK_SAMPLES_8K * rate) / 8000);
    this.onDigit = options.onDigit ?? null;
    for (let i = 0; i < 4; i++) {
      this.#coeffs[i] = 2 * Math.cos((2 * Math.PI * ROWS_HZ[i]!) / rate);
      this.#coeffs[4 + i] = 2 * Math.cos((2 * Math.PI * COLS_HZ[i]!) / rate);
    }
    const minMagnitude = (this.blockSamples * MIN_TONE_AMPLITUDE) / 2; // |X(f)| = N A / 2
    this.#minPower = minMagnitude * minMagnitude;
  }

  /**
   * Analyses `length` samples of `pcm` from `offset` (mono, at sampleRateHz). Chunks of any size
   * continue one another; digits are reported from inside this call.
   * @throws InvalidArgumentError / OutOfRangeError when the span is not inside `pcm`.
   */
  push(pcm: Int16Array, offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length)) {
      throw new InvalidArgumentError(`offset and length must be integers, got ${offset} and ${length}`);
    }
    if (offset < 0 || length < 0 || offset + length > pcm.length) {
      throw new OutOfRangeError(`span [${offset}, ${offset + length}) does not fit ${pcm.length} samples`);
    }
    const n = this.blockSamples;
    const st = this.#state;
    const k = this.#coeffs;
    const k0 = k[0]!, k1 = k[1]!, k2 = k[2]!, k3 = k[3]!, k4 = k[4]!, k5 = k[5]!, k6 = k[6]!, k7 = k[7]!;
    const end = offset + length;
    let i = offset;
    while (i < end) {
      const stop = Math.min(end, i + (n - this.#filled));
      // Eight Goertzel filters in one pass (a-d rows, e-h columns), state in locals:
      // s[n] = x[n] + k s[n-1] - s[n-2].
      let a1 = st[0]!, a2 = st[1]!, b1 = st[2]!, b2 = st[3]!, c1 = st[4]!, c2 = st[5]!, d1 = st[6]!, d2 = st[7]!;
      let e1 = st[8]!, e2 = st[9]!, f1 = st[10]!, f2 = st[11]!, g1 = st[12]!, g2 = st[13]!, h1 = st[14]!, h2 = st[15]!;
      let energy = st[16]!;
      for (let j = i; j < stop; j++) {
        const x = pcm[j]!;
        energy += x * x;
        let s = x + k0 * a1 - a2;
        a2 = a1;
        a1 = s;
        s = x + k1 * b1 - b2;
        b2 = b1;
        b1 = s;
        s = x + k2 * c1 - c2;
        c2 = c1;
        c1 = s;
        s = x + k3 * d1 - d2;
        d2 = d1;
        d1 = s;
        s = x + k4 * e1 - e2;
        e2 = e1;
        e1 = s;
        s = x + k5 * f1 - f2;
        f2 = f1;
        f1 = s;
        s = x + k6 * g1 - g2;
        g2 = g1;
        g1 = s;
        s = x + k7 * h1 - h2;
        h2 = h1;
        h1 = s;
      }
      this.#filled += stop - i;
      i = stop;
      if (this.#filled < n) {
        st[0] = a1;
        st[1] = a2;
        st[2] = b1;
        st[3] = b2;
        st[4] = c1;
        st[5] = c2;
        st[6] = d1;
        st[7] = d2;
        st[8] = e1;
        st[9] = e2;
        st[10] = f1;
        st[11] = f2;
        st[12] = g1;
        st[13] = g2;
        st[14] = h1;
        st[15] = h2;
        st[16] = energy;
        break;
      }
      // |X(f)|^2 = s1^2 + s2^2 - k s1 s2 at the end of the block.
      const p = this.#power;
      p[0] = a1 * a1 + a2 * a2 - k0 * a1 * a2;
      p[1] = b1 * b1 + b2 * b2 - k1 * b1 * b2;
      p[2] = c1 * c1 + c2 * c2 - k2 * c1 * c2;
      p[3] = d1 * d1 + d2 * d2 - k3 * d1 * d2;
      p[4] = e1 * e1 + e2 * e2 - k4 * e1 * e2;
      p[5] = f1 * f1 + f2 * f2 - k5 * f1 * f2;
      p[6] = g1 * g1 + g2 * g2 - k6 * g1 * g2;
      p[7] = h1 * h1 + h2 * h2 - k7 * h1 * h2;
      this.#block(this.#classify(energy));
      st.fill(0);
      this.#filled = 0;
    }
  }

  /**
   * Reports the press still held, if any (call when the input stops: hang-up, end of file).
   * The samples of an incomplete block are kept and continue with the next push().
   */
  flush(): void {
    if (this.#pressDigit >= 0) this.#finish();
  }

  /**
   * flush(), then starts a new stream: the partial block is dropped and sample numbers count
   * from 0 again. The counters (digits, blocks, listenerErrors) keep counting.
   */
  reset(): void {
    this.flush();
    this.#state.fill(0);
    this.#filled = 0;
    this.#blockStart = 0;
    this.#runDigit = -1;
    this.#runBlocks = 0;
    this.#runStart = 0;
    this.#pressStart = 0;
    this.#pressEnd = 0;
    this.#misses = 0;
  }

  /** The digit index (0..15) the block just completed holds, or -1 (see the class comment). */
  #classify(energy: number): number {
    const p = this.#power;
    let row = 0;
    for (let r = 1; r < 4; r++) if (p[r]! > p[row]!) row = r;
    let col = 4;
    for (let c = 5; c < 8; c++) if (p[c]! > p[col]!) col = c;
    const rowPower = p[row]!;
    const colPower = p[col]!;
    if (rowPower < this.#minPower || colPower < this.#minPower) return -1;
    if (rowPower > colPower * NORMAL_TWIST || colPower > rowPower * REVERSE_TWIST) return -1;
    for (let r = 0; r < 4; r++) if (r !== row && p[r]! * RELATIVE_PEAK > rowPower) return -1;
    for (let c = 4; c < 8; c++) if (c !== col && p[c]! * RELATIVE_PEAK > colPower) return -1;
    // A tone of amplitude A over N samples has |X|^2 = N^2 A^2 / 4 and energy N A^2 / 2,
    // so 2 |X|^2 / N is that tone's share of the energy in sample units squared.
    if ((2 * (rowPower + colPower)) / this.blockSamples < MIN_CONCENTRATION * energy) return -1;
    return 4 * row + (col - 4);
  }

  /** Debounce: feeds one block's verdict to the press state machine. */
  #block(digit: number): void {
    this.blocks++;
    const start = this.#blockStart;
    const end = start + this.blockSamples;
    this.#blockStart = end;
    if (digit >= 0 && digit === this.#runDigit) {
      this.#runBlocks++;
    } else {
      this.#runDigit = digit;
      this.#runBlocks = digit >= 0 ? 1 : 0;
      this.#runStart = start;
    }
    if (this.#pressDigit >= 0) {
      if (digit === this.#pressDigit) {
        this.#misses = 0;
        this.#pressEnd = end;
      } else if (++this.#misses >= END_BLOCKS) {
        this.#finish();
      }
    }
    // A run of another digit may end one press and start the next in the same block.
    if (this.#pressDigit < 0 && this.#runBlocks >= START_BLOCKS) {
      this.#pressDigit = this.#runDigit;
      this.#pressStart = this.#runStart;
      this.#pressEnd = end;
      this.#misses = 0;
    }
  }

  #finish(): void {
    const digit = DIGITS[this.#pressDigit]!;
    const durationMs = ((this.#pressEnd - this.#pressStart) * 1000) / this.sampleRateHz;
    if (this.#runDigit === this.#pressDigit) {
      // flush() during the press: its blocks must not start a second press on the next block.
      this.#runDigit = -1;
      this.#runBlocks = 0;
    }
    this.#pressDigit = -1;
    this.digits++;
    const listener = this.onDigit;
    if (listener === null) return;
    try {
      listener(digit, this.#pressStart, durationMs);
    } catch (err) {
      this.listenerErrors++;
      try {
        this.onListenerError(err);
      } catch {
        // The reporter failed too; listenerErrors still tells.
      }
    }
  }
}

function defaultListenerError(err: unknown): void {
  console.warn('recgate: a DTMF digit listener threw:', err);
}
