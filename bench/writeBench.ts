/**
 * The recordings' file writes as the gateway makes them: N sinks, each taking a 20 ms stereo
 * 8 kHz frame (640 bytes) every 20 ms from a timer, as the mixer feeds them, and flushing its
 * staged bytes at the shared 250 ms boundaries (FileSink). Measured: the event loop's CPU per
 * write, the whole process's (threadpool included), and the loop's delay, with every write an
 * fs.write (the reference) against the writes of a turn batched into threadpool jobs
 * (recorder/batchWrite.ts, native/fileio.c), in the same process.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FileSink, batchWriteStats, useBatchedWrites } from '../recorder/index.js';
import { schedMicros } from './load/procfs.js';
import type { Row } from './util.js';

async function run(batched: boolean, sinks: number, seconds: number): Promise<Row> {
  useBatchedWrites(batched);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-write-bench-'));
  try {
    const all = await Promise.all(Array.from({ length: sinks }, (_, i) => FileSink.create(path.join(dir, `${i}.wav`))));
    const frame = new Uint8Array(640).fill(1);
    const loop = monitorEventLoopDelay({ resolution: 10 });
    const s0 = batchWriteStats();
    const w0 = all.reduce((n, s) => n + s.writes, 0);
    const cpu0 = process.cpuUsage();
    const main0 = schedMicros(process.pid).main;
    loop.enable();
    await new Promise<void>((resolve) => {
      const end = performance.now() + seconds * 1000;
      const timer = setInterval(() => {
        for (const s of all) {
          s.append(frame, 0, frame.length);
          s.maybeFlush();
        }
        if (performance.now() >= end) {
          clearInterval(timer);
          resolve();
        }
      }, 20);
    });
    loop.disable();
    // The writes still in flight are part of the cost.
    for (let i = 0; i < 200 && all.some((s) => s.backlog > 0 && s.writes === 0); i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 100));
    const mainUs = schedMicros(process.pid).main - main0;
    const cpu = process.cpuUsage(cpu0);
    const writes = all.reduce((n, s) => n + s.writes, 0) - w0;
    const jobs = batchWriteStats().jobs - s0.jobs;
    await Promise.all(all.map((s) => s.close()));
    return {
      path: batched ? 'batched: one threadpool job per turn' : 'fs.write each (reference)',
      sinks,
      writes,
      'writes per job': batched ? (writes / Math.max(1, jobs)).toFixed(1) : 1,
      'event loop µs per write': mainUs / writes,
      'process µs per write': (cpu.user + cpu.system) / writes,
      'loop delay p99 ms': loop.percentile(99) / 1e6,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchWrites(sinks = 800, seconds = 6): Promise<Row[]> {
  const reference = await run(false, sinks, seconds);
  const batched = await run(true, sinks, seconds);
  const ratio = (k: string): string => `${((batched[k] as number) / (reference[k] as number)).toFixed(2)}x`;
  return [
    reference,
    batched,
    { path: 'batched / reference', sinks: '', writes: '', 'writes per job': '', 'event loop µs per write': ratio('event loop µs per write'), 'process µs per write': ratio('process µs per write'), 'loop delay p99 ms': ratio('loop delay p99 ms') },
  ];
}
