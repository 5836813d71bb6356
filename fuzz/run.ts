/**
 * The long fuzz run: every target of fuzz/targets.ts with many cases (default 10^6 each).
 *
 *   node --import tsx fuzz/run.ts [--runs N] [--target NAME[,NAME]] [--seed S] [--path P] [--jobs J]
 *
 * Each target runs in a worker thread under a watchdog, so a case that never returns is reported
 * (with the seed and the case's path, to replay it) instead of hanging the run. Prints one table
 * row per target and exits 1 when any target failed. Every target of fuzz/index.ts: the SIP
 * message parsers, SDP, RTP, RTCP, RFC 4733, the receiver, the API's parsers, and the HTTP API
 * over HTTP (a gateway started inside that target's worker).
 */
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ALL_TARGETS as TARGETS, caseAt, runTarget } from './index.js';
import type { FuzzResult } from './index.js';

/** No progress for this long (ms) means a case hangs. */
const HANG_MS = 30_000;

interface Job {
  target: string;
  runs: number;
  seed: number;
  path?: string;
  /** Shared progress: [cases started]. */
  progress: SharedArrayBuffer;
}

type WorkerReply = { kind: 'done'; result: FuzzResult } | { kind: 'error'; error: string };

if (!isMainThread) {
  const job = workerData as Job;
  const target = TARGETS.find((t) => t.name === job.target)!;
  const progress = new Int32Array(job.progress);
  runTarget(target, {
    runs: job.runs,
    seed: job.seed,
    ...(job.path !== undefined ? { path: job.path } : {}),
    onCase: (n) => Atomics.store(progress, 0, n),
  }).then(
    (result) => parentPort!.postMessage({ kind: 'done', result } satisfies WorkerReply),
    (err: unknown) => parentPort!.postMessage({ kind: 'error', error: String((err as Error)?.stack ?? err) } satisfies WorkerReply),
  );
} else {
  await main();
}

interface Args {
  runs: number;
  targets: string[];
  seed: number;
  path?: string;
  jobs: number;
}

function usage(message: string): never {
  console.error(`${message}\nusage: node --import tsx fuzz/run.ts [--runs N] [--target NAME[,NAME]] [--seed S] [--path P] [--jobs J]`);
  console.error(`targets: ${TARGETS.map((t) => t.name).join(', ')}`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { runs: 1_000_000, targets: TARGETS.map((t) => t.name), seed: (Date.now() ^ (Math.random() * 0x7fffffff)) | 0, jobs: 1 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (flag === '--help' || flag === '-h') usage('');
    if (value === undefined) usage(`${flag} needs a value`);
    i++;
    const int = (min: number): number => {
      if (!/^-?\d+$/.test(value.replaceAll('_', '')) || Number(value.replaceAll('_', '')) < min) usage(`${flag} must be an integer >= ${min}`);
      return Number(value.replaceAll('_', ''));
    };
    if (flag === '--runs') args.runs = int(1);
    else if (flag === '--seed') args.seed = int(-(2 ** 31)) | 0;
    else if (flag === '--jobs') args.jobs = Math.min(int(1), availableParallelism());
    else if (flag === '--path') args.path = value;
    else if (flag === '--target') {
      args.targets = value.split(',');
      for (const t of args.targets) if (!TARGETS.some((x) => x.name === t)) usage(`no target ${t}`);
    } else usage(`unknown option ${flag}`);
  }
  return args;
}

/** Runs one target in a worker; resolves with its result, a hang or a crash. */
function runInWorker(job: Omit<Job, 'progress'>): Promise<FuzzResult> {
  const progress = new SharedArrayBuffer(4);
  const cases = new Int32Array(progress);
  // tsx's loader hooks are not inherited by workers on Node 20: register them before the module loads.
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(boot, { eval: true, workerData: { ...job, progress } satisfies Job });
  const started = performance.now();
  return new Promise((resolve) => {
    let last = -1;
    let lastChange = performance.now();
    const failureAt = (n: number, why: string): FuzzResult => {
      const target = TARGETS.find((t) => t.name === job.target)!;
      const path = job.path ?? String(n - 1);
      let input = '(not recovered)';
      try {
        input = caseAt(target, job.seed, path);
      } catch {
        // The generator itself failed: the path is still enough to replay.
      }
      return {
        target: job.target,
        runs: n,
        ms: performance.now() - started,
        accepted: 0,
        slowestMs: NaN,
        counts: {},
        failure: { seed: job.seed, path, counterexample: input, error: why },
      };
    };
    const timer = setInterval(() => {
      const n = Atomics.load(cases, 0);
      if (n !== last) {
        last = n;
        lastChange = performance.now();
      } else if (performance.now() - lastChange > HANG_MS) {
        clearInterval(timer);
        void worker.terminate();
        resolve(failureAt(n, `case ${n} did not return within ${HANG_MS / 1000} s (hang)`));
      }
    }, 1000);
    worker.once('message', (reply: WorkerReply) => {
      clearInterval(timer);
      void worker.terminate();
      if (reply.kind === 'done') resolve(reply.result);
      else resolve(failureAt(Atomics.load(cases, 0), `the run failed: ${reply.error}`));
    });
    worker.once('error', (err) => {
      clearInterval(timer);
      resolve(failureAt(Atomics.load(cases, 0), `the worker died: ${String(err.stack ?? err)}`));
    });
  });
}

function row(cells: readonly string[], widths: readonly number[]): string {
  const last = cells.length - 1;
  return cells.map((c, i) => (i === 0 || i === last ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  console.log(`recgate fuzz: ${args.runs.toLocaleString('en-US')} runs per target, seed ${args.seed}, ${args.jobs} job(s), Node ${process.version}`);
  const results: FuzzResult[] = [];
  const queue = [...args.targets];
  const pump = async (): Promise<void> => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const r = await runInWorker({ target: name, runs: args.runs, seed: args.seed, ...(args.path !== undefined ? { path: args.path } : {}) });
      results.push(r);
      const rate = r.runs / (r.ms / 1000);
      console.log(`  ${r.target}: ${r.runs} runs in ${(r.ms / 1000).toFixed(1)} s (${Math.round(rate)}/s)${r.failure === null ? '' : ' FAILED'}`);
    }
  };
  await Promise.all(Array.from({ length: args.jobs }, pump));
  results.sort((a, b) => args.targets.indexOf(a.target) - args.targets.indexOf(b.target));

  const head = ['target', 'runs', 'seconds', 'cases/s', 'accepted', 'slowest ms', 'failures', 'reached'];
  const cells = results.map((r) => [
    r.target,
    r.runs.toLocaleString('en-US'),
    (r.ms / 1000).toFixed(1),
    Math.round(r.runs / (r.ms / 1000)).toLocaleString('en-US'),
    `${((100 * r.accepted) / Math.max(1, r.runs)).toFixed(1)}%`,
    Number.isNaN(r.slowestMs) ? '-' : r.slowestMs.toFixed(1),
    r.failure === null ? '0' : '1',
    Object.entries(r.counts)
      .map(([k, v]) => `${k} ${((100 * v) / Math.max(1, r.runs)).toFixed(1)}%`)
      .join(', '),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  console.log('');
  console.log(row(head, widths));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(row(c, widths));

  const failed = results.filter((r) => r.failure !== null);
  for (const r of failed) {
    const f = r.failure!;
    console.log(`\n${r.target} FAILED (seed ${f.seed}, path ${f.path})`);
    console.log(`  replay: node --import tsx fuzz/run.ts --target ${r.target} --seed ${f.seed} --path ${f.path} --runs 1`);
    console.log(`  counterexample: ${f.counterexample.length > 4000 ? `${f.counterexample.slice(0, 4000)}... (${f.counterexample.length} chars)` : f.counterexample}`);
    console.log(`  ${f.error.split('\n').join('\n  ')}`);
  }
  process.exitCode = failed.length > 0 ? 1 : 0;
}
