/**
 * The send half of an RTP audio leg: takes mixer frames (a FrameConsumer of mixer/, matched
 * structurally), encodes them to the leg's codec and sends one RTP packet per ptime.
 *
 * G.711 is encoded through lookup tables into a preallocated packet buffer: nothing is
 * allocated per packet in our code. Opus goes through the libopus binding, which returns a
 * fresh Buffer per packet.
 *
 * Relay: when the leg hears exactly one other party in the same codec and ptime (a plain
 * B2BUA call), forward() sends that party's packets on as they arrive, payload untouched,
 * instead of frames from the mixer: no playout delay (60 ms) and no decode/mix/re-encode on
 * the way through. Both modes write one stream: one SSRC, and sequence numbers and timestamps
 * that carry on across a switch.
 */
import opus from '@discordjs/opus';
import { InvalidArgumentError, UnsupportedError } from '../common/index.js';
import { Resampler } from '../dsp/index.js';
import { encodePcma, encodePcmu } from './codecs/g711.js';
import { RtpPacketizer } from './RtpPacketizer.js';
import type { PayloadFormat } from './PayloadFormat.js';
import { RTP_HEADER_LENGTH } from './RtpHeader.js';
import type { RtpHeaderReader } from './RtpHeader.js';
import { RtpEndpoint } from './RtpEndpoint.js';
import { RELAY_STATE_FIELDS, RelayState, nativeRelayAvailable, relayCountNative, relaySetActiveNative, relayStartNative, relayStopNative } from './nativeUdp.js';
import type { NativeSocket } from './nativeUdp.js';

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
  #active = true;
  #sent = 0;
  #relayed = 0;
  /** The source socket whose packets the native receive thread relays for us (relayNatively). */
  #native: NativeSocket | null = null;
  /**
   * forward()'s state, in the layout the receive thread takes and gives back (RelayState):
   * whether relaying, the offsets from the relayed stream's sequence numbers and timestamps to
   * ours, where our stream continues (the packet after the newest one relayed), and whether the
   * next relayed packet takes the next sequence number (resuming after hold). Timestamps are
   * stored as int32 and read with >>> 0.
   */
  readonly #relay = new Int32Array(RELAY_STATE_FIELDS);
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

  /** When false frames are consumed but nothing is sent (hold, inactive). */
  get active(): boolean {
    return this.#active;
  }

  set active(on: boolean) {
    this.#active = on;
    if (this.#native !== null) relaySetActiveNative(this.#native, on, false);
  }

  /** Packets sent, relayed ones included. */
  get packetsSent(): number {
    return this.#sent + (this.#native !== null ? relayCountNative(this.#native) : 0);
  }

  /** Of packetsSent, those relayed (forward(), or the receive thread). */
  get packetsRelayed(): number {
    return this.#relayed + (this.#native !== null ? relayCountNative(this.#native) : 0);
  }

  /**
   * Has the native receive thread relay `source`'s packets of payload type `pt` as forward()
   * would, without JavaScript on the way (native/udp.c): when both ends are native sockets and
   * the thread runs. The relay's state goes along and comes back with stopNativeRelay(), so the
   * stream carries on either way. False: the caller calls forward() per packet.
   */
  relayNatively(source: unknown, pt: number): boolean {
    this.stopNativeRelay();
    const dst = this.#sink instanceof RtpEndpoint ? this.#sink : null;
    const dstSocket = dst?.nativeSocket ?? null;
    const src = source instanceof RtpEndpoint ? source : null;
    const srcSocket = src?.nativeSocket ?? null;
    if (dst === null || dstSocket === null || src === null || srcSocket === null || !nativeRelayAvailable()) return false;
    const st = this.#relay;
    st[RelayState.active] = this.#active ? 1 : 0;
    st[RelayState.talkspurt] = this.#talkspurt ? 1 : 0;
    st[RelayState.packetizerSeq] = this.packetizer.sequenceNumber;
    st[RelayState.packetizerTs] = this.packetizer.timestamp;
    st[RelayState.srcIp] = src.remoteIp4 < 0 ? 0 : src.remoteIp4;
    st[RelayState.srcPort] = src.remoteIp4 < 0 ? 0 : src.remotePort;
    st[RelayState.dstIp] = dst.remoteIp4 < 0 ? 0 : dst.remoteIp4;
    st[RelayState.dstPort] = dst.remoteIp4 < 0 ? 0 : dst.remotePort;
    if (!relayStartNative(srcSocket, dstSocket, pt, this.format.payloadType, this.packetizer.ssrc, this.#tsPerPacket, st)) return false;
    this.#native = srcSocket;
    dst.relayStarted(srcSocket);
    return true;
  }

  /** Ends the receive thread's relay (if any) and takes its state back. */
  stopNativeRelay(): void {
    const src = this.#native;
    if (src === null) return;
    this.#native = null;
    const n = relayStopNative(src, this.#relay); // the thread's state comes back into #relay
    if (this.#sink instanceof RtpEndpoint) this.#sink.relayEnded(n);
    if (n < 0) return; // its socket closed: the leg is going away
    this.#talkspurt = this.#relay[RelayState.talkspurt] === 1;
    this.#relayed += n;
    this.#sent += n;
  }

  /** FrameConsumer: mono PCM at the mixer rate. */
  onFrame(pcm: Int16Array): void {
    if (this.#native !== null) this.stopNativeRelay();
    if (this.#relay[RelayState.relaying] === 1) this.#endRelay();
    if (this.#resampler === null) {
      this.#append(pcm, pcm.length);
    } else {
      const n = this.#resampler.process(pcm, pcm.length, this.#resampled);
      this.#append(this.#resampled, n);
    }
  }

  /**
   * Relays one RTP packet of the party this leg hears (same codec and ptime: the caller checks)
   * as the next packet of this leg's stream: our SSRC and payload type, the sender's marker bit,
   * its sequence number and timestamp shifted so they continue ours (gaps and reordering stay
   * visible to the peer's jitter buffer), its payload as is (no CSRCs, extensions or padding).
   * While relaying, no frames come from the mixer (the caller removes that output).
   */
  forward(bytes: Uint8Array, h: RtpHeaderReader): void {
    const st = this.#relay;
    if (!this.#active) {
      // On hold nothing goes out. On resume the timestamps keep their offset (they jump by the
      // time on hold, as the mixer path's do) and the sequence numbers carry on without a gap.
      this.#talkspurt = true;
      st[RelayState.resumeSeq] = st[RelayState.relaying]!;
      return;
    }
    const len = h.payloadLength;
    const packet = this.#packet;
    if (RTP_HEADER_LENGTH + len > packet.length) return;
    if (st[RelayState.relaying] === 0) {
      st[RelayState.relaying] = 1;
      st[RelayState.seqOffset] = (this.packetizer.sequenceNumber - h.sequenceNumber) & 0xffff;
      st[RelayState.tsOffset] = this.packetizer.timestamp - h.timestamp;
      st[RelayState.nextSeq] = this.packetizer.sequenceNumber;
      st[RelayState.nextTs] = this.packetizer.timestamp;
    } else if (st[RelayState.resumeSeq] === 1) {
      st[RelayState.seqOffset] = (st[RelayState.nextSeq]! - h.sequenceNumber) & 0xffff;
    }
    st[RelayState.resumeSeq] = 0;
    const seq = (h.sequenceNumber + st[RelayState.seqOffset]!) & 0xffff;
    const ts = (h.timestamp + st[RelayState.tsOffset]!) >>> 0;
    this.packetizer.writeHeaderAt(packet, 0, seq, ts, this.#talkspurt || h.marker);
    for (let k = 0, from = h.payloadOffset; k < len; k++) packet[RTP_HEADER_LENGTH + k] = bytes[from + k]!;
    this.#talkspurt = false;
    // The newest packet (in sequence order) sets where the stream continues after the relay.
    if (((seq - st[RelayState.nextSeq]!) & 0x8000) === 0) {
      st[RelayState.nextSeq] = (seq + 1) & 0xffff;
      st[RelayState.nextTs] = ts + this.#tsPerPacket;
    }
    this.#sink.send(packet, 0, RTP_HEADER_LENGTH + len);
    this.#sent++;
    this.#relayed++;
  }

  /** Frames from the mixer again: the stream carries on after the last packet relayed. */
  #endRelay(): void {
    const st = this.#relay;
    st[RelayState.relaying] = 0;
    st[RelayState.resumeSeq] = 0;
    this.packetizer.continueAt(st[RelayState.nextSeq]! & 0xffff, st[RelayState.nextTs]! >>> 0);
    this.#talkspurt = true;
  }

  /** The next packet starts a talkspurt (marker bit), e.g. after hold. */
  markTalkspurt(): void {
    this.#talkspurt = true;
    if (this.#native !== null) relaySetActiveNative(this.#native, this.#active, true);
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
    if (!this.#active) {
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
    this.#sent++;
  }
}
