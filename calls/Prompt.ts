/**
 * What the gateway itself plays into a call (the recording beep, announcements, call-flow
 * `play` and `talk` actions): a mixer input fed with generated tones and decoded PCM. Parties
 * hear it through their senders; recordings leave it out (they name the party inputs explicitly).
 *
 * Segments play one after the other from a queue. The feeder writes just in time: each feed()
 * writes only up to the deadline of the frame the mixer is about to read, so everything written
 * in a feed is mixed in that same tick. A play() promise is therefore resolved in the feed that
 * writes its last sample (its trailing gap included); promise callbacks run as microtasks after
 * the synchronous tick, i.e. after the frame holding that sample reached every output.
 */
import { InvalidArgumentError } from '../common/index.js';
import { ToneGenerator } from '../dsp/index.js';
import type { InputFeeder, MixerInput } from '../mixer/index.js';

interface Segment {
  /** A tone, or null for PCM (`pcm` set) or silence (`pcm` null too). */
  gen: ToneGenerator | null;
  /** Caller's PCM at the mixer rate (played from `offset`), or null. */
  pcm: Int16Array | null;
  /** Next sample of `pcm` to write. */
  offset: number;
  /** Samples left at the mixer rate. */
  left: number;
  /** Resolves the promise of the play() (or nothing) that ends with this segment. */
  done: (() => void) | null;
}

export class Prompt implements InputFeeder {
  readonly input: MixerInput;
  readonly #rate: number;
  readonly #queue: Segment[] = [];
  /** Tone scratch: 960 samples = 20 ms at 48 kHz, one frame at the highest mixer rate. */
  readonly #buf = new Int16Array(960);
  /** whenIdle() callers waiting for the queue to empty. */
  readonly #idleWaiters: (() => void)[] = [];
  tonesPlayed = 0;
  /** play() calls so far (finished, playing or queued). */
  clipsPlayed = 0;
  /**
   * Told when the prompt starts playing (from tone() or play(), synchronously) and when it has
   * played everything (from inside the mixer's tick, or stop()): a call relays its parties'
   * packets only while its prompt is silent.
   */
  onBusyChange: ((busy: boolean) => void) | null = null;

  constructor(input: MixerInput, rateHz: number) {
    this.input = input;
    this.#rate = rateHz;
    input.feeder = this;
  }

  /** The mixer rate in Hz: the rate play() expects its PCM at (load or synthesize at it). */
  get rateHz(): number {
    return this.#rate;
  }

  /** Queues a tone of `freqHz` for `ms`, followed by `gapMs` of silence. whenIdle() tells when it ended. */
  tone(freqHz: number, ms: number, gapMs = 0, amplitude = 8000): void {
    const was = this.busy;
    this.#queue.push(segment(new ToneGenerator(freqHz, this.#rate, amplitude), null, this.#samples(ms)));
    if (gapMs > 0) this.#queue.push(segment(null, null, this.#samples(gapMs)));
    this.tonesPlayed++;
    if (!this.input.anchored) this.input.anchor();
    if (!was) this.onBusyChange?.(true);
  }

  /**
   * Queues `pcm` (mono, already at the mixer rate; not copied, so the caller must not change it
   * until the promise settles), followed by `gapMs` of silence. Resolves once the clip and its
   * gap have been mixed (played out), or when stop() drops it.
   */
  play(pcm: Int16Array, gapMs = 0): Promise<void> {
    if (!(pcm instanceof Int16Array)) throw new InvalidArgumentError('play() takes mono 16-bit PCM (an Int16Array)');
    if (!(gapMs >= 0 && Number.isFinite(gapMs))) throw new InvalidArgumentError(`gapMs must be a finite number >= 0, got ${gapMs}`);
    return new Promise<void>((resolve) => {
      const was = this.busy;
      const clip = segment(null, pcm, pcm.length);
      this.#queue.push(clip);
      if (gapMs > 0) this.#queue.push(segment(null, null, this.#samples(gapMs), resolve));
      else clip.done = resolve;
      this.clipsPlayed++;
      if (!this.input.anchored) this.input.anchor();
      if (!was) this.onBusyChange?.(true);
    });
  }

  /** Resolves once everything queued now and later has been played (at once when idle). */
  whenIdle(): Promise<void> {
    if (this.#queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Drops everything queued; pending play() and whenIdle() promises resolve. Audio already
   * written is the frame being mixed now, so the prompt falls silent from the next frame (20 ms).
   */
  stop(): void {
    const queue = this.#queue;
    const was = queue.length > 0;
    for (let i = 0; i < queue.length; i++) queue[i]!.done?.();
    queue.length = 0;
    this.#wakeIdle();
    if (was) this.onBusyChange?.(false);
  }

  /** Whether something is still to be played. */
  get busy(): boolean {
    return this.#queue.length > 0;
  }

  feed(input: MixerInput, deadline: number): void {
    while (input.writeHead < deadline) {
      const seg = this.#queue[0];
      const want = deadline - input.writeHead;
      if (seg === undefined) {
        input.writeSilence(want);
        return;
      }
      if (seg.pcm !== null) {
        // The caller's clip goes straight into the ring (input.write copies), no scratch.
        const n = Math.min(want, seg.left);
        if (n > 0) input.write(seg.pcm, seg.offset, n);
        seg.offset += n;
        seg.left -= n;
      } else {
        const n = Math.min(want, seg.left, this.#buf.length);
        if (seg.gen === null) input.writeSilence(n);
        else if (n > 0) {
          seg.gen.fill(this.#buf, 0, n);
          input.write(this.#buf, 0, n);
        }
        seg.left -= n;
      }
      if (seg.left === 0) {
        this.#queue.shift();
        // Written up to at most `deadline`: this tick mixes it, and the promise callbacks run after the tick.
        seg.done?.();
        if (this.#queue.length === 0) {
          this.#wakeIdle();
          this.onBusyChange?.(false);
        }
      }
    }
  }

  drain(): void {
    // A prompt is not a party: nothing of it is owed to a recording at the end.
  }

  #samples(ms: number): number {
    return Math.max(0, Math.round((ms * this.#rate) / 1000));
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    if (waiters.length === 0) return;
    for (let i = 0; i < waiters.length; i++) waiters[i]!();
    waiters.length = 0;
  }
}

/** One shape for every segment kind, so feed() stays monomorphic. */
function segment(gen: ToneGenerator | null, pcm: Int16Array | null, left: number, done: (() => void) | null = null): Segment {
  return { gen, pcm, offset: 0, left, done };
}
