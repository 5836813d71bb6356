/**
 * The callers and callees of bench/load: two sipp processes (../../shared/RECIPES.md), the
 * same scenarios the tests use (test/helpers): a UAC that calls the gateway, streams its tone
 * with rtp_stream (PCMU, 20 ms) for `holdMs` and hangs up, and a UAS the gateway's `connect`
 * route calls, which answers and streams its own tone until the BYE.
 */
import fs from 'node:fs';
import path from 'node:path';
import { uacScenario, writeScenario, writeToneFile } from '../../test/helpers/sipp.js';
import { uasToneScenario } from '../../test/helpers/sippScenarios.js';
import { startChild } from './processes.js';
import type { Child } from './processes.js';

export const CALLER_HZ = 1000;
export const CALLEE_HZ = 1500;

export interface SippPorts {
  /** SIP, media (rtp_stream) and control ports of the UAS and the UAC. */
  uas: { sip: number; media: number; control: number };
  uac: { sip: number; media: number; control: number };
}

export interface SippLoadOptions {
  dir: string;
  calls: number;
  /** New calls per second. */
  rate: number;
  holdMs: number;
  gatewaySipPort: number;
  ports: SippPorts;
  /** sipp's -timeout for the whole run, s; default the hold plus 120 s (one wave of calls). */
  runTimeoutS?: number;
  /** Calls up at once (the UAC's -l); default `calls` (all of them). */
  concurrent?: number;
}

function runTimeout(o: SippLoadOptions): number {
  return o.runTimeoutS ?? Math.ceil(o.holdMs / 1000) + 120;
}

const common = ['-i', '127.0.0.1', '-mi', '127.0.0.1', '-nostdin'];

/** Starts the UAS (it must listen before the first INVITE). */
export function startUas(o: SippLoadOptions): Child {
  const tone = path.join(o.dir, 'callee.ul');
  // Whole periods of both tones fit in 10 s, so rtp_stream's loop is seamless.
  writeToneFile(tone, CALLEE_HZ, 10);
  const xml = writeScenario(o.dir, 'uas.xml', uasToneScenario(tone));
  const p = o.ports.uas;
  return startChild('sipp', [
    '-sf', xml, ...common,
    '-p', String(p.sip), '-mp', String(p.media), '-cp', String(p.control),
    '-m', String(o.calls),
    '-timeout', `${runTimeout(o)}s`,
    '-trace_err', '-error_file', errorFile(o.dir, 'uas'),
  ], {}, 'load');
}

/** Starts the UAC: `calls` calls at `rate` per second, each held `holdMs`; at most `concurrent` up at once (default all). */
export function startUac(o: SippLoadOptions): Child {
  const tone = path.join(o.dir, 'caller.ul');
  writeToneFile(tone, CALLER_HZ, 10);
  const xml = writeScenario(o.dir, 'uac.xml', uacScenario({ toneFile: tone, holdMs: o.holdMs }));
  const p = o.ports.uac;
  return startChild('sipp', [
    '-sf', xml, '-s', 'load', ...common,
    '-p', String(p.sip), '-mp', String(p.media), '-cp', String(p.control),
    '-l', String(o.concurrent ?? o.calls), '-m', String(o.calls), '-r', String(o.rate),
    '-timeout', `${runTimeout(o)}s`,
    '-trace_err', '-error_file', errorFile(o.dir, 'uac'),
    `127.0.0.1:${o.gatewaySipPort}`,
  ], {}, 'load');
}

/** Where sipp writes why its calls failed (-trace_err). */
export function errorFile(dir: string, who: 'uac' | 'uas'): string {
  return path.join(dir, `${who}-errors.log`);
}

/**
 * The first lines of what sipp said about its failed calls (unexpected messages, timeouts),
 * without its timestamps, counted: why sipp's calls failed, when they did.
 */
export function sippErrors(dir: string, who: 'uac' | 'uas', max = 4): string[] {
  let text = '';
  try {
    text = fs.readFileSync(errorFile(dir, who), 'utf8');
  } catch {
    return [];
  }
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    // An entry starts "2026-12-07\t09:00:46.681276\t1796634046.681276: <message>" (after the
    // closing quote of the SIP message the one before quoted, when there is one); the message
    // it quotes follows on lines of its own (CRLF), which are left out.
    const m = /^'?\d{4}-\d\d-\d\d\t\S+\t[\d.]+: ([^\r]*)/.exec(line);
    const msg = m?.[1]?.trim() ?? '';
    if (msg === '') continue;
    // Calls differ by their Call-ID and long numbers; status codes and steps are kept.
    const key = msg.replace(/Call-Id '[^']*'/, "Call-Id '…'").replace(/^Dead call \S+/, 'Dead call …').replace(/\d{4,}/g, 'N').slice(0, 160);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()].sort((x, y) => y[1] - x[1]).slice(0, max).map(([m, n]) => `${n}x ${m}`);
}

/**
 * The steps of sipp's last scenario screen with a retransmission, a timeout or an unexpected
 * message, as "<step>: <messages> messages, <n> retrans, <n> timeout, <n> unexpected" lines:
 * where its failed calls stopped. -trace_err logs unexpected messages only, not a step that
 * timed out (a 200 OK retransmitted until sipp gave up on its ACK), so this is the other half.
 */
export function sippStepTrouble(out: string): string[] {
  const at = out.lastIndexOf('Messages  Retrans');
  if (at === -1) return [];
  const header = out.slice(out.lastIndexOf('\n', at) + 1, out.indexOf('\n', at));
  // The counters stand under their headings (a step without one leaves it blank).
  const columns = ['Messages', 'Retrans', 'Timeout', 'Unexpected'].map((h) => header.indexOf(h));
  const lines = out.slice(out.indexOf('\n', at) + 1).split('\n');
  const end = lines.findIndex((l) => l.startsWith('----'));
  const trouble: string[] = [];
  for (const line of end === -1 ? lines : lines.slice(0, end)) {
    const counts = [0, 0, 0, 0];
    let name = '';
    for (const t of line.matchAll(/\S+/g)) {
      const col = columns.findIndex((c) => Math.abs(t.index! - c) <= 3);
      if (col !== -1 && /^\d+$/.test(t[0])) counts[col] = Number(t[0]);
      else if (t.index! < columns[0]! - 3 && !/^[A-Z]-RTD\d$/.test(t[0])) name += `${name === '' ? '' : ' '}${t[0]}`;
    }
    const [messages, retrans, timeout, unexpected] = counts as [number, number, number, number];
    // A pause's second number is the calls in it now, not a fault.
    if (name === '' || name.startsWith('Pause') || retrans + timeout + unexpected === 0) continue;
    trouble.push(`${name.replace(/-{2,}/g, '-')}: ${messages} messages, ${retrans} retransmitted, ${timeout} timed out, ${unexpected} unexpected`);
  }
  return trouble;
}

/** sipp's last "Successful call" / "Failed call" counters from its screen output. */
export function sippCounts(out: string): { successful: number; failed: number } {
  const last = (re: RegExp): number => {
    const all = [...out.matchAll(re)];
    return all.length === 0 ? NaN : Number(all[all.length - 1]![1]);
  };
  return { successful: last(/Successful call\s+\|\s+\d+\s+\|\s+(\d+)/g), failed: last(/Failed call\s+\|\s+\d+\s+\|\s+(\d+)/g) };
}
