/**
 * Crash repair: makes a recording left by a killed process (the encoder never reached close())
 * playable, in place, keeping every whole unit of audio on disk:
 *
 *   WAV   sizes in the header are 0 -> recomputed from the file length (a trailing partial
 *         sample frame is cut off)
 *   MP3   the last frame may be cut short -> the file ends after the last whole frame; the Info
 *         frame's counts (0 until close) are filled in, with end padding = the decoder delay
 *   Ogg   the last page may be cut short -> the file ends after the last page whose CRC holds;
 *         that page is re-marked EOS (flag and CRC)
 *
 * A file that is already complete is left untouched (`repaired: false`). Errors: fs failures are
 * IoError (ERR_IO, errno in `cause`); a file that is not what the function repairs is
 * InvalidArgumentError (ERR_INVALID_ARGUMENT); a valid container we do not write (Ogg Vorbis,
 * chained Ogg, WAV over 4 GiB) is UnsupportedError (ERR_UNSUPPORTED).
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { AudioFormat } from './Encoder.js';
import { InvalidArgumentError, IoError, UnsupportedError, errnoCode } from '../common/index.js';
import {
  findMp3InfoTag,
  lameCrc16,
  newMp3FrameHeader,
  patchMp3InfoTag,
  readLameDelays,
  readMp3FrameHeader,
} from './Mp3Encoder.js';
import { OGG_FLAG_BOS, OGG_FLAG_EOS, oggCrc32 } from './OggWriter.js';

export interface RepairResult {
  format: AudioFormat;
  /** File size after repair. */
  bytes: number;
  /** Playable audio after repair, in ms. */
  durationMs: number;
  /** True when the file was changed (truncated or a header patched). */
  repaired: boolean;
}

/** Repairs a recording of `format` at `path` (see repairWav, repairMp3, repairOgg). */
export function repairRecording(format: AudioFormat, path: string): Promise<RepairResult> {
  switch (format) {
    case 'wav':
      return repairWav(path);
    case 'mp3':
      return repairMp3(path);
    case 'opus':
      return repairOgg(path);
    default:
      return Promise.reject(new InvalidArgumentError(`format: expected wav, mp3 or opus, got ${String(format)}`));
  }
}

/** Samples an MP3 decoder outputs late (528 + 1, the LAME tag convention ffmpeg follows). */
const MP3_DECODER_DELAY = 529;

/** Bytes of the WAV file start read to find the fmt and data chunks (room for LIST chunks). */
const WAV_HEAD_BYTES = 64 * 1024;

/**
 * Validates RIFF/WAVE with a PCM fmt chunk and a data chunk, then sets the data size to the whole
 * sample frames on disk and the RIFF size to match, cutting a trailing partial frame.
 */
export async function repairWav(path: string): Promise<RepairResult> {
  return withFile(path, async (fh, size) => {
    const head = new Uint8Array(Math.min(size, WAV_HEAD_BYTES));
    await io(path, 'read', fh.read(head, 0, head.length, 0));
    if (head.length < 12 || fourcc(head, 0) !== 'RIFF' || fourcc(head, 8) !== 'WAVE') {
      throw new InvalidArgumentError(`${path}: not a RIFF/WAVE file`);
    }
    let pos = 12;
    let blockAlign = 0;
    let rate = 0;
    let dataStart = -1;
    let declared = 0;
    while (pos + 8 <= head.length) {
      const id = fourcc(head, pos);
      const len = u32le(head, pos + 4);
      if (id === 'fmt ') {
        if (len < 16 || pos + 8 + 16 > head.length) throw new InvalidArgumentError(`${path}: fmt chunk of ${len} bytes, need 16`);
        const tag = u16le(head, pos + 8);
        if (tag !== 1 && tag !== 0xfffe) throw new UnsupportedError(`${path}: WAV format tag ${tag} is not PCM`);
        const channels = u16le(head, pos + 10);
        rate = u32le(head, pos + 12);
        blockAlign = u16le(head, pos + 20);
        if (channels === 0 || rate === 0 || blockAlign === 0) {
          throw new InvalidArgumentError(`${path}: fmt chunk has channels ${channels}, rate ${rate}, block align ${blockAlign}`);
        }
      } else if (id === 'data') {
        dataStart = pos + 8;
        declared = len;
        break;
      }
      pos += 8 + len + (len & 1);
    }
    if (dataStart < 0) throw new InvalidArgumentError(`${path}: no data chunk in the first ${head.length} bytes`);
    if (blockAlign === 0) throw new InvalidArgumentError(`${path}: no fmt chunk before the data chunk`);

    const riffDeclared = u32le(head, 4);
    const complete =
      declared > 0 &&
      declared % blockAlign === 0 &&
      dataStart + declared <= size &&
      riffDeclared >= dataStart - 8 + declared &&
      riffDeclared <= size - 8;
    if (complete) {
      return { format: 'wav', bytes: size, durationMs: (declared / blockAlign / rate) * 1000, repaired: false };
    }
    const available = size - dataStart;
    const data = available - (available % blockAlign);
    const riff = dataStart - 8 + data;
    if (riff > 0xffffffff) throw new UnsupportedError(`${path}: ${data} data bytes do not fit RIFF's 32-bit sizes`);
    let repaired = false;
    if (dataStart + data < size) {
      await io(path, 'truncate', fh.truncate(dataStart + data));
      repaired = true;
    }
    if (declared !== data || riffDeclared !== riff) {
      const b = new Uint8Array(4);
      putU32le(b, 0, riff);
      await io(path, 'write', fh.write(b, 0, 4, 4));
      putU32le(b, 0, data);
      await io(path, 'write', fh.write(b, 0, 4, dataStart - 4));
      repaired = true;
    }
    return { format: 'wav', bytes: dataStart + data, durationMs: (data / blockAlign / rate) * 1000, repaired };
  });
}

/**
 * Walks the MPEG layer III frames from the start (after an ID3v2 tag, if any) and cuts the file
 * after the last whole frame; fills in a LAME Info frame's counts when it has one.
 */
export async function repairMp3(path: string): Promise<RepairResult> {
  return withFile(path, async (fh, size) => {
    const reader = new ChunkReader(fh, size, path);
    let pos = 0;
    let at = await reader.view(0, 10);
    if (at >= 0 && fourcc(reader.buf, at).startsWith('ID3')) {
      const b = reader.buf;
      // ID3v2 size: 4 bytes of 7 bits (syncsafe), excluding the 10-byte header and the footer.
      const tagSize = ((b[at + 6]! & 0x7f) << 21) | ((b[at + 7]! & 0x7f) << 14) | ((b[at + 8]! & 0x7f) << 7) | (b[at + 9]! & 0x7f);
      pos = 10 + tagSize + (b[at + 5]! & 0x10 ? 10 : 0);
    }
    const first = newMp3FrameHeader();
    at = await reader.view(pos, 4);
    if (at < 0 || !readMp3FrameHeader(reader.buf, at, first)) {
      throw new InvalidArgumentError(`${path}: no MPEG audio layer III frame at byte ${pos}`);
    }
    const audioStart = pos;
    const h = newMp3FrameHeader();
    let frames = 0;
    let musicCrc = 0;
    let firstFrame: Uint8Array | null = null;
    for (;;) {
      at = await reader.view(pos, 4);
      if (at < 0 || !readMp3FrameHeader(reader.buf, at, h)) break;
      if (h.sampleRate !== first.sampleRate || h.version !== first.version) break;
      at = await reader.view(pos, h.frameBytes);
      if (at < 0) break; // the frame cut short by the crash
      if (frames === 0) firstFrame = reader.buf.slice(at, at + h.frameBytes);
      else musicCrc = lameCrc16(reader.buf, at, at + h.frameBytes, musicCrc);
      frames++;
      pos += h.frameBytes;
    }
    const end = pos;
    let repaired = false;
    // Keep a 128-byte ID3v1 tag right after the last frame; cut anything else.
    at = await reader.view(end, 3);
    const id3v1 = size - end === 128 && at >= 0 && fourcc(reader.buf, at).startsWith('TAG');
    if (!id3v1 && end < size) {
      await io(path, 'truncate', fh.truncate(end));
      repaired = true;
    }
    const finalSize = id3v1 ? size : end;

    const layout = firstFrame === null ? null : findMp3InfoTag(firstFrame, first);
    if (firstFrame === null || layout === null) {
      return { format: 'mp3', bytes: finalSize, durationMs: ((frames * first.samplesPerFrame) / first.sampleRate) * 1000, repaired };
    }
    const audioFrames = frames - 1;
    const bytes = end - audioStart;
    const storedFrames = u32be(firstFrame, layout.framesAt);
    const storedBytes = u32be(firstFrame, layout.bytesAt);
    const { delay, padding: storedPadding } = readLameDelays(firstFrame, layout);
    let padding = storedPadding;
    if (storedFrames !== audioFrames || storedBytes !== bytes) {
      // The real end is unknown: keep all the decoder can give. Its last 528 + 1 samples never
      // come out (no later frame flushes them), so that is the padding.
      padding = MP3_DECODER_DELAY;
      patchMp3InfoTag(firstFrame, layout, { frames: audioFrames, bytes, delay, padding, musicCrc });
      await io(path, 'write', fh.write(firstFrame, 0, firstFrame.length, audioStart));
      repaired = true;
    }
    const samples = Math.max(0, audioFrames * first.samplesPerFrame - delay - padding);
    return { format: 'mp3', bytes: finalSize, durationMs: (samples / first.sampleRate) * 1000, repaired };
  });
}

/**
 * Walks the Ogg pages of a single-stream Ogg Opus file, cuts after the last whole page whose CRC
 * holds (and that ends a packet), and marks that page EOS.
 */
export async function repairOgg(path: string): Promise<RepairResult> {
  return withFile(path, async (fh, size) => {
    const reader = new ChunkReader(fh, size, path);
    const zero4 = new Uint8Array(4);
    let pos = 0;
    let pages = 0;
    let serial = -1;
    let preSkip = 0;
    // The last verified page that ends a packet (granule != -1): where the file will end.
    let keepStart = -1;
    let keepEnd = -1;
    let keepGranule = 0;
    let keepFlags = 0;
    for (;;) {
      let at = await reader.view(pos, 27);
      if (at < 0) break;
      let b = reader.buf;
      if (fourcc(b, at) !== 'OggS' || b[at + 4] !== 0) break;
      const nseg = b[at + 26]!;
      at = await reader.view(pos, 27 + nseg);
      if (at < 0) break;
      b = reader.buf;
      let body = 0;
      for (let i = 0; i < nseg; i++) body += b[at + 27 + i]!;
      const total = 27 + nseg + body;
      at = await reader.view(pos, total);
      if (at < 0) break; // the page cut short by the crash
      b = reader.buf;
      const crc = oggCrc32(b, at + 26, at + total, oggCrc32(zero4, 0, 4, oggCrc32(b, at, at + 22)));
      if (crc !== u32le(b, at + 22)) break;
      const flags = b[at + 5]!;
      const pageSerial = u32le(b, at + 14);
      if (pages === 0) {
        const opusHead = 27 + nseg + 19 <= total && ascii8(b, at + 27 + nseg) === 'OpusHead';
        if (!(flags & OGG_FLAG_BOS) || !opusHead) throw new UnsupportedError(`${path}: not an Ogg Opus stream (no OpusHead)`);
        serial = pageSerial;
        preSkip = u16le(b, at + 27 + nseg + 10);
      } else if (pageSerial !== serial) {
        throw new UnsupportedError(`${path}: a second Ogg stream (serial ${pageSerial}) follows; only single-stream files are repaired`);
      }
      pages++;
      const lo = u32le(b, at + 6);
      const hi = u32le(b, at + 10);
      if (!(lo === 0xffffffff && hi === 0xffffffff)) {
        keepStart = pos;
        keepEnd = pos + total;
        keepGranule = hi * 0x100000000 + lo;
        keepFlags = flags;
      }
      pos += total;
      if (flags & OGG_FLAG_EOS) break;
    }
    if (pages === 0) throw new InvalidArgumentError(`${path}: no valid Ogg page at byte 0`);
    if (pages < 2 || keepStart < 0) throw new InvalidArgumentError(`${path}: no OpusTags page: nothing to keep`);

    let repaired = false;
    if (keepEnd < size) {
      await io(path, 'truncate', fh.truncate(keepEnd));
      repaired = true;
    }
    if (!(keepFlags & OGG_FLAG_EOS)) {
      const page = new Uint8Array(keepEnd - keepStart);
      await io(path, 'read', fh.read(page, 0, page.length, keepStart));
      page[5] = keepFlags | OGG_FLAG_EOS;
      putU32le(page, 22, 0);
      putU32le(page, 22, oggCrc32(page, 0, page.length));
      await io(path, 'write', fh.write(page, 0, 27, keepStart));
      repaired = true;
    }
    const samples48k = Math.max(0, keepGranule - preSkip);
    return { format: 'opus', bytes: keepEnd, durationMs: samples48k / 48, repaired };
  });
}

/** Reads a file in 1 MiB windows: every page or frame is one view, whatever its size. */
class ChunkReader {
  buf = new Uint8Array(1 << 20);
  #start = 0;
  #length = 0;
  readonly #fh: FileHandle;
  readonly #size: number;
  readonly #path: string;

  constructor(fh: FileHandle, size: number, path: string) {
    this.#fh = fh;
    this.#size = size;
    this.#path = path;
  }

  /** Makes bytes [pos, pos + n) readable at the returned offset in `buf`; -1 past the end of file. */
  async view(pos: number, n: number): Promise<number> {
    if (pos + n > this.#size) return -1;
    if (pos >= this.#start && pos + n <= this.#start + this.#length) return pos - this.#start;
    if (n > this.buf.length) this.buf = new Uint8Array(n);
    const want = Math.min(this.buf.length, this.#size - pos);
    const { bytesRead } = await io(this.#path, 'read', this.#fh.read(this.buf, 0, want, pos));
    this.#start = pos;
    this.#length = bytesRead;
    return bytesRead >= n ? 0 : -1;
  }
}

async function withFile<T>(path: string, body: (fh: FileHandle, size: number) => Promise<T>): Promise<T> {
  const fh = await io(path, 'open', open(path, 'r+'));
  try {
    const { size } = await io(path, 'stat', fh.stat());
    return await body(fh, size);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Turns an fs rejection into IoError naming the file and operation, errno in `cause`. */
async function io<T>(path: string, op: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw new IoError(`${path}: ${op} failed (${errnoCode(err) ?? String(err)})`, err);
  }
}

function fourcc(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at] ?? 0, b[at + 1] ?? 0, b[at + 2] ?? 0, b[at + 3] ?? 0);
}

function ascii8(b: Uint8Array, at: number): string {
  return fourcc(b, at) + fourcc(b, at + 4);
}

function u16le(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}

function u32le(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function u32be(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function putU32le(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}
