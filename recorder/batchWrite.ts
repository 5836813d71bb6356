/**
 * Positional file writes gathered per event-loop turn and handed to the libuv threadpool as one
 * job (native/fileio.c), instead of one fs.write request each.
 *
 * Every FileSink of the process flushes at the same clock boundaries, so the writes of a mixer
 * round arrive together: at 800 recordings about 3,200 a second, each fs.write costing the
 * event loop a request object, a threadpool wake-up and a completion callback (7 % of its time
 * in a CPU profile of 800 loaded calls). Here the first write of a turn schedules one
 * submission (setImmediate); everything written until then goes in the same job, split into
 * jobs of at most BATCH_MAX so that a burst still spreads over the pool's threads.
 *
 * Order: a job writes its entries one after the other, and a sink has one write in flight at a
 * time (FileSink), so a file's bytes land in the order they were queued.
 *
 * Without the addon (not Linux, not built, or RECGATE_NATIVE_WRITES=0) each write is an
 * fs.write as before. Same callback, same errors (an Error with `code` 'ENOSPC', 'EIO'...).
 */
import fs from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';

/** (err, bytesWritten): fs.write's callback. */
export type WriteCallback = (err: NodeJS.ErrnoException | null, written: number) => void;

interface Addon {
  writeBatch(
    fds: Int32Array,
    bufs: Uint8Array[],
    lengths: Int32Array,
    positions: Float64Array,
    count: number,
    results: Float64Array,
    done: () => void,
  ): void;
}

/** Entries per threadpool job: 256 writes of 8 KiB are about 2 ms of page-cache copying. */
const BATCH_MAX = 256;

/** One job's arrays, reused once its job has completed (no allocation per write or per turn). */
class Slot {
  readonly fds = new Int32Array(BATCH_MAX);
  readonly bufs: Uint8Array[] = [];
  readonly lengths = new Int32Array(BATCH_MAX);
  readonly positions = new Float64Array(BATCH_MAX);
  readonly results = new Float64Array(BATCH_MAX);
  readonly callbacks: WriteCallback[] = [];
  count = 0;
  readonly done = (): void => complete(this);
}

let addon: Addon | null | undefined;
let why = '';
/** The slot being filled this turn (null: none yet). */
let filling: Slot | null = null;
/** Slots whose jobs completed, ready for reuse. */
const free: Slot[] = [];
/** Slots filled this turn, waiting for the setImmediate that submits them. */
const ready: Slot[] = [];
let scheduled = false;

const counters = { jobs: 0, writes: 0, largestJob: 0, inFlight: 0, slots: 0 };

/** errno number -> code ('ENOSPC'), from the platform's table. */
const errnoNames = new Map<number, string>(Object.entries(os.constants.errno).map(([name, n]) => [n, name]));

function load(): Addon | null {
  if (addon === undefined) choose(process.env.RECGATE_NATIVE_WRITES !== '0');
  return addon ?? null;
}

/** Batches through the addon when `batched` and it loads, else an fs.write each. */
function choose(batched: boolean): void {
  addon = null;
  if (!batched) {
    why = 'fs.write per write (RECGATE_NATIVE_WRITES=0)';
  } else if (process.platform !== 'linux') {
    why = `fs.write per write (not built for ${process.platform})`;
  } else {
    try {
      addon = createRequire(import.meta.url)('../native/build/Release/recgate_fileio.node') as Addon;
      why = 'batched (one threadpool job per event-loop turn)';
    } catch (err) {
      why = `fs.write per write (native addon unavailable: ${(err as Error).message.split('\n')[0]})`;
    }
  }
}

/**
 * Writes buf[0, length) at `position` of `fd`, then calls `cb` as fs.write would. `buf` must
 * not change until then.
 */
export function writeAt(fd: number, buf: Uint8Array, length: number, position: number, cb: WriteCallback): void {
  const a = load();
  if (a === null) {
    fs.write(fd, buf, 0, length, position, cb);
    return;
  }
  let slot = filling;
  if (slot === null || slot.count === BATCH_MAX) {
    if (slot !== null) ready.push(slot);
    slot = free.pop() ?? newSlot();
    filling = slot;
  }
  const i = slot.count++;
  slot.fds[i] = fd;
  slot.bufs[i] = buf;
  slot.lengths[i] = length;
  slot.positions[i] = position;
  slot.callbacks[i] = cb;
  if (!scheduled) {
    scheduled = true;
    setImmediate(submit);
  }
}

function newSlot(): Slot {
  counters.slots++;
  return new Slot();
}

function submit(): void {
  scheduled = false;
  if (filling !== null) {
    ready.push(filling);
    filling = null;
  }
  for (const slot of ready) {
    counters.jobs++;
    counters.inFlight++;
    counters.writes += slot.count;
    if (slot.count > counters.largestJob) counters.largestJob = slot.count;
    try {
      addon!.writeBatch(slot.fds, slot.bufs, slot.lengths, slot.positions, slot.count, slot.results, slot.done);
    } catch (err) {
      // Not queued (a bad entry, no memory): each write fails as it would have.
      counters.inFlight--;
      fail(slot, err as Error);
    }
  }
  ready.length = 0;
}

function complete(slot: Slot): void {
  counters.inFlight--;
  const n = slot.count;
  for (let i = 0; i < n; i++) {
    const cb = slot.callbacks[i]!;
    const r = slot.results[i]!;
    release(slot, i);
    if (r >= 0) cb(null, r);
    else cb(errnoError(-r), 0);
  }
  slot.count = 0;
  free.push(slot);
}

function fail(slot: Slot, err: Error): void {
  const n = slot.count;
  for (let i = 0; i < n; i++) {
    const cb = slot.callbacks[i]!;
    release(slot, i);
    cb(Object.assign(new Error(`write failed: ${err.message}`), { code: 'EIO' }), 0);
  }
  slot.count = 0;
  free.push(slot);
}

/** Drops the slot's references to a written buffer and its callback (they are the sink's). */
function release(slot: Slot, i: number): void {
  slot.bufs[i] = EMPTY;
  slot.callbacks[i] = NOOP;
}

const EMPTY = new Uint8Array(0);
const NOOP: WriteCallback = () => undefined;

function errnoError(errno: number): NodeJS.ErrnoException {
  const code = errnoNames.get(errno) ?? 'EIO';
  return Object.assign(new Error(`${code}: write failed`), { errno: -errno, code, syscall: 'write' });
}

/**
 * Benchmarks: true batches the writes (when the addon loads), false makes each an fs.write, so
 * both paths can be measured in one process. Only between writes (nothing in flight).
 */
export function useBatchedWrites(on: boolean): void {
  if (counters.inFlight > 0 || filling !== null) throw new Error('writes are in flight');
  choose(on);
}

/** How the recordings' writes reach the disk, and how many went in how many jobs. */
export function batchWriteStats(): { path: string; jobs: number; writes: number; largestJob: number; inFlight: number; slots: number } {
  load();
  return { path: why, ...counters };
}
