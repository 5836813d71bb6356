/**
 * SHA-256 of a finished recording, on a worker thread. Every recording is hashed once when it
 * stops, and hashing is about 1 ms per MB here: at the end of a load run 80 recordings a
 * second end, and hashing them on the event loop took 13 % of the media thread while the calls
 * still up needed it (bench:load, perf). One worker serves every recording; it is referenced
 * only while it has work, so it never keeps the process alive.
 */
import { Worker } from 'node:worker_threads';
import { IoError } from '../common/index.js';

export interface HashJob {
  id: number;
  path: string;
  /** Bytes to hash from the start; -1: the whole file. */
  size: number;
}

export type HashReply = { id: number; hex: string; threadId: number } | { id: number; error: string; code: string; threadId: number };

interface Pending {
  resolve: (hex: string) => void;
  reject: (err: Error) => void;
}

class FileHasher {
  #worker: Worker | null = null;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  /** Thread id of the worker that answered last (tests: the hash did not run on the event loop). */
  lastThreadId = -1;
  /** Files hashed since start. */
  hashed = 0;

  hash(path: string, size: number): Promise<string> {
    const worker = this.#worker ?? this.#start();
    const id = this.#next++;
    return new Promise<string>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) worker.ref();
      worker.postMessage({ id, path, size: Number.isFinite(size) ? size : -1 } satisfies HashJob);
    });
  }

  #start(): Worker {
    const worker = new Worker(new URL('./hashWorker.mjs', import.meta.url));
    worker.unref();
    worker.on('message', (m: HashReply) => {
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) worker.unref();
      this.lastThreadId = m.threadId;
      if ('hex' in m) {
        this.hashed++;
        p.resolve(m.hex);
      } else {
        // Shaped like the fs error a stream read gives (code: ENOENT...).
        p.reject(Object.assign(new Error(m.error), { code: m.code }));
      }
    });
    worker.on('error', (err) => this.#fail(worker, err));
    worker.on('exit', () => this.#fail(worker, new Error('hash worker exited')));
    this.#worker = worker;
    return worker;
  }

  /** The worker died: its jobs fail, the next hash starts another. */
  #fail(worker: Worker, err: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = null;
    for (const p of this.#pending.values()) p.reject(new IoError(`hash worker failed: ${err.message}`, err));
    this.#pending.clear();
  }
}

const hasher = new FileHasher();

/** SHA-256 (hex) of the first `size` bytes of a file (all of it by default), on the hash worker. */
export function hashFile(path: string, size = Infinity): Promise<string> {
  return hasher.hash(path, size);
}

/** Files hashed and the thread that hashed the last one. */
export function fileHashStats(): { hashed: number; lastThreadId: number } {
  return { hashed: hasher.hashed, lastThreadId: hasher.lastThreadId };
}
