/**
 * How much audio an Opus packet holds, from its TOC byte (RFC 6716 §3.1) and, for code 3,
 * its frame-count byte (§3.2.5). Enough to advance timestamps and size decode buffers
 * without decoding; frame lengths inside the packet (§3.4 rules R2..R7) are left to the decoder.
 *
 * ```text
 *  0 1 2 3 4 5 6 7          code 3 only:  0 1 2 3 4 5 6 7
 * +-+-+-+-+-+-+-+-+                      +-+-+-+-+-+-+-+-+
 * | config  |s| c |                      |v|p|     M     |
 * +-+-+-+-+-+-+-+-+                      +-+-+-+-+-+-+-+-+
 * ```
 */
import { OutOfRangeError } from '../../common/index.js';
import { checkSpan } from '../span.js';

/** Frame duration in µs by TOC config 0..31 (RFC 6716 §3.1, table 2). */
const FRAME_US = new Int32Array([
  // 0..11 SILK-only NB, MB, WB: 10, 20, 40, 60 ms
  10000, 20000, 40000, 60000, 10000, 20000, 40000, 60000, 10000, 20000, 40000, 60000,
  // 12..15 Hybrid SWB, FB: 10, 20 ms
  10000, 20000, 10000, 20000,
  // 16..31 CELT-only NB, WB, SWB, FB: 2.5, 5, 10, 20 ms
  2500, 5000, 10000, 20000, 2500, 5000, 10000, 20000, 2500, 5000, 10000, 20000, 2500, 5000, 10000, 20000,
]);

/** A packet holds at most 120 ms of audio (RFC 6716 §3.4, R5). */
const MAX_PACKET_US = 120000;

/** Frame duration in µs (2500..60000) named by a TOC byte; only its low 8 bits are read. */
export function opusFrameDurationUs(toc: number): number {
  return FRAME_US[(toc >> 3) & 0x1f]!;
}

/**
 * Samples per channel in the Opus packet of `length` bytes at `bytes[offset]`, at `rate` Hz
 * (48000, the RTP clock of Opus per RFC 7587 §4.1, or the decoder rate 8000/12000/16000/24000).
 * Returns -1 for a malformed packet: empty, code 3 without its count byte or with a count of 0,
 * or more than 120 ms in total. Never throws on packet bytes.
 * @throws OutOfRangeError for an unsupported rate or a span that does not fit `bytes`.
 */
export function opusPacketSamples(bytes: Uint8Array, offset: number, length: number, rate = 48000): number {
  checkSpan(bytes.length, offset, length, 'opusPacketSamples');
  if (rate !== 48000 && rate !== 24000 && rate !== 16000 && rate !== 12000 && rate !== 8000) {
    throw new OutOfRangeError(`Opus rate must be 8000, 12000, 16000, 24000 or 48000 Hz, got ${rate}`);
  }
  if (length < 1) return -1;
  const toc = bytes[offset]!;
  let frames: number;
  switch (toc & 3) {
    case 0: // §3.2.2: one frame
      frames = 1;
      break;
    case 1: // §3.2.3: two frames of equal size
    case 2: // §3.2.4: two frames of different sizes
      frames = 2;
      break;
    default: // §3.2.5: M frames, M in the second byte
      if (length < 2) return -1;
      frames = bytes[offset + 1]! & 0x3f;
      if (frames === 0) return -1;
  }
  const totalUs = frames * FRAME_US[toc >> 3]!;
  if (totalUs > MAX_PACKET_US) return -1;
  // Exact: durations are multiples of 2.5 ms and every Opus rate is a multiple of 400 Hz.
  return (totalUs / 2500) * (rate / 400);
}
