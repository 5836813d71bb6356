/**
 * The hash worker: SHA-256 of finished recording files, off the media thread (fileHash.ts).
 * Each job reads the file in 1 MiB pieces with blocking reads, which is what this thread is for.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { parentPort, threadId } from 'node:worker_threads';
import type { HashReply, HashJob } from './fileHash.js';

const piece = Buffer.allocUnsafe(1 << 20);

function hash(job: HashJob): HashReply {
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
    const e = err as NodeJS.ErrnoException;
    return { id: job.id, error: e.message, code: e.code ?? '', threadId };
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

parentPort!.on('message', (job: HashJob) => parentPort!.postMessage(hash(job)));
