/**
 * Audio for Prompt.play(): sound files decoded by ffmpeg and text spoken by espeak-ng, both
 * turned into mono 16-bit PCM at the mixer rate. Runs once per prompt, never per frame: child
 * processes (no shell; arguments as argv), each with a timeout and an output cap.
 *
 * Error codes (AudioSourceError unless noted; tests assert the codes):
 * - ERR_INVALID_ARGUMENT (InvalidArgumentError): a bad rate, empty or over-long text, a bad
 *   voice or speed, an empty file name or one holding NUL.
 * - ERR_AUDIO_FILE_NOT_FOUND: no such file, or it is not a regular file.
 * - ERR_AUDIO_FILE_FORBIDDEN: resolveMediaPath() refused a name outside `<dataDir>/media/`.
 * - ERR_AUDIO_FILE_INVALID: ffmpeg cannot decode it as WAV or MP3, or it holds no audio.
 * - ERR_AUDIO_TOO_LONG: the audio lasts longer than the cap (10 minutes by default).
 * - ERR_AUDIO_TIMEOUT: ffmpeg or espeak-ng ran longer than the timeout (30 s by default).
 * - ERR_AUDIO_DECODER_UNAVAILABLE: ffmpeg is not installed (or not executable).
 * - ERR_TTS_UNAVAILABLE: espeak-ng is not installed (or not executable).
 * - ERR_TTS_FAILED: espeak-ng exited with an error (an unknown voice, for one).
 * - ERR_IO (IoError): stat failed for another reason than a missing file (EACCES, ...).
 */
import { spawn } from 'node:child_process';
import { realpathSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { InvalidArgumentError, IoError, errnoCode } from '../common/index.js';

export type AudioSourceErrorCode =
  | 'ERR_AUDIO_FILE_NOT_FOUND'
  | 'ERR_AUDIO_FILE_FORBIDDEN'
  | 'ERR_AUDIO_FILE_INVALID'
  | 'ERR_AUDIO_TOO_LONG'
  | 'ERR_AUDIO_TIMEOUT'
  | 'ERR_AUDIO_DECODER_UNAVAILABLE'
  | 'ERR_TTS_UNAVAILABLE'
  | 'ERR_TTS_FAILED';

/**
 * A prompt's audio could not be had. Not a RecgateError: common's ErrorCode union does not hold
 * these codes, and they are specific to this module (like the SDP negotiation codes).
 */
export class AudioSourceError extends Error {
  readonly code: AudioSourceErrorCode;

  constructor(code: AudioSourceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'AudioSourceError';
  }
}

/** Rates the mixer runs at, in Hz: the only ones the loaders produce. */
const RATES: readonly number[] = [8000, 16000, 48000];
/** Default cap on a clip's length: 10 minutes (28.8 MB of PCM at 48 kHz). */
const DEFAULT_MAX_DURATION_SEC = 600;
/** Default time a child process may run: decoding 10 minutes takes well under a second, so 30 s means stuck. */
const DEFAULT_TIMEOUT_MS = 30_000;
/** Longest text synthesize() takes, in characters (about 3 minutes of speech at 175 wpm). */
export const MAX_TTS_CHARS = 2000;
/** espeak-ng's speed range, in words per minute (its default is 175). */
const MIN_WPM = 80;
const MAX_WPM = 450;
/** espeak-ng writes 22050 Hz mono 16-bit WAV; the cap on its output in bytes is 10 minutes of it. */
const ESPEAK_MAX_BYTES = 22050 * 2 * DEFAULT_MAX_DURATION_SEC + 4096;
/** Demuxers ffmpeg may use on a media file: WAV and MP3 only, so a playlist or concat file cannot make it read other files. */
const FORMAT_WHITELIST = 'wav,mp3';
/** Most of a child's stderr kept for the error message, in characters. */
const STDERR_KEEP = 2048;

export interface LoadAudioOptions {
  /** Longest audio accepted, in seconds; default 600 (10 minutes). */
  maxDurationSec?: number;
  /** Time ffmpeg may take, in ms; default 30000. */
  timeoutMs?: number;
  /** The ffmpeg binary (a name looked up in PATH, or a path); default 'ffmpeg'. */
  ffmpegPath?: string;
}

export interface SynthesizeOptions {
  /** espeak-ng voice (`espeak-ng --voices`), e.g. 'en-us' or 'en+f3'; default espeak-ng's own ('en'). */
  voice?: string;
  /** Speaking speed in words per minute, 80..450; default espeak-ng's own (175). */
  speedWpm?: number;
  /** The espeak-ng binary (a name looked up in PATH, or a path); default 'espeak-ng'. */
  espeakPath?: string;
  /** The ffmpeg binary that resamples espeak-ng's 22050 Hz output; default 'ffmpeg'. */
  ffmpegPath?: string;
  /** Time each of espeak-ng and ffmpeg may take, in ms; default 30000. */
  timeoutMs?: number;
}

/**
 * Decodes a WAV or MP3 file (any rate, mono or stereo; stereo is averaged to mono) to mono
 * 16-bit PCM at `rateHz` (8000, 16000 or 48000). Relative names resolve against the working
 * directory; names from users should go through resolveMediaPath() first.
 */
export async function loadAudioFile(file: string, rateHz: number, options: LoadAudioOptions = {}): Promise<Int16Array> {
  checkRate(rateHz);
  if (typeof file !== 'string' || file === '' || file.includes('\0')) {
    throw new InvalidArgumentError('the audio file name must be a non-empty string without NUL');
  }
  const maxSec = options.maxDurationSec ?? DEFAULT_MAX_DURATION_SEC;
  if (!(maxSec > 0 && Number.isFinite(maxSec))) throw new InvalidArgumentError(`maxDurationSec must be > 0, got ${maxSec}`);
  const timeoutMs = checkTimeout(options.timeoutMs);
  const abs = resolve(file);
  try {
    const st = await stat(abs);
    if (!st.isFile()) throw new AudioSourceError('ERR_AUDIO_FILE_NOT_FOUND', `${file} is not a regular file`);
  } catch (err) {
    if (err instanceof AudioSourceError) throw err;
    const errno = errnoCode(err);
    if (errno === 'ENOENT' || errno === 'ENOTDIR') throw new AudioSourceError('ERR_AUDIO_FILE_NOT_FOUND', `no such audio file: ${file}`, { cause: err });
    throw new IoError(`cannot read the audio file ${file} (${errno ?? 'unknown error'})`, err);
  }

  const ffmpeg = options.ffmpegPath ?? 'ffmpeg';
  const maxBytes = Math.floor(maxSec * rateHz) * 2;
  // `file:` keeps ffmpeg from reading a name as another protocol (http:, concat:, ...).
  const args = ['-nostdin', '-v', 'error', '-protocol_whitelist', 'file', '-format_whitelist', FORMAT_WHITELIST,
    '-i', `file:${abs}`, '-f', 's16le', '-ac', '1', '-ar', String(rateHz), '-'];
  let out: RunResult;
  try {
    out = await run(ffmpeg, args, { timeoutMs, maxStdoutBytes: maxBytes });
  } catch (err) {
    throw decoderMissing(ffmpeg, err);
  }
  if (out.timedOut) throw new AudioSourceError('ERR_AUDIO_TIMEOUT', `decoding ${file} took longer than ${timeoutMs} ms`);
  if (out.overflow) throw new AudioSourceError('ERR_AUDIO_TOO_LONG', `${file} is longer than ${maxSec} s, the most a prompt may last`);
  if (out.exitCode !== 0) {
    throw new AudioSourceError('ERR_AUDIO_FILE_INVALID', `${file} is not a WAV or MP3 file ffmpeg can decode: ${lastLine(out.stderr)}`);
  }
  const pcm = toPcm(out.stdout, out.stdoutBytes);
  if (pcm.length === 0) throw new AudioSourceError('ERR_AUDIO_FILE_INVALID', `${file} holds no audio`);
  return pcm;
}

/**
 * Speaks `text` with espeak-ng and returns mono 16-bit PCM at `rateHz` (8000, 16000 or 48000).
 * The text goes to espeak-ng as one argv element after `--` (no shell, never read as an
 * option); control characters become spaces. espeak-ng's 22050 Hz WAV is resampled by ffmpeg
 * (the dsp Resampler has no 22050 Hz). `options.espeakPath` names another binary (tests point it
 * at a missing one).
 */
export async function synthesize(text: string, rateHz: number, options: SynthesizeOptions = {}): Promise<Int16Array> {
  checkRate(rateHz);
  if (typeof text !== 'string' || text.trim() === '') throw new InvalidArgumentError('the text to speak is empty');
  if (text.length > MAX_TTS_CHARS) {
    throw new InvalidArgumentError(`the text to speak is ${text.length} characters, more than ${MAX_TTS_CHARS}`);
  }
  const timeoutMs = checkTimeout(options.timeoutMs);
  const args = ['--stdout'];
  if (options.voice !== undefined) {
    // A voice is a name like en-us, en+f3 or mb-en1: no path separators, no leading dash.
    if (!/^[A-Za-z0-9][A-Za-z0-9_+-]{0,39}$/.test(options.voice)) throw new InvalidArgumentError(`bad espeak-ng voice name: ${options.voice}`);
    args.push('-v', options.voice);
  }
  if (options.speedWpm !== undefined) {
    const wpm = options.speedWpm;
    if (!(Number.isInteger(wpm) && wpm >= MIN_WPM && wpm <= MAX_WPM)) {
      throw new InvalidArgumentError(`speedWpm must be an integer ${MIN_WPM}..${MAX_WPM}, got ${wpm}`);
    }
    args.push('-s', String(wpm));
  }
  // Control characters (NUL would make spawn throw) carry nothing for speech.
  args.push('--', text.replace(/[\u0000-\u001f\u007f]/g, ' '));

  const espeak = options.espeakPath ?? 'espeak-ng';
  let wav: RunResult;
  try {
    wav = await run(espeak, args, { timeoutMs, maxStdoutBytes: ESPEAK_MAX_BYTES });
  } catch (err) {
    const errno = errnoCode(err);
    if (errno === 'ENOENT' || errno === 'EACCES') {
      throw new AudioSourceError('ERR_TTS_UNAVAILABLE', `text-to-speech needs espeak-ng: install it (apt-get install espeak-ng); could not run ${espeak} (${errno})`, { cause: err });
    }
    throw new AudioSourceError('ERR_TTS_FAILED', `could not run ${espeak}: ${String(err)}`, { cause: err });
  }
  if (wav.timedOut) throw new AudioSourceError('ERR_AUDIO_TIMEOUT', `espeak-ng took longer than ${timeoutMs} ms`);
  if (wav.overflow) throw new AudioSourceError('ERR_AUDIO_TOO_LONG', `the speech lasts longer than ${DEFAULT_MAX_DURATION_SEC} s`);
  if (wav.exitCode !== 0 || wav.stdoutBytes === 0) {
    throw new AudioSourceError('ERR_TTS_FAILED', `espeak-ng failed (exit ${String(wav.exitCode)}): ${lastLine(wav.stderr)}`);
  }

  const ffmpeg = options.ffmpegPath ?? 'ffmpeg';
  const wavBytes = concat(wav.stdout, wav.stdoutBytes);
  let out: RunResult;
  try {
    out = await run(ffmpeg, ['-v', 'error', '-f', 'wav', '-i', 'pipe:0', '-f', 's16le', '-ac', '1', '-ar', String(rateHz), '-'], {
      timeoutMs,
      maxStdoutBytes: rateHz * 2 * DEFAULT_MAX_DURATION_SEC,
      input: wavBytes,
    });
  } catch (err) {
    throw decoderMissing(ffmpeg, err);
  }
  if (out.timedOut) throw new AudioSourceError('ERR_AUDIO_TIMEOUT', `resampling the speech took longer than ${timeoutMs} ms`);
  if (out.overflow) throw new AudioSourceError('ERR_AUDIO_TOO_LONG', `the speech lasts longer than ${DEFAULT_MAX_DURATION_SEC} s`);
  if (out.exitCode !== 0) throw new AudioSourceError('ERR_TTS_FAILED', `ffmpeg could not read espeak-ng's output: ${lastLine(out.stderr)}`);
  return toPcm(out.stdout, out.stdoutBytes);
}

/**
 * The real path of media file `name` under `<dataDir>/media/`, for names that come from routes
 * or API calls. `name` is relative to the media folder, or absolute inside it. Throws
 * AudioSourceError:
 * - ERR_AUDIO_FILE_FORBIDDEN when the name has a `..` segment, is absolute outside the folder,
 *   or is (or passes through) a symlink whose target lies outside it;
 * - ERR_AUDIO_FILE_NOT_FOUND when the file (or the media folder) does not exist or is not a
 *   regular file.
 * An empty name or one holding NUL is ERR_INVALID_ARGUMENT. Symlinks inside the folder are fine
 * (the check is on the real path). The media folder itself may be a symlink.
 */
export function resolveMediaPath(dataDir: string, name: string): string {
  if (typeof name !== 'string' || name === '' || name.includes('\0')) {
    throw new InvalidArgumentError('the media file name must be a non-empty string without NUL');
  }
  const mediaDir = resolve(dataDir, 'media');
  // `..` is refused outright, even when it would stay inside: no legitimate name needs it.
  if (name.split(/[\\/]/).includes('..')) throw new AudioSourceError('ERR_AUDIO_FILE_FORBIDDEN', `${name}: '..' is not allowed in a media file name`);
  const candidate = isAbsolute(name) ? resolve(name) : join(mediaDir, name);
  if (!inside(mediaDir, candidate)) throw new AudioSourceError('ERR_AUDIO_FILE_FORBIDDEN', `${name} is outside the media folder ${mediaDir}`);

  let realDir: string;
  let real: string;
  try {
    realDir = realpathSync(mediaDir);
  } catch (err) {
    throw new AudioSourceError('ERR_AUDIO_FILE_NOT_FOUND', `no media folder ${mediaDir} (${errnoCode(err) ?? 'error'})`, { cause: err });
  }
  try {
    real = realpathSync(candidate);
  } catch (err) {
    // A dangling symlink lands here too: whatever it pointed at, there is nothing to play.
    throw new AudioSourceError('ERR_AUDIO_FILE_NOT_FOUND', `no media file ${name} (${errnoCode(err) ?? 'error'})`, { cause: err });
  }
  if (!inside(realDir, real)) throw new AudioSourceError('ERR_AUDIO_FILE_FORBIDDEN', `${name} is a symlink leading outside the media folder`);
  if (!statSync(real).isFile()) throw new AudioSourceError('ERR_AUDIO_FILE_NOT_FOUND', `media file ${name} is not a regular file`);
  return real;
}

/** Whether `p` lies strictly below directory `dir` (both absolute and normalized). */
function inside(dir: string, p: string): boolean {
  const rel = relative(dir, p);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

function checkRate(rateHz: number): void {
  if (!RATES.includes(rateHz)) throw new InvalidArgumentError(`rateHz must be 8000, 16000 or 48000, got ${String(rateHz)}`);
}

function checkTimeout(timeoutMs: number | undefined): number {
  const t = timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(t > 0 && Number.isFinite(t))) throw new InvalidArgumentError(`timeoutMs must be > 0, got ${t}`);
  return t;
}

function decoderMissing(ffmpeg: string, err: unknown): AudioSourceError {
  const errno = errnoCode(err);
  return new AudioSourceError('ERR_AUDIO_DECODER_UNAVAILABLE', `could not run ${ffmpeg} (${errno ?? String(err)}): install ffmpeg (apt-get install ffmpeg)`, { cause: err });
}

function lastLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

interface RunResult {
  stdout: Buffer[];
  stdoutBytes: number;
  /** Start of stderr, at most STDERR_KEEP characters. */
  stderr: string;
  exitCode: number | null;
  timedOut: boolean;
  /** stdout passed maxStdoutBytes; the child was killed. */
  overflow: boolean;
}

/**
 * Runs `cmd args` without a shell, feeding `input` to stdin. Rejects only when the process
 * cannot start (the spawn error, e.g. ENOENT); timeouts and overflow kill it (SIGKILL) and are
 * reported in the result.
 */
function run(cmd: string, args: string[], opts: { timeoutMs: number; maxStdoutBytes: number; input?: Buffer }): Promise<RunResult> {
  return new Promise<RunResult>((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], windowsHide: true });
    // Both are pipes (stdio above); the checks only narrow the types.
    const { stdout, stderr } = child;
    if (stdout === null || stderr === null) throw new Error('spawn gave no stdout/stderr pipe');
    const result: RunResult = { stdout: [], stdoutBytes: 0, stderr: '', exitCode: null, timedOut: false, overflow: false };
    let settled = false;
    const timer = setTimeout(() => {
      result.timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (err) => {
      // Emitted when the process could not start; after 'close' (a failed kill) it is moot.
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    });
    stdout.on('data', (chunk: Buffer) => {
      if (result.overflow) return;
      if (result.stdoutBytes + chunk.length > opts.maxStdoutBytes) {
        result.overflow = true;
        child.kill('SIGKILL');
        return;
      }
      result.stdout.push(chunk);
      result.stdoutBytes += chunk.length;
    });
    stderr.setEncoding('utf8');
    stderr.on('data', (s: string) => {
      if (result.stderr.length < STDERR_KEEP) result.stderr += s.slice(0, STDERR_KEEP - result.stderr.length);
    });
    child.on('close', (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      result.exitCode = code;
      resolvePromise(result);
    });
    if (child.stdin !== null && opts.input !== undefined) {
      // EPIPE when the child exits before reading everything: its exit status tells why.
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input);
    }
  });
}

function concat(chunks: Buffer[], bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let o = 0;
  for (const c of chunks) {
    c.copy(out, o);
    o += c.length;
  }
  return out;
}

/**
 * s16le bytes to an Int16Array with its own aligned buffer (chunks may split a sample). Typed
 * arrays use the platform's byte order, little-endian on every platform Node 20 ships for.
 */
function toPcm(chunks: Buffer[], bytes: number): Int16Array {
  const pcm = new Int16Array(bytes >> 1);
  const view = new Uint8Array(pcm.buffer);
  let o = 0;
  for (const c of chunks) {
    const n = Math.min(c.length, view.length - o);
    if (n <= 0) break;
    view.set(n === c.length ? c : c.subarray(0, n), o);
    o += n;
  }
  return pcm;
}
