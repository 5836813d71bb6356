/**
 * MP3 (MPEG audio layer III, CBR) through lamejs, with a LAME "Info" tag so players trim the
 * codec delay and padding (gapless) and know the exact length.
 *
 * File layout:
 *   1. One "Info" frame, written when the encoder is built: a silent layer III frame whose side
 *      information is followed by a Xing header (frame count, byte count) and a LAME tag (encoder
 *      delay 576 and end padding, music length and CRCs). Its counts are 0 until close() patches
 *      them; repairMp3() fills them in for a file left by a crash.
 *   2. lamejs's frames: constant size (these rates need no padding slot) and self-contained
 *      (lamejs disables the bit reservoir), so a file cut after any whole frame decodes cleanly.
 *
 * lamejs 1.2.7 picks its own output rate from the bit rate (LAME's optimum_samplefreq) and cannot
 * be told otherwise, so only bit rates at which it keeps the requested rate are accepted
 * (measured; see mp3BitratesKbps). That is why 48 kHz needs >= 64 kbit/s per channel.
 */
import * as lame from '@breezystack/lamejs';
import { CHUNK_FRAMES, frameCount, resampleChunks } from './chunked.js';
import type { ByteSink, ChannelCount, Encoder, EncoderOptions, SampleRate } from './Encoder.js';
import { OutOfRangeError } from '../common/index.js';
import { Resampler } from '../dsp/index.js';

/** LAME's encoder delay in samples (ENCDELAY); decoders add their own 528 + 1 on top. */
export const LAME_ENCODER_DELAY = 576;

/** Samples per channel lamejs is fed at a time (one MPEG-1 frame, two MPEG-2/2.5 frames). */
const BLOCK = 1152;
/** lamejs's own worst case for one encodeBuffer()/flush() call: 1.25 * samples + 7200 bytes. */
const MAX_BLOCK_BYTES = Math.floor(1.25 * BLOCK) + 7200;

const MPEG1_KBPS = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const MPEG2_KBPS = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
/** Sample rates by the header's 2-bit version field: 0 = MPEG-2.5, 2 = MPEG-2, 3 = MPEG-1. */
const RATES_BY_VERSION: readonly (readonly number[] | undefined)[] = [
  [11025, 12000, 8000],
  undefined,
  [22050, 24000, 16000],
  [44100, 48000, 32000],
];

/**
 * Bit rates (kbit/s, whole stream) accepted per file rate and channel count: the MPEG layer III
 * set for that rate (MPEG-2.5 at 8 kHz, MPEG-2 at 16 kHz, MPEG-1 at 48 kHz) narrowed to those
 * at which lamejs 1.2.7 keeps the rate and the bit rate (test/encoders.test.ts checks each).
 */
const MP3_BITRATES: Readonly<Record<number, readonly [readonly number[], readonly number[]]>> = {
  8000: [
    [8, 16, 24, 32, 40, 48, 56, 64],
    [8, 16, 24, 32, 40, 48, 56, 64],
  ],
  16000: [
    [16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    [32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  ],
  48000: [
    [64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
    [128, 160, 192, 224, 256, 320],
  ],
};

/** Accepted MP3 bit rates in kbit/s for a file rate and channel count ([] when none). */
export function mp3BitratesKbps(sampleRate: number, channels: number): readonly number[] {
  const byChannels = MP3_BITRATES[sampleRate];
  if (byChannels === undefined || (channels !== 1 && channels !== 2)) return [];
  return byChannels[channels - 1]!;
}

/**
 * Default bit rate: 32 kbit/s per channel where lamejs allows it (8 and 16 kHz), else the
 * lowest accepted (48 kHz: 64 mono, 128 stereo).
 */
export function defaultMp3BitrateKbps(sampleRate: number, channels: number): number {
  const allowed = mp3BitratesKbps(sampleRate, channels);
  const wanted = 32 * channels;
  for (const kbps of allowed) if (kbps >= wanted) return kbps;
  return allowed[allowed.length - 1] ?? wanted;
}

/** What one layer III frame header says (see readMp3FrameHeader). */
export interface Mp3FrameHeader {
  /** 1, 2 or 2.5. */
  version: number;
  sampleRate: number;
  bitrateKbps: number;
  channels: number;
  /** Whole frame, header included, in bytes. */
  frameBytes: number;
  /** 1152 (MPEG-1) or 576 (MPEG-2/2.5). */
  samplesPerFrame: number;
  /** Bytes of side information after the 4-byte header (and CRC, when present). */
  sideInfoBytes: number;
  /** 2 when a CRC-16 follows the header, else 0. */
  crcBytes: number;
}

/** A header record to reuse with readMp3FrameHeader (no allocation per frame). */
export function newMp3FrameHeader(): Mp3FrameHeader {
  return { version: 0, sampleRate: 0, bitrateKbps: 0, channels: 0, frameBytes: 0, samplesPerFrame: 0, sideInfoBytes: 0, crcBytes: 0 };
}

/**
 * Parses the 4-byte MPEG audio header at `at` into `out`. Returns false (never throws) unless it
 * is a layer III header with a sync word, a defined version, bit rate (not free format) and
 * sample rate:
 *
 *   AAAAAAAA AAABBCCD EEEEFFGH IIJJKLMM
 *   A sync (11 ones), B version (00 2.5, 10 2, 11 1), C layer (01 = III), D no CRC,
 *   E bit rate index, F sample rate index, G padding, H private, I channel mode (11 mono), ...
 */
export function readMp3FrameHeader(b: Uint8Array, at: number, out: Mp3FrameHeader): boolean {
  if (at < 0 || at + 4 > b.length) return false;
  const b1 = b[at + 1]!;
  const b2 = b[at + 2]!;
  const b3 = b[at + 3]!;
  if (b[at] !== 0xff || (b1 & 0xe0) !== 0xe0) return false;
  const versionBits = (b1 >> 3) & 3;
  const rates = RATES_BY_VERSION[versionBits];
  if (rates === undefined) return false;
  if (((b1 >> 1) & 3) !== 1) return false; // layer III only
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return false;
  const mpeg1 = versionBits === 3;
  const kbps = (mpeg1 ? MPEG1_KBPS : MPEG2_KBPS)[bitrateIndex]!;
  const rate = rates[rateIndex]!;
  const padding = (b2 >> 1) & 1;
  const mono = b3 >> 6 === 3;
  out.version = mpeg1 ? 1 : versionBits === 2 ? 2 : 2.5;
  out.sampleRate = rate;
  out.bitrateKbps = kbps;
  out.channels = mono ? 1 : 2;
  out.samplesPerFrame = mpeg1 ? 1152 : 576;
  out.frameBytes = Math.floor(((mpeg1 ? 144000 : 72000) * kbps) / rate) + padding;
  out.sideInfoBytes = mpeg1 ? (mono ? 17 : 32) : mono ? 9 : 17;
  out.crcBytes = b1 & 1 ? 0 : 2;
  return true;
}

/** CRC-16 with polynomial 0x8005 reflected (0xA001), as the LAME tag uses for its two CRCs. */
const CRC16_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

/** Continues a LAME CRC-16 (start with 0) over bytes[start, end). */
export function lameCrc16(bytes: Uint8Array, start: number, end: number, crc = 0): number {
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ CRC16_TABLE[(crc ^ bytes[i]!) & 0xff]!;
  return crc;
}

/** Where the Xing and LAME fields sit in an Info frame (byte offsets from the frame start). */
export interface Mp3InfoLayout {
  framesAt: number;
  bytesAt: number;
  /** Start of the 36-byte LAME tag. */
  lameAt: number;
}

/** Xing flags we write: frame count and byte count present; no TOC (CBR seeks by arithmetic). */
const XING_FLAGS = 0x0003;

/**
 * Finds an "Info"/"Xing" header with frame and byte counts followed by a LAME tag in the frame at
 * the start of `frame` (described by `h`); null when there is none we can update.
 */
export function findMp3InfoTag(frame: Uint8Array, h: Mp3FrameHeader): Mp3InfoLayout | null {
  const xing = 4 + h.crcBytes + h.sideInfoBytes;
  if (xing + 8 > frame.length || xing + 8 > h.frameBytes) return null;
  const tag = String.fromCharCode(frame[xing]!, frame[xing + 1]!, frame[xing + 2]!, frame[xing + 3]!);
  if (tag !== 'Info' && tag !== 'Xing') return null;
  const flags = readU32BE(frame, xing + 4);
  if ((flags & 3) !== 3) return null;
  let at = xing + 16;
  if (flags & 4) at += 100; // TOC
  if (flags & 8) at += 4; // quality
  if (at + 36 > frame.length || at + 36 > h.frameBytes) return null;
  if (String.fromCharCode(frame[at]!, frame[at + 1]!, frame[at + 2]!, frame[at + 3]!) !== 'LAME') return null;
  return { framesAt: xing + 8, bytesAt: xing + 12, lameAt: at };
}

/** Encoder delay and end padding (samples) stored in a LAME tag. */
export function readLameDelays(frame: Uint8Array, layout: Mp3InfoLayout): { delay: number; padding: number } {
  const at = layout.lameAt + 21;
  const v = (frame[at]! << 16) | (frame[at + 1]! << 8) | frame[at + 2]!;
  return { delay: v >>> 12, padding: v & 0xfff };
}

/**
 * Writes the counts into an Info frame and recomputes the LAME tag CRC (over every byte of the
 * frame before it). `bytes` and the music length count the whole stream, Info frame included.
 */
export function patchMp3InfoTag(
  frame: Uint8Array,
  layout: Mp3InfoLayout,
  fields: { frames: number; bytes: number; delay: number; padding: number; musicCrc: number },
): void {
  writeU32BE(frame, layout.framesAt, fields.frames);
  writeU32BE(frame, layout.bytesAt, fields.bytes);
  const l = layout.lameAt;
  const delays = (Math.min(fields.delay, 4095) << 12) | Math.min(Math.max(fields.padding, 0), 4095);
  frame[l + 21] = (delays >>> 16) & 0xff;
  frame[l + 22] = (delays >>> 8) & 0xff;
  frame[l + 23] = delays & 0xff;
  writeU32BE(frame, l + 28, fields.bytes);
  frame[l + 32] = (fields.musicCrc >>> 8) & 0xff;
  frame[l + 33] = fields.musicCrc & 0xff;
  const crc = lameCrc16(frame, 0, l + 34);
  frame[l + 34] = (crc >>> 8) & 0xff;
  frame[l + 35] = crc & 0xff;
}

/**
 * The Info frame for a stream, counts 0. It uses the stream's bit rate when the tag fits in that
 * frame size, else the lowest bit rate whose frame holds it (8 kHz stereo at 8 kbit/s).
 */
function buildInfoFrame(sampleRate: number, channels: number, kbps: number): { frame: Uint8Array; layout: Mp3InfoLayout } {
  let versionBits: number;
  let rateIndex = -1;
  for (versionBits = 0; versionBits < 4; versionBits++) {
    rateIndex = RATES_BY_VERSION[versionBits]?.indexOf(sampleRate) ?? -1;
    if (rateIndex >= 0) break;
  }
  if (rateIndex < 0) throw new OutOfRangeError(`sampleRate: ${sampleRate} Hz is not an MPEG audio rate`);
  const mpeg1 = versionBits === 3;
  const table = mpeg1 ? MPEG1_KBPS : MPEG2_KBPS;
  const side = mpeg1 ? (channels === 1 ? 17 : 32) : channels === 1 ? 9 : 17;
  const needed = 4 + side + 16 + 36;
  const sizeAt = (k: number): number => Math.floor(((mpeg1 ? 144000 : 72000) * k) / sampleRate);
  let index = table.indexOf(kbps);
  if (index < 1 || sizeAt(kbps) < needed) {
    index = 1;
    while (index < table.length - 1 && sizeAt(table[index]!) < needed) index++;
  }
  const frame = new Uint8Array(sizeAt(table[index]!));
  frame[0] = 0xff;
  frame[1] = 0xe0 | (versionBits << 3) | (1 << 1) | 1; // layer III, no CRC
  frame[2] = (index << 4) | (rateIndex << 2); // no padding, no private bit
  frame[3] = (channels === 1 ? 3 << 6 : 0) | (1 << 2); // mono or stereo, original (as lamejs)
  // Side information stays zero: decoders that ignore the tag decode one frame of silence.
  const xing = 4 + side;
  frame.set([0x49, 0x6e, 0x66, 0x6f], xing); // 'Info': CBR
  writeU32BE(frame, xing + 4, XING_FLAGS);
  const lameAt = xing + 16;
  const version = 'LAME3.98r'; // lamejs 1.2.7 is a port of LAME 3.98.4
  for (let i = 0; i < 9; i++) frame[lameAt + i] = version.charCodeAt(i);
  frame[lameAt + 9] = 0x01; // tag revision 0, VBR method 1 = CBR
  frame[lameAt + 20] = Math.min(kbps, 255); // CBR bit rate
  frame[lameAt + 24] = sampleRate === 48000 ? 2 << 6 : 0; // source rate: 48 kHz or <= 32 kHz
  const layout = { framesAt: xing + 8, bytesAt: xing + 12, lameAt };
  patchMp3InfoTag(frame, layout, { frames: 0, bytes: 0, delay: LAME_ENCODER_DELAY, padding: 0, musicCrc: 0 });
  return { frame, layout };
}

export class Mp3Encoder implements Encoder {
  readonly format = 'mp3' as const;
  readonly inputRate: SampleRate;
  readonly sampleRate: SampleRate;
  readonly channels: ChannelCount;
  /** CBR bit rate of the audio frames, kbit/s. */
  readonly bitrateKbps: number;
  readonly #sink: ByteSink;
  readonly #resampler: Resampler;
  readonly #lame: lame.Mp3Encoder;
  readonly #resampled: Int16Array;
  /** De-interleaved staging for lamejs, BLOCK samples each. */
  readonly #left = new Int16Array(BLOCK);
  readonly #right: Int16Array;
  #fill = 0;
  /** lamejs output copied here (its Int8Array becomes bytes) before going to the sink. */
  readonly #bytes = new Uint8Array(MAX_BLOCK_BYTES);
  readonly #info: Uint8Array;
  readonly #infoLayout: Mp3InfoLayout;
  readonly #frameBytes: number;
  readonly #samplesPerFrame: number;
  #audioBytes = 0;
  #musicCrc = 0;
  #samples = 0;
  #closed = false;

  /** #stage bound once, for resampleChunks (no closure per write). */
  readonly #stageBound = (outFrames: number): void => this.#stage(outFrames);

  constructor(options: EncoderOptions, sink: ByteSink) {
    this.inputRate = options.inputRate;
    this.sampleRate = options.sampleRate;
    this.channels = options.channels;
    this.#sink = sink;
    this.#resampler = new Resampler(options.inputRate, options.sampleRate, options.channels);
    const allowed = mp3BitratesKbps(options.sampleRate, options.channels);
    const kbps = options.bitrateKbps ?? defaultMp3BitrateKbps(options.sampleRate, options.channels);
    if (!allowed.includes(kbps)) {
      throw new OutOfRangeError(
        `bitrateKbps: ${kbps} is not an MP3 bit rate for ${options.channels} channel(s) at ${options.sampleRate} Hz (allowed: ${allowed.join(', ')})`,
      );
    }
    this.bitrateKbps = kbps;
    this.#lame = new lame.Mp3Encoder(options.channels, options.sampleRate, kbps);
    this.#resampled = new Int16Array(this.#resampler.maxOutputFrames(CHUNK_FRAMES) * this.channels);
    this.#right = new Int16Array(this.channels === 2 ? BLOCK : 0);
    const mpeg1 = options.sampleRate >= 32000;
    this.#samplesPerFrame = mpeg1 ? 1152 : 576;
    this.#frameBytes = Math.floor(((mpeg1 ? 144000 : 72000) * kbps) / options.sampleRate);
    const { frame, layout } = buildInfoFrame(options.sampleRate, options.channels, kbps);
    this.#info = frame;
    this.#infoLayout = layout;
    sink.append(frame, 0, frame.length);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get bytesWritten(): number {
    return this.#info.length + this.#audioBytes;
  }

  /** Sample frames fed to lamejs at sampleRate: the audio a gapless player plays. */
  get samplesWritten(): number {
    return this.#samples;
  }

  get durationMs(): number {
    return (this.#samples / this.sampleRate) * 1000;
  }

  write(frame: Int16Array): void {
    const frames = frameCount('Mp3Encoder', this.#closed, frame, this.channels);
    resampleChunks(this.#resampler, frame, frames, this.#resampled, this.#stageBound);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stage(this.#resampler.flush(this.#resampled));
    if (this.#fill > 0) {
      // Once per file: the last partial block.
      const n = this.#fill;
      this.#emit(this.#lame.encodeBuffer(this.#left.subarray(0, n), this.channels === 2 ? this.#right.subarray(0, n) : undefined));
      this.#fill = 0;
    }
    this.#emit(this.#lame.flush());
    // CBR without padding slots at 8/16/48 kHz: every audio frame has the same size.
    const frames = Math.floor(this.#audioBytes / this.#frameBytes);
    patchMp3InfoTag(this.#info, this.#infoLayout, {
      frames,
      bytes: this.bytesWritten,
      delay: LAME_ENCODER_DELAY,
      padding: frames * this.#samplesPerFrame - LAME_ENCODER_DELAY - this.#samples,
      musicCrc: this.#musicCrc,
    });
    this.#sink.patch(0, this.#info);
  }

  /** Moves resampled interleaved frames into the lamejs blocks, encoding each full block. */
  #stage(frames: number): void {
    const src = this.#resampled;
    const left = this.#left;
    const right = this.#right;
    const stereo = this.channels === 2;
    let i = 0;
    while (i < frames) {
      const n = Math.min(BLOCK - this.#fill, frames - i);
      let f = this.#fill;
      if (stereo) {
        for (let k = 0, j = i * 2; k < n; k++, j += 2) {
          left[f] = src[j]!;
          right[f++] = src[j + 1]!;
        }
      } else {
        for (let k = 0; k < n; k++) left[f++] = src[i + k]!;
      }
      this.#fill = f;
      i += n;
      this.#samples += n;
      if (f === BLOCK) {
        this.#emit(this.#lame.encodeBuffer(left, stereo ? right : undefined));
        this.#fill = 0;
      }
    }
  }

  /** Hands one lamejs result (an Int8Array at run time) to the sink as bytes. */
  #emit(encoded: ArrayLike<number>): void {
    const n = encoded.length;
    if (n === 0) return;
    // set() converts each element with ToUint8 (modulo 256): -1 becomes 0xff.
    this.#bytes.set(encoded);
    this.#musicCrc = lameCrc16(this.#bytes, 0, n, this.#musicCrc);
    this.#sink.append(this.#bytes, 0, n);
    this.#audioBytes += n;
  }
}

function readU32BE(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function writeU32BE(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}
