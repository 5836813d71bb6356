/**
 * The checkpoint worker: a connection of its own to the store's database that moves the WAL's
 * pages into the database file (PRAGMA wal_checkpoint(PASSIVE)) every `intervalMs`, so the
 * gateway's connection never does it inside a commit (Checkpointer.ts says why).
 *
 * PASSIVE copies what it can without waiting for anyone: the gateway's connection keeps
 * writing to the WAL meanwhile, and a page a reader still needs is left for the next round.
 */
import Database from 'better-sqlite3';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import type { CheckpointReply, CheckpointRequest, CheckpointWorkerData } from './Checkpointer.js';

const { path, intervalMs } = workerData as CheckpointWorkerData;
// No waiting on a lock: a round that finds the database busy is simply retried next time.
const db = new Database(path, { fileMustExist: true, timeout: 0 });

function checkpoint(id: number): CheckpointReply {
  const t0 = performance.now();
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    return { id, log: r?.log ?? 0, checkpointed: r?.checkpointed ?? 0, busy: r?.busy ?? 0, ms: performance.now() - t0, threadId };
  } catch (err) {
    return { id, log: 0, checkpointed: 0, busy: 1, ms: performance.now() - t0, threadId, error: (err as Error).message };
  }
}

const timer = setInterval(() => parentPort!.postMessage(checkpoint(0)), intervalMs);
parentPort!.on('message', (m: CheckpointRequest) => {
  if (m.kind === 'now') {
    parentPort!.postMessage(checkpoint(m.id));
    return;
  }
  // Close: one last round, then the connection goes and the thread ends.
  clearInterval(timer);
  parentPort!.postMessage(checkpoint(m.id));
  db.close();
  parentPort!.close();
});
