/**
 * The short fuzz runs inside `npm test` (test/fuzz.test.ts, test/sipFuzz.test.ts): one uvu test
 * per target with its planned cases and fixed seed. RECGATE_FUZZ_RUNS=<n> sets every target to n.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runTarget } from '../../fuzz/index.js';
import type { AnyTarget, FuzzResult } from '../../fuzz/index.js';

const OVERRIDE = Number.parseInt(process.env['RECGATE_FUZZ_RUNS'] ?? '', 10);

/** `n`, or RECGATE_FUZZ_RUNS when set. */
export const runs = (n: number): number => (Number.isSafeInteger(OVERRIDE) && OVERRIDE > 0 ? OVERRIDE : n);

/**
 * Cases, seed, and the least share of cases that must be accepted (and reach each of the
 * target's named counters): a generator that drifts into producing only garbage fails the test
 * instead of silently testing nothing.
 */
export interface FuzzPlan {
  runs: number;
  seed: number;
  accepted: number;
  counts?: Record<string, number>;
}

/** A failure as the long run prints it, with the command that replays the case. */
export function report(r: FuzzResult): string {
  const f = r.failure!;
  return [
    `${r.target}: property failed after ${r.runs} runs (seed ${f.seed}, path ${f.path})`,
    `replay: node --import tsx fuzz/run.ts --target ${r.target} --seed ${f.seed} --path ${f.path} --runs 1`,
    `counterexample: ${f.counterexample.slice(0, 2000)}`,
    f.error,
  ].join('\n');
}

/** Registers a test per target (each must have a plan); pushes a line per run to `done`. */
export function fuzzTests(targets: readonly AnyTarget[], plans: Record<string, FuzzPlan>, done: string[]): void {
  for (const t of targets) {
    test(`fuzz ${t.name}: ${t.what}`, async () => {
      const plan = plans[t.name];
      assert.ok(plan !== undefined, `no plan for target ${t.name}`);
      if (plan === undefined) return;
      const r = await runTarget(t, { runs: runs(plan.runs), seed: plan.seed });
      if (r.failure !== null) assert.unreachable(report(r));
      assert.ok(r.accepted >= r.runs * plan.accepted, `${t.name}: only ${r.accepted} of ${r.runs} accepted`);
      for (const [k, share] of Object.entries(plan.counts ?? {})) {
        assert.ok((r.counts[k] ?? 0) >= r.runs * share, `${t.name}: ${k} reached ${r.counts[k]} of ${r.runs}`);
      }
      done.push(`${t.name} ${r.runs}, ${r.accepted} accepted (${(r.ms / 1000).toFixed(1)} s)`);
    });
  }
}
