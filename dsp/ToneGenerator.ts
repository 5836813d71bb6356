/**
 * A phase-continuous sine generator writing 16-bit PCM into caller buffers.
 *
 * Tests and the bench use it as a sender's microphone; later the gateway uses it for the
 * recording beep. The phase is kept in cycles (0..1) so long runs do not lose precision.
 */
export class ToneGenerator {
  readonly freqHz: number;
  readonly rateHz: number;
  /** Peak amplitude in sample units (0..32767). */
  readonly amplitude: number;
  #phase = 0;

  constructor(freqHz: number, rateHz: number, amplitude = 16000) {
    this.freqHz = freqHz;
    this.rateHz = rateHz;
    this.amplitude = amplitude;
  }

  /** Writes `count` samples to `out` from `offset` (every `stride`-th slot); returns count. */
  fill(out: Int16Array, offset: number, count: number, stride = 1): number {
    const step = this.freqHz / this.rateHz;
    let phase = this.#phase;
    for (let i = 0, j = offset; i < count; i++, j += stride) {
      out[j] = Math.round(this.amplitude * Math.sin(2 * Math.PI * phase));
      phase += step;
      if (phase >= 1) phase -= 1;
    }
    this.#phase = phase;
    return count;
  }

  /** Continues the tone as if `count` samples had been generated (a silent gap keeps phase). */
  skip(count: number): void {
    this.#phase = (this.#phase + (count * this.freqHz) / this.rateHz) % 1;
  }
}
