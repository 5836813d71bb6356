/**
 * One leg's place in a mixer: a preallocated power-of-two Int16 ring indexed by the
 * mixer's sample position, plus the drift controller that keeps the leg in step with the
 * mixer clock.
 *
 * Timeline: every position is an absolute sample index at the mixer rate. The mixer reads
 * the frame [readHead, readHead + frame) each tick; the leg's producer (an RTP receiver)
 * appends at writeHead. `anchor()` places the first sample `delaySamples` ahead of the live
 * edge, which is the playout (jitter) delay: the time a late packet still has to arrive.
 *
 * Drift (a sender whose clock runs fast or slow, up to +-1000 ppm): each time the producer
 * writes as packets arrive (outside a tick), the lead of the write head over the live edge is
 * taken; its maximum over a window of ticks is compared with that of the first full window.
 * The maximum is the packet that waited least (network and event loop): every delay makes the
 * lead smaller, never larger, so the least-delayed packet of a window is the one measurement
 * that jitter and stalls leave alone (as NTP keeps the sample with the least round-trip
 * delay). A lead that stays grown means the sender is fast, so single samples are dropped
 * (blended with their neighbour); one that stays shrunk means it is slow, so samples are
 * inserted (interpolated). Corrections are spread over the next window and counted.
 * Measuring at arrival, not at the tick, keeps the tick phase out of it.
 */
import { InvalidArgumentError } from '../common/index.js';

/** Who fills an input: asked before every read to provide audio up to `deadline`. */
export interface InputFeeder {
  /**
   * Make the ring hold audio up to `deadline` (exclusive, mixer samples) if it can: decode
   * what has arrived, conceal what is known lost. Audio that has not arrived is left out; the
   * input pads it with silence.
   */
  feed(input: MixerInput, deadline: number): void;
  /** Decode everything held now, concealing gaps between what arrived; no padding after it. */
  drain(input: MixerInput): void;
}

/** The mixer side an input talks to (implemented by Mixer). */
export interface InputClock {
  /**
   * Position of the live edge now (or at `atMs`, monotonic ms in the past), in (fractional)
   * mixer samples; starts the mixer clock when idle.
   */
  livePosition(atMs?: number): number;
}

export interface MixerInputOptions {
  /** The ring: a power-of-two slice of the mixer's shared bank (see kernels.ts). */
  ring: Int16Array;
  /** Index of the ring's first sample in the bank. */
  bankOffset: number;
  /** Playout delay in samples: how far ahead of the live edge a new stream is anchored. */
  delaySamples: number;
  /** Samples per mixer tick (20 ms at the mixer rate). */
  frameSamples: number;
  /** Label for stats and logs (e.g. "caller"). */
  label?: string;
}

export interface MixerInputStats {
  label: string;
  anchored: boolean;
  /** Samples written by the producer (after drift correction). */
  samplesWritten: number;
  /** Silence padded because nothing had arrived by the read deadline (late or silent leg). */
  underrunSamples: number;
  /** Samples refused because the ring was full (producer far ahead of the clock). */
  overflowSamples: number;
  /** Drift corrections: samples removed (sender fast) and inserted (sender slow). */
  driftDropped: number;
  driftInserted: number;
  /** Measured sender clock offset against the mixer clock, in parts per million (+ = fast). */
  driftPpm: number;
  /** Buffered samples ahead of the read head right now. */
  fill: number;
  /** Lead of the write head over the live edge (at arrival) the drift controller holds, in samples (NaN until measured). */
  targetLead: number;
  /** Greatest lead (least-delayed packet) in the last full window, in samples (NaN until measured). */
  lastLead: number;
}

/** Ticks per drift measurement window (50 x 20 ms = 1 s). */
const DRIFT_WINDOW_TICKS = 50;
/** Most samples corrected per window, in parts per million of it (2x the largest drift handled). */
const MAX_CORRECTION_PPM = 2000;
/**
 * Consecutive windows the level must sit outside the dead band, on the same side, before it
 * is corrected: a delay shift lasting a window or two (a congested second, a sender that
 * stalled and has not caught up) is not drift, while real drift (<= 1000 ppm, 8 samples/s at
 * 8 kHz) only waits two more seconds, about 2 ms beyond the dead band.
 */
const PERSIST_WINDOWS = 3;

export class MixerInput {
  /** This leg's ring: a view of the mixer's bank (replaced when the bank grows). */
  ring: Int16Array;
  /** Index of ring[0] in the mixer's bank. */
  bankOffset: number;
  readonly mask: number;
  readonly delaySamples: number;
  readonly frameSamples: number;
  readonly label: string;
  /** Next position the producer writes. Always >= readHead once anchored. */
  writeHead = 0;
  /** Start of the frame the mixer reads next. */
  readHead = 0;
  anchored = false;
  /** Muted inputs still advance but contribute silence (conference mute). */
  muted = false;
  feeder: InputFeeder | null = null;
  /**
   * When the packet being written now was read from its socket (monotonic ms), set by the
   * producer around each packet; NaN otherwise (then now). Anchoring and the drift
   * controller's lead go by it: under load a packet waits in the receive ring until the event
   * loop is free, and a stream anchored at that hand-over would sit that much later on the
   * timeline for the whole call, out of step with a leg that anchored without waiting.
   */
  arrivalMs = NaN;

  // Counters (plain numbers; stats() builds the object only when asked).
  samplesWritten = 0;
  underrunSamples = 0;
  overflowSamples = 0;
  driftDropped = 0;
  driftInserted = 0;

  readonly #clock: InputClock;
  // Drift controller state.
  #windowTicks = 0;
  /** Greatest lead of the write head over the live edge seen at arrival in this window. */
  #windowMax = -Infinity;
  /** Windows in a row the level was outside the dead band: > 0 above, < 0 below. */
  #outside = 0;
  /** True while the mixer is inside prepare(): writes then are not arrival-time writes. */
  #inTick = false;
  #windowValid = false;
  #target = NaN;
  /** Samples elapsed at the mixer since the target level was taken. */
  #elapsed = 0;
  /** Net samples removed since the target was taken (dropped - inserted). */
  #netCorrection = 0;
  /** Signed samples still to correct: > 0 drop, < 0 insert. */
  #pending = 0;
  /** Samples written between two corrections while #pending != 0. */
  #interval = 0;
  /** Samples written since the last correction. */
  #sinceCorrection = 0;
  #driftPpm = 0;
  #lastLead = NaN;

  constructor(clock: InputClock, options: MixerInputOptions) {
    const size = options.ring.length;
    if (size < 256 || (size & (size - 1)) !== 0) {
      throw new InvalidArgumentError(`the ring must be a power of two >= 256 samples, got ${size}`);
    }
    if (!(options.delaySamples >= 0) || options.delaySamples + 4 * options.frameSamples > size) {
      throw new InvalidArgumentError(`delaySamples ${options.delaySamples} does not fit a ring of ${size}`);
    }
    this.ring = options.ring;
    this.bankOffset = options.bankOffset;
    this.mask = size - 1;
    this.delaySamples = options.delaySamples;
    this.frameSamples = options.frameSamples;
    this.label = options.label ?? '';
    this.#clock = clock;
  }

  /** Samples the producer may still write before the ring is full. */
  space(): number {
    // Never negative: a closed mixer's rings are empty (Mixer.close).
    return Math.max(0, this.ring.length - (this.writeHead - this.readHead));
  }

  /** Buffered samples ahead of the read head. */
  fill(): number {
    return this.writeHead - this.readHead;
  }

  /** Where a new or resumed stream starts: the live edge plus the playout delay. */
  anchorPosition(): number {
    return Math.max(this.readHead, Math.floor(this.#live()) + this.delaySamples);
  }

  /** The live edge at the packet's arrival (inside a tick: now; a tick's writes are not arrivals). */
  #live(): number {
    const at = this.arrivalMs;
    return Number.isNaN(at) || this.#inTick ? this.#clock.livePosition() : this.#clock.livePosition(at);
  }

  /**
   * Starts (or restarts after a long silence) the stream at the anchor position. Audio between
   * the old write head and the anchor is silence.
   */
  anchor(): void {
    const pos = this.anchorPosition();
    if (!this.anchored) {
      this.writeHead = pos;
      this.anchored = true;
    } else if (pos > this.writeHead) {
      this.writeSilence(pos - this.writeHead);
    }
    this.#windowValid = false;
  }

  /**
   * Appends `n` samples of `src` from `offset` at the write head, applying any drift
   * correction due. Samples beyond the ring's space are counted as overflow and dropped.
   */
  write(src: Int16Array, offset: number, n: number): void {
    this.#write(src, offset, n);
    this.#measureLead();
  }

  #write(src: Int16Array, offset: number, n: number): void {
    let i = 0;
    while (i < n) {
      if (this.#pending !== 0 && this.#sinceCorrection + (n - i) > this.#interval && n - i >= 2) {
        // Copy up to the correction point, then correct once.
        const upTo = Math.max(0, this.#interval - this.#sinceCorrection);
        const run = Math.min(upTo, n - i - 2);
        this.#put(src, offset + i, run);
        i += run;
        const a = src[offset + i]!;
        const b = src[offset + i + 1]!;
        if (this.#pending > 0) {
          // Drop one sample: two become their average.
          this.#putOne((a + b) >> 1);
          this.#pending--;
          this.driftDropped++;
          this.#netCorrection++;
        } else {
          // Insert one sample: a, (a+b)/2, b.
          this.#putOne(a);
          this.#putOne((a + b) >> 1);
          this.#putOne(b);
          this.#pending++;
          this.driftInserted++;
          this.#netCorrection--;
        }
        i += 2;
        this.#sinceCorrection = 0;
        continue;
      }
      const run = n - i;
      this.#put(src, offset + i, run);
      i += run;
    }
  }

  /** Ring index of the write head: where a producer decoding in place writes its next sample. */
  get writeIndex(): number {
    return this.writeHead & this.mask;
  }

  /**
   * Declares `n` samples the producer decoded straight into `ring` from writeIndex (wrapping
   * at the end), which saves a copy per packet. Applies a due drift correction in place and
   * advances the write head. The caller made sure `n + 1 <= space()`.
   */
  commit(n: number): void {
    if (this.#pending !== 0 && n >= 4 && this.#sinceCorrection + n > this.#interval) {
      const j = Math.min(Math.max(0, this.#interval - this.#sinceCorrection), n - 3);
      this.#correctInPlace(this.writeHead + j, this.writeHead + n);
      n += this.#pending > 0 ? -1 : 1;
      if (this.#pending > 0) {
        this.#pending--;
        this.driftDropped++;
        this.#netCorrection++;
      } else {
        this.#pending++;
        this.driftInserted++;
        this.#netCorrection--;
      }
      this.#sinceCorrection = n - j;
    } else {
      this.#sinceCorrection += n;
    }
    this.writeHead += n;
    this.samplesWritten += n;
    this.#measureLead();
  }

  /** Writes again the `n` samples just before the write head (concealment by repetition). */
  repeat(n: number): void {
    const m = Math.min(n, this.space());
    this.overflowSamples += n - m;
    const ring = this.ring;
    const mask = this.mask;
    for (let k = 0, from = this.writeHead - m, to = this.writeHead; k < m; k++) ring[(to + k) & mask] = ring[(from + k) & mask]!;
    this.writeHead += m;
    this.samplesWritten += m;
  }

  /**
   * One drift correction at absolute position `p` within [p, end) just written: drop (the
   * samples at p and p+1 become their average, the rest moves back one) or insert (an
   * interpolated sample after p, the rest moves on one). Rare (a few per second): indexed by
   * mask, no allocation.
   */
  #correctInPlace(p: number, end: number): void {
    const ring = this.ring;
    const mask = this.mask;
    const a = ring[p & mask]!;
    const b = ring[(p + 1) & mask]!;
    if (this.#pending > 0) {
      ring[p & mask] = (a + b) >> 1;
      for (let q = p + 1; q < end - 1; q++) ring[q & mask] = ring[(q + 1) & mask]!;
    } else {
      for (let q = end; q > p + 1; q--) ring[q & mask] = ring[(q - 1) & mask]!;
      ring[(p + 1) & mask] = (a + b) >> 1;
    }
  }

  #measureLead(): void {
    if (!this.#inTick && this.anchored) {
      const lead = this.writeHead - this.#live();
      if (lead > this.#windowMax) this.#windowMax = lead;
    }
  }

  /** Appends `n` samples of silence (concealment, DTX gaps, underrun padding). */
  writeSilence(n: number): void {
    let left = Math.min(n, this.space());
    this.overflowSamples += n - left;
    while (left > 0) {
      const at = this.writeHead & this.mask;
      const run = Math.min(left, this.ring.length - at);
      this.ring.fill(0, at, at + run);
      this.writeHead += run;
      left -= run;
    }
  }

  /** Tells the drift controller the level is not meaningful this window (underrun, resync). */
  markDiscontinuity(): void {
    this.#windowValid = false;
  }

  /**
   * Called by the mixer before reading [start, end): asks the feeder for audio, pads what is
   * missing with silence, and samples the buffer level for the drift controller.
   */
  prepare(start: number, end: number): void {
    this.readHead = start;
    this.#inTick = true;
    if (this.feeder !== null) this.feeder.feed(this, end);
    this.#inTick = false;
    if (!this.anchored) {
      // Nothing received yet: the ring was never written, so it reads as silence.
      this.writeHead = end;
      return;
    }
    if (this.writeHead < end) {
      this.underrunSamples += end - this.writeHead;
      this.writeSilence(end - this.writeHead);
      this.#windowValid = false;
    }
    if (this.muted) this.#zero(start, end - start);
    this.#measure(end - start);
  }

  /** Called by the mixer after the frame was read. */
  consumed(end: number): void {
    this.readHead = end;
  }

  stats(): MixerInputStats {
    return {
      label: this.label,
      anchored: this.anchored,
      samplesWritten: this.samplesWritten,
      underrunSamples: this.underrunSamples,
      overflowSamples: this.overflowSamples,
      driftDropped: this.driftDropped,
      driftInserted: this.driftInserted,
      driftPpm: this.#driftPpm,
      fill: this.writeHead - this.readHead,
      targetLead: this.#target,
      lastLead: this.#lastLead,
    };
  }

  #measure(frame: number): void {
    if (++this.#windowTicks < DRIFT_WINDOW_TICKS) return;
    const level = this.#windowMax;
    const valid = this.#windowValid;
    this.#windowTicks = 0;
    this.#windowMax = -Infinity;
    this.#windowValid = true;
    const windowSamples = DRIFT_WINDOW_TICKS * frame;
    if (!valid || level === -Infinity) {
      this.#outside = 0;
      return;
    }
    this.#lastLead = level;
    if (Number.isNaN(this.#target)) {
      this.#target = level;
      this.#elapsed = 0;
      this.#netCorrection = 0;
      return;
    }
    this.#elapsed += windowSamples;
    const err = level - this.#target;
    // Samples the sender produced beyond the mixer clock since the target was taken.
    this.#driftPpm = ((err + this.#netCorrection) / this.#elapsed) * 1e6;
    // Dead band of 4 ms: a sender that stalls and catches up (or a loaded gateway) moves the
    // level by a few ms for seconds at a time; that is not drift, and 4 ms between legs is inaudible.
    const deadband = Math.max(2, frame / 5);
    if (Math.abs(err) <= deadband) this.#outside = 0;
    else if (err > 0) this.#outside = Math.max(0, this.#outside) + 1;
    else this.#outside = Math.min(0, this.#outside) - 1;
    if (Math.abs(this.#outside) >= PERSIST_WINDOWS) {
      // At most MAX_CORRECTION_PPM of the samples per window are dropped or inserted: enough
      // for any real clock drift (<= 1000 ppm), while a level jump from a stall or a delay
      // spike is worked off slowly instead of by an audible change of pitch (at 6% it was).
      const cap = Math.max(1, Math.floor((windowSamples * MAX_CORRECTION_PPM) / 1e6));
      const n = Math.min(Math.abs(err), cap);
      this.#pending = err > 0 ? n : -n;
      this.#interval = Math.floor(windowSamples / n);
      this.#sinceCorrection = 0;
    } else {
      this.#pending = 0;
    }
  }

  #put(src: Int16Array, offset: number, n: number): void {
    if (n <= 0) return;
    const space = this.space();
    if (n > space) {
      this.overflowSamples += n - space;
      n = space;
    }
    let done = 0;
    while (done < n) {
      const at = this.writeHead & this.mask;
      const run = Math.min(n - done, this.ring.length - at);
      // An indexed loop, not set(subarray()): subarray would allocate a view per packet.
      const ring = this.ring;
      for (let k = 0, s = offset + done; k < run; k++, s++) ring[at + k] = src[s]!;
      this.writeHead += run;
      done += run;
    }
    this.samplesWritten += n;
    this.#sinceCorrection += n;
  }

  #zero(start: number, n: number): void {
    const at = start & this.mask;
    const run = Math.min(n, this.ring.length - at);
    this.ring.fill(0, at, at + run);
    if (run < n) this.ring.fill(0, 0, n - run);
  }

  #putOne(v: number): void {
    if (this.writeHead - this.readHead >= this.ring.length) {
      this.overflowSamples++;
      return;
    }
    this.ring[this.writeHead & this.mask] = v;
    this.writeHead++;
    this.samplesWritten++;
  }
}
