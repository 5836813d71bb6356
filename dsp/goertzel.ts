/**
 * Goertzel detector: the energy of one frequency in a block of PCM, without an FFT.
 *
 * Used by the tests to prove a recording holds a tone (and which channel holds it), and
 * later by in-band DTMF detection. For x[n] = A cos(2 pi f n / rate) over N samples,
 * |X(f)|^2 = N^2 A^2 / 4 and the block energy is N A^2 / 2, so
 * `toneFraction` = 2 |X(f)|^2 / (N * energy) is 1 for a pure tone and ~0 without it.
 */

/**
 * |X(f)|^2 of `count` samples of `pcm` starting at `offset`, reading every `stride`-th
 * sample (stride 2 with offset 0/1 reads the left/right channel of interleaved stereo).
 */
export function goertzelPower(
  pcm: ArrayLike<number>,
  offset: number,
  count: number,
  freqHz: number,
  rateHz: number,
  stride = 1,
): number {
  const coeff = 2 * Math.cos((2 * Math.PI * freqHz) / rateHz);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0, j = offset; i < count; i++, j += stride) {
    const s0 = (pcm[j] ?? 0) + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

/** Sum of squares of `count` samples read with `stride` from `offset`. */
export function blockEnergy(pcm: ArrayLike<number>, offset: number, count: number, stride = 1): number {
  let e = 0;
  for (let i = 0, j = offset; i < count; i++, j += stride) {
    const v = pcm[j] ?? 0;
    e += v * v;
  }
  return e;
}

/** Share of the block's energy at `freqHz`, 0..~1 (0 for a silent block). */
export function toneFraction(
  pcm: ArrayLike<number>,
  offset: number,
  count: number,
  freqHz: number,
  rateHz: number,
  stride = 1,
): number {
  const energy = blockEnergy(pcm, offset, count, stride);
  if (energy === 0) return 0;
  return (2 * goertzelPower(pcm, offset, count, freqHz, rateHz, stride)) / (count * energy);
}

/** Root-mean-square level of a block, in sample units (0..32768). */
export function rms(pcm: ArrayLike<number>, offset: number, count: number, stride = 1): number {
  return count === 0 ? 0 : Math.sqrt(blockEnergy(pcm, offset, count, stride) / count);
}

export interface ToneFrameStats {
  /** Frames examined (whole frames only). */
  frames: number;
  /** Frames where >= `minFraction` of the energy is at the tone and the level is above `minRms`. */
  toneFrames: number;
  /** toneFrames / frames (0 when there are no frames). */
  ratio: number;
  /** Index of the first frame holding the tone, or -1. */
  firstToneFrame: number;
}

export interface ToneFrameOptions {
  /** Frame length in ms; default 20. */
  frameMs?: number;
  /** Share of energy that must sit at the tone; default 0.8 (../shared/RECIPES.md). */
  minFraction?: number;
  /** Frames quieter than this RMS (sample units) never count; default 200 (about -44 dBFS). */
  minRms?: number;
  /** Interleaved channel count and which channel to read; default mono. */
  channels?: number;
  channel?: number;
  /** Skip this many ms at the start (codec start-up, playout delay). */
  skipMs?: number;
}

/** Counts the frames of `pcm` that hold `freqHz` (per ../shared/RECIPES.md: >= 80% of the energy). */
export function toneFrames(
  pcm: ArrayLike<number>,
  rateHz: number,
  freqHz: number,
  options: ToneFrameOptions = {},
): ToneFrameStats {
  const channels = options.channels ?? 1;
  const channel = options.channel ?? 0;
  const frameLen = Math.round(((options.frameMs ?? 20) * rateHz) / 1000);
  const minFraction = options.minFraction ?? 0.8;
  const minRms = options.minRms ?? 200;
  const skip = Math.round(((options.skipMs ?? 0) * rateHz) / 1000);
  const total = Math.floor(pcm.length / channels);
  let frames = 0;
  let toneCount = 0;
  let first = -1;
  for (let start = skip; start + frameLen <= total; start += frameLen) {
    const off = start * channels + channel;
    const fraction = toneFraction(pcm, off, frameLen, freqHz, rateHz, channels);
    const level = rms(pcm, off, frameLen, channels);
    if (fraction >= minFraction && level >= minRms) {
      toneCount++;
      if (first === -1) first = frames;
    }
    frames++;
  }
  return { frames, toneFrames: toneCount, ratio: frames === 0 ? 0 : toneCount / frames, firstToneFrame: first };
}
