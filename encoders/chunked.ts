/** What every encoder's write() does before its codec: check the frame, resample in chunks. */
import { InvalidArgumentError, InvalidStateError } from '../common/index.js';
import type { Resampler } from '../dsp/index.js';

/** Input frames resampled per step: bounds the staging buffers whatever write() is given. */
export const CHUNK_FRAMES = 960;

/**
 * Checks a write(): the encoder is open and `frame` holds whole sample frames.
 * @returns the number of sample frames
 */
export function frameCount(encoder: string, closed: boolean, frame: Int16Array, channels: number): number {
  if (closed) throw new InvalidStateError(`${encoder}: write() after close()`);
  if (frame.length % channels !== 0) {
    throw new InvalidArgumentError(`frame: ${frame.length} samples is not a whole number of ${channels}-channel frames`);
  }
  return frame.length / channels;
}

/**
 * Runs `frames` sample frames of `frame` through `resampler`, CHUNK_FRAMES at a time, and hands
 * each block (in `out`) to `stage` with its frame count. `stage` is bound once by the caller.
 */
export function resampleChunks(resampler: Resampler, frame: Int16Array, frames: number, out: Int16Array, stage: (outFrames: number) => void): void {
  for (let done = 0; done < frames; ) {
    const n = Math.min(CHUNK_FRAMES, frames - done);
    stage(resampler.process(frame, n, out, done));
    done += n;
  }
}
