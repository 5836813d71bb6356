/**
 * RIFF/WAVE, PCM 16-bit little-endian, mono or interleaved stereo.
 *
 * Header (44 bytes), written when the encoder is built with both sizes 0, so a file cut short by
 * a crash is still recognisable and repairWav() can fill in the sizes from the file length:
 *
 *   0 'RIFF'  4 RIFF size = 36 + data bytes (patched)   8 'WAVE'
 *  12 'fmt '  16 16 (fmt size)  20 1 (PCM)  22 channels  24 sample rate (Hz)
 *  28 byte rate = rate * block align  32 block align = 2 * channels  34 16 (bits per sample)
 *  36 'data'  40 data bytes (patched)
 *
 * Input at inputRate is resampled to sampleRate (dsp Resampler) when they differ.
 */
import { CHUNK_FRAMES, frameCount, resampleChunks } from './chunked.js';
import type { ByteSink, ChannelCount, Encoder, EncoderOptions, SampleRate } from './Encoder.js';
import { OutOfRangeError } from '../common/index.js';
import { Resampler } from '../dsp/index.js';

export const WAV_HEADER_BYTES = 44;
/** RIFF sizes are u32: the data chunk may hold at most this many bytes. */
const MAX_DATA_BYTES = 0xffffffff - 36;
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class WavEncoder implements Encoder {
  readonly format = 'wav' as const;
  readonly inputRate: SampleRate;
  readonly sampleRate: SampleRate;
  readonly channels: ChannelCount;
  readonly #sink: ByteSink;
  readonly #resampler: Resampler;
  /** Resampled PCM; its bytes are what goes to the sink. */
  readonly #out: Int16Array;
  readonly #outBytes: Uint8Array;
  readonly #u32 = new Uint8Array(4);
  #dataBytes = 0;
  #closed = false;
  #view: Uint8Array | null = null;

  /** #emit bound once, for resampleChunks (no closure per write). */
  readonly #stageBound = (outFrames: number): void => this.#emit(outFrames);

  constructor(options: EncoderOptions, sink: ByteSink) {
    this.inputRate = options.inputRate;
    this.sampleRate = options.sampleRate;
    this.channels = options.channels;
    this.#sink = sink;
    // Validates both rates and the channel count (OutOfRangeError).
    this.#resampler = new Resampler(options.inputRate, options.sampleRate, options.channels);
    this.#out = new Int16Array(this.#resampler.maxOutputFrames(CHUNK_FRAMES) * this.channels);
    this.#outBytes = new Uint8Array(this.#out.buffer);
    sink.append(wavHeader(this.sampleRate, this.channels), 0, WAV_HEADER_BYTES);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get bytesWritten(): number {
    return WAV_HEADER_BYTES + this.#dataBytes;
  }

  get samplesWritten(): number {
    return this.#dataBytes / (2 * this.channels);
  }

  get durationMs(): number {
    return (this.samplesWritten / this.sampleRate) * 1000;
  }

  write(frame: Int16Array): void {
    const frames = frameCount('WavEncoder', this.#closed, frame, this.channels);
    if (this.inputRate === this.sampleRate && HOST_LITTLE_ENDIAN) {
      // Same rate: the frame's own bytes are the WAV data (no resampler pass, no copy here).
      const n = frame.byteLength;
      if (this.#dataBytes + n > MAX_DATA_BYTES) {
        throw new OutOfRangeError(`WAV data would exceed ${MAX_DATA_BYTES} bytes (the RIFF u32 size limit)`);
      }
      this.#sink.append(this.#bytesOf(frame), frame.byteOffset, n);
      this.#dataBytes += n;
      return;
    }
    resampleChunks(this.#resampler, frame, frames, this.#out, this.#stageBound);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#emit(this.#resampler.flush(this.#out));
    writeU32LE(this.#u32, 0, 36 + this.#dataBytes);
    this.#sink.patch(4, this.#u32);
    writeU32LE(this.#u32, 0, this.#dataBytes);
    this.#sink.patch(40, this.#u32);
  }

  /** A byte view of the frame's whole buffer, kept while the caller reuses the same buffer. */
  #bytesOf(frame: Int16Array): Uint8Array {
    if (this.#view === null || this.#view.buffer !== frame.buffer) this.#view = new Uint8Array(frame.buffer);
    return this.#view;
  }

  #emit(outFrames: number): void {
    if (outFrames === 0) return;
    const n = outFrames * this.channels * 2;
    if (this.#dataBytes + n > MAX_DATA_BYTES) {
      throw new OutOfRangeError(`WAV data would exceed ${MAX_DATA_BYTES} bytes (the RIFF u32 size limit)`);
    }
    if (!HOST_LITTLE_ENDIAN) swapBytes16(this.#outBytes, n);
    this.#sink.append(this.#outBytes, 0, n);
    this.#dataBytes += n;
  }
}

/** The 44-byte header with both sizes 0 (see the file comment). */
function wavHeader(rate: number, channels: number): Uint8Array {
  const h = new Uint8Array(WAV_HEADER_BYTES);
  const ascii = (at: number, s: string): void => {
    for (let i = 0; i < 4; i++) h[at + i] = s.charCodeAt(i);
  };
  const blockAlign = 2 * channels;
  ascii(0, 'RIFF');
  writeU32LE(h, 4, 0);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  writeU32LE(h, 16, 16);
  writeU16LE(h, 20, 1);
  writeU16LE(h, 22, channels);
  writeU32LE(h, 24, rate);
  writeU32LE(h, 28, rate * blockAlign);
  writeU16LE(h, 32, blockAlign);
  writeU16LE(h, 34, 16);
  ascii(36, 'data');
  writeU32LE(h, 40, 0);
  return h;
}

function writeU16LE(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
}

function writeU32LE(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

/** WAV is little-endian; Int16Array bytes are in host order. */
function swapBytes16(b: Uint8Array, n: number): void {
  for (let i = 0; i + 1 < n; i += 2) {
    const t = b[i]!;
    b[i] = b[i + 1]!;
    b[i + 1] = t;
  }
}
