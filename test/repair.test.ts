import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  OggWriter,
  createEncoder,
  repairMp3,
  repairOgg,
  repairRecording,
  repairWav,
  type AudioFormat,
  type ChannelCount,
  type Encoder,
  type SampleRate,
} from '../encoders/index.js';
import { ToneGenerator, toneFrames } from '../dsp/index.js';
import { FileSinkSync } from './helpers/FileSinkSync.js';
import { MemorySink } from './helpers/MemorySink.js';
import { decodeFile, probeFile } from './helpers/ffmpeg.js';

const dir = mkdtempSync(join(tmpdir(), 'recgate-repair-'));
let fileNo = 0;

/**
 * Writes `seconds` of 1000 Hz (left) / 1500 Hz (right) through an encoder into a file and, unless
 * `close`, stops there as a killed process would: no close(), so no trailer and no header patch.
 */
function record(format: AudioFormat, seconds: number, close: boolean, sampleRate: SampleRate = 8000, channels: ChannelCount = 1): { path: string; enc: Encoder } {
  const path = join(dir, `rec-${fileNo++}.${format === 'opus' ? 'ogg' : format}`);
  const sink = new FileSinkSync(path);
  try {
    const enc = createEncoder({ format, inputRate: 8000, sampleRate, channels }, sink);
    const frame = new Int16Array(160 * channels);
    const left = new ToneGenerator(1000, 8000);
    const right = new ToneGenerator(1500, 8000);
    for (let i = 0; i < seconds * 50; i++) {
      left.fill(frame, 0, 160, channels);
      if (channels === 2) right.fill(frame, 1, 160, 2);
      enc.write(frame);
    }
    if (close) enc.close();
    return { path, enc };
  } finally {
    sink.close();
  }
}

/** ffmpeg's complaints when decoding the whole file ('' when it has none). */
function ffmpegErrors(path: string): string {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-i', path, '-f', 'null', '-'], { encoding: 'utf8' });
  return `${r.status === 0 ? '' : `exit ${r.status} `}${r.stderr.trim()}`;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code ?? `no code: ${String(err)}`;
  }
  return 'no error';
}

/** Ogg CRC-32 bit by bit (polynomial 0x04c11db7, MSB first, init 0): shares no code with OggWriter. */
function crc32Ogg(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 24;
    for (let k = 0; k < 8; k++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  }
  return crc >>> 0;
}

interface Page {
  offset: number;
  length: number;
  flags: number;
  granule: bigint;
  sequence: number;
  crcOk: boolean;
}

/** Reads whole pages from the start; stops at a page cut short (`complete` false). */
function readPages(file: Uint8Array): { pages: Page[]; complete: boolean } {
  const pages: Page[] = [];
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let pos = 0;
  while (pos + 27 <= file.length) {
    assert.is(String.fromCharCode(...file.subarray(pos, pos + 4)), 'OggS', `capture pattern at ${pos}`);
    const nseg = file[pos + 26]!;
    if (pos + 27 + nseg > file.length) break;
    let body = 0;
    for (let i = 0; i < nseg; i++) body += file[pos + 27 + i]!;
    const end = pos + 27 + nseg + body;
    if (end > file.length) break;
    const copy = new Uint8Array(file.subarray(pos, end));
    copy.fill(0, 22, 26);
    pages.push({
      offset: pos,
      length: end - pos,
      flags: file[pos + 5]!,
      granule: view.getBigInt64(pos + 6, true),
      sequence: view.getUint32(pos + 18, true),
      crcOk: crc32Ogg(copy) === view.getUint32(pos + 22, true),
    });
    pos = end;
  }
  return { pages, complete: pos === file.length };
}

test('wav: a crashed recording (sizes 0) plus half a sample frame is repaired to full length', async () => {
  for (const channels of [1, 2] as ChannelCount[]) {
    const { path, enc } = record('wav', 2, false, 8000, channels);
    assert.is(enc.closed, false);
    const blockAlign = 2 * channels;
    const before = new Uint8Array(readFileSync(path));
    assert.is(new DataView(before.buffer).getUint32(40, true), 0, 'crash left data size 0');
    appendFileSync(path, new Uint8Array(blockAlign / 2).fill(0x7f)); // half a sample frame
    const result = await repairWav(path);
    assert.equal(result, { format: 'wav', bytes: 44 + 16000 * blockAlign, durationMs: 2000, repaired: true });
    const b = new Uint8Array(readFileSync(path));
    const v = new DataView(b.buffer);
    assert.is(b.length, 44 + 16000 * blockAlign, 'the partial frame is cut');
    assert.is(v.getUint32(4, true), b.length - 8, 'RIFF size');
    assert.is(v.getUint32(40, true), b.length - 44, 'data size');
    assert.ok(Buffer.from(b.subarray(44)).equals(Buffer.from(before.subarray(44))), 'audio untouched');
    const probe = await probeFile(path);
    assert.ok(Math.abs(probe.durationMs - 2000) <= 20, `ffprobe ${probe.durationMs} ms`);
    const decoded = await decodeFile(path);
    assert.is(toneFrames(decoded.pcm, 8000, 1000, { channels, channel: 0 }).ratio, 1);
    // A second repair finds nothing to do.
    const again = await repairWav(path);
    assert.equal(again, { ...result, repaired: false });
    assert.ok(Buffer.from(readFileSync(path)).equals(Buffer.from(b)));
  }
});

test('wav: a properly closed file is left alone', async () => {
  const { path, enc } = record('wav', 0.5, true, 16000);
  const before = readFileSync(path);
  const result = await repairWav(path);
  assert.equal(result, { format: 'wav', bytes: enc.bytesWritten, durationMs: enc.durationMs, repaired: false });
  assert.ok(readFileSync(path).equals(before));
});

test('mp3: a crashed recording cut mid-frame ends after the last whole frame and decodes cleanly', async () => {
  const { path } = record('mp3', 2, false);
  const frameBytes = 288; // MPEG-2.5, 8 kHz, 32 kbit/s: 72 * 32000 / 8000
  const infoBytes = 288;
  const crashed = statSync(path).size;
  assert.ok(crashed > infoBytes + 20 * frameBytes, `only ${crashed} bytes on disk`);
  truncateSync(path, crashed - frameBytes / 2); // the crash tore the last frame
  const cut = statSync(path).size;
  const result = await repairMp3(path);
  const frames = Math.floor((cut - infoBytes) / frameBytes);
  assert.is(result.repaired, true);
  assert.is(result.bytes, infoBytes + frames * frameBytes);
  assert.is(statSync(path).size, result.bytes);
  // A player gets frames x 576 less the encoder delay (576) and the decoder delay (529).
  assert.is(result.durationMs, ((frames * 576 - 576 - 529) / 8000) * 1000);
  assert.is(ffmpegErrors(path), '');
  const decoded = await decodeFile(path);
  assert.ok(Math.abs(decoded.durationMs - result.durationMs) <= 20, `decoded ${decoded.durationMs} ms vs ${result.durationMs} ms`);
  const tone = toneFrames(decoded.pcm, 8000, 1000, { skipMs: 100 });
  assert.ok(tone.ratio >= 0.95, `tone in ${tone.toneFrames}/${tone.frames}`);
  // The Info frame now counts the frames that are there.
  const b = new Uint8Array(readFileSync(path));
  const x = 4 + 9; // mono MPEG-2.5 side information
  assert.is(String.fromCharCode(...b.subarray(x, x + 4)), 'Info');
  assert.is(new DataView(b.buffer).getUint32(x + 8), frames);
  assert.is(new DataView(b.buffer).getUint32(x + 12), b.length);
  assert.equal(await repairMp3(path), { ...result, repaired: false });
});

test('mp3: a closed file is left alone; an ID3v2 tag in front is skipped and kept', async () => {
  const { path, enc } = record('mp3', 1, true, 16000, 2);
  const before = readFileSync(path);
  const result = await repairMp3(path);
  assert.equal(result, { format: 'mp3', bytes: before.length, durationMs: enc.durationMs, repaired: false });
  assert.ok(readFileSync(path).equals(before));
  // ID3v2.4 header: 'ID3', version 4.0, flags 0, syncsafe size 20; then 20 bytes of padding.
  const id3 = new Uint8Array(30);
  id3.set([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 20]);
  const tagged = join(dir, 'tagged.mp3');
  writeFileSync(tagged, Buffer.concat([id3, before.subarray(0, before.length - 100)]));
  const r = await repairMp3(tagged);
  assert.is(r.repaired, true);
  const b = readFileSync(tagged);
  assert.ok(b.subarray(0, 30).equals(id3), 'ID3v2 tag kept');
  assert.is((b.length - 30 - 288) % 288, 0, 'whole 288-byte frames (MPEG-2, 16 kHz, 64 kbit/s) after the Info frame');
  assert.is(ffmpegErrors(tagged), '');
});

test('ogg: a crashed recording cut mid-page ends after the last whole page, marked EOS', async () => {
  const { path, enc } = record('opus', 3, false);
  const whole = new Uint8Array(readFileSync(path));
  const before = readPages(whole);
  assert.ok(before.complete, 'pages on disk are whole until the cut');
  const lastPage = before.pages[before.pages.length - 1]!;
  assert.is(lastPage.flags & 0x04, 0, 'a crash leaves no EOS');
  const beforeMs = Number(lastPage.granule - 312n) / 48;
  // What a crash costs: at most the 500 ms page being built.
  assert.ok(enc.durationMs - beforeMs <= 520, `${enc.durationMs - beforeMs} ms were never on disk`);
  truncateSync(path, lastPage.offset + Math.floor(lastPage.length / 2)); // tear the last page

  const result = await repairOgg(path);
  assert.is(result.repaired, true);
  const b = new Uint8Array(readFileSync(path));
  const after = readPages(b);
  assert.ok(after.complete, 'no partial page left');
  assert.is(after.pages.length, before.pages.length - 1);
  after.pages.forEach((p, i) => {
    assert.ok(p.crcOk, `CRC of page ${i}`);
    assert.is(p.sequence, i);
    assert.is((p.flags & 0x04) !== 0, i === after.pages.length - 1, `EOS only on the last page (page ${i})`);
  });
  const endGranule = after.pages[after.pages.length - 1]!.granule;
  assert.is(result.bytes, b.length);
  assert.is(result.durationMs, Number(endGranule - 312n) / 48);
  assert.ok(beforeMs - result.durationMs <= 600, `lost ${beforeMs - result.durationMs} ms`);
  assert.is(ffmpegErrors(path), '');
  const decoded = await decodeFile(path);
  assert.ok(Math.abs(decoded.durationMs - result.durationMs) <= 20, `decoded ${decoded.durationMs} ms vs ${result.durationMs} ms`);
  assert.ok(Math.abs(decoded.durationMs - beforeMs) <= 600);
  const tone = toneFrames(decoded.pcm, decoded.rate, 1000, { skipMs: 100 });
  assert.ok(tone.ratio >= 0.95, `tone in ${tone.toneFrames}/${tone.frames}`);
  const status = spawnSync('opusinfo', [path]).status;
  if (status !== null) assert.is(status, 0, 'opusinfo');
  assert.equal(await repairOgg(path), { ...result, repaired: false });
});

test('ogg: crash on a page boundary -> nothing cut, last page re-marked EOS; closed file left alone', async () => {
  const { path } = record('opus', 1.2, false, 16000, 2);
  const size = statSync(path).size;
  const result = await repairOgg(path);
  assert.is(result.repaired, true);
  assert.is(result.bytes, size);
  const { pages, complete } = readPages(new Uint8Array(readFileSync(path)));
  assert.ok(complete);
  assert.ok(pages.every((p) => p.crcOk));
  assert.is(pages[pages.length - 1]!.flags & 0x04, 0x04);
  assert.is(result.durationMs, (2 * 25 * 960 - 312) / 48, 'two full pages of audio');

  const closed = record('opus', 0.7, true);
  const before = readFileSync(closed.path);
  const r = await repairRecording('opus', closed.path);
  assert.equal(r, { format: 'opus', bytes: before.length, durationMs: closed.enc.durationMs, repaired: false });
  assert.ok(readFileSync(closed.path).equals(before));
});

test('repairRecording dispatches by format', async () => {
  const wav = record('wav', 0.2, false);
  assert.is((await repairRecording('wav', wav.path)).durationMs, 200);
  const mp3 = record('mp3', 0.5, true);
  assert.is((await repairRecording('mp3', mp3.path)).format, 'mp3');
  assert.is(await codeOf(repairRecording('flac' as AudioFormat, wav.path)), 'ERR_INVALID_ARGUMENT');
});

test('malformed files give stable error codes, never a crash', async () => {
  let seed = 12345;
  const garbage = new Uint8Array(5000).map(() => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed & 0xff;
  });
  const file = (name: string, bytes: Uint8Array): string => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));
  const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
  const fmt = (tag: number): number[] => [...ascii('fmt '), ...le32(16), tag, 0, 1, 0, ...le32(8000), ...le32(16000), 2, 0, 16, 0];
  const corruptOgg = new Uint8Array(readFileSync(record('opus', 0.2, true).path));
  corruptOgg[30] = corruptOgg[30]! ^ 0xff; // inside the OpusHead page: its CRC fails
  const vorbisSink = new MemorySink();
  const vorbis = new OggWriter(vorbisSink, 1);
  const id = new Uint8Array([1, ...ascii('vorbis'), 0, 0, 0, 0, 1]);
  vorbis.writePacket(id, 0, id.length, 0);
  vorbis.close();

  const cases: [string, (p: string) => Promise<unknown>, string | null, string][] = [
    ['wav: random bytes', repairWav, file('garbage.wav', garbage), 'ERR_INVALID_ARGUMENT'],
    ['wav: empty file', repairWav, file('empty.wav', new Uint8Array(0)), 'ERR_INVALID_ARGUMENT'],
    ['wav: RIFF but not WAVE', repairWav, file('avi.wav', new Uint8Array([...ascii('RIFF'), ...le32(4), ...ascii('AVI ')])), 'ERR_INVALID_ARGUMENT'],
    ['wav: no data chunk', repairWav, file('nodata.wav', new Uint8Array([...ascii('RIFF'), ...le32(28), ...ascii('WAVE'), ...fmt(1)])), 'ERR_INVALID_ARGUMENT'],
    ['wav: data before fmt', repairWav, file('nofmt.wav', new Uint8Array([...ascii('RIFF'), ...le32(12), ...ascii('WAVE'), ...ascii('data'), ...le32(0)])), 'ERR_INVALID_ARGUMENT'],
    ['wav: float, not PCM', repairWav, file('float.wav', new Uint8Array([...ascii('RIFF'), ...le32(36), ...ascii('WAVE'), ...fmt(3), ...ascii('data'), ...le32(0)])), 'ERR_UNSUPPORTED'],
    ['mp3: random bytes', repairMp3, file('garbage.mp3', garbage), 'ERR_INVALID_ARGUMENT'],
    ['mp3: empty file', repairMp3, file('empty.mp3', new Uint8Array(0)), 'ERR_INVALID_ARGUMENT'],
    ['mp3: a WAV file', repairMp3, record('wav', 0.1, true).path, 'ERR_INVALID_ARGUMENT'],
    ['ogg: random bytes', repairOgg, file('garbage.ogg', garbage), 'ERR_INVALID_ARGUMENT'],
    ['ogg: empty file', repairOgg, file('empty.ogg', new Uint8Array(0)), 'ERR_INVALID_ARGUMENT'],
    ['ogg: first page CRC broken', repairOgg, file('crc.ogg', corruptOgg), 'ERR_INVALID_ARGUMENT'],
    ['ogg: Vorbis, not Opus', repairOgg, file('vorbis.ogg', vorbisSink.bytes()), 'ERR_UNSUPPORTED'],
    ['wav: missing file', repairWav, null, 'ERR_IO'],
    ['mp3: missing file', repairMp3, null, 'ERR_IO'],
    ['ogg: a directory', repairOgg, dir, 'ERR_IO'],
  ];
  for (const [name, fn, path, code] of cases) {
    const p = path ?? join(dir, 'does-not-exist');
    const before = path === null || path === dir ? null : readFileSync(p);
    assert.is(await codeOf(fn(p)), code, name);
    if (before !== null) assert.ok(readFileSync(p).equals(before), `${name}: file untouched`);
  }
});

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test.run();
