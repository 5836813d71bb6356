/**
 * Measures what a function allocates on the V8 heap: young-generation bytes used before and
 * after, with collections counted in between (a collection would hide garbage from the byte
 * count, so any collection counts as allocation too).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { PerformanceObserver } from 'node:perf_hooks';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function newSpaceUsed(): number {
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === 'new_space') return s.space_used_size;
  return 0;
}

export interface AllocationResult {
  /** Young-generation bytes allocated by fn (valid when collections is 0). */
  bytes: number;
  /** Collections that ran during fn. */
  collections: number;
}

export async function measureAllocation(fn: () => void): Promise<AllocationResult> {
  const starts: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) starts.push(e.startTime);
  });
  obs.observe({ entryTypes: ['gc'] });
  gc();
  await new Promise((r) => setTimeout(r, 20));
  const before = newSpaceUsed();
  const t0 = performance.now();
  fn();
  const t1 = performance.now();
  const after = newSpaceUsed();
  await new Promise((r) => setTimeout(r, 20));
  obs.disconnect();
  return { bytes: after - before, collections: starts.filter((t) => t >= t0 && t <= t1).length };
}
