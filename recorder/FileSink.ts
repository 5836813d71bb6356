/**
 * A ByteSink that writes to a file through a bounded queue, so encoding (on the media path)
 * never waits for the disk.
 *
 * Bytes are copied into fixed-size staging chunks; a full chunk, or a partial one when the
 * process clock passes a multiple of `flushIntervalMs`, is queued for a positional write.
 * Every sink of the process flushes at the same boundaries, so the writes reach the libuv
 * threadpool in bursts (one per mixer phase) rather than spread evenly: at 400 recordings its
 * threads woke ~1,450 times/s instead of ~2,400; and the writes of one event-loop turn go to
 * the threadpool as one job (batchWrite.ts). One write per sink is in flight at a time, in
 * order. The queue is bounded (`maxQueuedBytes`): when the disk is too slow for it,
 * the sink fails with QueueFullError and says so through `onError` — bytes are never dropped
 * silently. A disk error (ENOSPC, EIO) fails the sink the same way with the errno code.
 *
 * Crash safety: what was queued reaches the page cache within one flush interval plus the
 * write time, so a killed process loses at most that much; close() also fsyncs.
 */
import fs from 'node:fs';
import { IoError, InvalidStateError, QueueFullError, copyBytes, errnoCode } from '../common/index.js';
import type { RecgateError } from '../common/index.js';
import type { ByteSink } from '../encoders/index.js';
import { mediaClock } from '../mixer/index.js';
import { writeAt } from './batchWrite.js';

/** A closed sink's staging chunk: empty (see close()). */
const RELEASED = new Uint8Array(0);

export interface FileSinkOptions {
  /** Staging chunk size in bytes; default 32 KiB. */
  chunkBytes?: number;
  /** Most bytes waiting for the disk before the sink fails; default 8 MiB. */
  maxQueuedBytes?: number;
  /** Longest time bytes wait in a partial chunk, in ms; default 250 (what a crash may lose, plus the write). */
  flushIntervalMs?: number;
  /** Monotonic clock in ms; default performance.now (the media clock's round time inside one). */
  now?: () => number;
  /** Open an existing file and truncate it instead of refusing (default false: never overwrite a recording). */
  overwrite?: boolean;
}

interface Pending {
  buf: Uint8Array;
  length: number;
  position: number;
  /** Pool chunk (returned to the pool after the write) or a one-off patch buffer. */
  pooled: boolean;
}

export class FileSink implements ByteSink {
  readonly path: string;
  readonly chunkBytes: number;
  readonly maxQueuedBytes: number;
  readonly flushIntervalMs: number;
  /** Called once when the sink fails (queue full or disk error). */
  onError: ((err: RecgateError) => void) | null = null;

  #fd: number;
  /** Settles when the file is open (or could not be); null once it has. */
  #opening: Promise<void> | null = null;
  /** options.now, or null: the media clock's round (mediaClock) or performance.now(). */
  readonly #customNow: (() => number) | null;
  readonly #pool: Uint8Array[] = [];
  readonly #queue: Pending[] = [];
  #chunk: Uint8Array;
  #chunkFill = 0;
  /** File position of the staging chunk's first byte. */
  #chunkPosition = 0;
  #chunkSince = 0;
  #queuedBytes = 0;
  #writing = false;
  #error: RecgateError | null = null;
  #closing: Promise<void> | null = null;
  #drained: (() => void) | null = null;

  /** Bytes appended (the file's final size, patches excluded). */
  bytesAppended = 0;
  /** Bytes the disk has accepted. */
  bytesWritten = 0;
  /** Largest backlog seen, in bytes. */
  maxBacklog = 0;
  writes = 0;

  readonly #onWritten = (err: NodeJS.ErrnoException | null, written: number): void => this.#written(err, written);

  private constructor(path: string, fd: number, options: FileSinkOptions) {
    this.path = path;
    this.#fd = fd; // -1 while the file is being created (see open())
    this.chunkBytes = options.chunkBytes ?? 32 * 1024;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 8 * 1024 * 1024;
    this.flushIntervalMs = options.flushIntervalMs ?? 250;
    this.#customNow = options.now ?? null;
    this.#chunk = new Uint8Array(this.chunkBytes);
    this.#chunkSince = this.#now();
  }

  /**
   * The time, once per frame: inside a round of the media clock its time (frames are made
   * then), else performance.now(), which allocates a little each call (mediaClock).
   */
  #now(): number {
    if (this.#customNow !== null) return this.#customNow();
    const t = mediaClock[0]!;
    return t === t ? t : performance.now();
  }

  /** Creates the file (refuses to overwrite an existing one unless `overwrite`). */
  static async create(path: string, options: FileSinkOptions = {}): Promise<FileSink> {
    const { sink, opened } = FileSink.open(path, options);
    await opened;
    return sink;
  }

  /**
   * A sink that takes bytes at once, while its file is still being created: they are staged
   * and written once the file is open. `opened` settles then; on failure (the file exists, no
   * space) it rejects and the sink has failed with the same error. A recording starts taking
   * audio when asked, not when the threadpool (busy with other files' writes) got to the open.
   */
  static open(path: string, options: FileSinkOptions = {}): { sink: FileSink; opened: Promise<void> } {
    const sink = new FileSink(path, -1, options);
    const opened = new Promise<void>((resolve, reject) => {
      fs.open(path, options.overwrite === true ? 'w' : 'wx', 0o644, (err, fd) => {
        if (err) {
          const e = new IoError(`cannot create ${path}: ${err.message}`, err);
          sink.#fail(e);
          sink.#opening = null;
          reject(e);
          return;
        }
        sink.#fd = fd;
        sink.#opening = null;
        sink.#pump();
        resolve();
      });
    });
    sink.#opening = opened.catch(() => undefined);
    return { sink, opened };
  }

  /** The error that failed the sink, or null. */
  get error(): RecgateError | null {
    return this.#error;
  }

  /** Memory the sink holds for staging, in bytes (its chunk and the pool's); 0 once closed. */
  get stagingBytes(): number {
    return this.#chunk.byteLength + this.#pool.reduce((n, c) => n + c.byteLength, 0);
  }

  /** Bytes waiting for the disk (staged and queued). */
  get backlog(): number {
    return this.#queuedBytes + this.#chunkFill;
  }

  append(bytes: Uint8Array, offset: number, length: number): void {
    if (this.#closing !== null) throw new InvalidStateError(`${this.path} is closed`);
    if (this.#error !== null) return;
    this.bytesAppended += length;
    let i = 0;
    while (i < length) {
      const run = Math.min(length - i, this.chunkBytes - this.#chunkFill);
      copyBytes(bytes, offset + i, this.#chunk, this.#chunkFill, run);
      this.#chunkFill += run;
      i += run;
      if (this.#chunkFill === this.chunkBytes) this.#queueChunk();
    }
  }

  patch(position: number, bytes: Uint8Array): void {
    if (this.#closing !== null) throw new InvalidStateError(`${this.path} is closed`);
    if (this.#error !== null) return;
    // Still staged: patch in memory.
    if (position >= this.#chunkPosition && position + bytes.length <= this.#chunkPosition + this.#chunkFill) {
      this.#chunk.set(bytes, position - this.#chunkPosition);
      return;
    }
    // Queued (or written): a positional write after everything before it keeps the order right.
    this.#enqueue({ buf: bytes.slice(), length: bytes.length, position, pooled: false });
  }

  /** Queues the staged bytes once a flush boundary has passed since the chunk began (so they wait at most `flushIntervalMs`); call it once per frame. */
  maybeFlush(): void {
    if (this.#chunkFill === 0) return;
    const every = this.flushIntervalMs;
    // The media clock's round time read here, not through #now(): a method that returns a
    // fractional double and is not inlined boxes it, once per frame per recording.
    const round = this.#customNow === null ? mediaClock[0]! : NaN;
    const now = round === round ? round : this.#now();
    if (every <= 0 || Math.floor(now / every) !== Math.floor(this.#chunkSince / every)) this.#queueChunk();
  }

  /** Queues the staged bytes now. */
  flush(): void {
    if (this.#chunkFill > 0) this.#queueChunk();
  }

  /**
   * Writes everything, fsyncs and closes the file. Idempotent. Rejects with the sink's error
   * if it failed (the file holds what was written before the failure).
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#opening !== null) await this.#opening;
    if (this.#fd < 0) throw this.#error ?? new IoError(`${this.path} was never opened`);
    if (this.#error === null) this.flush();
    await new Promise<void>((resolve) => {
      if (!this.#writing && this.#queue.length === 0) resolve();
      else this.#drained = resolve;
    });
    // Everything is written: the staging chunks go now (32 KiB and the pool's), not when the
    // last reference to the sink does (see Mixer.close).
    this.#chunk = RELEASED;
    this.#pool.length = 0;
    await new Promise<void>((resolve) => fs.fsync(this.#fd, () => resolve()));
    await new Promise<void>((resolve) => fs.close(this.#fd, () => resolve()));
    if (this.#error !== null) throw this.#error;
  }

  #queueChunk(): void {
    const chunk = this.#chunk;
    const length = this.#chunkFill;
    const position = this.#chunkPosition;
    this.#chunkPosition += length;
    this.#chunkFill = 0;
    this.#chunkSince = this.#now();
    this.#chunk = this.#pool.pop() ?? new Uint8Array(this.chunkBytes);
    this.#enqueue({ buf: chunk, length, position, pooled: true });
  }

  #enqueue(p: Pending): void {
    if (this.#queuedBytes + p.length > this.maxQueuedBytes) {
      this.#fail(
        new QueueFullError(
          `write queue of ${this.path} is full (${this.#queuedBytes} bytes waiting for the disk, limit ${this.maxQueuedBytes})`,
        ),
      );
      return;
    }
    this.#queue.push(p);
    this.#queuedBytes += p.length;
    if (this.#queuedBytes > this.maxBacklog) this.maxBacklog = this.#queuedBytes;
    this.#pump();
  }

  #pump(): void {
    if (this.#writing || this.#fd < 0) return;
    const p = this.#queue[0];
    if (p === undefined) {
      const done = this.#drained;
      this.#drained = null;
      done?.();
      return;
    }
    this.#writing = true;
    writeAt(this.#fd, p.buf, p.length, p.position, this.#onWritten);
  }

  #written(err: NodeJS.ErrnoException | null, written: number): void {
    this.#writing = false;
    const p = this.#queue[0]!;
    if (err) {
      const code = errnoCode(err) ?? 'EIO';
      this.#fail(new IoError(`write to ${this.path} failed: ${code}`, err));
      this.#queue.length = 0;
      this.#queuedBytes = 0;
      this.#pump();
      return;
    }
    this.writes++;
    this.bytesWritten += written;
    if (written < p.length) {
      // A short write: continue with the rest of the same buffer.
      p.buf = p.buf.subarray(written);
      p.length -= written;
      p.position += written;
      this.#queuedBytes -= written;
      this.#pump();
      return;
    }
    this.#queue.shift();
    this.#queuedBytes -= p.length;
    if (p.pooled && p.buf.byteLength === this.chunkBytes) this.#pool.push(p.buf);
    this.#pump();
  }

  #fail(err: RecgateError): void {
    if (this.#error !== null) return;
    this.#error = err;
    try {
      this.onError?.(err);
    } catch {
      // A failing error handler must not break the media path.
    }
  }
}
