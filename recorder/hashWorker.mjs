// The hash worker: SHA-256 of finished recording files, off the media thread (fileHash.ts, which
// holds the message types: HashJob in, HashReply out). Each job reads the file in 1 MiB pieces
// with blocking reads, which is what this thread is for.
//
// Plain JavaScript, like the checkpoint worker: a worker that registers tsx to run TypeScript
// also gets Node 20's module-hooks thread, and the two cost about 30 MiB of RSS.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { parentPort, threadId } from 'node:worker_threads';

const piece = Buffer.allocUnsafe(1 << 20);

/**
 * @param {{ id: number; path: string; size: number }} job size -1: the whole file
 */
function hash(job) {
  let fd = -1;
  try {
    fd = fs.openSync(job.path, 'r');
    const h = createHash('sha256');
    let left = job.size >= 0 ? job.size : fs.fstatSync(fd).size;
    let pos = 0;
    while (left > 0) {
      const n = fs.readSync(fd, piece, 0, Math.min(piece.length, left), pos);
      if (n <= 0) break; // shorter than asked: the hash of what is there, as a stream read gives
      h.update(piece.subarray(0, n));
      pos += n;
      left -= n;
    }
    return { id: job.id, hex: h.digest('hex'), threadId };
  } catch (err) {
    const e = /** @type {NodeJS.ErrnoException} */ (err);
    return { id: job.id, error: e.message, code: e.code ?? '', threadId };
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
port.on('message', (job) => port.postMessage(hash(job)));
