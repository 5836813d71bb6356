/**
 * Reads back every recording of a bench/load run: each must be `ended`, last the call's hold
 * time (± 200 ms), and hold the caller's tone on the left and the callee's on the right (and
 * not the other's), by Goertzel per 20 ms frame (dsp/ toneFrames, ../../shared/RECIPES.md).
 * WAV is read directly; MP3 and Opus are decoded by ffmpeg (an independent decoder).
 * It also counts, per channel, the frames that hold the tone, the first and last such frame,
 * and the frames without it in between (drop-outs inside the recording).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { rms, toneFraction, toneFrames } from '../../dsp/index.js';

export interface RecordingInfo {
  id: string;
  status: string;
  format: string;
  duration_ms: number;
}

export interface ChannelCheck {
  /** Share of frames (after the first 200 ms) holding the expected tone. */
  ratio: number;
  /** Frames holding the other party's tone (should be 0). */
  wrongTone: number;
  /** Frames holding the expected tone, over the whole file. */
  toneFrames: number;
  /** Frames between the first and last tone frame that do not hold it (drop-outs). */
  gapFrames: number;
}

export interface RecordingCheck {
  id: string;
  ok: boolean;
  why: string;
  durationMs: number;
  left: ChannelCheck;
  right: ChannelCheck;
}

const RATE = 8000;
const FRAME = 160; // 20 ms at 8 kHz
const SKIP_MS = 200; // playout delay and the callee answering after the caller

/** Interleaved 16-bit PCM of a WAV file (walks the RIFF chunks to `data`). */
function readWav(file: string): { pcm: Int16Array; channels: number; rate: number } {
  const b = fs.readFileSync(file);
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${file}: not a WAV file`);
  let off = 12;
  let channels = 0;
  let rate = 0;
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4);
    const size = b.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      channels = b.readUInt16LE(off + 10);
      rate = b.readUInt32LE(off + 12);
    } else if (id === 'data') {
      const len = Math.min(size, b.length - off - 8) & ~1;
      // A copy of the bytes is aligned for Int16Array (little-endian host, as WAV is).
      const bytes = b.buffer.slice(b.byteOffset + off + 8, b.byteOffset + off + 8 + len);
      return { pcm: new Int16Array(bytes), channels, rate };
    }
    off += 8 + size + (size & 1);
  }
  throw new Error(`${file}: no data chunk`);
}

/** ffmpeg's decode of any file to 8 kHz stereo s16le. */
function decodeWithFfmpeg(file: string): Promise<Int16Array> {
  return new Promise((resolve, reject) => {
    execFile(
      'ffmpeg',
      ['-v', 'error', '-nostdin', '-i', file, '-f', 's16le', '-acodec', 'pcm_s16le', '-ar', String(RATE), '-ac', '2', '-'],
      { encoding: 'buffer', maxBuffer: 512 * 1024 * 1024 },
      (err, stdout) => {
        if (err) reject(err);
        else resolve(new Int16Array(stdout.buffer, stdout.byteOffset, stdout.byteLength >> 1).slice());
      },
    );
  });
}

function channel(pcm: Int16Array, ch: number, hz: number, otherHz: number): ChannelCheck {
  const opts = { channels: 2, channel: ch, skipMs: SKIP_MS };
  const own = toneFrames(pcm, RATE, hz, opts);
  const other = toneFrames(pcm, RATE, otherHz, opts);
  // Per-frame flags over the whole file (the toneFrames thresholds: >= 80 % energy, RMS >= 200).
  const frames = Math.floor(pcm.length / 2 / FRAME);
  let count = 0;
  let first = -1;
  let last = -1;
  for (let f = 0; f < frames; f++) {
    const off = f * FRAME * 2 + ch;
    if (toneFraction(pcm, off, FRAME, hz, RATE, 2) >= 0.8 && rms(pcm, off, FRAME, 2) >= 200) {
      count++;
      if (first === -1) first = f;
      last = f;
    }
  }
  return { ratio: own.ratio, wrongTone: other.toneFrames, toneFrames: count, gapFrames: first === -1 ? 0 : last - first + 1 - count };
}

export async function checkRecording(file: string, rec: RecordingInfo, expectMs: number, callerHz: number, calleeHz: number): Promise<RecordingCheck> {
  let pcm: Int16Array;
  const empty: ChannelCheck = { ratio: 0, wrongTone: 0, toneFrames: 0, gapFrames: 0 };
  try {
    if (rec.format === 'wav') {
      const w = readWav(file);
      if (w.channels !== 2 || w.rate !== RATE) throw new Error(`${w.channels} channels at ${w.rate} Hz, expected stereo 8 kHz`);
      pcm = w.pcm;
    } else {
      pcm = await decodeWithFfmpeg(file);
    }
  } catch (err) {
    return { id: rec.id, ok: false, why: `unreadable: ${(err as Error).message}`, durationMs: rec.duration_ms, left: empty, right: empty };
  }
  const left = channel(pcm, 0, callerHz, calleeHz);
  const right = channel(pcm, 1, calleeHz, callerHz);
  const why: string[] = [];
  if (rec.status !== 'ended') why.push(`status ${rec.status}`);
  if (Math.abs(rec.duration_ms - expectMs) > 200) why.push(`duration ${rec.duration_ms} ms, expected ${expectMs} ± 200`);
  if (left.ratio < 0.95) why.push(`caller tone in ${(left.ratio * 100).toFixed(1)} % of left frames`);
  if (right.ratio < 0.95) why.push(`callee tone in ${(right.ratio * 100).toFixed(1)} % of right frames`);
  if (left.wrongTone > 0 || right.wrongTone > 0) why.push(`other party's tone: ${left.wrongTone} left, ${right.wrongTone} right`);
  return { id: rec.id, ok: why.length === 0, why: why.join('; '), durationMs: rec.duration_ms, left, right };
}

/** Checks recordings with at most `parallel` at a time (ffmpeg decodes run beside each other). */
export async function checkAll(
  items: { file: string; rec: RecordingInfo }[],
  expectMs: number,
  callerHz: number,
  calleeHz: number,
  parallel: number,
): Promise<RecordingCheck[]> {
  const out: RecordingCheck[] = new Array<RecordingCheck>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await checkRecording(items[i]!.file, items[i]!.rec, expectMs, callerHz, calleeHz);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
  return out;
}
