/**
 * SHA-256 of a finished recording, on a worker thread. Every recording is hashed once when it
 * stops, and hashing is about 1 ms per MB here: at the end of a load run 80 recordings a
 * second end, and hashing them on the event loop took 13 % of the media thread while the calls
 * still up needed it (bench:load, perf). One worker serves every recording; it is referenced
 * only while it has work, so it never keeps the process alive.
 *
 * A recording must never wait forever for its hash: when the worker cannot start or dies (out
 * of file descriptors, say: a thread needs some), its jobs and the next ones for a while are
 * hashed on this thread instead, as before the worker.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';

/** After a worker failure, hash on this thread for this long before trying a worker again, in ms. */
const RETRY_WORKER_MS = 10_000;

export interface HashJob {
  id: number;
  path: string;
  /** Bytes to hash from the start; -1: the whole file. */
  size: number;
}

export type HashReply = { id: number; hex: string; threadId: number } | { id: number; error: string; code: string; threadId: number };

interface Pending {
  path: string;
  size: number;
  resolve: (hex: string) => void;
  reject: (err: Error) => void;
}

/** The hash streamed on this thread (the fallback). */
function hashHere(path: string, size: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    if (size <= 0) {
      resolve(hash.digest('hex'));
      return;
    }
    fs.createReadStream(path, Number.isFinite(size) ? { end: size - 1 } : {})
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

class FileHasher {
  #worker: Worker | null = null;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  /** Thread id of the worker that answered last, 0 for this thread (tests: the hash did not run on the event loop). */
  lastThreadId = -1;
  /** Monotonic ms before which no new worker is tried. */
  #retryAt = -Infinity;

  hash(path: string, size: number): Promise<string> {
    const worker = this.#worker ?? this.#start();
    if (worker === null) return this.#here(path, size);
    const id = this.#next++;
    return new Promise<string>((resolve, reject) => {
      this.#pending.set(id, { path, size, resolve, reject });
      if (this.#pending.size === 1) worker.ref();
      worker.postMessage({ id, path, size: Number.isFinite(size) ? size : -1 } satisfies HashJob);
    });
  }

  #here(path: string, size: number): Promise<string> {
    return hashHere(path, size).then((hex) => {
      this.lastThreadId = 0;
      return hex;
    });
  }

  #start(): Worker | null {
    if (performance.now() < this.#retryAt) return null;
    let worker: Worker;
    try {
      worker = new Worker(new URL('./hashWorker.mjs', import.meta.url));
    } catch {
      this.#retryAt = performance.now() + RETRY_WORKER_MS;
      return null;
    }
    worker.unref();
    worker.on('message', (m: HashReply) => {
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) worker.unref();
      this.lastThreadId = m.threadId;
      if ('hex' in m) {
        p.resolve(m.hex);
      } else {
        // Shaped like the fs error a stream read gives (code: ENOENT...).
        p.reject(Object.assign(new Error(m.error), { code: m.code }));
      }
    });
    worker.on('error', () => this.#fail(worker));
    worker.on('exit', () => this.#fail(worker));
    this.#worker = worker;
    return worker;
  }

  /** The worker could not start or died: its jobs are hashed here, and so are the next ones for a while. */
  #fail(worker: Worker): void {
    if (this.#worker !== worker) return;
    this.#worker = null;
    this.#retryAt = performance.now() + RETRY_WORKER_MS;
    const jobs = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of jobs) this.#here(p.path, p.size).then(p.resolve, p.reject);
  }
}

const hasher = new FileHasher();

/** SHA-256 (hex) of the first `size` bytes of a file (all of it by default), on the hash worker. */
export function hashFile(path: string, size = Infinity): Promise<string> {
  return hasher.hash(path, size);
}

/**
 * Starts the hash worker now and resolves once it has hashed (an empty prefix of its own
 * file): true when it runs, false when hashing falls back to the event loop. The gateway calls
 * it at start-up. Started at the first recording's end instead, under load, the worker's first
 * load (then tsx compiling its TypeScript, once per install; the worker is plain JavaScript
 * since) landed while 80 calls a second ended: on a 2-core machine full with 800 calls every
 * first bench:load run in a fresh clone lost audio (4 of 4 runs; 156 to 780 of 800 recordings
 * whole), and none once the worker was warm.
 */
export function warmFileHash(): Promise<boolean> {
  return hasher.hash(fileURLToPath(new URL('./hashWorker.mjs', import.meta.url)), 0).then(
    () => hasher.lastThreadId !== 0,
    () => false,
  );
}

/** The thread that hashed the last file (0: the event loop). */
export function fileHashStats(): { lastThreadId: number } {
  return { lastThreadId: hasher.lastThreadId };
}
