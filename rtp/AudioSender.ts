/**
 * The send half of an RTP audio leg: takes mixer frames (a FrameConsumer of mixer/, matched
 * structurally), encodes them to the leg's codec and sends one RTP packet per ptime.
 *
 * G.711 is encoded through lookup tables into a preallocated packet buffer: nothing is
 * allocated per packet in our code. Opus goes through the libopus binding, which returns a
 * fresh Buffer per packet.
 */
import opus from '@discordjs/opus';
import { InvalidArgumentError, UnsupportedError } from '../common/index.js';
import { Resampler } from '../dsp/index.js';
import { encodePcma, encodePcmu } from './codecs/g711.js';
import { RtpPacketizer } from './RtpPacketizer.js';
import type { PayloadFormat } from './PayloadFormat.js';

const { OpusEncoder } = opus;
type OpusCodec = InstanceType<typeof OpusEncoder>;

/** Where packets go (RtpEndpoint.send, or a test's socket). */
export interface PacketSink {
  send(bytes: Uint8Array, offset: number, length: number): void;
}

export interface AudioSenderOptions {
  /** PCMU, PCMA or opus. */
  format: PayloadFormat;
  /** Rate of the frames given to onFrame, in Hz. */
  mixerRate: 8000 | 16000 | 48000;
  /** Packet duration in ms: 10, 20, 30, 40 or 60 (Opus: 10, 20, 40, 60); default 20. */
  ptimeMs?: number;
  /** Opus bit rate in kbit/s; default 32. */
  opusBitrateKbps?: number;
  ssrc?: number;
}

export class AudioSender {
  readonly format: PayloadFormat;
  readonly ptimeMs: number;
  readonly packetizer: RtpPacketizer;
  /** When false frames are consumed but nothing is sent (hold, inactive). */
  active = true;
  packetsSent = 0;
  readonly #sink: PacketSink;
  /** Samples per packet at the encoder's input rate. */
  readonly #frame: number;
  /** RTP clock units per packet. */
  readonly #tsPerPacket: number;
  readonly #pcm: Int16Array;
  #fill = 0;
  readonly #resampled: Int16Array;
  readonly #resampler: Resampler | null;
  readonly #packet = new Uint8Array(1500);
  readonly #opus: OpusCodec | null;
  readonly #opusInput: Buffer | null;
  #talkspurt = true;

  constructor(options: AudioSenderOptions, sink: PacketSink) {
    const ptime = options.ptimeMs ?? 20;
    const codec = options.format.codec;
    const allowed = codec === 'opus' ? [10, 20, 40, 60] : [10, 20, 30, 40, 60];
    if (!allowed.includes(ptime)) throw new InvalidArgumentError(`ptime ${ptime} ms not supported for ${codec}`);
    this.format = options.format;
    this.ptimeMs = ptime;
    this.#sink = sink;
    this.packetizer = new RtpPacketizer({
      payloadType: options.format.payloadType,
      clockRate: options.format.clockRate,
      ...(options.ssrc !== undefined ? { ssrc: options.ssrc } : {}),
    });
    this.#tsPerPacket = (options.format.clockRate * ptime) / 1000;
    if (codec === 'PCMU' || codec === 'PCMA') {
      this.#frame = (8000 * ptime) / 1000;
      this.#resampler = options.mixerRate === 8000 ? null : new Resampler(options.mixerRate, 8000, 1);
      this.#opus = null;
      this.#opusInput = null;
    } else if (codec === 'opus') {
      // libopus takes 8/16/48 kHz input directly; the RTP clock stays 48 kHz (RFC 7587).
      this.#frame = (options.mixerRate * ptime) / 1000;
      this.#resampler = null;
      this.#opus = new OpusEncoder(options.mixerRate, 1);
      this.#opus.setBitrate((options.opusBitrateKbps ?? 32) * 1000);
    } else {
      throw new UnsupportedError(`cannot send ${codec} audio`);
    }
    this.#pcm = new Int16Array(this.#frame);
    this.#opusInput = this.#opus === null ? null : Buffer.from(this.#pcm.buffer, this.#pcm.byteOffset, this.#pcm.byteLength);
    this.#resampled = new Int16Array(4096);
  }

  /** FrameConsumer: mono PCM at the mixer rate. */
  onFrame(pcm: Int16Array): void {
    if (this.#resampler === null) {
      this.#append(pcm, pcm.length);
    } else {
      const n = this.#resampler.process(pcm, pcm.length, this.#resampled);
      this.#append(this.#resampled, n);
    }
  }

  /** The next packet starts a talkspurt (marker bit), e.g. after hold. */
  markTalkspurt(): void {
    this.#talkspurt = true;
  }

  #append(src: Int16Array, n: number): void {
    let i = 0;
    while (i < n) {
      const run = Math.min(n - i, this.#frame - this.#fill);
      for (let k = 0; k < run; k++) this.#pcm[this.#fill + k] = src[i + k]!;
      this.#fill += run;
      i += run;
      if (this.#fill === this.#frame) {
        this.#fill = 0;
        this.#emit();
      }
    }
  }

  #emit(): void {
    if (!this.active) {
      // Keep the RTP clock running so the peer sees a gap, not a jump backwards, on resume.
      this.packetizer.skip(this.#tsPerPacket);
      this.#talkspurt = true;
      return;
    }
    const packet = this.#packet;
    const h = this.packetizer.writeHeader(packet, 0, this.#tsPerPacket, this.#talkspurt);
    this.#talkspurt = false;
    let len: number;
    switch (this.format.codec) {
      case 'PCMU':
        encodePcmu(this.#pcm, 0, this.#frame, packet, h);
        len = this.#frame;
        break;
      case 'PCMA':
        encodePcma(this.#pcm, 0, this.#frame, packet, h);
        len = this.#frame;
        break;
      default: {
        const out = this.#opus!.encode(this.#opusInput!);
        len = Math.min(out.length, packet.length - h);
        for (let k = 0; k < len; k++) packet[h + k] = out[k]!;
      }
    }
    this.#sink.send(packet, 0, h + len);
    this.packetsSent++;
  }
}
