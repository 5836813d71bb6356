/**
 * The floor of bench/load, measured in the same run as the gateway: floor.c (epoll receiver
 * that reads and µ-law-decodes every packet into a ring, nothing else) on the same number of
 * sockets (4 per call), fed by gen.c at the same packet rate (2 legs x 50 packets/s per call).
 * Its CPU comes from /proc/<pid>/stat like the gateway's; its packet count from its own
 * counter, read at the start and end of the window (SIGUSR1).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { busyCores, cpuSample, machineCpu, udpDrops } from './procfs.js';
import { sleep, startChild, stopChild, waitForOutput } from './processes.js';
import type { Child } from './processes.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface FloorBinaries {
  floor: string;
  gen: string;
}

/** Builds floor.c and gen.c with gcc -O2 into `dir`; throws with gcc's message when it fails. */
export function buildFloor(dir: string): FloorBinaries {
  const out = { floor: path.join(dir, 'floor'), gen: path.join(dir, 'gen') };
  execFileSync('gcc', ['-O2', '-o', out.floor, path.join(here, 'floor.c')], { stdio: 'pipe' });
  execFileSync('gcc', ['-O2', '-pthread', '-o', out.gen, path.join(here, 'gen.c'), '-lm'], { stdio: 'pipe' });
  return out;
}

export interface FloorResult {
  /** CPU (user + system, scheduler ns clock) per received packet, in µs. */
  usPerPacket: number;
  /** The same from utime + stime of /proc/<pid>/stat (10 ms ticks). */
  usPerPacketStat: number;
  packets: number;
  windowS: number;
  /** Received packets per second per call (100 expected). */
  packetsPerCallSecond: number;
  /** Kernel drops at the floor's sockets over the run. */
  kernelDrops: number;
  cpuPercent: number;
  /** Time the floor was runnable but waited for a CPU, % of the window. */
  runQueueWaitPercent: number;
  /** The generator (gen.c), % of a core. */
  genCpuPercent: number;
  /** Cores busy on the whole machine over the window. */
  machineBusyCores: number;
}

async function packetsOf(floor: Child, nth: number): Promise<number> {
  floor.proc.kill('SIGUSR1');
  const re = /packets=(\d+)/g;
  const end = Date.now() + 5000;
  for (;;) {
    const all = [...floor.stdout.matchAll(re)];
    if (all.length >= nth) return Number(all[nth - 1]![1]);
    if (Date.now() > end) throw new Error('floor did not report its packet count');
    await sleep(5);
  }
}

/**
 * Runs the floor for `calls` calls: warm-up, then a `seconds` window. With `relay` every
 * packet is also sent back to its source (one sendto per packet); with `sink` the generator
 * reads those replies like a real peer (gen.c --sink), so each send also pays for delivering
 * into a reading socket and waking its reader, as the gateway's sends to sipp do.
 */
export async function measureFloor(bin: FloorBinaries, calls: number, seconds: number, warmupS = 2, relay = false, sink = false): Promise<FloorResult> {
  const legs = 2 * calls;
  const floor = startChild(bin.floor, relay ? [String(legs), 'relay'] : [String(legs)], {}, 'gateway');
  let gen: Child | null = null;
  try {
    // The whole line: the floor prints ports while it binds, so stdio flushes the line in 4 KiB
    // pieces, and a partial list (17 % of 4,000 ports) once fed gen.c a sixth of the streams.
    const m = await waitForOutput(floor, /^ports ([\d ]+)\n/m, 30_000);
    const ports = m[1]!.trim().split(' ');
    gen = startChild(bin.gen, [...(sink ? ['--sink'] : []), String(warmupS + seconds + 2), ...ports], {}, 'load');
    await sleep(warmupS * 1000);
    const m0 = machineCpu();
    const g0 = cpuSample(gen.pid);
    const p0 = await packetsOf(floor, 1);
    const c0 = cpuSample(floor.pid);
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const c1 = cpuSample(floor.pid);
    const t1 = performance.now();
    const p1 = await packetsOf(floor, 2);
    const g1 = cpuSample(gen.pid);
    const m1 = machineCpu();
    const drops = udpDrops(floor.pid).drops;
    const windowS = (t1 - t0) / 1000;
    const packets = p1 - p0;
    await gen.exited;
    return {
      usPerPacket: (c1.sched - c0.sched) / packets,
      usPerPacketStat: (c1.stat - c0.stat) / packets,
      packets,
      windowS,
      packetsPerCallSecond: packets / windowS / calls,
      kernelDrops: drops,
      cpuPercent: ((c1.sched - c0.sched) / 1e6 / windowS) * 100,
      runQueueWaitPercent: ((c1.wait - c0.wait) / 1e6 / windowS) * 100,
      genCpuPercent: ((g1.sched - g0.sched) / 1e6 / windowS) * 100,
      machineBusyCores: busyCores(m0, m1, windowS),
    };
  } finally {
    if (gen !== null) await stopChild(gen, 'SIGKILL', 1000);
    await stopChild(floor, 'SIGTERM', 2000);
  }
}
