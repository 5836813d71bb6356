/**
 * Zero-copy RTP header reader (RFC 3550 §5.1) and first-byte packet demux (RFC 7983).
 *
 * rtp.js's RtpPacket allocates a Map, arrays and DataViews per packet, and its isRtp/isRtcp
 * need a DataView (one more allocation per packet; on a buffer shorter than 2 bytes they
 * throw). So the hot path reads the fixed header here with plain byte arithmetic, applying
 * the same tests as isRtp (length >= 12, first byte 128..191) and isRtcp (second byte
 * 192..223); test/rtpHeader.test.ts checks that both agree on every fixture and on random bytes.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           timestamp                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           synchronization source (SSRC) identifier            |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |            contributing source (CSRC) identifiers             |
 * |                             ....                              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      defined by profile       |           length              |  (if X: RFC 3550 §5.3.1,
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+   elements per RFC 8285)
 * |                        header extension                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 payload  ...  | padding ... | padding count   |  (if P)
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 */
import { OutOfRangeError } from '../common/index.js';
import { checkSpan } from './span.js';

/** Length of the fixed RTP header in bytes (RFC 3550 §5.1), without CSRCs or extension. */
export const RTP_HEADER_LENGTH = 12;

/**
 * Why RtpHeaderReader.parse() rejected a datagram. Callers keep one counter per code
 * (STYLE.md point 7); `None` means the header was read and every field is valid.
 */
export const RtpDrop = {
  /** Parsed: the reader's fields describe the packet. */
  None: 0,
  /** Fewer bytes than the fixed header (12), or than an RTCP common header (4). */
  TooShort: 1,
  /** Version field (top 2 bits) is not 2: STUN, DTLS, ZRTP or TURN traffic, or garbage. */
  BadVersion: 2,
  /** Second byte 192..223: RTCP multiplexed on the RTP port (RFC 5761 §4); hand it to RTCP. */
  Rtcp: 3,
  /** The CC field announces more CSRCs than the datagram holds. */
  BadCsrc: 4,
  /** X is set but the extension header, or the length it announces, runs past the datagram. */
  BadExtension: 5,
  /** P is set but the padding count is 0 or larger than what follows the header. */
  BadPadding: 6,
} as const;
export type RtpDrop = (typeof RtpDrop)[keyof typeof RtpDrop];

/**
 * Reads one RTP header at a time into its own fields; reuse one reader per socket.
 *
 * parse() allocates nothing: it stores numbers and booleans and keeps a reference to the
 * bytes it was given (for csrcAt()). Fields are meaningful only after parse() returned
 * RtpDrop.None, and only until the next parse().
 */
export class RtpHeaderReader {
  /** RTP version (always 2 after a successful parse). */
  version = 0;
  /** P bit: the packet ends with `paddingLength` bytes of padding. */
  padding = false;
  /** X bit: a header extension follows the CSRCs. */
  extension = false;
  /** Number of CSRC identifiers (0..15). */
  csrcCount = 0;
  /** M bit; for audio it marks the first packet of a talkspurt (RFC 3551 §4.1). */
  marker = false;
  /** Payload type 0..127. */
  payloadType = 0;
  /** Sequence number 0..65535. */
  sequenceNumber = 0;
  /** RTP timestamp in clock units, 0..2^32-1 (never negative). */
  timestamp = 0;
  /** SSRC 0..2^32-1 (never negative). */
  ssrc = 0;
  /** The 16-bit "defined by profile" field of the extension: 0xBEDE one-byte, 0x100x two-byte (RFC 8285 §4); 0 without X. */
  extensionProfile = 0;
  /** Index in `bytes` of the extension data (after its 4-byte header); 0 without X. */
  extensionOffset = 0;
  /** Length of the extension data in bytes (the length field × 4); 0 without X. */
  extensionLength = 0;
  /** Index in `bytes` of the first payload byte (absolute, not relative to the packet offset). */
  payloadOffset = 0;
  /** Payload length in bytes, without padding; may be 0. */
  payloadLength = 0;
  /** Padding bytes at the end of the packet, including the count byte; 0 when P is clear. */
  paddingLength = 0;
  /**
   * When the packet was read from its socket (performance.now() ms), set by the transport
   * after parse(); NaN when unknown. It travels with the header rather than as an argument:
   * a fractional double passed to a function that is not inlined is boxed (a heap number per
   * packet per call), a field store is not.
   */
  arrivalMs = NaN;

  #bytes: Uint8Array = EMPTY;
  #offset = 0;

  /**
   * Reads the RTP header of the `length` bytes at `bytes[offset]`.
   * Never throws on packet contents; throws OutOfRangeError / InvalidArgumentError only when
   * the span itself does not fit `bytes` (a caller bug).
   */
  parse(bytes: Uint8Array, offset: number, length: number): RtpDrop {
    checkSpan(bytes.length, offset, length, 'RtpHeaderReader.parse');
    this.payloadOffset = 0;
    this.payloadLength = 0;
    this.paddingLength = 0;
    this.extensionProfile = 0;
    this.extensionOffset = 0;
    this.extensionLength = 0;
    this.csrcCount = 0;
    // RTCP's common header is 4 bytes (RFC 3550 §6.4.1); an empty RR or a BYE is only 8, so
    // RTCP is recognised before the 12-byte RTP minimum is enforced.
    if (length < 4) return RtpDrop.TooShort;
    const b0 = bytes[offset]!;
    const b1 = bytes[offset + 1]!;
    this.version = b0 >> 6;
    if (this.version !== 2) return RtpDrop.BadVersion;
    // RFC 5761 §4: with rtcp-mux, RTCP packet types 192..223 sit where an RTP packet would
    // have M=1 and PT 64..95, which is why those RTP payload types must not be used when
    // multiplexing. Anything else in the second byte is RTP.
    if (b1 >= 192 && b1 <= 223) return RtpDrop.Rtcp;
    if (length < RTP_HEADER_LENGTH) return RtpDrop.TooShort;

    this.padding = (b0 & 0x20) !== 0;
    this.extension = (b0 & 0x10) !== 0;
    this.marker = (b1 & 0x80) !== 0;
    this.payloadType = b1 & 0x7f;
    this.sequenceNumber = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
    this.timestamp = readUint32(bytes, offset + 4);
    this.ssrc = readUint32(bytes, offset + 8);
    this.#bytes = bytes;
    this.#offset = offset;

    const end = offset + length;
    const csrcCount = b0 & 0x0f;
    let pos = offset + RTP_HEADER_LENGTH + 4 * csrcCount;
    if (pos > end) return RtpDrop.BadCsrc;
    this.csrcCount = csrcCount; // set only once the CSRCs fit, so csrcAt() stays inside the packet

    if (this.extension) {
      // RFC 3550 §5.3.1: 16-bit profile field, 16-bit length in 32-bit words, then the data.
      // RFC 8285 elements inside are left to whoever needs them; we only skip by length.
      if (pos + 4 > end) return RtpDrop.BadExtension;
      const words = (bytes[pos + 2]! << 8) | bytes[pos + 3]!;
      const dataOffset = pos + 4;
      if (dataOffset + 4 * words > end) return RtpDrop.BadExtension;
      this.extensionProfile = (bytes[pos]! << 8) | bytes[pos + 1]!;
      this.extensionOffset = dataOffset;
      this.extensionLength = 4 * words;
      pos = dataOffset + 4 * words;
    }

    let padding = 0;
    if (this.padding) {
      // RFC 3550 §5.1: the last octet counts the padding octets, itself included, so it is >= 1.
      padding = bytes[end - 1]!;
      if (padding === 0 || padding > end - pos) return RtpDrop.BadPadding;
    }
    this.payloadOffset = pos;
    this.payloadLength = end - pos - padding;
    this.paddingLength = padding;
    return RtpDrop.None;
  }

  /**
   * CSRC number `index` (0-based) of the last parsed packet, as a non-negative uint32.
   * @throws OutOfRangeError when index >= csrcCount.
   */
  csrcAt(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.csrcCount) {
      throw new OutOfRangeError(`CSRC index ${index} outside [0, ${this.csrcCount})`);
    }
    return readUint32(this.#bytes, this.#offset + RTP_HEADER_LENGTH + 4 * index);
  }
}

/** What a datagram on a shared port is, judged by RFC 7983 §7 first-byte demultiplexing. */
export type PacketClass = 'rtp' | 'rtcp' | 'stun' | 'dtls' | 'other';

/**
 * Classifies the `length` bytes at `bytes[offset]` by their first byte (RFC 7983 §7):
 * 0..3 STUN, 20..63 DTLS, 128..191 RTP or RTCP (split by the second byte, RFC 5761 §4:
 * 192..223 is RTCP). ZRTP (16..19), TURN channels (64..79), an empty datagram, or a lone
 * RTP-range byte are 'other'. Looks at at most two bytes; validates nothing else.
 */
export function classifyPacket(bytes: Uint8Array, offset: number, length: number): PacketClass {
  checkSpan(bytes.length, offset, length, 'classifyPacket');
  if (length === 0) return 'other';
  const b0 = bytes[offset]!;
  if (b0 <= 3) return 'stun';
  if (b0 >= 20 && b0 <= 63) return 'dtls';
  if (b0 >= 128 && b0 <= 191) {
    if (length < 2) return 'other';
    const b1 = bytes[offset + 1]!;
    return b1 >= 192 && b1 <= 223 ? 'rtcp' : 'rtp';
  }
  return 'other';
}

/** Big-endian uint32 at `pos` as a non-negative number (`>>> 0` keeps bit 31 out of the sign). */
function readUint32(bytes: Uint8Array, pos: number): number {
  return ((bytes[pos]! << 24) | (bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!) >>> 0;
}

const EMPTY = new Uint8Array(0);
