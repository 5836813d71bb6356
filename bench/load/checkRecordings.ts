/**
 * Reads back every recording of a bench/load run: each must be `ended`, last from its start to
 * its call's BYE in the gateway (± 200 ms; sipp's hold time is only the intent: under load sipp
 * acknowledges the answer late, so its calls run a few hundred ms longer), and hold the caller's tone on the left and the callee's on the right in at
 * least 95 % of its 20 ms frames (and never the other's), by Goertzel per frame (dsp/
 * toneFrames, ../../shared/RECIPES.md; see MIN_TONE_FRACTION).
 * WAV is read directly; MP3 and Opus are decoded by ffmpeg (an independent decoder).
 * It also counts, per channel, the 20 ms frames with audio (about one per packet played), those
 * whose audio is not a pure tone (a drift correction or concealment inside), and silent frames
 * between the first and last frame with audio (drop-outs).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { rms, toneFraction, toneFrames } from '../../dsp/index.js';

export interface RecordingInfo {
  id: string;
  status: string;
  format: string;
  duration_ms: number;
  /** From its start to its call's BYE in the gateway, in ms (NaN when unknown: the hold time is used). */
  start_to_bye_ms: number;
}

export interface ChannelCheck {
  /** Share of frames (after the first 200 ms) holding the expected tone (>= MIN_TONE_FRACTION of the energy). */
  ratio: number;
  /** The same with the recipe's 80 %. */
  strictRatio: number;
  /** Frames holding the other party's tone (should be 0). */
  wrongTone: number;
  /** Frames with audio (RMS >= 200) over the whole file: about one per packet played. */
  audioFrames: number;
  /** Frames with audio under 80 % at the tone (a drift correction or concealment inside). */
  impureFrames: number;
  /** Silent frames between the first and last frame with audio (drop-outs). */
  silentGaps: number;
}

export type FailedCheck = 'status' | 'duration' | 'caller' | 'callee' | 'crosstalk' | 'unreadable';

export interface RecordingCheck {
  id: string;
  ok: boolean;
  why: string;
  /** Which checks failed (for counting): status, duration, caller, callee, crosstalk, unreadable. */
  failed: FailedCheck[];
  durationMs: number;
  /** From its start to its call's BYE (the expected duration). */
  startToByeMs: number;
  left: ChannelCheck;
  right: ChannelCheck;
}

const RATE = 8000;
/** A frequency no party sends (the second tone of a one-party check). */
const NOBODY_HZ = 2100;
const FRAME = 160; // 20 ms at 8 kHz
const SKIP_MS = 200; // playout delay and the callee answering after the caller
/**
 * A frame holds a party's tone when >= 60 % of its energy is at the tone's frequency (the
 * recipe's 80 % is reported too, as `strictRatio`). Why not 80 %: the gateway's drift
 * controller inserts or drops single samples (up to 2000 ppm: one every 60 ms) after a step of
 * a couple of ms in a sender's timing, and a 20 ms frame holding one keeps only 69-77 % of its
 * energy at 1500 Hz; a correction running for a second would fail a third of its frames.
 * Silence, noise or the other party's tone stay far below 60 %.
 */
export const MIN_TONE_FRACTION = 0.6;
/** Share of the frames (after the first 200 ms) that must hold the party's tone. */
export const MIN_TONE_RATIO = 0.95;

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
  const own = toneFrames(pcm, RATE, hz, { ...opts, minFraction: MIN_TONE_FRACTION });
  const strict = toneFrames(pcm, RATE, hz, opts);
  const other = toneFrames(pcm, RATE, otherHz, { ...opts, minFraction: MIN_TONE_FRACTION });
  // Per-frame over the whole file, with the toneFrames thresholds (>= 80 % energy, RMS >= 200).
  const frames = Math.floor(pcm.length / 2 / FRAME);
  let audio = 0;
  let impure = 0;
  let first = -1;
  let last = -1;
  for (let f = 0; f < frames; f++) {
    const off = f * FRAME * 2 + ch;
    if (rms(pcm, off, FRAME, 2) < 200) continue;
    audio++;
    if (toneFraction(pcm, off, FRAME, hz, RATE, 2) < 0.8) impure++;
    if (first === -1) first = f;
    last = f;
  }
  return { ratio: own.ratio, strictRatio: strict.ratio, wrongTone: other.toneFrames, audioFrames: audio, impureFrames: impure, silentGaps: first === -1 ? 0 : last - first + 1 - audio };
}

/**
 * `calleeHz` null: a call with no callee (a `record` route): the right channel must hold no
 * audio at all, and the left the caller's tone.
 */
export async function checkRecording(file: string, rec: RecordingInfo, expectMs: number, callerHz: number, calleeHz: number | null): Promise<RecordingCheck> {
  let pcm: Int16Array;
  const empty: ChannelCheck = { ratio: 0, strictRatio: 0, wrongTone: 0, audioFrames: 0, impureFrames: 0, silentGaps: 0 };
  try {
    if (rec.format === 'wav') {
      const w = readWav(file);
      if (w.channels !== 2 || w.rate !== RATE) throw new Error(`${w.channels} channels at ${w.rate} Hz, expected stereo 8 kHz`);
      pcm = w.pcm;
    } else {
      pcm = await decodeWithFfmpeg(file);
    }
  } catch (err) {
    return { id: rec.id, ok: false, why: `unreadable: ${(err as Error).message}`, failed: ['unreadable'], durationMs: rec.duration_ms, startToByeMs: rec.start_to_bye_ms, left: empty, right: empty };
  }
  // With no callee the left is checked against a tone nobody sends (so never "the other's").
  const left = channel(pcm, 0, callerHz, calleeHz ?? NOBODY_HZ);
  const right = channel(pcm, 1, calleeHz ?? NOBODY_HZ, callerHz);
  const why: string[] = [];
  const failed: FailedCheck[] = [];
  const fail = (check: FailedCheck, text: string): void => {
    failed.push(check);
    why.push(text);
  };
  if (rec.status !== 'ended') fail('status', `status ${rec.status}`);
  const expected = Number.isFinite(rec.start_to_bye_ms) ? rec.start_to_bye_ms : expectMs;
  if (Math.abs(rec.duration_ms - expected) > 200) fail('duration', `duration ${rec.duration_ms} ms, start to BYE ${expected} ms (± 200)`);
  if (left.ratio < MIN_TONE_RATIO) fail('caller', `caller tone in ${(left.ratio * 100).toFixed(1)} % of left frames`);
  if (calleeHz === null) {
    if (right.audioFrames > 0) fail('callee', `${right.audioFrames} frames with audio on the right, where no callee is`);
  } else if (right.ratio < MIN_TONE_RATIO) fail('callee', `callee tone in ${(right.ratio * 100).toFixed(1)} % of right frames`);
  if (left.wrongTone > 0 || right.wrongTone > 0) fail('crosstalk', `other party's tone: ${left.wrongTone} left, ${right.wrongTone} right`);
  return { id: rec.id, ok: why.length === 0, why: why.join('; '), failed, durationMs: rec.duration_ms, startToByeMs: rec.start_to_bye_ms, left, right };
}

/** Checks recordings with at most `parallel` at a time (ffmpeg decodes run beside each other). */
export async function checkAll(
  items: { file: string; rec: RecordingInfo }[],
  expectMs: number,
  callerHz: number,
  calleeHz: number | null,
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
