/**
 * Encoders on worker threads: an OffloadEncoder is an Encoder whose codec runs in a worker of
 * an EncoderPool. write() only copies PCM into a batch; every BATCH_MS of audio the batch goes
 * to the worker (transferred, not copied), which encodes it and sends the bytes back; they are
 * appended to the sink in order on this thread. MP3 (lamejs) and Opus cost 5-50x WAV per call:
 * off the media thread they use the other cores and stop delaying packets.
 *
 * Differences from an in-line encoder, all bounded:
 * - bytes reach the sink up to BATCH_MS (plus the worker's turn) later, so a crash loses at
 *   most that much more audio than in-line;
 * - samplesWritten counts the audio given to write() (at the file rate), so pause offsets and
 *   time limits are exact; after close it is the worker encoder's own count;
 * - close() is asynchronous: await drained() before closing the sink (Recording does).
 */
import os from 'node:os';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { InvalidStateError, IoError } from '../common/index.js';
import type { AudioFormat, ByteSink, ChannelCount, Encoder, EncoderOptions, SampleRate } from './Encoder.js';
import { frameCount } from './chunked.js';
import { validateEncoderOptions } from './createEncoder.js';
import type { FromWorker, ToWorker } from './encoderWorker.js';

/** Audio per message to the worker, ms: one message per 250 ms per recording (the file sink's flush interval). */
export const OFFLOAD_BATCH_MS = 250;

/**
 * When each message still unanswered went to a worker (ms, performance.now()), oldest first. A
 * worker answers every message once, in order (encoderWorker.ts), so the oldest time says how
 * far behind it is: a worker that cannot keep up with its recordings holds their audio in
 * memory, off the disk, and the backlog only grows.
 */
class SendTimes {
  #times = new Float64Array(256);
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(t: number): void {
    if (this.#length === this.#times.length) {
      const grown = new Float64Array(this.#times.length * 2);
      for (let i = 0; i < this.#length; i++) grown[i] = this.#times[(this.#head + i) % this.#times.length]!;
      this.#times = grown;
      this.#head = 0;
    }
    this.#times[(this.#head + this.#length) % this.#times.length] = t;
    this.#length++;
  }

  shift(): void {
    if (this.#length === 0) return;
    this.#head = (this.#head + 1) % this.#times.length;
    this.#length--;
  }

  /** The oldest time, or NaN when none is waiting. */
  oldest(): number {
    return this.#length === 0 ? NaN : this.#times[this.#head]!;
  }
}

interface PoolWorker {
  worker: Worker;
  encoders: Map<number, OffloadEncoder>;
  /** The messages it has not answered yet. */
  waiting: SendTimes;
  /** Its event loop's utilization when utilization() last read it. */
  elu: EventLoopUtilization;
}

export class EncoderPool {
  readonly size: number;
  readonly #workers: PoolWorker[] = [];
  #nextId = 1;
  #closed = false;
  /** Encoders opened through the pool so far. */
  opened = 0;

  /** `size` workers at most (default: one per core but one, at least one). */
  constructor(size = Math.max(1, os.availableParallelism() - 1)) {
    if (!Number.isInteger(size) || size < 1 || size > 256) throw new InvalidStateError(`encoder pool size ${size} is not 1..256`);
    this.size = size;
  }

  /** An encoder for `options` whose codec runs on the least busy worker; it appends to `sink`. */
  open(options: EncoderOptions, sink: ByteSink): OffloadEncoder {
    if (this.#closed) throw new InvalidStateError('encoder pool is closed');
    const o = validateEncoderOptions(options); // bad options throw here, at once, as createEncoder does
    const w = this.#pick();
    const id = this.#nextId++;
    const enc = new OffloadEncoder(o, sink, id, (m) => this.#post(w, m), () => this.#release(w, id));
    if (w.encoders.size === 0) w.worker.ref();
    w.encoders.set(id, enc);
    this.opened++;
    this.#post(w, { op: 'open', id, options: o });
    return enc;
  }

  /**
   * How far behind the most loaded worker is, in ms at `now`: the age of the oldest message it
   * has not answered (0 when every worker is idle or keeping up within a batch).
   */
  lagMs(now = performance.now()): number {
    let lag = 0;
    for (const w of this.#workers) {
      const t = w.waiting.oldest();
      if (t === t && now - t > lag) lag = now - t;
    }
    return lag;
  }

  /**
   * The busiest worker's utilization (0-1) since the last call: the share of that time its
   * event loop spent encoding rather than waiting for a message. A worker near 1 is about to
   * fall behind; lagMs() says when it has.
   */
  utilization(): number {
    let most = 0;
    for (const w of this.#workers) {
      const now = w.worker.performance.eventLoopUtilization();
      const u = w.worker.performance.eventLoopUtilization(now, w.elu).utilization;
      w.elu = now;
      if (u > most) most = u;
    }
    return most;
  }

  /** Messages the workers have not answered yet (batches of audio, opens and closes). */
  backlog(): number {
    return this.#workers.reduce((n, w) => n + w.waiting.length, 0);
  }

  #post(w: PoolWorker, m: ToWorker): void {
    w.waiting.push(performance.now());
    w.worker.postMessage(m, m.op === 'pcm' ? [m.pcm.buffer as ArrayBuffer] : []);
  }

  /** Encoders open now, per worker. */
  load(): number[] {
    return this.#workers.map((w) => w.encoders.size);
  }

  /** Terminates the workers; open encoders fail (their drained() rejects). */
  async close(): Promise<void> {
    this.#closed = true;
    const workers = this.#workers.splice(0);
    for (const w of workers) for (const e of w.encoders.values()) e.fail(new IoError('encoder pool closed'));
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }

  #pick(): PoolWorker {
    let best: PoolWorker | null = null;
    for (const w of this.#workers) if (best === null || w.encoders.size < best.encoders.size) best = w;
    if (best !== null && (best.encoders.size === 0 || this.#workers.length >= this.size)) return best;
    const worker = new Worker(new URL('./encoderWorker.mjs', import.meta.url));
    const w: PoolWorker = { worker, encoders: new Map(), waiting: new SendTimes(), elu: worker.performance.eventLoopUtilization() };
    worker.on('message', (m: FromWorker) => {
      w.waiting.shift();
      w.encoders.get(m.id)?.receive(m);
    });
    worker.on('error', (err) => {
      // The worker died (a bug, or out of memory): its recordings fail, the others go on.
      for (const e of w.encoders.values()) e.fail(new IoError(`encoder worker failed: ${err.message}`, err));
      w.encoders.clear();
      const i = this.#workers.indexOf(w);
      if (i >= 0) this.#workers.splice(i, 1);
    });
    worker.unref(); // referenced only while it has encoders (open())
    this.#workers.push(w);
    return w;
  }

  #release(w: PoolWorker, id: number): void {
    w.encoders.delete(id);
    if (w.encoders.size === 0) w.worker.unref();
  }
}

export class OffloadEncoder implements Encoder {
  readonly format: AudioFormat;
  readonly inputRate: SampleRate;
  readonly sampleRate: SampleRate;
  readonly channels: ChannelCount;
  readonly #sink: ByteSink;
  readonly #id: number;
  readonly #post: (m: ToWorker) => void;
  readonly #release: () => void;
  readonly #batchSamples: number;
  #batch: Int16Array;
  #fill = 0;
  #inputFrames = 0;
  #finalSamples = -1;
  #bytes = 0;
  #closed = false;
  #error: Error | null = null;
  #done = false;
  readonly #drained: Promise<void>;
  #resolve!: () => void;
  #reject!: (err: Error) => void;

  constructor(o: EncoderOptions, sink: ByteSink, id: number, post: (m: ToWorker) => void, release: () => void) {
    this.format = o.format;
    this.inputRate = o.inputRate;
    this.sampleRate = o.sampleRate;
    this.channels = o.channels;
    this.#sink = sink;
    this.#id = id;
    this.#post = post;
    this.#release = release;
    this.#batchSamples = ((o.inputRate * OFFLOAD_BATCH_MS) / 1000) * o.channels;
    this.#batch = new Int16Array(this.#batchSamples);
    this.#drained = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // drained() may never be awaited (a recording that failed earlier): no unhandled rejection.
    this.#drained.catch(() => undefined);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get bytesWritten(): number {
    return this.#bytes;
  }

  get samplesWritten(): number {
    if (this.#finalSamples >= 0) return this.#finalSamples;
    return Math.floor((this.#inputFrames * this.sampleRate) / this.inputRate);
  }

  get durationMs(): number {
    return (this.samplesWritten * 1000) / this.sampleRate;
  }

  write(frame: Int16Array): void {
    const frames = frameCount('OffloadEncoder', this.#closed, frame, this.channels);
    this.#inputFrames += frames;
    if (this.#error !== null) return; // failed: drained() reports it
    for (let done = 0; done < frame.length; ) {
      const n = Math.min(frame.length - done, this.#batchSamples - this.#fill);
      this.#batch.set(frame.subarray(done, done + n), this.#fill);
      this.#fill += n;
      done += n;
      if (this.#fill === this.#batchSamples) this.#send();
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#error !== null) return;
    if (this.#fill > 0) this.#send();
    this.#post({ op: 'close', id: this.#id });
  }

  /** Resolves when every byte of the closed encoder is in the sink; rejects if the codec failed. */
  drained(): Promise<void> {
    if (!this.#closed) return Promise.reject(new InvalidStateError('drained() before close()'));
    return this.#drained;
  }

  /** A message from the worker (EncoderPool). */
  receive(m: FromWorker): void {
    if (this.#done) return;
    if (m.error !== undefined) {
      this.fail(new IoError(`${this.format} encoder: ${m.error}`));
      return;
    }
    if (m.appends !== null) {
      this.#sink.append(m.appends, 0, m.appends.length);
      this.#bytes += m.appends.length;
    }
    for (const [position, bytes] of m.patches) this.#sink.patch(position, bytes);
    if (m.closed === true) {
      this.#finalSamples = m.samples;
      this.#finish();
      this.#resolve();
    }
  }

  /** The codec or its worker failed: no more bytes; drained() rejects with `err`. */
  fail(err: Error): void {
    if (this.#done) return;
    if (!this.#closed) {
      // Let the worker drop its encoder (a dead or terminated worker ignores this).
      this.#closed = true;
      this.#post({ op: 'close', id: this.#id });
    }
    this.#error = err;
    this.#finish();
    this.#reject(err);
  }

  #finish(): void {
    this.#done = true;
    this.#release();
  }

  #send(): void {
    // The batch is transferred (the worker owns it now): a new one for the next 250 ms.
    const pcm = this.#fill === this.#batchSamples ? this.#batch : this.#batch.slice(0, this.#fill);
    this.#post({ op: 'pcm', id: this.#id, pcm });
    if (pcm === this.#batch) this.#batch = new Int16Array(this.#batchSamples);
    this.#fill = 0;
  }
}
