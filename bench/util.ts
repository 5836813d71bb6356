/** Benchmark helpers: timing, the C reference build, and markdown tables. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = path.dirname(fileURLToPath(import.meta.url));

/** Runs fn(iterations) `rounds` times after a warm-up; returns the best ns per iteration. */
export function bestNsPer(fn: (n: number) => void, iterations: number, rounds = 5): number {
  fn(Math.max(1, Math.floor(iterations / 4))); // warm-up: let V8 optimise
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    fn(iterations);
    const ns = Number(process.hrtime.bigint() - t0);
    best = Math.min(best, ns / iterations);
  }
  return best;
}

/** Builds bench/c/kernels.c with gcc -O3 -fno-tree-vectorize (scalar reference); null without gcc. */
export function buildC(): string | null {
  const out = path.join(benchDir, '.build', 'kernels');
  const src = path.join(benchDir, 'c', 'kernels.c');
  try {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs) {
      execFileSync('gcc', ['-O3', '-fno-tree-vectorize', '-o', out, src], { stdio: 'pipe' });
    }
    return out;
  } catch {
    return null;
  }
}

/** Runs the C reference; returns its best ns per sample over `rounds` runs. */
export function runC(bin: string | null, args: string[], rounds = 3): number {
  if (bin === null) return NaN;
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const text = execFileSync(bin, args, { encoding: 'utf8' });
    const m = /ns_per_sample=([\d.]+)/.exec(text);
    if (m) best = Math.min(best, Number(m[1]));
  }
  return best;
}

export type Row = Record<string, string | number>;

/** Prints rows as a markdown table (numbers with sensible precision). */
export function table(title: string, rows: Row[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const fmt = (v: string | number): string => {
    if (typeof v === 'string') return v;
    if (!Number.isFinite(v)) return 'n/a';
    const a = Math.abs(v);
    if (a >= 1e9) return `${(v / 1e9).toFixed(2)} G`;
    if (a >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
    if (a >= 1e4) return `${(v / 1e3).toFixed(1)} k`;
    if (a >= 100) return v.toFixed(0);
    if (a >= 1) return v.toFixed(2);
    return v.toFixed(3);
  };
  const cells = rows.map((r) => cols.map((c) => fmt(r[c] ?? '')));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (vals: string[]): string => `| ${vals.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n### ${title}\n`);
  console.log(line(cols));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of cells) console.log(line(r));
}

/** Deterministic pseudo-random 16-bit samples, a quarter of full scale. */
export function noise(n: number, seed = 1): Int16Array {
  const out = new Int16Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = (((s >>> 8) & 0xffff) << 16) >> 18;
  }
  return out;
}
