/**
 * Ogg Opus (RFC 7845) written in-process: libopus through @discordjs/opus, pages by OggWriter.
 *
 * Stream layout:
 *   page 0 (BOS): OpusHead (RFC 7845 section 5.1), alone on its page, granule 0
 *   page 1:       OpusTags (section 5.2), alone on its page, granule 0
 *   pages 2..:    20 ms audio packets, 25 per page (500 ms): a crash loses at most the page being
 *                 built, and repairOgg() cuts at the last whole page; granule = packets x 960
 *                 (48 kHz samples decodable so far, the pre-skip included)
 *   last page:    EOS, granule = pre-skip + the real 48 kHz sample count, so players trim the
 *                 silence padding the final frame(s) (section 4.5); the packets are padded to
 *                 cover pre-skip + real samples, since the decoder drops the first pre-skip
 *
 * Granule positions count 48 kHz samples whatever the coding rate (section 4); libopus encodes at
 * the file's sampleRate directly (8, 16 or 48 kHz input; input is resampled to it first when
 * inputRate differs).
 */
import { randomInt } from 'node:crypto';
import opus from '@discordjs/opus';
import { CHUNK_FRAMES, frameCount, resampleChunks } from './chunked.js';
import type { ByteSink, ChannelCount, Encoder, EncoderOptions, SampleRate } from './Encoder.js';
import { OutOfRangeError } from '../common/index.js';
import { Resampler } from '../dsp/index.js';
import { OggWriter } from './OggWriter.js';

const { OpusEncoder } = opus;

/** Opus bit rate limits in kbit/s (libopus accepts 500 .. 512000 bit/s; 6 is its useful floor). */
export const OPUS_MIN_KBPS = 6;
export const OPUS_MAX_KBPS = 510;
/** Default bit rate in kbit/s per channel (the default EncoderOptions documents). */
export const OPUS_DEFAULT_KBPS_PER_CHANNEL = 24;
/** Default libopus complexity, 0..10 (the default EncoderOptions documents). */
export const OPUS_DEFAULT_COMPLEXITY = 5;
/**
 * Pre-skip in 48 kHz samples: libopus's lookahead for OPUS_APPLICATION_AUDIO (the binding's
 * choice) is 2.5 ms + 4 ms delay compensation = 6.5 ms = 312 samples at any coding rate. The
 * binding cannot read OPUS_GET_LOOKAHEAD (a pointer CTL), so it is fixed here.
 */
export const OPUS_PRE_SKIP = 312;
/** Audio per Ogg page, in 20 ms packets (500 ms: the most a crash can lose once flushed). */
export const OPUS_PACKETS_PER_PAGE = 25;

const OPUS_SET_COMPLEXITY_REQUEST = 4010;
const PACKET_MS = 20;
const SAMPLES_48K_PER_PACKET = 48 * PACKET_MS;
const VENDOR = 'libopus via @discordjs/opus';
const ENCODER_COMMENT = 'ENCODER=recgate';

export class OggOpusEncoder implements Encoder {
  readonly format = 'opus' as const;
  readonly inputRate: SampleRate;
  readonly sampleRate: SampleRate;
  readonly channels: ChannelCount;
  readonly bitrateKbps: number;
  readonly complexity: number;
  /** The Ogg stream serial number (random per file). */
  readonly serial: number;
  readonly #writer: OggWriter;
  readonly #resampler: Resampler;
  readonly #opus: InstanceType<typeof OpusEncoder>;
  readonly #resampled: Int16Array;
  /** One 20 ms frame at sampleRate, interleaved; a Buffer because the binding requires one. */
  readonly #pcmBuffer: Buffer;
  readonly #pcm: Int16Array;
  /** Sample frames per 20 ms packet at sampleRate. */
  readonly #frameSize: number;
  /** 48000 / sampleRate: granules count 48 kHz samples. */
  readonly #to48k: number;
  #fill = 0;
  #packets = 0;
  #samples = 0;
  #closed = false;

  /** #stage bound once, for resampleChunks (no closure per write). */
  readonly #stageBound = (outFrames: number): void => this.#stage(outFrames);

  constructor(options: EncoderOptions, sink: ByteSink) {
    this.inputRate = options.inputRate;
    this.sampleRate = options.sampleRate;
    this.channels = options.channels;
    this.#resampler = new Resampler(options.inputRate, options.sampleRate, options.channels);
    const kbps = options.bitrateKbps ?? OPUS_DEFAULT_KBPS_PER_CHANNEL * options.channels;
    if (!Number.isFinite(kbps) || kbps < OPUS_MIN_KBPS || kbps > OPUS_MAX_KBPS) {
      throw new OutOfRangeError(`bitrateKbps: ${kbps} is outside ${OPUS_MIN_KBPS}..${OPUS_MAX_KBPS} for Opus`);
    }
    const complexity = options.complexity ?? OPUS_DEFAULT_COMPLEXITY;
    if (!Number.isInteger(complexity) || complexity < 0 || complexity > 10) {
      throw new OutOfRangeError(`complexity: ${complexity} is not an integer 0..10`);
    }
    if (48000 % options.sampleRate !== 0) {
      throw new OutOfRangeError(`sampleRate: ${options.sampleRate} Hz does not divide 48000`);
    }
    this.bitrateKbps = kbps;
    this.complexity = complexity;
    this.#opus = new OpusEncoder(options.sampleRate, options.channels);
    this.#opus.setBitrate(Math.round(kbps * 1000));
    this.#opus.applyEncoderCTL(OPUS_SET_COMPLEXITY_REQUEST, complexity);
    this.#frameSize = (options.sampleRate * PACKET_MS) / 1000;
    this.#to48k = 48000 / options.sampleRate;
    this.#pcmBuffer = Buffer.alloc(this.#frameSize * this.channels * 2);
    this.#pcm = new Int16Array(this.#pcmBuffer.buffer, this.#pcmBuffer.byteOffset, this.#frameSize * this.channels);
    this.#resampled = new Int16Array(this.#resampler.maxOutputFrames(CHUNK_FRAMES) * this.channels);
    this.serial = randomInt(0, 0x100000000);
    this.#writer = new OggWriter(sink, this.serial);
    const head = opusHead(this.channels, OPUS_PRE_SKIP, options.inputRate);
    this.#writer.writePacket(head, 0, head.length, 0);
    this.#writer.flushPage();
    const tags = opusTags(VENDOR, ENCODER_COMMENT);
    this.#writer.writePacket(tags, 0, tags.length, 0);
    this.#writer.flushPage();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get bytesWritten(): number {
    return this.#writer.bytesWritten;
  }

  /** Real sample frames at sampleRate (the final frame's padding excluded). */
  get samplesWritten(): number {
    return this.#samples;
  }

  get durationMs(): number {
    return (this.#samples / this.sampleRate) * 1000;
  }

  write(frame: Int16Array): void {
    const frames = frameCount('OggOpusEncoder', this.#closed, frame, this.channels);
    resampleChunks(this.#resampler, frame, frames, this.#resampled, this.#stageBound);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stage(this.#resampler.flush(this.#resampled));
    // The decoder drops the first pre-skip samples, so the packets must cover pre-skip + every
    // real sample: pad with silence (the last partial frame, then whole frames) until they do.
    // The end granule tells players to drop the padding. With no audio at all this writes one
    // silent packet (granule = pre-skip), which keeps the stream valid.
    const needed48k = OPUS_PRE_SKIP + this.#samples * this.#to48k;
    while (this.#fill > 0 || this.#packets * SAMPLES_48K_PER_PACKET < needed48k) {
      this.#pcm.fill(0, this.#fill * this.channels);
      this.#encodePacket();
    }
    this.#writer.close();
  }

  /** Copies resampled frames into the 20 ms packet buffer, encoding each full one. */
  #stage(frames: number): void {
    const ch = this.channels;
    const src = this.#resampled;
    const pcm = this.#pcm;
    let i = 0;
    while (i < frames) {
      const n = Math.min(this.#frameSize - this.#fill, frames - i);
      const from = i * ch;
      const to = this.#fill * ch;
      const count = n * ch;
      for (let k = 0; k < count; k++) pcm[to + k] = src[from + k]!;
      this.#fill += n;
      this.#samples += n;
      i += n;
      if (this.#fill === this.#frameSize) this.#encodePacket();
    }
  }

  #encodePacket(): void {
    // The binding returns a fresh Buffer per packet (its own copy of libopus's output).
    const packet = this.#opus.encode(this.#pcmBuffer);
    this.#packets++;
    // Granule = 48 kHz samples decodable up to the end of this packet, pre-skip included
    // (RFC 7845 section 4): packets x 960, except that the padding at the end is not audio, so
    // the last packets stop at pre-skip + the real samples (end trimming, section 4.5).
    const decodable = this.#packets * SAMPLES_48K_PER_PACKET;
    const real = OPUS_PRE_SKIP + this.#samples * this.#to48k;
    this.#writer.writePacket(packet, 0, packet.length, Math.min(decodable, real));
    this.#fill = 0;
    if (this.#writer.pendingPackets >= OPUS_PACKETS_PER_PAGE) this.#writer.flushPage();
  }
}

/**
 * OpusHead (RFC 7845 section 5.1), 19 bytes: 'OpusHead', version 1, channel count, pre-skip
 * (u16 LE, 48 kHz samples), input sample rate (u32 LE, informational), output gain 0 (Q7.8 dB),
 * channel mapping family 0 (mono/stereo, no table).
 */
function opusHead(channels: number, preSkip: number, inputRate: number): Uint8Array {
  const h = new Uint8Array(19);
  ascii(h, 0, 'OpusHead');
  h[8] = 1;
  h[9] = channels;
  h[10] = preSkip & 0xff;
  h[11] = preSkip >>> 8;
  h[12] = inputRate & 0xff;
  h[13] = (inputRate >>> 8) & 0xff;
  h[14] = (inputRate >>> 16) & 0xff;
  h[15] = inputRate >>> 24;
  // 16-17 output gain 0, 18 mapping family 0
  return h;
}

/** OpusTags (section 5.2): 'OpusTags', vendor length + vendor, comment count + comments. */
function opusTags(vendor: string, comment: string): Uint8Array {
  const t = new Uint8Array(8 + 4 + vendor.length + 4 + 4 + comment.length);
  ascii(t, 0, 'OpusTags');
  let at = 8;
  u32(t, at, vendor.length);
  ascii(t, at + 4, vendor);
  at += 4 + vendor.length;
  u32(t, at, 1);
  u32(t, at + 4, comment.length);
  ascii(t, at + 8, comment);
  return t;
}

function ascii(b: Uint8Array, at: number, s: string): void {
  for (let i = 0; i < s.length; i++) b[at + i] = s.charCodeAt(i);
}

function u32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}
