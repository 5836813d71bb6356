/**
 * Test entry point (`npm test`): uvu's runner, plus two guarantees uvu does not give.
 *
 * 1. The process ends when the suites end. uvu only sets `process.exitCode` and waits for the event
 *    loop to drain, so one socket left open by a library (werift's ICE sockets, a child's pipe) kept
 *    CI waiting until its 90-minute limit although every test had passed. Here anything still open
 *    is listed (so the leak can be found and fixed) and counted as a failure, then we exit.
 * 2. A watchdog: a test that hangs fails the run after RECGATE_TEST_TIMEOUT_S seconds (default 900,
 *    the suite takes about 6 minutes) naming the file it was in, instead of hanging CI.
 *
 * Usage: node --import tsx test/run.ts [pattern]   (pattern: a regular expression on file names)
 */
import { parse } from 'uvu/parse';
import { run } from 'uvu/run';
import path from 'node:path';
import { nativeUdpStats } from '../rtp/index.js';

const root = path.resolve(import.meta.dirname, '..');
const pattern = new RegExp(process.argv[2] ?? '\\.test\\.ts$');
const limitS = Number(process.env.RECGATE_TEST_TIMEOUT_S ?? 900);

/** Node's list of live handles (sockets, pipes, servers, child processes, ref'd timers). */
function activeHandles(): object[] {
  return (process as unknown as { _getActiveHandles(): object[] })._getActiveHandles();
}

function describe(h: object): string {
  const name = h.constructor.name;
  const any = h as { address?: () => unknown; pid?: number; spawnfile?: string; remoteAddress?: unknown; remotePort?: number; _handle?: { fd?: number } | null };
  try {
    if (any.pid !== undefined) return `${name}(pid ${any.pid} ${any.spawnfile ?? ''})`;
    if (typeof any.remoteAddress === 'string') return `${name}(to ${any.remoteAddress}:${any.remotePort})`;
    // A pipe (a child's stdio, an IPC channel): its handle type and descriptor.
    if (name === 'Socket' && any._handle) return `Socket(${any._handle.constructor.name} fd ${any._handle.fd ?? '?'})`;
    const a = any.address?.() as { address: string; port: number } | string | null | undefined;
    if (a && typeof a === 'object') return `${name}(${a.address}:${a.port})`;
    if (typeof a === 'string') return `${name}(${a})`;
  } catch {
    // address() throws on a socket that is closing; the name alone will do
  }
  return name;
}

const ctx = await parse(path.join(root, 'test'), pattern, { cwd: root });
let current = '';
const names = new Map(ctx.suites.map((s) => [s.file, s.name]));
// uvu imports each file in order before running them all; the last import seen is not the running
// file, so the watchdog names the test uvu is printing instead (its header line goes to stdout).
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  // eslint-disable-next-line no-control-regex
  const m = /([\w.-]+\.test\.ts)/.exec(text.replace(/\x1b\[[0-9;]*m/g, ''));
  if (m) current = m[1]!;
  return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

const watchdog = setTimeout(() => {
  console.error(`\ntest watchdog: still running after ${limitS} s, in ${current || 'loading'}; giving up`);
  console.error(`open resources: ${JSON.stringify(process.getActiveResourcesInfo())}`);
  process.exit(1);
}, limitS * 1000);
watchdog.unref();

if (names.size === 0) {
  console.error(`no test files match ${pattern}`);
  process.exit(1);
}

const before = new Set(activeHandles());
await run(ctx.suites, { bail: false });
clearTimeout(watchdog);

// Give closing handles (sockets closed in a test's last line) one moment to finish closing.
await new Promise((r) => setTimeout(r, 500));
const open = activeHandles().filter((h) => !before.has(h));
if (open.length > 0) {
  console.error(`\nstill open after all tests (a test did not clean up): ${open.map(describe).join(', ')}`);
  process.exitCode = 1;
}
// RTP sockets of the native path are not libuv handles: the addon counts them.
const nativeOpen = nativeUdpStats().open;
if (nativeOpen > 0) {
  console.error(`\nstill open after all tests: ${nativeOpen} native RTP socket(s) (an RtpEndpoint was not closed)`);
  process.exitCode = 1;
}
process.exit(process.exitCode ?? 0);
