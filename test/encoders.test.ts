import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  OggWriter,
  createEncoder,
  mp3BitratesKbps,
  validateEncoderOptions,
  type AudioFormat,
  type ChannelCount,
  type Encoder,
  type EncoderOptions,
  type SampleRate,
} from '../encoders/index.js';
import { ToneGenerator, toneFrames } from '../dsp/index.js';
import { FileSinkSync } from './helpers/FileSinkSync.js';
import { MemorySink } from './helpers/MemorySink.js';
import { decodeFile, probeFile } from './helpers/ffmpeg.js';

const dir = mkdtempSync(join(tmpdir(), 'recgate-encoders-'));
const LEFT_HZ = 1000;
const RIGHT_HZ = 1500;
const INPUT_RATE = 8000;

/** Feeds `seconds` of 1000 Hz (mono) or 1000 Hz left + 1500 Hz right in 20 ms frames. */
function feedTone(enc: Encoder, seconds: number): number {
  const ch = enc.channels;
  const perFrame = enc.inputRate / 50;
  const frame = new Int16Array(perFrame * ch);
  const left = new ToneGenerator(LEFT_HZ, enc.inputRate);
  const right = new ToneGenerator(RIGHT_HZ, enc.inputRate);
  const frames = Math.round(seconds * 50);
  for (let i = 0; i < frames; i++) {
    if (ch === 1) left.fill(frame, 0, perFrame);
    else {
      left.fill(frame, 0, perFrame, 2);
      right.fill(frame, 1, perFrame, 2);
    }
    enc.write(frame);
  }
  return frames * perFrame;
}

function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code ?? `no code: ${String(err)}`;
  }
  return 'no error';
}

// ---------------------------------------------------------------------------------------------
// Independent readers: they share no code with the encoders.

/** Ogg CRC-32 bit by bit: polynomial 0x04c11db7, MSB first, init 0, no final xor. */
function crc32Ogg(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 24;
    for (let k = 0; k < 8; k++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  }
  return crc >>> 0;
}

interface OggPage {
  offset: number;
  flags: number;
  granule: bigint;
  serial: number;
  sequence: number;
  lacing: number[];
  body: Uint8Array;
  crcOk: boolean;
  /** Packets that end on this page (lacing values < 255). */
  packetsEnded: number;
}

function readOggPages(file: Uint8Array): OggPage[] {
  const pages: OggPage[] = [];
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let pos = 0;
  while (pos < file.length) {
    assert.is(String.fromCharCode(...file.subarray(pos, pos + 4)), 'OggS', `capture pattern at ${pos}`);
    assert.is(file[pos + 4], 0, 'stream structure version');
    const nseg = file[pos + 26]!;
    const lacing = Array.from(file.subarray(pos + 27, pos + 27 + nseg));
    const bodyLen = lacing.reduce((a, b) => a + b, 0);
    const end = pos + 27 + nseg + bodyLen;
    assert.ok(end <= file.length, `page at ${pos} runs past the end`);
    const copy = new Uint8Array(file.subarray(pos, end)); // a copy (Buffer#slice would be a view)
    copy.fill(0, 22, 26);
    pages.push({
      offset: pos,
      flags: file[pos + 5]!,
      granule: view.getBigInt64(pos + 6, true),
      serial: view.getUint32(pos + 14, true),
      sequence: view.getUint32(pos + 18, true),
      lacing,
      body: file.subarray(pos + 27 + nseg, end),
      crcOk: crc32Ogg(copy) === view.getUint32(pos + 22, true),
      packetsEnded: lacing.filter((v) => v < 255).length,
    });
    pos = end;
  }
  return pages;
}

/** Asserts the Ogg Opus structure of RFC 7845 and returns the pages. */
function checkOggOpus(file: Uint8Array, enc: Encoder): OggPage[] {
  const pages = readOggPages(file);
  assert.ok(pages.length >= 3, 'OpusHead, OpusTags and audio pages');
  const serial = pages[0]!.serial;
  pages.forEach((p, i) => {
    assert.ok(p.crcOk, `CRC of page ${i}`);
    assert.is(p.serial, serial, `serial of page ${i}`);
    assert.is(p.sequence, i, 'page sequence numbers count up from 0');
    assert.is((p.flags & 0x02) !== 0, i === 0, `BOS only on the first page (page ${i})`);
    assert.is((p.flags & 0x04) !== 0, i === pages.length - 1, `EOS only on the last page (page ${i})`);
    assert.is(p.flags & 0x01, 0, 'no packet continues across pages');
  });
  // OpusHead alone on page 0 (RFC 7845 section 5.1).
  const head = pages[0]!.body;
  const hv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  assert.is(head.length, 19);
  assert.is(String.fromCharCode(...head.subarray(0, 8)), 'OpusHead');
  assert.is(head[8], 1, 'version');
  assert.is(head[9], enc.channels, 'channel count');
  assert.is(hv.getUint16(10, true), 312, 'pre-skip');
  assert.is(hv.getUint32(12, true), enc.inputRate, 'input sample rate');
  assert.is(hv.getInt16(16, true), 0, 'output gain');
  assert.is(head[18], 0, 'mapping family');
  assert.is(pages[0]!.granule, 0n);
  assert.equal(pages[0]!.lacing, [19]);
  // OpusTags alone on page 1 (section 5.2).
  const tags = pages[1]!.body;
  const tv = new DataView(tags.buffer, tags.byteOffset, tags.byteLength);
  assert.is(String.fromCharCode(...tags.subarray(0, 8)), 'OpusTags');
  const vendorLen = tv.getUint32(8, true);
  assert.ok(vendorLen > 0);
  const count = tv.getUint32(12 + vendorLen, true);
  assert.is(count, 1);
  const commentLen = tv.getUint32(16 + vendorLen, true);
  assert.is(String.fromCharCode(...tags.subarray(20 + vendorLen, 20 + vendorLen + commentLen)), 'ENCODER=recgate');
  assert.is(pages[1]!.granule, 0n);
  assert.is(pages[1]!.packetsEnded, 1);
  // Audio: 25 packets of 20 ms (500 ms) per page except the last; granules grow by 24000.
  const audio = pages.slice(2);
  let packets = 0;
  audio.forEach((p, i) => {
    const last = i === audio.length - 1;
    if (!last) assert.is(p.packetsEnded, 25, `page ${i + 2} holds 500 ms`);
    else assert.ok(p.packetsEnded >= 1 && p.packetsEnded <= 25);
    packets += p.packetsEnded;
    if (!last) assert.is(p.granule, BigInt(packets * 960), `granule of page ${i + 2}`);
    const prev = i === 0 ? 0n : audio[i - 1]!.granule;
    assert.ok(p.granule > prev, 'granules increase');
  });
  const endGranule = 312 + (enc.samplesWritten * 48000) / enc.sampleRate;
  assert.is(audio[audio.length - 1]!.granule, BigInt(endGranule), 'end granule = pre-skip + real samples');
  assert.ok(packets * 960 >= endGranule && (packets - 1) * 960 < endGranule, 'packets cover the end granule, no more');
  return pages;
}

function opusinfoStatus(path: string): number | 'missing' {
  const r = spawnSync('opusinfo', [path], { encoding: 'utf8' });
  if (r.error && (r.error as { code?: string }).code === 'ENOENT') return 'missing';
  return r.status ?? -1;
}

interface Mp3Header {
  version: number;
  sampleRate: number;
  kbps: number;
  mono: boolean;
  frameBytes: number;
}

function readMp3Header(b: Uint8Array, at: number): Mp3Header {
  assert.is(b[at], 0xff, `sync at ${at}`);
  assert.is(b[at + 1]! & 0xe6, 0xe2, `sync + layer III at ${at}`);
  const v = (b[at + 1]! >> 3) & 3;
  const version = v === 3 ? 1 : v === 2 ? 2 : 2.5;
  const rates = version === 1 ? [44100, 48000, 32000] : version === 2 ? [22050, 24000, 16000] : [11025, 12000, 8000];
  const table = version === 1 ? [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320] : [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
  const sampleRate = rates[(b[at + 2]! >> 2) & 3]!;
  const kbps = table[b[at + 2]! >> 4]!;
  const padding = (b[at + 2]! >> 1) & 1;
  return {
    version,
    sampleRate,
    kbps,
    mono: b[at + 3]! >> 6 === 3,
    frameBytes: Math.floor(((version === 1 ? 144000 : 72000) * kbps) / sampleRate) + padding,
  };
}

/** CRC-16/ARC bit by bit (polynomial 0x8005 reflected), the LAME tag's CRC. */
function crc16Arc(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

// ---------------------------------------------------------------------------------------------

const FORMATS: readonly AudioFormat[] = ['wav', 'mp3', 'opus'];
const RATES: readonly SampleRate[] = [8000, 16000, 48000];
const CODEC: Record<AudioFormat, string> = { wav: 'pcm_s16le', mp3: 'mp3', opus: 'opus' };

interface ToneRun {
  enc: Encoder;
  path: string;
  inputFrames: number;
  fileBytes: number;
  probe: Awaited<ReturnType<typeof probeFile>>;
  decoded: Awaited<ReturnType<typeof decodeFile>>;
}

/** Encodes 2 s of tone to a file (synchronously), then probes and decodes it with ffmpeg. */
async function toneRun(format: AudioFormat, sampleRate: SampleRate, channels: ChannelCount): Promise<ToneRun> {
  const path = join(dir, `tone-${sampleRate}-${channels}.${format}`);
  const sink = new FileSinkSync(path);
  let enc: Encoder;
  let inputFrames: number;
  try {
    enc = createEncoder({ format, inputRate: INPUT_RATE, sampleRate, channels }, sink);
    inputFrames = feedTone(enc, 2);
    enc.close();
  } finally {
    sink.close();
  }
  const fileBytes = statSync(path).size;
  const [probe, decoded] = await Promise.all([probeFile(path), decodeFile(path)]);
  return { enc, path, inputFrames, fileBytes, probe, decoded };
}

/**
 * All 18 files are encoded up front and their ffmpeg runs overlap (ffmpeg start-up dominates);
 * each test then checks its own. The catch() only marks the promise handled until its test.
 */
const toneRuns = new Map<string, Promise<ToneRun>>();
test.before(() => {
  for (const format of FORMATS) {
    for (const sampleRate of RATES) {
      for (const channels of [1, 2] as ChannelCount[]) {
        const run = toneRun(format, sampleRate, channels);
        run.catch(() => undefined);
        toneRuns.set(`${format}/${sampleRate}/${channels}`, run);
      }
    }
  }
});

for (const format of FORMATS) {
  for (const sampleRate of RATES) {
    for (const channels of [1, 2] as ChannelCount[]) {
      test(`${format} ${sampleRate} Hz ${channels === 1 ? 'mono' : 'stereo'} from 8 kHz: ffmpeg hears the tones, length right`, async () => {
        const { enc, path, inputFrames, fileBytes, probe, decoded } = await toneRuns.get(`${format}/${sampleRate}/${channels}`)!;
        assert.is(enc.bytesWritten, fileBytes, 'bytesWritten = file size');
        // Same-rate output is the input; resampled output adds the filter delay (< 3 ms).
        const inputMs = (inputFrames / INPUT_RATE) * 1000;
        assert.ok(enc.durationMs >= inputMs && enc.durationMs - inputMs < 3, `durationMs ${enc.durationMs}`);
        assert.is(enc.durationMs, (enc.samplesWritten / sampleRate) * 1000);

        assert.is(probe.codec, CODEC[format]);
        // Opus always decodes at 48 kHz; the coding rate is in OpusHead (checked below).
        assert.is(probe.rate, format === 'opus' ? 48000 : sampleRate);
        assert.is(probe.channels, channels);
        // ffprobe's container duration: exact for WAV; for Ogg it counts the 6.5 ms pre-skip;
        // for MP3 it is frames x 1152 or 576, codec delay and padding included (so not checked).
        if (format !== 'mp3') assert.ok(Math.abs(probe.durationMs - enc.durationMs) <= 20, `ffprobe ${probe.durationMs} ms`);

        // What a player plays: delay and padding trimmed (LAME tag, Opus pre-skip + end granule).
        assert.ok(Math.abs(decoded.durationMs - enc.durationMs) <= 20, `decoded ${decoded.durationMs} ms vs ${enc.durationMs} ms`);
        const opts = { channels, skipMs: 100 };
        const left = toneFrames(decoded.pcm, decoded.rate, LEFT_HZ, { ...opts, channel: 0 });
        assert.ok(left.ratio >= 0.95, `1000 Hz in ${left.toneFrames}/${left.frames} frames`);
        if (channels === 2) {
          const right = toneFrames(decoded.pcm, decoded.rate, RIGHT_HZ, { ...opts, channel: 1 });
          assert.ok(right.ratio >= 0.95, `1500 Hz right in ${right.toneFrames}/${right.frames} frames`);
          // Not even 5% of a frame's energy crosses over.
          const leakL = toneFrames(decoded.pcm, decoded.rate, RIGHT_HZ, { ...opts, channel: 0, minFraction: 0.05 });
          const leakR = toneFrames(decoded.pcm, decoded.rate, LEFT_HZ, { ...opts, channel: 1, minFraction: 0.05 });
          assert.is(leakL.toneFrames, 0, '1500 Hz leaks into the left channel');
          assert.is(leakR.toneFrames, 0, '1000 Hz leaks into the right channel');
        }
        if (format === 'opus') {
          checkOggOpus(new Uint8Array(readFileSync(path)), enc);
          const status = opusinfoStatus(path);
          if (status !== 'missing') assert.is(status, 0, 'opusinfo exit status');
        }
      });
    }
  }
}

test('wav: every header field read back; 8 kHz in = 8 kHz out bit-exactly', () => {
  for (const [sampleRate, channels] of [
    [8000, 1],
    [48000, 2],
  ] as const) {
    const sink = new MemorySink();
    const enc = createEncoder({ format: 'wav', inputRate: 8000, sampleRate, channels }, sink);
    const input = new Int16Array(8000 * channels);
    new ToneGenerator(LEFT_HZ, 8000).fill(input, 0, 8000, channels);
    if (channels === 2) new ToneGenerator(RIGHT_HZ, 8000).fill(input, 1, 8000, 2);
    enc.write(input);
    enc.close();
    const b = sink.bytes();
    const v = new DataView(b.buffer);
    const text = (at: number): string => String.fromCharCode(...b.subarray(at, at + 4));
    const dataBytes = b.length - 44;
    assert.is(text(0), 'RIFF');
    assert.is(v.getUint32(4, true), b.length - 8, 'RIFF size');
    assert.is(text(8), 'WAVE');
    assert.is(text(12), 'fmt ');
    assert.is(v.getUint32(16, true), 16, 'fmt size');
    assert.is(v.getUint16(20, true), 1, 'PCM');
    assert.is(v.getUint16(22, true), channels);
    assert.is(v.getUint32(24, true), sampleRate);
    assert.is(v.getUint32(28, true), sampleRate * 2 * channels, 'byte rate');
    assert.is(v.getUint16(32, true), 2 * channels, 'block align');
    assert.is(v.getUint16(34, true), 16, 'bits per sample');
    assert.is(text(36), 'data');
    assert.is(v.getUint32(40, true), dataBytes, 'data size');
    assert.is(dataBytes, enc.samplesWritten * 2 * channels);
    assert.is(enc.bytesWritten, b.length);
    if (sampleRate === 8000) {
      assert.is(enc.samplesWritten, 8000);
      for (let i = 0; i < input.length; i++) {
        if (v.getInt16(44 + 2 * i, true) !== input[i]) assert.unreachable(`sample ${i} differs`);
      }
    }
    assert.is(sink.patches, 2, 'two size patches on close');
  }
});

test('opus: a stream ending on a page boundary gets EOS by patching the last page', () => {
  const sink = new MemorySink();
  const enc = createEncoder({ format: 'opus', inputRate: 8000, sampleRate: 8000, channels: 1 }, sink);
  // 49 packets of audio + 1 packet of padding for the pre-skip = exactly 2 full pages.
  feedTone(enc, 0.98);
  enc.close();
  const pages = checkOggOpus(sink.bytes(), enc);
  assert.is(pages.length, 4);
  assert.is(sink.patches, 1, 'EOS set on the already written page');
});

test('opus: closing without audio still gives a valid stream with zero duration', () => {
  const sink = new MemorySink();
  const enc = createEncoder({ format: 'opus', inputRate: 16000, sampleRate: 16000, channels: 2 }, sink);
  enc.close();
  const pages = checkOggOpus(sink.bytes(), enc);
  assert.is(pages[2]!.granule, 312n);
  assert.is(enc.durationMs, 0);
});

test('opus: bitrateKbps reaches libopus (audio bytes scale with it); complexity 0 and 10 both encode', () => {
  const audioBytes = (kbps: number, complexity: number): number => {
    const sink = new MemorySink();
    const enc = createEncoder({ format: 'opus', inputRate: 16000, sampleRate: 16000, channels: 1, bitrateKbps: kbps, complexity }, sink);
    feedTone(enc, 2);
    enc.close();
    const pages = readOggPages(sink.bytes());
    return pages.slice(2).reduce((n, p) => n + p.body.length, 0);
  };
  const low = audioBytes(16, 5);
  const high = audioBytes(64, 5);
  // 2 s at 16 kbit/s is 4000 bytes, at 64 kbit/s 16000 (CBR-like for a steady tone, VBR allows slack).
  assert.ok(low > 2000 && low < 6000, `16 kbit/s gave ${low} bytes`);
  assert.ok(high > 3 * low, `64 kbit/s gave ${high} bytes`);
  assert.ok(audioBytes(24, 0) > 0 && audioBytes(24, 10) > 0);
});

test('OggWriter: lacing of 0, 255 and 70000-byte packets, continued pages, granule -1, CRCs', () => {
  const sink = new MemorySink();
  const w = new OggWriter(sink, 0x12345678);
  const big = new Uint8Array(70000).map((_, i) => i & 0xff);
  w.writePacket(new Uint8Array(0), 0, 0, 0);
  w.writePacket(big, 0, 255, 1);
  w.flushPage();
  w.writePacket(big, 0, big.length, 2); // needs 275 lacing values: spans two pages
  w.close();
  w.close();
  const pages = readOggPages(sink.bytes());
  assert.is(pages.length, 3);
  assert.ok(pages.every((p) => p.crcOk && p.serial === 0x12345678));
  assert.equal(pages[0]!.lacing, [0, 255, 0]);
  assert.is(pages[0]!.granule, 1n);
  assert.is(pages[0]!.flags, 0x02);
  assert.is(pages[1]!.lacing.length, 255);
  assert.ok(pages[1]!.lacing.every((v) => v === 255));
  assert.is(pages[1]!.granule, -1n, 'no packet ends on the page');
  assert.is(pages[1]!.flags, 0x00);
  assert.is(pages[2]!.flags, 0x01 | 0x04, 'continued + EOS');
  assert.equal(pages[2]!.lacing, [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 70000 - 274 * 255]);
  assert.is(pages[2]!.granule, 2n);
  const joined = new Uint8Array(70000);
  joined.set(pages[1]!.body, 0);
  joined.set(pages[2]!.body, pages[1]!.body.length);
  assert.ok(Buffer.from(joined).equals(Buffer.from(big)), 'the packet reassembles');
  assert.is(errorCode(() => w.writePacket(big, 0, 1, 3)), 'ERR_INVALID_STATE');
});

test('mp3: every accepted bit rate keeps the rate and bit rate in lamejs; Info tag read back', () => {
  for (const sampleRate of RATES) {
    for (const channels of [1, 2] as ChannelCount[]) {
      for (const kbps of mp3BitratesKbps(sampleRate, channels)) {
        const sink = new MemorySink();
        const enc = createEncoder({ format: 'mp3', inputRate: sampleRate, sampleRate, channels, bitrateKbps: kbps }, sink);
        const frames = feedTone(enc, 0.1);
        enc.close();
        const b = sink.bytes();
        const label = `${sampleRate} Hz x${channels} ${kbps} kbit/s`;
        const info = readMp3Header(b, 0);
        const audio = readMp3Header(b, info.frameBytes);
        assert.is(audio.sampleRate, sampleRate, label);
        assert.is(audio.kbps, kbps, label);
        assert.is(audio.mono, channels === 1, label);
        assert.is(info.sampleRate, sampleRate, label);
        // Every frame has the same header: walk them to the end of the file.
        let pos = info.frameBytes;
        let count = 0;
        while (pos < b.length) {
          const h = readMp3Header(b, pos);
          assert.is(h.frameBytes, audio.frameBytes, label);
          pos += h.frameBytes;
          count++;
        }
        assert.is(pos, b.length, `${label}: whole frames only`);
        // Xing/Info: after the side information (MPEG-1: 17/32 bytes, MPEG-2/2.5: 9/17).
        const side = info.version === 1 ? (info.mono ? 17 : 32) : info.mono ? 9 : 17;
        const x = 4 + side;
        const v = new DataView(b.buffer);
        assert.is(String.fromCharCode(...b.subarray(x, x + 4)), 'Info', label);
        assert.is(v.getUint32(x + 4) & 3, 3, 'frames and bytes present');
        assert.is(v.getUint32(x + 8), count, `${label}: frame count`);
        assert.is(v.getUint32(x + 12), b.length, `${label}: byte count`);
        const lame = x + 16;
        assert.is(String.fromCharCode(...b.subarray(lame, lame + 4)), 'LAME');
        const delays = (b[lame + 21]! << 16) | (b[lame + 22]! << 8) | b[lame + 23]!;
        const spf = info.version === 1 ? 1152 : 576;
        assert.is(delays >> 12, 576, 'encoder delay');
        assert.is(delays & 0xfff, count * spf - 576 - frames, `${label}: end padding`);
        assert.is(v.getUint16(lame + 34), crc16Arc(b.subarray(0, lame + 34)), 'LAME tag CRC');
        assert.is(v.getUint16(lame + 32), crc16Arc(b.subarray(info.frameBytes)), 'music CRC');
      }
    }
  }
});

test('options: each bad option gives its error code and names the field', () => {
  const good: EncoderOptions = { format: 'mp3', inputRate: 8000, sampleRate: 16000, channels: 1 };
  const cases: [string, unknown, string, string][] = [
    ['not an object', 'wav', 'ERR_INVALID_ARGUMENT', 'options'],
    ['null', null, 'ERR_INVALID_ARGUMENT', 'options'],
    ['unknown format', { ...good, format: 'flac' }, 'ERR_INVALID_ARGUMENT', 'format'],
    ['missing format', { inputRate: 8000, sampleRate: 8000, channels: 1 }, 'ERR_INVALID_ARGUMENT', 'format'],
    ['inputRate as string', { ...good, inputRate: '8000' }, 'ERR_INVALID_ARGUMENT', 'inputRate'],
    ['inputRate 44100', { ...good, inputRate: 44100 }, 'ERR_OUT_OF_RANGE', 'inputRate'],
    ['sampleRate 22050', { ...good, sampleRate: 22050 }, 'ERR_OUT_OF_RANGE', 'sampleRate'],
    ['sampleRate missing', { format: 'wav', inputRate: 8000, channels: 1 }, 'ERR_INVALID_ARGUMENT', 'sampleRate'],
    ['channels 0', { ...good, channels: 0 }, 'ERR_OUT_OF_RANGE', 'channels'],
    ['channels 6', { ...good, channels: 6 }, 'ERR_OUT_OF_RANGE', 'channels'],
    ['channels "2"', { ...good, channels: '2' }, 'ERR_INVALID_ARGUMENT', 'channels'],
    ['mp3 bitrate 33', { ...good, bitrateKbps: 33 }, 'ERR_OUT_OF_RANGE', 'bitrateKbps'],
    ['mp3 8 kbit/s at 16 kHz', { ...good, bitrateKbps: 8 }, 'ERR_OUT_OF_RANGE', 'bitrateKbps'],
    ['mp3 160 kbit/s at 8 kHz', { ...good, sampleRate: 8000, bitrateKbps: 160 }, 'ERR_OUT_OF_RANGE', 'bitrateKbps'],
    ['mp3 32 kbit/s at 48 kHz', { ...good, sampleRate: 48000, bitrateKbps: 32 }, 'ERR_OUT_OF_RANGE', 'bitrateKbps'],
    ['bitrate NaN', { ...good, bitrateKbps: Number.NaN }, 'ERR_INVALID_ARGUMENT', 'bitrateKbps'],
    ['bitrate string', { ...good, bitrateKbps: '32' }, 'ERR_INVALID_ARGUMENT', 'bitrateKbps'],
    ['opus bitrate 5', { ...good, format: 'opus', bitrateKbps: 5 }, 'ERR_OUT_OF_RANGE', 'bitrateKbps'],
    ['opus bitrate 600', { ...good, format: 'opus', bitrateKbps: 600 }, 'ERR_OUT_OF_RANGE', 'bitrateKbps'],
    ['complexity 11', { ...good, format: 'opus', complexity: 11 }, 'ERR_OUT_OF_RANGE', 'complexity'],
    ['complexity -1', { ...good, format: 'opus', complexity: -1 }, 'ERR_OUT_OF_RANGE', 'complexity'],
    ['complexity 2.5', { ...good, format: 'opus', complexity: 2.5 }, 'ERR_OUT_OF_RANGE', 'complexity'],
    ['complexity "5"', { ...good, format: 'opus', complexity: '5' }, 'ERR_INVALID_ARGUMENT', 'complexity'],
    ['misspelt key', { ...good, bitrate: 32 }, 'ERR_INVALID_ARGUMENT', 'bitrate'],
  ];
  for (const [name, input, code, field] of cases) {
    let caught: unknown = null;
    try {
      validateEncoderOptions(input);
    } catch (err) {
      caught = err;
    }
    const e = caught as { code?: string; message?: string } | null;
    assert.is(e?.code, code, name);
    assert.ok(e?.message?.startsWith(field), `${name}: message names ${field}: ${e?.message}`);
    // createEncoder checks too, before anything reaches the sink.
    const sink = new MemorySink();
    assert.is(errorCode(() => createEncoder(input as EncoderOptions, sink)), code, `createEncoder: ${name}`);
    assert.is(sink.length, 0);
  }
  assert.equal(validateEncoderOptions({ ...good, bitrateKbps: 48, complexity: 3 }), { ...good, bitrateKbps: 48, complexity: 3 });
  assert.equal(validateEncoderOptions({ format: 'wav', inputRate: 48000, sampleRate: 8000, channels: 2 }), {
    format: 'wav',
    inputRate: 48000,
    sampleRate: 8000,
    channels: 2,
  });
});

for (const format of FORMATS) {
  test(`${format}: close() twice is a no-op, write() after close throws ERR_INVALID_STATE`, () => {
    const sink = new MemorySink();
    const enc = createEncoder({ format, inputRate: 8000, sampleRate: 16000, channels: 2 }, sink);
    assert.is(enc.closed, false);
    feedTone(enc, 0.3);
    assert.is(errorCode(() => enc.write(new Int16Array(3))), 'ERR_INVALID_ARGUMENT', 'half a stereo frame');
    enc.close();
    assert.is(enc.closed, true);
    const bytes = sink.length;
    const calls = sink.appends + sink.patches;
    const duration = enc.durationMs;
    enc.close();
    assert.is(sink.length, bytes);
    assert.is(sink.appends + sink.patches, calls);
    assert.is(enc.durationMs, duration);
    assert.is(enc.bytesWritten, bytes);
    assert.is(errorCode(() => enc.write(new Int16Array(320))), 'ERR_INVALID_STATE');
  });
}

test('one big write() gives the same file as 20 ms writes (wav, mp3)', () => {
  for (const format of ['wav', 'mp3'] as const) {
    const options: EncoderOptions = { format, inputRate: 8000, sampleRate: 48000, channels: 2 };
    const pcm = new Int16Array(2 * 8000 * 2);
    new ToneGenerator(LEFT_HZ, 8000).fill(pcm, 0, 16000, 2);
    new ToneGenerator(RIGHT_HZ, 8000).fill(pcm, 1, 16000, 2);
    const a = new MemorySink();
    const encA = createEncoder(options, a);
    encA.write(pcm);
    encA.close();
    const b = new MemorySink();
    const encB = createEncoder(options, b);
    for (let i = 0; i < pcm.length; i += 320) encB.write(pcm.subarray(i, i + 320));
    encB.close();
    assert.ok(Buffer.from(a.bytes()).equals(Buffer.from(b.bytes())), format);
    assert.is(encA.samplesWritten, encB.samplesWritten);
  }
});

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test.run();
