/**
 * Ogg page writer (RFC 3533) for one logical bitstream, into a ByteSink.
 *
 * Page layout (RFC 3533 section 6), all little-endian:
 *
 *   0  'OggS' capture pattern        14  serial number (u32)
 *   4  version = 0                   18  page sequence number (u32)
 *   5  header type: 0x01 continued,  22  CRC-32 (u32), computed with this field zeroed
 *      0x02 BOS, 0x04 EOS            26  number of segments n (u8)
 *   6  granule position (i64)        27  n lacing values, then the body
 *
 * A packet is laced as floor(len / 255) values of 255 and one final value < 255 (0 for a length
 * that is a multiple of 255). A packet that does not fit in the page's 255 lacing values continues
 * on the next page (header type 0x01). A page's granule is the one of the last packet completed on
 * it, or -1 when no packet ends on it.
 *
 * The body is written straight into its final place in one preallocated page buffer, and the
 * header and lacing values are written just in front of it when the page is flushed, so a page is
 * handed to the sink as one contiguous run with no copy and no allocation.
 */
import type { ByteSink } from './Encoder.js';
import { InvalidArgumentError, InvalidStateError, OutOfRangeError } from '../common/index.js';

/** Largest possible page: 27-byte header, 255 lacing values, 255 segments of 255 bytes. */
export const OGG_MAX_PAGE_BYTES = 27 + 255 + 255 * 255;

export const OGG_FLAG_CONTINUED = 0x01;
export const OGG_FLAG_BOS = 0x02;
export const OGG_FLAG_EOS = 0x04;

/** CRC-32 table for the Ogg polynomial 0x04c11db7, MSB first (not reflected). */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

/**
 * Ogg CRC-32 (polynomial 0x04c11db7, initial value 0, no reflection, no final xor) of
 * bytes[start, end), continuing from `crc`. Over a page, the CRC field must read as zero.
 */
export function oggCrc32(bytes: Uint8Array, start: number, end: number, crc = 0): number {
  for (let i = start; i < end; i++) crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ bytes[i]!) & 0xff]!;
  return crc >>> 0;
}

/** Offset of the body in the page buffer: room for the 27-byte header and 255 lacing values. */
const BODY_OFFSET = 27 + 255;

export class OggWriter {
  readonly serial: number;
  readonly #sink: ByteSink;
  /** Header | lacing | body of the page being built; see BODY_OFFSET. */
  readonly #page = new Uint8Array(OGG_MAX_PAGE_BYTES);
  /** Lacing values of the page being built. */
  readonly #lacing = new Uint8Array(255);
  #segments = 0;
  #bodyBytes = 0;
  /** Granule of the last packet completed on the page being built, or -1. */
  #granule = -1;
  #packetsOnPage = 0;
  /** The page being built starts with the rest of a packet from the previous page. */
  #continued = false;
  #sequence = 0;
  #bytesWritten = 0;
  /** Where the last flushed page sits in the page buffer and in the sink, for the EOS patch. */
  #lastStart = -1;
  #lastEnd = -1;
  #lastPosition = -1;
  #closed = false;

  /** @param serial the stream's serial number, 0 .. 2^32 - 1 (random per file, RFC 3533 section 6). */
  constructor(sink: ByteSink, serial: number) {
    if (!Number.isInteger(serial) || serial < 0 || serial > 0xffffffff) {
      throw new OutOfRangeError(`serial: ${serial} is not a u32`);
    }
    this.#sink = sink;
    this.serial = serial;
  }

  /** Pages handed to the sink so far (the next page's sequence number). */
  get pagesWritten(): number {
    return this.#sequence;
  }

  /** Bytes handed to the sink so far. */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /** Packets completed on the page being built (not yet in the sink). */
  get pendingPackets(): number {
    return this.#packetsOnPage;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Adds one packet to the page being built; `granule` is the granule position at the end of this
   * packet (for Opus: pre-skip + 48 kHz samples), or -1 when it has none. A page is flushed
   * automatically only when its 255 lacing values are used up; call flushPage() to cut pages.
   */
  writePacket(data: Uint8Array, offset: number, length: number, granule: number): void {
    if (this.#closed) throw new InvalidStateError('OggWriter: writePacket() after close()');
    if (offset < 0 || length < 0 || offset + length > data.length) {
      throw new OutOfRangeError(`packet ${offset}+${length} outside ${data.length} bytes`);
    }
    if (!Number.isSafeInteger(granule) || granule < -1) {
      throw new InvalidArgumentError(`granule: ${granule} is not a safe integer >= -1`);
    }
    let left = length;
    let src = offset;
    for (;;) {
      if (this.#segments === 255) this.#writePage(0);
      const free = 255 - this.#segments;
      const full = Math.floor(left / 255);
      if (full < free) {
        // The rest fits, with its terminating lacing value (< 255).
        for (let i = 0; i < full; i++) this.#lacing[this.#segments++] = 255;
        this.#lacing[this.#segments++] = left - full * 255;
        this.#copyBody(data, src, left);
        this.#granule = granule;
        this.#packetsOnPage++;
        return;
      }
      // Only `free` full segments fit: fill the page, the packet continues on the next one.
      for (let i = 0; i < free; i++) this.#lacing[this.#segments++] = 255;
      this.#copyBody(data, src, free * 255);
      src += free * 255;
      left -= free * 255;
      this.#writePage(0);
      this.#continued = true;
    }
  }

  /** Hands the page being built to the sink (no-op when it holds nothing). */
  flushPage(): void {
    if (this.#closed) throw new InvalidStateError('OggWriter: flushPage() after close()');
    if (this.#segments > 0) this.#writePage(0);
  }

  /**
   * Ends the stream: the pending page is written with EOS, or, when nothing is pending, the last
   * page already in the sink is re-marked EOS through sink.patch (flag and CRC). Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    if (this.#segments > 0) {
      this.#writePage(OGG_FLAG_EOS);
    } else if (this.#lastStart >= 0) {
      // The last page is still intact in the buffer: nothing was added since it was flushed.
      const page = this.#page;
      const start = this.#lastStart;
      const end = this.#lastEnd;
      page[start + 5] = page[start + 5]! | OGG_FLAG_EOS;
      writeU32(page, start + 22, 0);
      writeU32(page, start + 22, oggCrc32(page, start, end));
      this.#sink.patch(this.#lastPosition, page.subarray(start, start + 27));
    }
    this.#closed = true;
  }

  #copyBody(data: Uint8Array, src: number, n: number): void {
    const page = this.#page;
    let dst = BODY_OFFSET + this.#bodyBytes;
    for (let i = 0; i < n; i++) page[dst++] = data[src + i]!;
    this.#bodyBytes += n;
  }

  #writePage(extraFlags: number): void {
    const page = this.#page;
    const n = this.#segments;
    const start = BODY_OFFSET - n - 27;
    let flags = extraFlags;
    if (this.#continued) flags |= OGG_FLAG_CONTINUED;
    if (this.#sequence === 0) flags |= OGG_FLAG_BOS;
    page[start] = 0x4f; // 'O'
    page[start + 1] = 0x67; // 'g'
    page[start + 2] = 0x67; // 'g'
    page[start + 3] = 0x53; // 'S'
    page[start + 4] = 0; // version
    page[start + 5] = flags;
    writeGranule(page, start + 6, this.#packetsOnPage === 0 ? -1 : this.#granule);
    writeU32(page, start + 14, this.serial);
    writeU32(page, start + 18, this.#sequence);
    writeU32(page, start + 22, 0);
    page[start + 26] = n;
    for (let i = 0; i < n; i++) page[start + 27 + i] = this.#lacing[i]!;
    const end = BODY_OFFSET + this.#bodyBytes;
    writeU32(page, start + 22, oggCrc32(page, start, end));
    this.#sink.append(page, start, end - start);
    this.#lastStart = start;
    this.#lastEnd = end;
    this.#lastPosition = this.#bytesWritten;
    this.#bytesWritten += end - start;
    this.#sequence++;
    this.#segments = 0;
    this.#bodyBytes = 0;
    this.#packetsOnPage = 0;
    this.#granule = -1;
    this.#continued = false;
  }
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

/** int64 LE; -1 is all ones ("no packet ends on this page"). */
function writeGranule(b: Uint8Array, at: number, g: number): void {
  if (g < 0) {
    for (let i = 0; i < 8; i++) b[at + i] = 0xff;
    return;
  }
  writeU32(b, at, g % 0x100000000);
  writeU32(b, at + 4, Math.floor(g / 0x100000000));
}
