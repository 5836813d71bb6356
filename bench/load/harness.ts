/**
 * What bench/load/run.ts (bench:load) and bench/load/soak.ts (bench:soak) share: free ports for
 * sipp, a bounded wait for sipp's exit, and the gateway's recordings read back through its API.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { RecordingInfo } from './checkRecordings.js';
import type { GatewayChild } from './gatewayChild.js';
import type { SippPorts } from './sippLoad.js';
import { stopChild } from './processes.js';
import type { Child } from './processes.js';

/**
 * Waits for a sipp process to exit, at most `ms`; then stops it and says so. sipp has been
 * seen to stay up after its last call (a UAC with every call done, its main loop sleeping on;
 * a UAS told to expect 800 calls when the gateway refused some), which left the bench waiting
 * for ever.
 */
export async function exitWithin(c: Child, ms: number, who: string, tool = 'bench:load'): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  const first = await Promise.race([c.exited, late]);
  clearTimeout(timer);
  if (first !== 'late') return first;
  console.error(`${tool}: warning: sipp ${who} had not exited within ${ms / 1000} s; stopped it`);
  await stopChild(c);
  return c.exited;
}

/** Whether a UDP and a TCP socket can bind `port` on 127.0.0.1 right now. */
async function portFree(port: number): Promise<boolean> {
  const udp = await new Promise<boolean>((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  if (!udp) return false;
  return new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** `count` consecutive free ports from a random base in [lo, hi). */
async function freeBlock(lo: number, hi: number, count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = lo + 2 * Math.floor((Math.random() * (hi - lo - count)) / 2);
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error(`no ${count} free consecutive ports in ${lo}-${hi}`);
}

/**
 * Every recording of the default account, through the API (100 per page), with how long it
 * should be: from its start (tm_start, when its audio begins: for a connect, when the callee
 * answered, a file open before the caller's 200 OK) to its call's BYE (the call's tm_end).
 */
export async function listRecordings(gw: GatewayChild): Promise<RecordingInfo[]> {
  const all = async <T>(list: string): Promise<T[]> => {
    const out: T[] = [];
    let token = '';
    for (;;) {
      const page = await gw.api<{ result: T[]; next_page_token?: string }>(`${list}?page_size=100${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
      out.push(...page.result);
      if (!page.next_page_token || page.result.length === 0) return out;
      token = page.next_page_token;
    }
  };
  const calls = await all<{ id: string; tm_end: string }>('/v1/calls');
  const callEnd = new Map(calls.map((c) => [c.id, Date.parse(c.tm_end)]));
  const recs = await all<Omit<RecordingInfo, 'start_to_bye_ms'> & { reference_id: string; tm_start: string }>('/v1/recordings');
  return recs.map((r) => ({ ...r, start_to_bye_ms: (callEnd.get(r.reference_id) ?? NaN) - Date.parse(r.tm_start) }));
}

/** Recording id -> its file under <data dir>/recordings/ (named <id>.<extension>). */
export function recordingFiles(dataDir: string): Map<string, string> {
  const dir = path.join(dataDir, 'recordings');
  const out = new Map<string, string>();
  for (const f of fs.readdirSync(dir)) out.set(f.slice(0, f.indexOf('.')), path.join(dir, f));
  return out;
}

/**
 * The command line of a bench: `--name value` options and flags. An option not in `known`,
 * `--help`, a missing value or a number out of range ends the process through `usage`.
 */
export function commandLine(argv: string[], known: readonly string[], usage: (message: string) => never) {
  for (const a of argv) if (a.startsWith('--') && !known.includes(a.slice(2)) && a !== '--help') usage(`unknown option ${a}`);
  if (argv.includes('--help')) usage('see the options above');
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    if (i === -1) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) usage(`--${name} needs a value`);
    return v;
  };
  const num = (name: string, fallback: number, min: number, max: number): number => {
    const v = value(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) usage(`--${name} must be a number ${min}..${max}, got "${v}"`);
    return n;
  };
  return { value, num, flag: (name: string): boolean => argv.includes(`--${name}`) };
}

/**
 * Ports for a bench run: `rtpCount` RTP ports for the gateway in 10000-19999 (below the
 * kernel's ephemeral ports and the tests' ranges, 20000 and up; the gateway skips ports that
 * happen to be taken, so leave slack), and a free block of 12 for the two sipp processes.
 */
export async function benchPorts(rtpCount: number): Promise<{ rtp: { min: number; max: number }; sipp: SippPorts }> {
  const rtpBase = 10000 + 2 * Math.floor((Math.random() * (10000 - rtpCount)) / 2);
  const sippBase = await freeBlock(9000, 9990, 12);
  return {
    rtp: { min: rtpBase, max: rtpBase + rtpCount - 1 },
    sipp: {
      uas: { sip: sippBase, media: sippBase + 2, control: sippBase + 5 },
      uac: { sip: sippBase + 6, media: sippBase + 8, control: sippBase + 11 },
    },
  };
}

/** The inspector URL a child started with --inspect printed ("Debugger listening on ws://..."). */
export function inspectorUrl(child: Child): string {
  const url = /ws:\/\/127\.0\.0\.1:\d+\/[\w-]+/.exec(child.stderr)?.[0];
  if (url === undefined) throw new Error('no inspector URL from the gateway');
  return url;
}
