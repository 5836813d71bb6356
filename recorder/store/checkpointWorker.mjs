// The checkpoint worker: a connection of its own to the store's database that moves the WAL's
// pages into the database file (PRAGMA wal_checkpoint(PASSIVE)) every `intervalMs`, so the
// gateway's connection never does it inside a commit (Checkpointer.ts says why, and holds the
// message types: CheckpointWorkerData in, CheckpointRequest in, CheckpointReply out).
//
// Plain JavaScript, unlike the other workers: a worker that registers tsx to run TypeScript
// also gets Node 20's module-hooks thread, and the two cost 30 MiB of RSS; this file, 13 MiB.
//
// PASSIVE copies what it can without waiting for anyone: the gateway's connection keeps writing
// to the WAL meanwhile, and a page a reader still needs is left for the next round.
import Database from 'better-sqlite3';
import { parentPort, threadId, workerData } from 'node:worker_threads';

/** @type {{ path: string; intervalMs: number }} */
const { path, intervalMs } = workerData;
// No waiting on a lock: a round that finds the database busy is simply retried next time.
const db = new Database(path, { fileMustExist: true, timeout: 0 });

/**
 * One round; `id` is 0 for the periodic ones, else the request's.
 * @param {number} id
 */
function checkpoint(id) {
  const t0 = performance.now();
  try {
    /** @type {{ busy: number; log: number; checkpointed: number }[]} */
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    return { id, log: r?.log ?? 0, checkpointed: r?.checkpointed ?? 0, busy: r?.busy ?? 0, ms: performance.now() - t0, threadId };
  } catch (err) {
    return { id, log: 0, checkpointed: 0, busy: 1, ms: performance.now() - t0, threadId, error: String(err instanceof Error ? err.message : err) };
  }
}

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const timer = setInterval(() => port.postMessage(checkpoint(0)), intervalMs);
port.on('message', (/** @type {{ kind: 'now' | 'close'; id: number }} */ m) => {
  if (m.kind === 'now') {
    port.postMessage(checkpoint(m.id));
    return;
  }
  // Close: one last round, then the connection goes and the thread ends.
  clearInterval(timer);
  port.postMessage(checkpoint(m.id));
  db.close();
  port.close();
});
