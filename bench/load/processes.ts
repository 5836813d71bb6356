/**
 * Child processes of bench/load (gateway, sipp, floor, generator): every one is remembered and
 * killed by its pid when the run ends, fails, or is interrupted (Ctrl-C, SIGTERM).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';

const live = new Set<ChildProcess>();

/** A started child and what it printed so far. */
export interface Child {
  proc: ChildProcess;
  pid: number;
  stdout: string;
  stderr: string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/**
 * CPUs (a taskset list such as "0" or "0-3") the bench's children run on, by role: the system
 * under test (the gateway, the C floor) and the load (sipp, the generator); null: wherever the
 * kernel puts them. Pinned, the gateway's figures are for the cores it was given alone, not for
 * cores it shares with its own load generator (bench:load --gateway-cpus).
 */
export const pinning: { gateway: string | null; load: string | null } = { gateway: null, load: null };

export type Role = keyof typeof pinning;

export function startChild(cmd: string, args: string[], options: SpawnOptions = {}, role: Role | null = null): Child {
  const cpus = role === null ? null : pinning[role];
  // taskset execs the command: the pid is the command's, and every thread it starts inherits the CPUs.
  const [file, argv] = cpus === null ? [cmd, args] : ['taskset', ['-c', cpus, cmd, ...args]];
  const proc = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  if (proc.pid === undefined) throw new Error(`could not start ${cmd}`);
  live.add(proc);
  const child: Child = {
    proc,
    pid: proc.pid,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => {
      proc.on('close', (code) => {
        live.delete(proc);
        resolve(code);
      });
      proc.on('error', () => {
        live.delete(proc);
        resolve(null);
      });
    }),
  };
  proc.stdout?.on('data', (d: Buffer) => {
    // Keep the tail only: sipp and the gateway may print a lot over a long run.
    child.stdout = (child.stdout + d.toString()).slice(-200_000);
  });
  proc.stderr?.on('data', (d: Buffer) => {
    child.stderr = (child.stderr + d.toString()).slice(-200_000);
  });
  return child;
}

/** Waits until `text` appears in the child's stdout (or it exits, or ms pass). */
export async function waitForOutput(child: Child, pattern: RegExp, ms: number): Promise<RegExpExecArray> {
  const end = Date.now() + ms;
  let gone = false;
  void child.exited.then(() => (gone = true));
  for (;;) {
    const m = pattern.exec(child.stdout);
    if (m) return m;
    if (gone) throw new Error(`process ${child.pid} exited before printing ${pattern}: ${child.stderr.slice(-600)}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${pattern} from process ${child.pid}`);
    await sleep(50);
  }
}

/** Stops a child: `signal` first, SIGKILL after graceMs. */
export async function stopChild(child: Child, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (!live.has(child.proc)) return;
  child.proc.kill(signal);
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** Kills every child still running (synchronous: usable from process.on('exit')). */
export function killAll(): void {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

let installed = false;

/** Kills the children when this process exits or is interrupted. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      console.error(`\nbench:load: ${sig}, killing ${live.size} child process(es)`);
      killAll();
      process.exit(130);
    });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
