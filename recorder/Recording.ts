/**
 * One recording: a mixer output, an encoder and a file.
 *
 * Frames arrive from the mixer every 20 ms; each is encoded and its bytes staged for the disk
 * (FileSink), so the media path never waits for I/O. Pause either writes nothing (`skip`:
 * the file is shorter, pauses are listed with their offsets) or silence (`silence`: the file
 * keeps the call's timeline). The recording stops on stop(), on its time limit, or when its
 * file fails (disk full, queue full), and then knows its duration, size and SHA-256.
 */
import fs from 'node:fs';
import { InvalidArgumentError, InvalidStateError, IoError, SafeEmitter, errnoCode } from '../common/index.js';
import type { RecgateError } from '../common/index.js';
import { OffloadEncoder, createEncoder } from '../encoders/index.js';
import type { AudioFormat, ChannelCount, Encoder, EncoderPool, SampleRate } from '../encoders/index.js';
import type { FrameConsumer, Mixer, MixOutput, OutputSpec } from '../mixer/index.js';
import { FileSink } from './FileSink.js';
import { hashFile } from './fileHash.js';
import type { FileSinkOptions } from './FileSink.js';

export type PauseBehavior = 'skip' | 'silence';
export type RecordingState = 'recording' | 'paused' | 'stopping' | 'ended' | 'failed';
/** Why a recording stopped. */
export type StopReason = 'stopped' | 'hangup' | 'time_limit' | 'shutdown' | 'disk_full' | 'write_queue_full' | 'io_error';

export interface RecordingOptions {
  /** File to create (must not exist). */
  path: string;
  format: AudioFormat;
  /** File sample rate in Hz. */
  sampleRate: SampleRate;
  /** Mono mix or stereo pair; must match the output spec (stereo needs a 'stereo' output). */
  channels: ChannelCount;
  /** mp3/opus bit rate in kbit/s. */
  bitrateKbps?: number;
  /** Opus complexity 0..10. */
  complexity?: number;
  /** What a pause writes; default 'skip'. */
  pauseBehavior?: PauseBehavior;
  /** Longest recording in seconds; default 3600, at most 86400. */
  timeLimitSec?: number;
  /** File sink tuning (queue bound, flush interval). */
  sink?: FileSinkOptions;
  /** MP3 and Opus encode on these worker threads (WAV stays in-line: cheaper than a message); null or absent: in-line. */
  encoderPool?: EncoderPool | null;
}

export interface PauseInterval {
  /** Offset in the recording (file time) where the pause began, in ms. */
  offsetMs: number;
  /** Mixer (call) time of the pause's start and end, in ms; end is -1 while paused. */
  callStartMs: number;
  callEndMs: number;
}

export interface RecordingResult {
  path: string;
  format: AudioFormat;
  sampleRate: SampleRate;
  channels: ChannelCount;
  /** Audio in the file, in ms. */
  durationMs: number;
  fileSize: number;
  /** SHA-256 of the file as it is on disk, hex. */
  sha256: string;
  pauses: PauseInterval[];
  reason: StopReason;
  state: 'ended' | 'failed';
  /** The error that failed the recording, if it failed. */
  error: RecgateError | null;
  /** Mixer position (ms) of the recording's first frame. */
  startCallMs: number;
}

export interface RecordingEvents {
  [key: string]: unknown[];
  state: [RecordingState];
  /** The recording stopped by itself (time limit, disk error); stop() has been called. */
  autostop: [StopReason];
}

export interface RecordingStartOptions extends RecordingOptions {
  mixer: Mixer;
  /** Which mix to record; default mono of everyone (channels 1) or error for stereo. */
  output?: OutputSpec;
}

export class Recording extends SafeEmitter<RecordingEvents> implements FrameConsumer {
  readonly options: Readonly<RecordingOptions>;
  readonly #encoder: Encoder;
  readonly #sink: FileSink;
  readonly #mixer: Mixer | null;
  #output: MixOutput | null = null;
  #state: RecordingState = 'recording';
  readonly #pauseBehavior: PauseBehavior;
  readonly #limitSamples: number;
  #silence: Int16Array;
  readonly #pauses: PauseInterval[] = [];
  #startPosition = -1;
  /**
   * Frames that end at or before this mixer position are older than the recording: a busy
   * event loop had left the clock behind when it started, and catching up would put audio
   * from before its start into the file.
   */
  #skipBefore = -1;
  #lastPosition = 0;
  #stopping: Promise<RecordingResult> | null = null;
  #reason: StopReason = 'stopped';
  /** Frames that arrived while paused (skip) and were not written. */
  framesSkipped = 0;

  private constructor(options: RecordingOptions, encoder: Encoder, sink: FileSink, mixer: Mixer | null) {
    super();
    this.options = options;
    this.#encoder = encoder;
    this.#sink = sink;
    this.#mixer = mixer;
    this.#pauseBehavior = options.pauseBehavior ?? 'skip';
    this.#limitSamples = (options.timeLimitSec ?? 3600) * options.sampleRate;
    this.#silence = new Int16Array(0);
    sink.onError = (err) => this.#onSinkError(err);
  }

  /**
   * Creates the file and encoder and attaches to `mixer` (when given). Frames from the mixer
   * position at that moment on are recorded.
   */
  static async start(options: RecordingStartOptions): Promise<Recording> {
    validate(options);
    // The sink takes bytes while its file is being created: the recording hears the call from
    // now, not from when the (possibly busy) threadpool opened the file.
    const { sink, opened } = FileSink.open(options.path, options.sink);
    let encoder: Encoder;
    try {
      const eo = {
        format: options.format,
        inputRate: options.mixer.sampleRate,
        sampleRate: options.sampleRate,
        channels: options.channels,
        ...(options.bitrateKbps !== undefined ? { bitrateKbps: options.bitrateKbps } : {}),
        ...(options.complexity !== undefined ? { complexity: options.complexity } : {}),
      };
      const pool = options.encoderPool ?? null;
      encoder = pool !== null && options.format !== 'wav' ? pool.open(eo, sink) : createEncoder(eo, sink);
    } catch (err) {
      const created = await opened.then(
        () => true,
        () => false,
      );
      await sink.close().catch(() => undefined);
      if (created) await fs.promises.unlink(options.path).catch(() => undefined);
      throw err;
    }
    const rec = new Recording(options, encoder, sink, options.mixer);
    const spec: OutputSpec = options.output ?? { kind: 'mono' };
    const outChannels = spec.kind === 'stereo' ? 2 : 1;
    if (outChannels !== options.channels) {
      await rec.stop();
      throw new InvalidArgumentError(`channels ${options.channels} does not match a ${spec.kind} output`);
    }
    // The file's timeline is the call's from now: if no packet has come yet (the answer just
    // started this recording), the clock runs from here and the file opens with silence.
    options.mixer.start();
    rec.#skipBefore = Math.floor(options.mixer.livePosition());
    rec.#output = options.mixer.addOutput(spec, rec);
    try {
      await opened;
    } catch (err) {
      // Not created (it exists, no space...): nothing of ours to keep or remove.
      options.mixer.removeOutput(rec.#output);
      rec.#output = null;
      await rec.stop().catch(() => undefined);
      throw err;
    }
    return rec;
  }

  get state(): RecordingState {
    return this.#state;
  }

  get durationMs(): number {
    return this.#encoder.durationMs;
  }

  get path(): string {
    return this.options.path;
  }

  /** Bytes waiting for the disk. */
  get backlog(): number {
    return this.#sink.backlog;
  }

  get pauses(): readonly PauseInterval[] {
    return this.#pauses;
  }

  /** FrameConsumer: one mixer frame. */
  onFrame(pcm: Int16Array, position: number): void {
    if (this.#state !== 'recording' && this.#state !== 'paused') return;
    if (position + pcm.length / this.options.channels <= this.#skipBefore) return;
    if (this.#startPosition < 0) this.#startPosition = position;
    this.#lastPosition = position + pcm.length / this.options.channels;
    if (this.#state === 'paused') {
      if (this.#pauseBehavior === 'skip') {
        this.framesSkipped++;
        return;
      }
      if (this.#silence.length !== pcm.length) this.#silence = new Int16Array(pcm.length);
      this.#encoder.write(this.#silence);
    } else {
      this.#encoder.write(pcm);
    }
    this.#sink.maybeFlush();
    if (this.#encoder.samplesWritten >= this.#limitSamples) this.#autostop('time_limit');
  }

  pause(): void {
    if (this.#state === 'paused') return;
    if (this.#state !== 'recording') throw new InvalidStateError(`cannot pause a recording that is ${this.#state}`);
    this.#pauses.push({
      offsetMs: this.#encoder.durationMs,
      callStartMs: this.#callMs(this.#lastPosition),
      callEndMs: -1,
    });
    this.#setState('paused');
  }

  resume(): void {
    if (this.#state === 'recording') return;
    if (this.#state !== 'paused') throw new InvalidStateError(`cannot resume a recording that is ${this.#state}`);
    const last = this.#pauses[this.#pauses.length - 1];
    if (last) last.callEndMs = this.#callMs(this.#lastPosition);
    this.#setState('recording');
  }

  /**
   * Stops: detaches from the mixer, closes the encoder (trailers, header patch), waits for
   * the disk, fsyncs, hashes the file. Idempotent: every call gets the same result.
   */
  stop(reason: StopReason = 'stopped'): Promise<RecordingResult> {
    if (this.#stopping === null) {
      if (this.#reason === 'stopped') this.#reason = reason;
      this.#stopping = this.#stop();
    }
    return this.#stopping;
  }

  async #stop(): Promise<RecordingResult> {
    const last = this.#pauses[this.#pauses.length - 1];
    if (last && last.callEndMs < 0) last.callEndMs = this.#callMs(this.#lastPosition);
    this.#setState('stopping');
    if (this.#output !== null && this.#mixer !== null) this.#mixer.removeOutput(this.#output);
    this.#output = null;
    let error: RecgateError | null = this.#sink.error;
    if (error === null) this.#encoder.close();
    if (this.#encoder instanceof OffloadEncoder) {
      // The codec runs on a worker: its last bytes (and header patches) come back before the file closes.
      if (error === null) {
        await this.#encoder.drained().catch((err: unknown) => {
          error = err instanceof IoError ? err : new IoError(String(err), err);
          if (this.#reason === 'stopped') this.#reason = 'io_error';
        });
      } else {
        this.#encoder.fail(error);
      }
    }
    try {
      await this.#sink.close();
    } catch (err) {
      error = err as RecgateError;
    }
    const stat = await fs.promises.stat(this.options.path);
    // A file that cannot be read back (out of descriptors, say) still ends its recording: the
    // checksum is left empty rather than the recording left stopping forever.
    const sha256 = await hashFile(this.options.path, stat.size).catch(() => '');
    const state = error === null ? 'ended' : 'failed';
    this.#setState(state);
    return {
      path: this.options.path,
      format: this.options.format,
      sampleRate: this.options.sampleRate,
      channels: this.options.channels,
      durationMs: this.#encoder.durationMs,
      fileSize: stat.size,
      sha256,
      pauses: this.#pauses.map((p) => ({ ...p })),
      reason: this.#reason,
      state,
      error,
      startCallMs: this.#startPosition < 0 ? 0 : this.#callMs(this.#startPosition),
    };
  }

  #callMs(position: number): number {
    return this.#mixer === null ? 0 : this.#mixer.positionToMs(position);
  }

  #onSinkError(err: RecgateError): void {
    const code = errnoCode(err.cause);
    this.#autostop(err.code === 'ERR_QUEUE_FULL' ? 'write_queue_full' : code === 'ENOSPC' ? 'disk_full' : 'io_error');
  }

  #autostop(reason: StopReason): void {
    if (this.#stopping !== null) return;
    this.#reason = reason;
    void this.stop(reason).catch(() => undefined);
    this.emit('autostop', reason);
  }

  #setState(state: RecordingState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit('state', state);
  }
}

function validate(o: RecordingStartOptions): void {
  const limit = o.timeLimitSec ?? 3600;
  if (!(Number.isFinite(limit) && limit > 0 && limit <= 86400)) {
    throw new InvalidArgumentError(`timeLimitSec must be in (0, 86400], got ${limit}`);
  }
  if (o.pauseBehavior !== undefined && o.pauseBehavior !== 'skip' && o.pauseBehavior !== 'silence') {
    throw new InvalidArgumentError(`pauseBehavior must be skip or silence, got ${String(o.pauseBehavior)}`);
  }
}

