/**
 * What the gateway itself plays into a call (the recording beep now; announcements later): a
 * mixer input fed with generated audio. Parties hear it through their senders; recordings
 * leave it out (they name the party inputs explicitly).
 */
import { ToneGenerator } from '../dsp/index.js';
import type { InputFeeder, MixerInput } from '../mixer/index.js';

interface Segment {
  gen: ToneGenerator | null;
  /** Samples left at the mixer rate. */
  left: number;
}

export class Prompt implements InputFeeder {
  readonly input: MixerInput;
  readonly #rate: number;
  readonly #queue: Segment[] = [];
  readonly #buf = new Int16Array(960);
  tonesPlayed = 0;

  constructor(input: MixerInput, rateHz: number) {
    this.input = input;
    this.#rate = rateHz;
    input.feeder = this;
  }

  /** Queues a tone of `freqHz` for `ms`, followed by `gapMs` of silence. */
  tone(freqHz: number, ms: number, gapMs = 0, amplitude = 8000): void {
    this.#queue.push({ gen: new ToneGenerator(freqHz, this.#rate, amplitude), left: Math.round((ms * this.#rate) / 1000) });
    if (gapMs > 0) this.#queue.push({ gen: null, left: Math.round((gapMs * this.#rate) / 1000) });
    this.tonesPlayed++;
    if (!this.input.anchored) this.input.anchor();
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
      const n = Math.min(want, seg.left, this.#buf.length);
      if (seg.gen === null) input.writeSilence(n);
      else {
        seg.gen.fill(this.#buf, 0, n);
        input.write(this.#buf, 0, n);
      }
      seg.left -= n;
      if (seg.left === 0) this.#queue.shift();
    }
  }

  drain(): void {
    // A prompt is not a party: nothing of it is owed to a recording at the end.
  }
}
