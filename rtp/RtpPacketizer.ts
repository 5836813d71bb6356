/**
 * Writes the 12-byte RTP header (RFC 3550 §5.1) of the packets the gateway sends, keeping
 * the stream's sequence number and timestamp. The caller writes the payload after it.
 */
import { randomInt } from 'node:crypto';
import { checkInteger, checkSpan } from './span.js';
import { RTP_HEADER_LENGTH } from './RtpHeader.js';

const SEQ = 0;
const TS = 1;

export interface RtpPacketizerOptions {
  /** Payload type 0..127 (0 PCMU, 8 PCMA, or the dynamic one from the SDP). */
  payloadType: number;
  /** RTP clock rate in Hz (8000 for G.711, 48000 for Opus per RFC 7587). */
  clockRate: number;
  /** SSRC 0..2^32-1; random when absent (RFC 3550 §8.1). */
  ssrc?: number;
  /** First sequence number 0..65535; random when absent (RFC 3550 §5.1). */
  initialSequence?: number;
  /** First timestamp 0..2^32-1; random when absent (RFC 3550 §5.1). */
  initialTimestamp?: number;
}

/**
 * One outgoing RTP stream. writeHeader() allocates nothing.
 *
 * With rtcp-mux, payload types 64..95 must not be used (RFC 5761 §4): with M=1 they look like
 * RTCP to the peer. The packetizer does not know whether the session multiplexes, so it
 * accepts them; the SDP layer must not pick them.
 */
export class RtpPacketizer {
  readonly payloadType: number;
  /** RTP clock rate in Hz; the unit of `samples` and of `timestamp`. */
  readonly clockRate: number;
  readonly ssrc: number;
  /**
   * [sequence number, timestamp]. A typed array, not two fields: measured on Node 20, storing
   * a timestamp >= 2^31 in a private field allocated a HeapNumber per packet (half of all
   * random initial timestamps); a Uint32Array slot does not, and wraps at 2^32 by itself.
   */
  readonly #state = new Uint32Array(2);

  /** @throws InvalidArgumentError for a non-integer option, OutOfRangeError for one out of range. */
  constructor(opts: RtpPacketizerOptions) {
    checkInteger(opts.payloadType, 0, 127, 'payloadType');
    checkInteger(opts.clockRate, 1, 0xffffffff, 'clockRate');
    if (opts.ssrc !== undefined) checkInteger(opts.ssrc, 0, 0xffffffff, 'ssrc');
    if (opts.initialSequence !== undefined) checkInteger(opts.initialSequence, 0, 0xffff, 'initialSequence');
    if (opts.initialTimestamp !== undefined) checkInteger(opts.initialTimestamp, 0, 0xffffffff, 'initialTimestamp');
    this.payloadType = opts.payloadType;
    this.clockRate = opts.clockRate;
    this.ssrc = opts.ssrc ?? randomInt(0, 0x100000000);
    this.#state[SEQ] = opts.initialSequence ?? randomInt(0, 0x10000);
    this.#state[TS] = opts.initialTimestamp ?? randomInt(0, 0x100000000);
  }

  /** Sequence number the next writeHeader() will use (0..65535). */
  get sequenceNumber(): number {
    return this.#state[SEQ]!;
  }

  /** Timestamp the next writeHeader() will use, in clock units (0..2^32-1). */
  get timestamp(): number {
    return this.#state[TS]!;
  }

  /**
   * Writes a V=2 header (no padding, extension or CSRCs) with the current sequence number and
   * timestamp at `out[offset]`, then advances the sequence number by 1 (mod 2^16) and the
   * timestamp by `samples` (mod 2^32). Returns 12, the bytes written.
   * @param samples RTP clock units this packet's payload covers (160 for 20 ms at 8 kHz).
   * @param marker M bit: true on the first packet of a talkspurt (RFC 3551 §4.1), else false.
   * @throws OutOfRangeError when 12 bytes do not fit at `offset` or `samples` is not in 0..2^32-1.
   */
  writeHeader(out: Uint8Array, offset: number, samples: number, marker: boolean): number {
    checkSpan(out.length, offset, RTP_HEADER_LENGTH, 'RtpPacketizer.writeHeader');
    checkInteger(samples, 0, 0xffffffff, 'samples');
    const state = this.#state;
    const seq = state[SEQ]!;
    const ts = state[TS]!;
    this.writeHeaderAt(out, offset, seq, ts, marker);
    state[SEQ] = (seq + 1) & 0xffff;
    state[TS] = ts + samples; // stored mod 2^32
    return RTP_HEADER_LENGTH;
  }

  /**
   * Writes this stream's V=2 header (our SSRC and payload type) with the given sequence number
   * and timestamp, leaving the stream's own numbering alone: a relayed packet's header
   * (AudioSender.forward). The caller checks that 12 bytes fit at `offset`.
   */
  writeHeaderAt(out: Uint8Array, offset: number, seq: number, ts: number, marker: boolean): void {
    const ssrc = this.ssrc;
    out[offset] = 0x80; // V=2, P=0, X=0, CC=0
    out[offset + 1] = (marker ? 0x80 : 0) | this.payloadType;
    out[offset + 2] = seq >>> 8;
    out[offset + 3] = seq & 0xff;
    out[offset + 4] = ts >>> 24;
    out[offset + 5] = (ts >>> 16) & 0xff;
    out[offset + 6] = (ts >>> 8) & 0xff;
    out[offset + 7] = ts & 0xff;
    out[offset + 8] = ssrc >>> 24;
    out[offset + 9] = (ssrc >>> 16) & 0xff;
    out[offset + 10] = (ssrc >>> 8) & 0xff;
    out[offset + 11] = ssrc & 0xff;
  }

  /**
   * Advances the timestamp by `samples` clock units without sending (a silent gap), so the
   * next packet's timestamp reflects elapsed time; the sequence number does not move
   * (RFC 3550 §5.1: it counts packets sent).
   * @throws OutOfRangeError when `samples` is not in 0..2^32-1.
   */
  skip(samples: number): void {
    checkInteger(samples, 0, 0xffffffff, 'samples');
    this.#state[TS] = this.#state[TS]! + samples; // stored mod 2^32
  }

  /**
   * Sets the sequence number and timestamp the next writeHeader() uses: the stream continues
   * after packets written elsewhere under the same SSRC (a relay, see AudioSender.forward).
   * @throws OutOfRangeError when `seq` is not in 0..65535 or `timestamp` not in 0..2^32-1.
   */
  continueAt(seq: number, timestamp: number): void {
    checkInteger(seq, 0, 0xffff, 'seq');
    checkInteger(timestamp, 0, 0xffffffff, 'timestamp');
    this.#state[SEQ] = seq;
    this.#state[TS] = timestamp;
  }
}
