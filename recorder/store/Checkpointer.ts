/**
 * WAL checkpoints on a worker thread, off the event loop.
 *
 * In WAL mode every commit appends pages to the -wal file, and SQLite's automatic checkpoint
 * copies them into the database file (and fsyncs it) inside the commit that takes the WAL past
 * 1,000 pages, on the thread that commits: the gateway's event loop, which also mixes and
 * records every call. Measured here (bench "store"): a recording's lifecycle writes (insert,
 * two updates) took 0.17 ms at the median and 7.8 ms at the p99 with it, 0.4 ms without; under
 * a ramp of 100 calls a second on a loaded core the store was the largest item on the event
 * loop (a profile of bench:load), behind which SIP messages waited until INVITEs were
 * retransmitted.
 *
 * So the store's connection does not checkpoint (wal_autocheckpoint = 0) and this worker,
 * with a connection of its own, runs PRAGMA wal_checkpoint(PASSIVE) every `intervalMs`. Nothing
 * changes for durability: a commit is in the WAL either way, and a crash leaves the WAL for the
 * next open to replay. When the worker cannot start or dies, `onFail` gives the checkpoints
 * back to the store's connection (else the WAL would grow without bound).
 *
 * The worker (checkpointWorker.mjs) is plain JavaScript and speaks the messages typed below: a
 * worker that registers tsx also starts Node 20's module-hooks thread, 30 MiB of RSS in all
 * against 13 MiB without.
 */
import { Worker } from 'node:worker_threads';

export interface CheckpointWorkerData {
  path: string;
  intervalMs: number;
}

export type CheckpointRequest = { kind: 'now'; id: number } | { kind: 'close'; id: number };

export interface CheckpointReply {
  /** 0 for the periodic rounds, else the request's id. */
  id: number;
  /** Frames in the WAL, and how many of them are in the database file now (SQLite's result). */
  log: number;
  checkpointed: number;
  /** 1 when the round could not run (the database was busy, or failed: `error`). */
  busy: number;
  /** How long the round took, ms. */
  ms: number;
  threadId: number;
  error?: string;
}

export interface CheckpointStats {
  /** The worker runs the checkpoints now (false: it failed, the store's connection does them). */
  running: boolean;
  rounds: number;
  /** Rounds that found the database busy or failed. */
  busyRounds: number;
  /** WAL frames at the last round, and how many of them had been copied to the database file. */
  walFrames: number;
  walFramesCheckpointed: number;
  /** Longest round, ms (the fsync of the database file is in it). */
  maxMs: number;
  /** The worker's thread id (0 before its first round). */
  threadId: number;
}

export class Checkpointer {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, (r: CheckpointReply | null) => void>();
  #next = 1;
  #running = true;
  #closing: Promise<void> | null = null;
  readonly #onFail: () => void;
  readonly #stats: Omit<CheckpointStats, 'running'> = { rounds: 0, busyRounds: 0, walFrames: 0, walFramesCheckpointed: 0, maxMs: 0, threadId: 0 };

  /** Throws when the worker cannot be created; `onFail` runs if it fails later. */
  constructor(path: string, intervalMs: number, onFail: () => void) {
    this.#onFail = onFail;
    this.#worker = new Worker(new URL('./checkpointWorker.mjs', import.meta.url), { workerData: { path, intervalMs } satisfies CheckpointWorkerData });
    // Never what keeps the process alive.
    this.#worker.unref();
    this.#worker.on('message', (r: CheckpointReply) => this.#reply(r));
    this.#worker.on('error', () => this.#fail());
    this.#worker.on('exit', () => this.#fail());
  }

  /** Runs a round now (tests; the store's close). Resolves null when the worker is gone. */
  checkpointNow(): Promise<CheckpointReply | null> {
    return this.#request('now');
  }

  stats(): CheckpointStats {
    return { ...this.#stats, running: this.#running };
  }

  /** A last round, then the worker's connection closes and the thread ends. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#request('close').then(() => undefined);
    return this.#closing;
  }

  /** Tests only: ends the worker as a crash would. */
  terminateForTest(): Promise<number> {
    return this.#worker.terminate();
  }

  #request(kind: CheckpointRequest['kind']): Promise<CheckpointReply | null> {
    if (!this.#running) return Promise.resolve(null);
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#worker.postMessage({ kind, id } satisfies CheckpointRequest);
    });
  }

  #reply(r: CheckpointReply): void {
    const s = this.#stats;
    s.rounds++;
    if (r.busy !== 0) s.busyRounds++;
    else {
      s.walFrames = r.log;
      s.walFramesCheckpointed = r.checkpointed;
    }
    if (r.ms > s.maxMs) s.maxMs = r.ms;
    s.threadId = r.threadId;
    const resolve = this.#waiting.get(r.id);
    this.#waiting.delete(r.id);
    resolve?.(r);
  }

  #fail(): void {
    if (!this.#running) return;
    this.#running = false;
    for (const resolve of this.#waiting.values()) resolve(null);
    this.#waiting.clear();
    // After a close the store's connection is closing too: nothing to hand back.
    if (this.#closing === null) this.#onFail();
  }
}
