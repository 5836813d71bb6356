/**
 * bench:soak — does the gateway hold its figures over many calls, not only over one wave?
 *
 *   npm run bench:soak -- [--calls N] [--total M] [--hold S] [--rate R] [--period S]
 *     [--format wav|mp3|opus] [--action connect|record] [--check K] [--heap-snapshot FILE] [--keep]
 *
 * Starts the gateway as bench:load does (a child process, a `connect` route to a sipp UAS, every
 * call recorded in stereo) and drives `total` two-leg calls through it, `calls` at a time, each
 * held `hold` seconds: sipp's UAC (-l calls, -r rate) places them, its UAS answers; both stream
 * their tone (PCMU, 20 ms). `--action record` instead has the gateway answer and record the
 * caller alone (no UAS; the right channel must stay silent).
 *
 * Every `period` seconds it samples the gateway: calls done, CPU per packet received (with short
 * calls most of it is their set-up and tear-down, so it is not bench:load's figure), the main
 * thread's share, RSS, the JavaScript heap and ArrayBuffers, open descriptors, RTP ports in use,
 * the event loop's p99, packets late and lost. A gateway that leaks (memory, descriptors, ports)
 * or whose tables slow down with use shows it here as a trend between the first and the last
 * periods, which one wave of bench:load cannot show. At the end, with every call over:
 * descriptors and ports back where they were, every recording `ended`, what memory a full
 * collection leaves (forced through the inspector; --heap-snapshot writes a snapshot then, which
 * bench/load/heapRetainers.ts explains), and the first and last `check` recordings read back
 * with their tones checked (bench/load/checkRecordings.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { table } from '../util.js';
import { checkAll } from './checkRecordings.js';
import { startGatewayChild } from './gatewayChild.js';
import { benchPorts, commandLine, exitWithin, inspectorUrl, listRecordings, recordingFiles } from './harness.js';
import { cpuSample, machineFacts, rssKiB } from './procfs.js';
import { NATIVE_THREAD_NAMES } from '../../rtp/index.js';
import { connectInspector, writeHeapSnapshot } from './profile.js';
import { installCleanup, sleep, stopChild } from './processes.js';
import type { Child } from './processes.js';
import { CALLEE_HZ, CALLER_HZ, sippCounts, startUac, startUas } from './sippLoad.js';

interface Args {
  calls: number;
  total: number;
  holdS: number;
  rate: number;
  periodS: number;
  format: 'wav' | 'mp3' | 'opus';
  /** connect: two legs through the gateway (a sipp UAS answers); record: the gateway answers and records the caller alone. */
  action: 'connect' | 'record';
  check: number;
  /** Where to write a heap snapshot of the gateway taken after the full collection, or null. */
  heapSnapshot: string | null;
  keep: boolean;
}

function usage(message: string): never {
  console.error(`bench:soak: ${message}`);
  console.error('usage: npm run bench:soak -- [--calls N] [--total M] [--hold S] [--rate R] [--period S] [--format wav|mp3|opus] [--action connect|record] [--check K] [--heap-snapshot FILE] [--keep]');
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const { value, num, flag } = commandLine(argv, ['calls', 'total', 'hold', 'rate', 'period', 'format', 'action', 'check', 'heap-snapshot', 'keep'], usage);
  const calls = Math.round(num('calls', 200, 1, 2000));
  const holdS = num('hold', 2, 1, 600);
  const format = value('format') ?? 'wav';
  if (format !== 'wav' && format !== 'mp3' && format !== 'opus') usage(`--format must be wav, mp3 or opus, got "${format}"`);
  const action = value('action') ?? 'connect';
  if (action !== 'connect' && action !== 'record') usage(`--action must be connect or record, got "${action}"`);
  return {
    calls,
    total: Math.round(num('total', 20_000, 1, 10_000_000)),
    holdS,
    // Keeps `calls` up: each lasts the hold plus about 100 ms of signalling.
    rate: num('rate', Math.max(1, Math.floor(calls / (holdS + 0.1))), 1, 1000),
    periodS: num('period', 10, 1, 600),
    format,
    action,
    check: Math.round(num('check', 50, 0, 10_000)),
    heapSnapshot: value('heap-snapshot') ?? null,
    keep: flag('keep'),
  };
}

interface Sample {
  atS: number;
  callsTotal: number;
  activeCalls: number;
  portsInUse: number;
  packets: number;
  late: number;
  lost: number;
  failures: number;
  /** Loop-delay p99 since the previous scrape, ms. */
  loopP99Ms: number;
  cpuUs: number;
  mainUs: number;
  /** The native path's receive thread (reads, relays); NaN without it. */
  rxUs: number;
  rssKiB: number;
  /** JavaScript heap in use and ArrayBuffers (the gateway's /metrics), MiB. */
  heapMiB: number;
  buffersMiB: number;
  fds: number;
}

function openFds(pid: number): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  installCleanup();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-soak-'));
  process.on('exit', () => {
    if (!a.keep) fs.rmSync(dir, { recursive: true, force: true });
  });
  const machine = machineFacts();
  console.log(`# recgate soak bench — ${new Date().toISOString()}`);
  console.log(`\`${`npm run bench:soak -- ${process.argv.slice(2).join(' ')}`.replace(/ -- $/, '')}\``);
  console.log(`${machine.cpu}, nproc ${machine.nproc}, Node ${machine.node}, Linux ${machine.kernel}, load average at start ${machine.loadavg.join(' ')}`);

  const holdMs = a.holdS * 1000;
  // An RTP and an RTCP port per leg, two legs per call; twice the calls up at once (a call's
  // ports are freed at its BYE while the next calls already start), and slack.
  const { rtp, sipp: ports } = await benchPorts(8 * a.calls + 64);
  const gw = await startGatewayChild({
    dataDir: path.join(dir, 'data'),
    rtpPorts: rtp,
    apiToken: 'bench-soak-token',
    routes: {
      routes: [
        a.action === 'connect'
          ? { match: { user: '*' }, action: 'connect', target: `sip:{user}@127.0.0.1:${ports.uas.sip}`, recording: { format: a.format, channels: 'stereo' } }
          : { match: { user: '*' }, action: 'record', recording: { format: a.format, channels: 'stereo' } },
      ],
    },
    // The inspector, only to run a full collection at the end: what stays then is held, not garbage.
    nodeFlags: ['--inspect=127.0.0.1:0'],
  });
  let uas: Child | null = null;
  let uac: Child | null = null;
  const t0 = performance.now();
  const sample = async (): Promise<Sample> => {
    const h = await gw.healthz();
    const m = await gw.metrics();
    const c = cpuSample(gw.pid);
    return {
      atS: (performance.now() - t0) / 1000,
      callsTotal: h.callsTotal,
      activeCalls: h.activeCalls,
      portsInUse: h.rtpPortsInUse,
      packets: m.recgate_rtp_packets_received_total ?? NaN,
      late: m.recgate_rtp_packets_late_total ?? NaN,
      lost: m.recgate_rtp_packets_lost_total ?? NaN,
      failures: m.recgate_recording_failures_total ?? NaN,
      loopP99Ms: (m.recgate_event_loop_delay_p99_seconds ?? NaN) * 1000,
      cpuUs: c.sched,
      mainUs: c.main,
      rxUs: c.byName.get(NATIVE_THREAD_NAMES.recv) ?? NaN,
      rssKiB: rssKiB(gw.pid),
      heapMiB: (m.recgate_memory_heap_used_bytes ?? NaN) / 2 ** 20,
      buffersMiB: (m.recgate_memory_array_buffers_bytes ?? NaN) / 2 ** 20,
      fds: openFds(gw.pid),
    };
  };
  try {
    await sleep(1500);
    const idle = await sample();
    const runS = Math.ceil(a.total / a.rate) + a.holdS;
    const sippOpts = { dir, calls: a.total, concurrent: a.calls, rate: a.rate, holdMs, gatewaySipPort: gw.sipPort, ports, runTimeoutS: runS + 300 };
    if (a.action === 'connect') {
      uas = startUas(sippOpts);
      await sleep(500);
    }
    uac = startUac(sippOpts);
    console.error(`bench:soak: ${a.total} calls, ${a.calls} at a time (${a.rate}/s, each held ${a.holdS} s): about ${runS} s`);
    let uacGone = false;
    void uac.exited.then(() => (uacGone = true));
    const samples: Sample[] = [idle];
    const endBy = performance.now() + (runS + 300) * 1000;
    while (!uacGone && performance.now() < endBy) {
      await Promise.race([sleep(a.periodS * 1000), uac.exited]);
      const s = await sample();
      samples.push(s);
      const p = samples[samples.length - 2]!;
      console.error(
        `bench:soak: ${s.atS.toFixed(0)} s: ${s.callsTotal} calls, ${s.activeCalls} up, ` +
          `${((s.cpuUs - p.cpuUs) / Math.max(1, s.packets - p.packets)).toFixed(2)} µs/packet, RSS ${(s.rssKiB / 1024).toFixed(0)} MiB, ${s.fds} fds`,
      );
    }
    const [uacCode, uasCode] = await Promise.all([exitWithin(uac, 60_000, 'UAC', 'bench:soak'), uas === null ? null : exitWithin(uas, 60_000, 'UAS', 'bench:soak')]);
    for (let i = 0; i < 200 && (await gw.healthz()).activeCalls > 0; i++) await sleep(250);
    await sleep(1000);
    const after = await sample();
    const inspector = await connectInspector(inspectorUrl(gw.child));
    for (let i = 0; i < 3; i++) await inspector.call('HeapProfiler.collectGarbage');
    if (a.heapSnapshot !== null) {
      // What holds what is left (bench/load/heapRetainers.ts reads it; Chrome DevTools too).
      await writeHeapSnapshot(inspector, a.heapSnapshot);
      console.error(`bench:soak: heap snapshot written to ${a.heapSnapshot}`);
    }
    inspector.close();
    await sleep(500);
    const collected = await sample();

    // Periods with the calls flowing: from the first whose start had calls up, to the last whose end had.
    const rows = [];
    const steady: { usPerPacket: number; s: Sample; p: Sample }[] = [];
    for (let i = 1; i < samples.length; i++) {
      const p = samples[i - 1]!;
      const s = samples[i]!;
      const packets = s.packets - p.packets;
      const seconds = s.atS - p.atS;
      const usPerPacket = (s.cpuUs - p.cpuUs) / Math.max(1, packets);
      if (p.activeCalls >= a.calls * 0.8 && s.activeCalls >= a.calls * 0.8) steady.push({ usPerPacket, s, p });
      rows.push({
        's from start': Number(s.atS.toFixed(0)),
        'calls done': s.callsTotal - s.activeCalls,
        'calls up': s.activeCalls,
        'rx pkt/s': packets / seconds,
        'µs CPU/packet, set-ups included': usPerPacket,
        'main thread % of a core': ((s.mainUs - p.mainUs) / 1e4 / seconds),
        'receive thread %': ((s.rxUs - p.rxUs) / 1e4 / seconds),
        'RSS MiB': s.rssKiB / 1024,
        'JS heap MiB': s.heapMiB,
        'ArrayBuffers MiB': s.buffersMiB,
        'open fds': s.fds,
        'RTP ports in use': s.portsInUse,
        'loop p99 ms': s.loopP99Ms,
        late: s.late - p.late,
        lost: s.lost - p.lost,
      });
    }
    table(`Soak: ${a.total} ${a.action === 'connect' ? 'two-leg calls (connect)' : 'one-leg calls (record)'}, ${a.calls} at a time, each held ${a.holdS} s, stereo ${a.format}; one row per ${a.periodS} s`, rows);

    const first = steady[0];
    const last = steady[steady.length - 1];
    if (first !== undefined && last !== undefined && first !== last) {
      const calls = last.s.callsTotal - first.p.callsTotal;
      console.log(
        `- over the run (first and last periods with at least 80 % of the calls up, ${calls} calls apart): ` +
          `${first.usPerPacket.toFixed(2)} -> ${last.usPerPacket.toFixed(2)} µs/packet (${(last.usPerPacket / first.usPerPacket).toFixed(2)}x); ` +
          `RSS ${(first.s.rssKiB / 1024).toFixed(1)} -> ${(last.s.rssKiB / 1024).toFixed(1)} MiB (${(((last.s.rssKiB - first.s.rssKiB) / 1024 / calls) * 1000).toFixed(2)} MiB per 1,000 calls); ` +
          `open fds ${first.s.fds} -> ${last.s.fds}`,
      );
    } else console.log('- the run had fewer than two periods with the calls up: make it longer (--total) or the periods shorter (--period)');
    console.log(
      `- idle before / after every call: RSS ${(idle.rssKiB / 1024).toFixed(1)} / ${(after.rssKiB / 1024).toFixed(1)} MiB ` +
        `(JS heap in use ${idle.heapMiB.toFixed(1)} / ${after.heapMiB.toFixed(1)}, ArrayBuffers ${idle.buffersMiB.toFixed(1)} / ${after.buffersMiB.toFixed(1)}), open fds ${idle.fds} / ${after.fds}, ` +
        `RTP ports in use ${idle.portsInUse} / ${after.portsInUse}, calls up ${after.activeCalls}; packets late ${after.late}, lost ${after.lost}, recording failures ${after.failures} over the run`,
    );
    console.log(
      `- after a full collection (forced through the inspector): RSS ${(collected.rssKiB / 1024).toFixed(1)} MiB, JS heap in use ${collected.heapMiB.toFixed(1)} MiB, ` +
        `ArrayBuffers ${collected.buffersMiB.toFixed(1)} MiB: what the gateway still holds with no call up (idle at start: ${idle.heapMiB.toFixed(1)} and ${idle.buffersMiB.toFixed(1)} MiB)`,
    );
    const uacCounts = sippCounts(uac.stdout);
    const uasCounts = uas === null ? null : sippCounts(uas.stdout);
    console.log(
      `- sipp: UAC exit ${uacCode} (${uacCounts.successful} ok, ${uacCounts.failed} failed)` +
        (uasCounts === null ? '' : `, UAS exit ${uasCode} (${uasCounts.successful} ok, ${uasCounts.failed} failed)`),
    );

    const recs = await listRecordings(gw);
    const byStatus = new Map<string, number>();
    for (const r of recs) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    console.log(`- recordings: ${recs.length} for ${after.callsTotal} calls; ${[...byStatus.entries()].map(([k, v]) => `${v} ${k}`).join(', ')}`);
    if (a.check > 0 && recs.length > 0) {
      // The API lists newest first: the run's last recordings, then its first.
      const picked = recs.length <= 2 * a.check ? recs : [...recs.slice(0, a.check), ...recs.slice(-a.check)];
      const files = recordingFiles(gw.dataDir);
      const checks = await checkAll(
        picked.map((rec) => ({ rec, file: files.get(rec.id) ?? path.join(gw.dataDir, 'recordings', `${rec.id}.missing`) })),
        holdMs,
        CALLER_HZ,
        a.action === 'connect' ? CALLEE_HZ : null,
        a.format === 'wav' ? 1 : Math.max(1, os.availableParallelism()),
      );
      const bad = checks.filter((c) => !c.ok);
      console.log(`- tone checks of the first and last ${Math.min(a.check, recs.length)} recordings (as bench:load checks every one): ${checks.length - bad.length}/${checks.length} OK`);
      for (const b of bad.slice(0, 5)) console.log(`  - ${b.id}: ${b.why}`);
    }
    if (a.keep) console.log(`(scratch directory kept: ${dir})`);
  } finally {
    if (uac !== null) await stopChild(uac, 'SIGKILL', 1000);
    if (uas !== null) await stopChild(uas, 'SIGKILL', 1000);
    await gw.stop();
  }
}

main().catch((err: unknown) => {
  console.error('bench:soak: failed:', err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
