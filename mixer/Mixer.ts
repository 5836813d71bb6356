/**
 * The ring-buffer mixer: a frame clock over a set of inputs (legs) and a set of outputs
 * (what recordings and senders consume).
 *
 * Every tick reads one frame (20 ms at the mixer rate) at the same position from every
 * input's ring and builds each output from it: a mono mix, a stereo pair (each side a mix of
 * its inputs), one participant's track, or an N-1 mix (everyone but one participant, which is
 * what that participant hears in a conference). Output buffers are preallocated; a tick
 * allocates nothing.
 *
 * Clock: the mixer is idle until its first input anchors or start() is called (a recording
 * does, so that it holds silence until the first packet). The first sample of the first
 * stream (or the live edge at start()) is position 0 and is read `delayMs` later; tick k
 * reads [(k-1)F, kF) at startTime + k * frameMs on the monotonic clock. `service(now)` runs
 * the ticks that are due, one by one, so after an event-loop stall the mixer catches up
 * without skipping samples and every input stays at the same position.
 */
import { InvalidArgumentError, InvalidStateError } from '../common/index.js';
import { MixerInput } from './MixerInput.js';
import type { InputClock } from './MixerInput.js';
import { accStore, accStoreMinus, accSum, copyStrided, mix2, mix4, mix8, zeroStrided } from './kernels.js';

/** Slots the bank starts with (slot 0 is always silent); it doubles when a mixer gets more inputs. */
const INITIAL_SLOTS = 4;
/** What a closed mixer's bank and rings become: no space, so a late write is refused, not stored. */
const RELEASED = new Int16Array(0);
/** Bank offset of the silent slot: mixes of 3 or 5-7 legs pad with it to use the 4- and 8-leg kernels. */
const SILENT = 0;

export type MixerRate = 8000 | 16000 | 48000;

/** Marks the bank's silent slot (no input ever writes it). */
const SILENT_SLOT = Symbol('silent');

export interface MixerOptions {
  /** Mixer sample rate in Hz. */
  sampleRate: MixerRate;
  /** Tick length in ms; default 20. */
  frameMs?: number;
  /** Playout (jitter) delay in ms: how long a late or reordered packet may still arrive; default 60. */
  delayMs?: number;
  /** Ring length in ms, rounded up to a power of two in samples; default 2000. */
  ringMs?: number;
  /** Monotonic clock in ms; default performance.now. */
  now?: () => number;
}

/** What an output is made of. */
export type OutputSpec =
  /** Saturating sum of `inputs` (every input, present and future, when omitted). */
  | { kind: 'mono'; inputs?: readonly MixerInput[] }
  /** Left = mix of `left`, right = mix of `right`, interleaved. */
  | { kind: 'stereo'; left: readonly MixerInput[]; right: readonly MixerInput[] }
  /** One input alone (a participant's own track). */
  | { kind: 'track'; input: MixerInput }
  /** Everyone but `input`: what that participant hears. */
  | { kind: 'minus'; input: MixerInput };

/** Receives each output frame; `pcm` is only valid during the call (copy or encode it). */
export interface FrameConsumer {
  /**
   * @param pcm interleaved 16-bit PCM, pcm.length = frames * channels
   * @param position mixer sample position of the frame's first sample
   */
  onFrame(pcm: Int16Array, position: number): void;
}

export class MixOutput {
  readonly spec: OutputSpec;
  readonly channels: 1 | 2;
  readonly consumer: FrameConsumer;
  /** Frame buffer, frameSamples * channels. */
  readonly buffer: Int16Array;
  /** Bank offsets of the rings mixed into the first (or only) channel, and the right channel. */
  bases0: Int32Array = new Int32Array(0);
  bases1: Int32Array = new Int32Array(0);
  /** For 'minus': the bank offset of the excluded input's ring, or -1 once it left. */
  own = -1;

  constructor(spec: OutputSpec, consumer: FrameConsumer, frameSamples: number) {
    this.spec = spec;
    this.consumer = consumer;
    this.channels = spec.kind === 'stereo' ? 2 : 1;
    this.buffer = new Int16Array(frameSamples * this.channels);
  }
}

export interface MixerStats {
  sampleRate: number;
  started: boolean;
  /** Ticks run so far. */
  ticks: number;
  /** Position of the next frame, in samples. */
  position: number;
  /** Ticks that ran late because of an event-loop stall and were caught up. */
  catchUpTicks: number;
  inputs: ReturnType<MixerInput['stats']>[];
  outputs: number;
}

export class Mixer implements InputClock {
  readonly sampleRate: MixerRate;
  readonly frameMs: number;
  readonly frameSamples: number;
  readonly delaySamples: number;
  readonly ringSamples: number;
  readonly #now: () => number;

  readonly #inputs: MixerInput[] = [];
  readonly #outputs: MixOutput[] = [];
  /** Every input's ring, one after the other (slot k at k * ringSamples). */
  #bank: Int16Array;
  /** Which input holds each slot (null = free; slot 0 is the silent one). */
  #slots: (MixerInput | null | typeof SILENT_SLOT)[];
  /** Bank offsets of every input, for 'mono all' outputs and the N-1 total. */
  #allBases: Int32Array = new Int32Array(0);
  #minusCount = 0;
  readonly #acc: Int32Array;
  readonly #total: Int32Array;

  #started = false;
  #startTime = 0;
  #position = 0;
  #ticks = 0;
  catchUpTicks = 0;
  #closed = false;

  constructor(options: MixerOptions) {
    const rate = options.sampleRate;
    if (rate !== 8000 && rate !== 16000 && rate !== 48000) {
      throw new InvalidArgumentError(`sampleRate must be 8000, 16000 or 48000, got ${String(rate)}`);
    }
    const frameMs = options.frameMs ?? 20;
    if (!Number.isInteger(frameMs) || frameMs < 5 || frameMs > 60) {
      throw new InvalidArgumentError(`frameMs must be an integer 5..60, got ${frameMs}`);
    }
    const delayMs = options.delayMs ?? 60;
    if (!(delayMs >= 0 && delayMs <= 1000)) {
      throw new InvalidArgumentError(`delayMs must be 0..1000, got ${delayMs}`);
    }
    const ringMs = options.ringMs ?? 2000;
    this.sampleRate = rate;
    this.frameMs = frameMs;
    this.frameSamples = (rate * frameMs) / 1000;
    this.delaySamples = Math.round((rate * delayMs) / 1000);
    let ring = 256;
    while (ring < (rate * ringMs) / 1000 || ring < this.delaySamples + 8 * this.frameSamples) ring *= 2;
    this.ringSamples = ring;
    this.#now = options.now ?? performanceNow;
    this.#acc = new Int32Array(this.frameSamples);
    this.#total = new Int32Array(this.frameSamples);
    this.#bank = new Int16Array(INITIAL_SLOTS * ring);
    this.#slots = new Array<MixerInput | null>(INITIAL_SLOTS).fill(null);
    this.#slots[0] = SILENT_SLOT;
  }

  get started(): boolean {
    return this.#started;
  }

  /** Position (samples) of the next frame to be read. */
  get position(): number {
    return this.#position;
  }

  get ticks(): number {
    return this.#ticks;
  }

  get inputs(): readonly MixerInput[] {
    return this.#inputs;
  }

  /** Mixer time in ms of a position: position / rate. */
  positionToMs(position: number): number {
    return (position * 1000) / this.sampleRate;
  }

  /** A new input (leg). Its ring is silent until its producer anchors it. */
  createInput(label = ''): MixerInput {
    this.#assertOpen();
    let slot = this.#slots.indexOf(null);
    if (slot === -1) slot = this.#grow();
    const base = slot * this.ringSamples;
    const ring = this.#bank.subarray(base, base + this.ringSamples);
    ring.fill(0); // a reused slot must read as silence
    const input = new MixerInput(this, {
      ring,
      bankOffset: base,
      delaySamples: this.delaySamples,
      frameSamples: this.frameSamples,
      label,
    });
    // A late joiner starts at the current position (its ring reads as silence until anchored).
    input.readHead = this.#position;
    input.writeHead = this.#position;
    this.#slots[slot] = input;
    this.#inputs.push(input);
    this.#rebuild();
    return input;
  }

  /** Removes an input; outputs that named it no longer include it. */
  removeInput(input: MixerInput): void {
    const i = this.#inputs.indexOf(input);
    if (i === -1) return;
    this.#inputs.splice(i, 1);
    this.#slots[input.bankOffset / this.ringSamples] = null;
    // A track of a departed participant goes on as silence, so its consumer keeps its timeline.
    this.#rebuild();
  }

  addOutput(spec: OutputSpec, consumer: FrameConsumer): MixOutput {
    this.#assertOpen();
    const out = new MixOutput(spec, consumer, this.frameSamples);
    this.#outputs.push(out);
    this.#rebuild();
    return out;
  }

  removeOutput(out: MixOutput): void {
    const i = this.#outputs.indexOf(out);
    if (i !== -1) {
      this.#outputs.splice(i, 1);
      this.#rebuild();
    }
  }

  /**
   * The live edge in samples (fractional), now or at `atMs` (monotonic ms, not later than now:
   * when a packet was read from its socket). The first call starts the clock so that the first
   * stream's anchor (live edge + delay) is position 0.
   */
  livePosition(atMs?: number): number {
    // With an arrival the clock is not read: this runs for every packet, and reading it
    // (performance.now()) allocates. An arrival is never later than now.
    const at = atMs === undefined || Number.isNaN(atMs) ? this.#now() : atMs;
    this.#startAt(at);
    return ((at - this.#startTime) * this.sampleRate) / 1000;
  }

  /**
   * Starts the clock now if it is idle, as if a stream began now: audio that arrives later is
   * placed at its own time, after silence. A recording started before any packet calls this
   * so that its file runs from its start, not from the first packet (under load that packet
   * can come hundreds of ms after the answer). Idempotent.
   */
  start(): void {
    this.#startAt(this.#now());
  }

  #startAt(now: number): void {
    if (this.#started) return;
    this.#started = true;
    this.#startTime = now + (this.delaySamples * 1000) / this.sampleRate;
  }

  /**
   * Runs the ticks due at monotonic time `now` (ms), at most `maxTicks`. Returns true when
   * ticks are still due (the caller services again after I/O has run).
   */
  service(now: number, maxTicks = 8): boolean {
    SERVICE_CLOCK[0] = now;
    return this.serviceFrom(SERVICE_CLOCK, maxTicks);
  }

  /**
   * service() at the time in `clock[0]`: what the frame scheduler calls, once per mixer per
   * round. A fractional double passed as an argument is boxed (a heap number per mixer per
   * round, 80,000 a second at 800 calls); an element of a Float64Array is not.
   */
  serviceFrom(clock: Float64Array, maxTicks = 8): boolean {
    if (!this.#started || this.#closed) return false;
    const due = Math.floor((clock[0]! - this.#startTime) / this.frameMs);
    let n = 0;
    while (this.#ticks < due && n < maxTicks) {
      if (due - this.#ticks > 1) this.catchUpTicks++;
      this.tick(this.frameSamples);
      n++;
    }
    return this.#ticks < due;
  }

  /** Milliseconds until the next tick is due (negative when late; Infinity when idle). */
  msUntilNextTick(now: number): number {
    if (!this.#started) return Infinity;
    return this.#startTime + (this.#ticks + 1) * this.frameMs - now;
  }

  /**
   * Reads and mixes one frame of `n` samples (n <= frameSamples; shorter only for the last
   * frame of a drain) and hands each output to its consumer.
   */
  tick(n: number): void {
    if (this.#closed) return;
    const start = this.#position;
    const end = start + n;
    const inputs = this.#inputs;
    for (let i = 0; i < inputs.length; i++) inputs[i]!.prepare(start, end);

    const mask = this.ringSamples - 1;
    const is = start & mask;
    const first = Math.min(n, this.ringSamples - is);
    this.#mixSegment(is, first, 0);
    if (first < n) this.#mixSegment(0, n - first, first);

    for (let i = 0; i < inputs.length; i++) inputs[i]!.consumed(end);
    this.#position = end;
    this.#ticks++;

    const outputs = this.#outputs;
    const partial = n !== this.frameSamples;
    for (let k = 0; k < outputs.length; k++) {
      const out = outputs[k]!;
      // Only the final frame of a drain is short; only it needs a view of the buffer.
      out.consumer.onFrame(partial ? out.buffer.subarray(0, n * out.channels) : out.buffer, start);
    }
  }

  /**
   * Plays out everything buffered: producers decode what they hold, then ticks run without
   * waiting for the clock until every input's buffered audio has been mixed and, unless
   * `toNow` is false, at least up to now. Used when a call ends so the recording keeps the
   * last `delayMs` of audio, and lasts until the hang-up even when a busy event loop left the
   * clock behind (it would have ticked the silence since the last packet by then). With
   * `toNow` false it stops at the last buffered sample (media time, not wall time).
   */
  drain(options: { toNow?: boolean } = {}): void {
    if (!this.#started || this.#closed) return;
    // What arrives now is placed at the live edge plus the delay (MixerInput.anchorPosition).
    let end = options.toNow === false ? this.#position : Math.max(this.#position, Math.floor(this.livePosition()) + this.delaySamples);
    for (let i = 0; i < this.#inputs.length; i++) {
      const input = this.#inputs[i]!;
      if (input.feeder !== null) input.feeder.drain(input);
      if (input.anchored && input.writeHead > end) end = input.writeHead;
    }
    while (this.#position < end) this.tick(Math.min(this.frameSamples, end - this.#position));
  }

  /**
   * Stops the clock and lets the audio go: further service(), tick() and drain() calls do
   * nothing, and inputs refuse writes (counted as overflow). Idempotent.
   *
   * Why release: whatever still reaches an ended call also reaches its mixer. Its SIP
   * transactions did, for 32 s after the BYE (fixed in Session; bench:soak found it): with a
   * 128 KiB bank per two-party call, about 2,500 ended calls held 280 MiB at 45 calls a second.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#bank = RELEASED;
    for (const input of this.#inputs) input.ring = RELEASED;
  }

  get closed(): boolean {
    return this.#closed;
  }

  stats(): MixerStats {
    return {
      sampleRate: this.sampleRate,
      started: this.#started,
      ticks: this.#ticks,
      position: this.#position,
      catchUpTicks: this.catchUpTicks,
      inputs: this.#inputs.map((i) => i.stats()),
      outputs: this.#outputs.length,
    };
  }

  #mixSegment(is: number, n: number, o: number): void {
    const bank = this.#bank;
    if (this.#minusCount > 0) accSum(this.#total, bank, this.#allBases, this.#allBases.length, is, n);
    const outputs = this.#outputs;
    for (let k = 0; k < outputs.length; k++) {
      const out = outputs[k]!;
      const kind = out.spec.kind;
      if (kind === 'minus') {
        if (out.own < 0) accStore(this.#total, n, out.buffer, o, 1);
        else accStoreMinus(this.#total, bank, out.own + is, n, out.buffer, o, 1);
      } else if (kind === 'stereo') {
        this.#mixInto(out.bases0, is, n, out.buffer, o * 2, 2);
        this.#mixInto(out.bases1, is, n, out.buffer, o * 2 + 1, 2);
      } else {
        this.#mixInto(out.bases0, is, n, out.buffer, o, 1);
      }
    }
  }

  #mixInto(bases: Int32Array, is: number, n: number, out: Int16Array, o: number, stride: number): void {
    const count = bases.length;
    const bank = this.#bank;
    if (count === 0) zeroStrided(out, o, n, stride);
    else if (count === 1) copyStrided(bank, bases[0]! + is, n, out, o, stride);
    else if (count === 2) mix2(bank, bases[0]! + is, bases[1]! + is, n, out, o, stride);
    else if (count <= 4) {
      // One pass straight to the output; a missing fourth leg reads the silent slot.
      const z = SILENT + is;
      mix4(bank, bases[0]! + is, bases[1]! + is, bases[2]! + is, count === 4 ? bases[3]! + is : z, n, out, o, stride);
    } else if (count <= 8) {
      // (No helper closure here: a tick must not allocate.)
      const z = SILENT + is;
      mix8(
        bank,
        bases[0]! + is,
        bases[1]! + is,
        bases[2]! + is,
        bases[3]! + is,
        bases[4]! + is,
        count > 5 ? bases[5]! + is : z,
        count > 6 ? bases[6]! + is : z,
        count > 7 ? bases[7]! + is : z,
        n,
        out,
        o,
        stride,
      );
    } else {
      accSum(this.#acc, bank, bases, count, is, n);
      accStore(this.#acc, n, out, o, stride);
    }
  }

  /** Doubles the bank (inputs keep their slots and audio); returns the first new slot. */
  #grow(): number {
    const old = this.#slots.length;
    const bank = new Int16Array(old * 2 * this.ringSamples);
    bank.set(this.#bank);
    this.#bank = bank;
    this.#slots.length = old * 2;
    this.#slots.fill(null, old);
    this.#slots[0] = SILENT_SLOT;
    for (const input of this.#inputs) {
      input.ring = bank.subarray(input.bankOffset, input.bankOffset + this.ringSamples);
    }
    return old;
  }

  /** Recomputes the ring lists of every output after inputs or outputs changed (not per tick). */
  #rebuild(): void {
    const present = new Set(this.#inputs);
    const basesOf = (list: readonly MixerInput[]): Int32Array =>
      Int32Array.from(list.filter((i) => present.has(i)).map((i) => i.bankOffset));
    this.#allBases = basesOf(this.#inputs);
    this.#minusCount = 0;
    for (const out of this.#outputs) {
      const spec = out.spec;
      switch (spec.kind) {
        case 'mono':
          out.bases0 = spec.inputs === undefined ? this.#allBases.slice() : basesOf(spec.inputs);
          break;
        case 'stereo':
          out.bases0 = basesOf(spec.left);
          out.bases1 = basesOf(spec.right);
          break;
        case 'track':
          out.bases0 = basesOf([spec.input]);
          break;
        case 'minus':
          out.own = present.has(spec.input) ? spec.input.bankOffset : -1;
          this.#minusCount++;
          break;
      }
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError('mixer is closed');
  }
}

/** service()'s time, handed to serviceFrom(). */
const SERVICE_CLOCK = new Float64Array(1);

function performanceNow(): number {
  return performance.now();
}
