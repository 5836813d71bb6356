/**
 * What bench/load reads from /proc about another process: CPU time (utime + stime of every
 * thread, /proc/<pid>/stat), resident memory (VmRSS, /proc/<pid>/status) and the kernel's
 * per-socket receive drops of the UDP sockets it holds (/proc/net/udp `drops` column).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { threadTimes } from '../../common/index.js';

/** Clock ticks per second of utime/stime (getconf CLK_TCK; 100 on Linux). */
export const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of the process (all threads) in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]);
  return (ticks * 1e6) / CLK_TCK;
}

/**
 * The scheduler's view of the process, summed over its threads (/proc/<pid>/task/<tid>/schedstat):
 * time on a CPU (user + system) and time runnable but waiting for a CPU (another process had
 * it: on a shared 2-core machine this is how much the measured process was starved), in µs.
 * The first is the same quantity as utime + stime without the 10 ms tick, so short windows and
 * small processes are measured precisely (threads that exited are not counted; ours do not exit).
 */
export function schedMicros(pid: number): { run: number; wait: number; main: number; byName: Map<string, number> } {
  let run = 0;
  let wait = 0;
  let main = NaN;
  const byName = new Map<string, number>();
  for (const t of threadTimes(pid)) {
    run += t.runUs;
    wait += t.waitUs;
    if (t.tid === pid) main = t.runUs;
    byName.set(t.name, (byName.get(t.name) ?? 0) + t.runUs);
  }
  return { run, wait, main, byName };
}

/** Both CPU clocks of a process at one moment (µs), and its run-queue wait. */
export interface CpuSample {
  /** utime + stime from /proc/<pid>/stat (CLK_TCK resolution). */
  stat: number;
  /** Sum of the threads' schedstat run time (ns resolution). */
  sched: number;
  /** Sum of the threads' schedstat run-queue wait (runnable, not running). */
  wait: number;
  /** Run time of the main thread alone (for Node: the event loop, JS and the media path). */
  main: number;
  /**
   * Run time by thread name (/proc/<pid>/task/<tid>/comm), summed over threads of one name:
   * the native UDP path's receive and send threads (rtp/ NATIVE_THREAD_NAMES).
   */
  byName: Map<string, number>;
}

export function cpuSample(pid: number): CpuSample {
  const s = schedMicros(pid);
  return { sched: s.run, wait: s.wait, stat: cpuMicros(pid), main: s.main, byName: s.byName };
}

/**
 * CPU time of every thread on the machine (µs, schedstat), by thread id. `busyCores(a, b, s)`
 * turns two snapshots into the cores busy over `s` seconds: threads present in both count
 * their difference, threads born in between all of theirs, threads that ended are lost.
 * /proc/stat is not used: its tick-sampled per-CPU times miss bursts that wake on a
 * millisecond timer (a load generator's), showing a busy machine as nearly idle.
 */
export function machineCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let tids: string[];
    try {
      tids = fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // gone meanwhile
    }
    for (const tid of tids) {
      try {
        out.set(tid, Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1000);
      } catch {
        // gone meanwhile
      }
    }
  }
  return out;
}

export function busyCores(before: Map<string, number>, after: Map<string, number>, seconds: number): number {
  let us = 0;
  for (const [tid, run] of after) us += run - (before.get(tid) ?? 0);
  return us / 1e6 / seconds;
}

/** VmRSS of the process in KiB. */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** Inodes of the sockets the process holds open. */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/**
 * Datagrams the kernel dropped at the process's UDP sockets (receive buffer full: the process
 * did not read in time), summed over the sockets open now, and how many sockets that is.
 */
export function udpDrops(pid: number): { sockets: number; drops: number } {
  const inodes = socketInodes(pid);
  let sockets = 0;
  let drops = 0;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
      if (f.length < 13 || !inodes.has(f[9]!)) continue;
      sockets++;
      drops += Number(f[12]);
    }
  }
  return { sockets, drops };
}

/** Machine facts printed with every result. */
export function machineFacts(): { nproc: number; cpu: string; node: string; kernel: string; loadavg: number[] } {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1]!.trim();
  } catch {
    // not Linux
  }
  return { nproc: os.availableParallelism(), cpu, node: process.version, kernel: os.release(), loadavg: os.loadavg().map((v) => Math.round(v * 100) / 100) };
}
