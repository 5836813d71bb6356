/**
 * The gateway as a child process (`node --import tsx bin/recgate.ts` with RECGATE_* settings),
 * one process so SIGKILL hits the gateway itself, not a wrapper. `ready` resolves with the HTTP
 * port once it listens. Optional `wrap` runs it under another command (e.g. prlimit).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..');

export function startGatewayProcess(env: Record<string, string>, wrap: string[] = []) {
  const args = ['--import', 'tsx', path.join(root, 'bin', 'recgate.ts')];
  const child = wrap.length > 0 ? spawn(wrap[0]!, [...wrap.slice(1), process.execPath, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const ready = new Promise<number>((resolve, reject) => {
    const t = setInterval(() => {
      const m = /HTTP [\d.]+:(\d+)/.exec(out);
      if (m) {
        clearInterval(t);
        resolve(Number(m[1]));
      }
    }, 20);
    void exited.then(() => {
      clearInterval(t);
      reject(new Error(`gateway exited: ${out}`));
    });
  });
  return { child, ready, exited, out: () => out };
}
