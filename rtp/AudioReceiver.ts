/**
 * The receive half of an RTP audio leg: jitter buffer, decoder, loss concealment, DTMF and
 * the placement of audio on the mixer's timeline.
 *
 * Placement follows the sender's RTP timestamps, not arrival times, so legs stay aligned:
 * the first packet is anchored at the live edge plus the playout delay, and every later
 * sample goes where its timestamp says. Packets are decoded as soon as they are in order.
 * A missing packet is waited for until the mixer needs its audio (the deadline), then
 * concealed (one repeated frame, then silence). A packet arriving after that is late.
 * When nothing arrives at all the leg is padded with silence (a late or silent leg), and
 * the timestamp clock moves on with it so the next packets land where they belong.
 *
 * RFC 4733 telephone-events become `dtmf` events; they occupy sequence numbers but are never
 * mixed as audio.
 *
 * Allocation: none per packet on the G.711 path. The Opus binding returns a fresh Buffer
 * per decoded packet (and needs a Buffer view of the payload), which we cannot avoid without
 * our own binding.
 */
import opus from '@discordjs/opus';
import { SafeEmitter } from '../common/index.js';
import { Resampler } from '../dsp/index.js';
import { JitterBuffer, JitterPush, seqDistance } from './JitterBuffer.js';
import type { RtpHeaderReader } from './RtpHeader.js';
import { decodePcma, decodePcmu } from './codecs/g711.js';
import { opusPacketSamples } from './codecs/opusToc.js';
import { TelephoneEventReceiver } from './codecs/telephoneEvent.js';
import type { DtmfEvent } from './codecs/telephoneEvent.js';
import { validateFormats } from './PayloadFormat.js';
import type { PayloadFormat } from './PayloadFormat.js';

const { OpusEncoder } = opus;
type OpusCodec = InstanceType<typeof OpusEncoder>;

/**
 * Where decoded audio goes: a mixer input (mixer/MixerInput satisfies this structurally; rtp/
 * does not import mixer/).
 */
export interface PcmSink {
  readonly anchored: boolean;
  /** When the packet being written was read from its socket (monotonic ms); NaN between packets. */
  arrivalMs: number;
  readonly writeHead: number;
  /** The sink's ring (power-of-two length) and where the next sample goes in it. */
  readonly ring: Int16Array;
  readonly writeIndex: number;
  feeder: unknown;
  anchor(): void;
  anchorPosition(): number;
  write(src: Int16Array, offset: number, n: number): void;
  /** `n` samples were decoded in place into ring from writeIndex (wrapping). */
  commit(n: number): void;
  /** Writes again the last `n` samples (loss concealment). */
  repeat(n: number): void;
  writeSilence(n: number): void;
  space(): number;
  markDiscontinuity(): void;
}

export type PlcMode = 'silence' | 'repeat';

export interface AudioReceiverOptions {
  /** Negotiated formats; packets of other payload types are dropped and counted. */
  formats: readonly PayloadFormat[];
  /** Mixer sample rate in Hz: decoded audio is delivered at this rate. */
  mixerRate: 8000 | 16000 | 48000;
  /** Loss concealment: repeat the last frame once then silence (default), or silence only. */
  plc?: PlcMode;
  /** Jitter buffer slots (power of two); default 64. */
  slots?: number;
}

export interface AudioReceiverEvents {
  [key: string]: unknown[];
  dtmf: [DtmfEvent];
}

export interface AudioReceiverStats {
  /** Audio and event packets accepted into the jitter buffer. */
  received: number;
  /** Packets never received whose audio was concealed. */
  lost: number;
  /** Packets that arrived after their audio had been played or concealed. */
  late: number;
  duplicate: number;
  /** Packets that arrived out of order (and were put back in order). */
  reordered: number;
  /** Packets concealed (repeated frame or silence). */
  concealed: number;
  /** Silence padded because nothing had arrived by the deadline, in ms. */
  underrunMs: number;
  /** Silence inserted for timestamp gaps (DTX, silence suppression, events), in ms. */
  gapMs: number;
  unexpectedPayloadType: number;
  oversize: number;
  /** Packets discarded because the mixer stopped reading and the ring stayed full. */
  overflowPackets: number;
  decodeErrors: number;
  ssrcChanges: number;
  /** Packets of a second SSRC that did not take over. */
  strayPackets: number;
  /** Sequence number resyncs (sender restart, loss longer than the buffer). */
  seqResyncs: number;
  /** Timestamp discontinuities re-anchored. */
  tsJumps: number;
  /** RFC 3550 §6.4.1 interarrival jitter, in ms. */
  jitterMs: number;
  dtmfEvents: number;
  /** Audio decoded and delivered, in ms. */
  playedMs: number;
}

/** Tolerated timestamp mismatch when the sender's clock and ours disagree by a few units. */
const TS_SLACK_MS = 1;

export class AudioReceiver extends SafeEmitter<AudioReceiverEvents> {
  readonly mixerRate: number;
  readonly plc: PlcMode;
  readonly #formats: (PayloadFormat | undefined)[] = new Array<PayloadFormat | undefined>(128).fill(undefined);
  readonly #jb: JitterBuffer;
  #sink: PcmSink | null = null;

  // Decoding.
  readonly #pcm: Int16Array; // codec-rate PCM of one packet (up to 120 ms at 48 kHz)
  readonly #out: Int16Array; // mixer-rate PCM of one packet
  readonly #maxPacketOut: number; // 120 ms at the mixer rate (+1 for a drift insert): room a packet may need
  /** Mixer samples of the last packet played, for concealment by repetition. */
  #lastLength = 0;
  #lastWasReal = false;
  #resampler8k: Resampler | null = null;
  #opus: OpusCodec | null = null;
  readonly #dtmf: TelephoneEventReceiver[] = [];

  // Timeline state, in RTP clock units of the current codec.
  #clockRate = 8000;
  #tsStarted = false;
  #expectedTs = 0;
  /** Clock units of padding since the last real packet (audio we played as silence). */
  #padTs = 0;
  /** Duration of the last packet in clock units (the size of a concealed packet). */
  #lastSamples = 160;

  // SSRC and sequence tracking.
  #ssrc = -1;
  #candidateSsrc = -1;
  #candidateSeq = -1;
  #candidate: Uint8Array = new Uint8Array(0);
  #candidateOffset = 0;
  #candidateLength = 0;
  #candidateTs = 0;
  #candidatePt = 0;
  #candidateMarker = false;
  #jumpSeq = -1;

  // RFC 3550 jitter.
  #jitter = 0;
  /** The previous packet's arrival (ms) and timestamp, for the interarrival jitter (NaN: none). */
  #lastArrivalMs = NaN;
  #lastJitterTs = 0;
  /** The arrival of the packet being received (ms; see receive()). */
  #arrivalMs = NaN;

  // Counters.
  unexpectedPayloadType = 0;
  concealed = 0;
  lateAfterPadding = 0;
  underrunSamples = 0;
  gapSamples = 0;
  decodeErrors = 0;
  ssrcChanges = 0;
  strayPackets = 0;
  seqResyncs = 0;
  tsJumps = 0;
  dtmfEvents = 0;
  playedSamples = 0;
  /** Packets discarded because the sink stayed full (its mixer stopped reading). */
  overflowPackets = 0;

  constructor(options: AudioReceiverOptions) {
    super();
    validateFormats(options.formats);
    this.mixerRate = options.mixerRate;
    this.plc = options.plc ?? 'repeat';
    for (const f of options.formats) this.#formats[f.payloadType] = f;
    const hasOpus = options.formats.some((f) => f.codec === 'opus');
    this.#jb = new JitterBuffer({ slots: options.slots ?? 64, slotBytes: hasOpus ? 1280 : 1024 });
    // 120 ms at 48 kHz: the longest Opus packet, and far beyond G.711's 60 ms ptime.
    this.#pcm = new Int16Array(5760);
    this.#out = new Int16Array(Math.ceil((5760 * this.mixerRate) / 8000));
    this.#maxPacketOut = (this.mixerRate * 120) / 1000 + 1;
    const onEvent = (e: DtmfEvent): void => {
      this.dtmfEvents++;
      this.emit('dtmf', e);
    };
    for (const f of options.formats) {
      if (f.codec === 'telephone-event') this.#dtmf[f.payloadType] = new TelephoneEventReceiver(f.clockRate, onEvent);
    }
  }

  /** Connects the receiver to the mixer input it fills (and makes itself that input's feeder). */
  attach(sink: PcmSink): void {
    this.#sink = sink;
    sink.feeder = this;
  }

  get jitterBuffer(): JitterBuffer {
    return this.#jb;
  }

  /**
   * One parsed RTP packet from the endpoint. `h` holds the parsed header of `bytes` and, in
   * `h.arrivalMs`, its arrival time on the monotonic clock. The receiver may keep a reference
   * to `bytes` until the packet is played (reordering), so the caller must not reuse that
   * buffer; Node's dgram gives every datagram its own.
   */
  receive(bytes: Uint8Array, h: RtpHeaderReader): void {
    // Kept in a field for the methods below, not passed: see RtpHeaderReader.arrivalMs.
    this.#arrivalMs = h.arrivalMs;
    const sink = this.#sink;
    if (sink === null) {
      this.#receive(bytes, h);
      return;
    }
    // The sink anchors and measures at the packet's arrival, not at this hand-over.
    sink.arrivalMs = h.arrivalMs;
    try {
      this.#receive(bytes, h);
    } finally {
      sink.arrivalMs = NaN;
    }
  }

  #receive(bytes: Uint8Array, h: RtpHeaderReader): void {
    const pt = h.payloadType;
    const fmt = this.#formats[pt];
    if (fmt === undefined) {
      this.unexpectedPayloadType++;
      return;
    }
    const ssrc = h.ssrc;
    if (ssrc !== this.#ssrc) {
      if (this.#ssrc === -1) {
        this.#ssrc = ssrc;
      } else if (ssrc === this.#candidateSsrc && h.sequenceNumber === ((this.#candidateSeq + 1) & 0xffff)) {
        // Two packets in sequence from the new SSRC (RFC 3550 A.1 probation): it takes over.
        this.#switchSsrc();
      } else {
        // Hold the first packet of a possible new source until its second one confirms it.
        if (this.#candidateSsrc !== -1) this.strayPackets++;
        this.#holdCandidate(bytes, h);
        return;
      }
    } else if (this.#candidateSsrc !== -1) {
      this.#candidateSsrc = -1;
      this.strayPackets++;
    }
    // The timestamp as an int32 (the same 32 bits): one above 2^31 would be a boxed double in
    // every call it is passed to. Every use of it is modulo 2^32.
    this.#accept(fmt, bytes, h.payloadOffset, h.payloadLength, h.sequenceNumber, h.timestamp | 0, h.marker);
  }

  #accept(
    fmt: PayloadFormat,
    bytes: Uint8Array,
    offset: number,
    length: number,
    seq: number,
    ts: number,
    marker: boolean,
  ): void {
    const isEvent = fmt.codec === 'telephone-event';
    const sink = this.#sink;
    if (isEvent) this.#dtmf[fmt.payloadType]!.push(ts >>> 0, marker, bytes, offset, length); // events report the unsigned timestamp
    else if (fmt.codec !== 'CN') {
      this.#updateJitter(ts, fmt.clockRate);
      // Fast path: the packet the buffer waits for, nothing queued behind it: play it
      // straight from the socket buffer, no copy into the jitter buffer.
      if (sink !== null && length <= this.#jb.slotBytes) {
        if (!sink.anchored) sink.anchor();
        if (sink.space() >= this.#maxPacketOut && this.#jb.takeInOrder(seq)) {
          this.#play(sink, fmt, bytes, offset, length, ts);
          return;
        }
      }
    }
    // Events keep their sequence number in the buffer, without payload: they are not audio.
    let r = this.#jb.push(seq, ts, fmt.payloadType, marker, bytes, offset, isEvent ? 0 : length);
    if (r === JitterPush.TooFarAhead || (r === JitterPush.Late && -seqDistance(seq, this.#jb.headSeq) > this.#jb.slots)) {
      // A jump of the sequence number: resync once two packets confirm it.
      if (this.#jumpSeq !== -1 && seq === ((this.#jumpSeq + 1) & 0xffff)) {
        this.#jumpSeq = -1;
        this.seqResyncs++;
        if (this.#sink !== null) this.drain(this.#sink);
        this.#jb.reset(seq);
        r = this.#jb.push(seq, ts, fmt.payloadType, marker, bytes, offset, isEvent ? 0 : length);
      } else {
        this.#jumpSeq = seq;
        return;
      }
    }
    if (r === JitterPush.Accepted && sink !== null) {
      if (!sink.anchored) sink.anchor();
      this.#playReady(sink);
    }
  }

  /** InputFeeder: provide audio up to `deadline` (mixer samples), concealing known losses. */
  feed(sink: PcmSink, deadline: number): void {
    if (this.#playReady(sink)) return;
    while (sink.writeHead < deadline) {
      if (this.#jb.count > 0) {
        // The head is missing but later packets are here: it is lost.
        this.#conceal(sink);
        if (this.#playReady(sink)) return;
        continue;
      }
      if (!this.#tsStarted) return;
      // Nothing has arrived: the leg is late or silent. Pad, and let the clock move on.
      const pad = deadline - sink.writeHead;
      sink.writeSilence(pad);
      sink.markDiscontinuity();
      this.underrunSamples += pad;
      const padTs = Math.round((pad * this.#clockRate) / this.mixerRate);
      this.#padTs += padTs;
      this.#expectedTs = (this.#expectedTs + padTs) | 0;
      return;
    }
  }

  /** InputFeeder: decode everything held, concealing gaps between packets; no padding. */
  drain(sink: PcmSink): void {
    for (;;) {
      if (this.#playReady(sink)) {
        // The sink is full (its mixer is not reading): what is held cannot be played.
        this.overflowPackets += this.#jb.count;
        this.#jb.reset();
        break;
      }
      if (this.#jb.count === 0) break;
      this.#conceal(sink);
    }
    for (const d of this.#dtmf) d?.flush();
  }

  stats(): AudioReceiverStats {
    const jb = this.#jb;
    const ms = (samples: number): number => (samples * 1000) / this.mixerRate;
    return {
      received: jb.received,
      lost: jb.lost,
      late: jb.late + this.lateAfterPadding,
      duplicate: jb.duplicate,
      reordered: jb.reordered,
      concealed: this.concealed,
      underrunMs: ms(this.underrunSamples),
      gapMs: ms(this.gapSamples),
      unexpectedPayloadType: this.unexpectedPayloadType,
      oversize: jb.oversize,
      overflowPackets: this.overflowPackets,
      decodeErrors: this.decodeErrors,
      ssrcChanges: this.ssrcChanges,
      strayPackets: this.strayPackets,
      seqResyncs: this.seqResyncs,
      tsJumps: this.tsJumps,
      jitterMs: (this.#jitter * 1000) / this.#clockRate,
      dtmfEvents: this.dtmfEvents,
      playedMs: ms(this.playedSamples),
    };
  }

  /**
   * Plays every in-order packet at the head of the buffer while the sink has room. Returns
   * true when it stopped because the sink is full.
   */
  #playReady(sink: PcmSink): boolean {
    const jb = this.#jb;
    while (jb.headReady()) {
      const fmt = this.#formats[jb.headPayloadType]!;
      if (fmt.codec === 'telephone-event' || fmt.codec === 'CN') {
        // Not audio: the timestamp gap before the next audio packet becomes silence.
        jb.pop();
        continue;
      }
      // Leave packets queued when the ring is full (sender far ahead of the clock).
      if (sink.space() < this.#maxPacketOut) return true;
      this.#play(sink, fmt, jb.headBytes, jb.headOffset, jb.headLength, jb.headTimestamp | 0);
      jb.pop();
    }
    return false;
  }

  /** Places one packet's audio on the timeline and decodes it (its sequence turn is taken). */
  #play(sink: PcmSink, fmt: PayloadFormat, data: Uint8Array, off: number, len: number, ts: number): void {
    // Packet duration in RTP clock units.
    const samples = fmt.codec === 'opus' ? opusPacketSamples(data, off, len, 48000) : len;
    if (samples <= 0) {
      this.decodeErrors++;
      return;
    }
    if (fmt.clockRate !== this.#clockRate) {
      // Codec change with another RTP clock: timestamps are not comparable across it.
      this.#clockRate = fmt.clockRate;
      this.#tsStarted = false;
    }
    let skipTs = 0;
    if (!this.#tsStarted) {
      this.#tsStarted = true;
      this.#expectedTs = ts;
    } else {
      const diff = (ts - this.#expectedTs) | 0;
      const slack = (this.#clockRate * TS_SLACK_MS) / 1000;
      if (diff > slack) {
        // A gap (DTX, silence suppression, an event). Fill it with silence, unless that would
        // place the audio later than it arrived (a timestamp jump): then re-anchor instead.
        const gap = Math.round((diff * this.mixerRate) / this.#clockRate);
        const room = sink.anchorPosition() - sink.writeHead + samples * (this.mixerRate / this.#clockRate);
        if (gap <= room) {
          sink.writeSilence(gap);
          this.gapSamples += gap;
        } else {
          sink.anchor();
          this.tsJumps++;
        }
      } else if (diff < -slack) {
        if (-diff <= this.#padTs + slack) {
          // Its time was played as silence while it was on the way: late, wholly or in part.
          if (-diff >= samples) {
            this.lateAfterPadding++;
            return;
          }
          skipTs = -diff;
        } else {
          // The timestamp went back (sender restarted its clock): continue from here.
          this.tsJumps++;
        }
      }
      if (skipTs === 0) this.#expectedTs = ts;
    }
    let n: number;
    if (skipTs === 0 && this.mixerRate === 8000 && (fmt.codec === 'PCMU' || fmt.codec === 'PCMA')) {
      // G.711 into an 8 kHz mixer: decode straight into the ring, no staging copy.
      const ring = sink.ring;
      const at = sink.writeIndex;
      const first = Math.min(samples, ring.length - at);
      const decode = fmt.codec === 'PCMU' ? decodePcmu : decodePcma;
      decode(data, off, first, ring, at);
      if (first < samples) decode(data, off + first, samples - first, ring, 0);
      sink.commit(samples);
      n = samples;
    } else {
      n = this.#decode(fmt, data, off, len, samples);
      if (n < 0) {
        this.decodeErrors++;
        return;
      }
      const skip = Math.min(n, Math.round((skipTs * this.mixerRate) / this.#clockRate));
      sink.write(this.#out, skip, n - skip);
      n -= skip;
    }
    this.playedSamples += n;
    this.#lastLength = n;
    this.#lastWasReal = true;
    this.#lastSamples = samples;
    this.#expectedTs = (ts + samples) | 0;
    this.#padTs = 0;
  }

  /** Conceals the missing head packet: the last frame once (plc 'repeat'), else silence. */
  #conceal(sink: PcmSink): void {
    const n = Math.round((this.#lastSamples * this.mixerRate) / this.#clockRate);
    if (this.plc === 'repeat' && this.#lastWasReal && this.#lastLength > 0) {
      // The previous packet is still in the ring, just before the write head.
      const m = Math.min(n, this.#lastLength);
      sink.repeat(m);
      if (m < n) sink.writeSilence(n - m);
    } else {
      sink.writeSilence(n);
    }
    this.#lastWasReal = false;
    this.concealed++;
    this.#expectedTs = (this.#expectedTs + this.#lastSamples) | 0;
    this.#jb.skip();
  }

  /** Decodes one payload into #out at the mixer rate; returns samples, or -1 on error. */
  #decode(fmt: PayloadFormat, data: Uint8Array, off: number, len: number, samples: number): number {
    if (fmt.codec === 'opus') {
      // Opus decodes straight to the mixer rate (8, 16 or 48 kHz are native Opus rates).
      this.#opus ??= new OpusEncoder(this.mixerRate, 1);
      let pcm: Buffer;
      try {
        pcm = this.#opus.decode(Buffer.from(data.buffer, data.byteOffset + off, len));
      } catch {
        return -1;
      }
      const n = pcm.length >> 1;
      const out = this.#out;
      const m = Math.min(n, out.length);
      for (let i = 0; i < m; i++) out[i] = pcm.readInt16LE(i * 2);
      return m;
    }
    // G.711: one byte per sample at 8 kHz.
    const pcm = this.mixerRate === 8000 ? this.#out : this.#pcm;
    if (fmt.codec === 'PCMU') decodePcmu(data, off, samples, pcm, 0);
    else decodePcma(data, off, samples, pcm, 0);
    if (this.mixerRate === 8000) return samples;
    this.#resampler8k ??= new Resampler(8000, this.mixerRate, 1);
    return this.#resampler8k.process(this.#pcm, samples, this.#out);
  }

  /**
   * RFC 3550 §6.4.1: J += (|D| - J) / 16, D the change in transit time, in clock units:
   * D = (arrival - arrival') * rate - (ts - ts'), the timestamps' difference taken modulo 2^32.
   */
  #updateJitter(ts: number, clockRate: number): void {
    const arrival = this.#arrivalMs;
    if (!Number.isNaN(this.#lastArrivalMs) && !Number.isNaN(arrival)) {
      let d = ((arrival - this.#lastArrivalMs) * clockRate) / 1000 - ((ts - this.#lastJitterTs) | 0);
      if (d < 0) d = -d;
      // A timestamp jump is not jitter.
      if (d < clockRate) this.#jitter += (d - this.#jitter) / 16;
    }
    this.#lastArrivalMs = arrival;
    this.#lastJitterTs = ts;
  }

  #holdCandidate(bytes: Uint8Array, h: RtpHeaderReader): void {
    this.#candidateSsrc = h.ssrc;
    this.#candidateSeq = h.sequenceNumber;
    this.#candidateTs = h.timestamp | 0;
    this.#candidatePt = h.payloadType;
    this.#candidateMarker = h.marker;
    // Kept by reference, like the jitter buffer keeps its packets.
    this.#candidate = bytes;
    this.#candidateOffset = h.payloadOffset;
    this.#candidateLength = h.payloadLength;
  }

  #switchSsrc(): void {
    this.ssrcChanges++;
    // Whatever the old source left in the buffer is played first; its timeline ends there.
    if (this.#sink !== null) this.drain(this.#sink);
    this.#jb.reset();
    this.#ssrc = this.#candidateSsrc;
    this.#candidateSsrc = -1;
    this.#tsStarted = false;
    this.#lastArrivalMs = NaN;
    const fmt = this.#formats[this.#candidatePt];
    if (fmt !== undefined) {
      // The held packet's arrival is not known here: it does not count for the jitter.
      const arrival = this.#arrivalMs;
      this.#arrivalMs = NaN;
      this.#accept(fmt, this.#candidate, this.#candidateOffset, this.#candidateLength, this.#candidateSeq, this.#candidateTs, this.#candidateMarker);
      this.#arrivalMs = arrival;
    }
  }
}
