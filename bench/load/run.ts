/**
 * `npm run bench:load -- --calls N --seconds S`: the whole gateway under load, as deployed.
 *
 * Starts the gateway (bin/recgate.ts) as a child process on 127.0.0.1 with a `connect` route,
 * drives N concurrent two-leg calls with sipp (UAC -> gateway -> UAS, PCMU 20 ms rtp_stream on
 * both legs: caller 1000 Hz, callee 1500 Hz), and measures over a steady-state window of S
 * seconds (all N calls up): the gateway's CPU per received RTP packet (/proc), the implied
 * calls per core, RSS per call, event-loop delay (/metrics), packets lost inside the gateway;
 * then reads every recording back (tones on the right channels, duration). The reference is a
 * C floor measured in the same run (floor.c: epoll + recvfrom + µ-law decode into a ring on the
 * same sockets, fed by gen.c at the same packet rate), so the result is also a ratio; a second
 * floor that also sends each packet back (one sendto) shows what relaying alone costs, once to a
 * generator that never reads (replies dropped cheaply) and once to one that reads them like sipp.
 *
 * Options:
 *   --calls N            concurrent calls (default 50)
 *   --seconds S          steady-state window (default 10)
 *   --format F           wav | mp3 | opus recordings (stereo, 8 kHz; default wav)
 *   --opus-complexity N  libopus complexity 0..10 of the recordings (the gateway's RECGATE_OPUS_COMPLEXITY; default 5)
 *   --rate R             new calls per second while ramping up (default N/10, 10..100)
 *   --warmup S           seconds between the last call up and the window (default 2)
 *   --json FILE          also write the result as JSON
 *   --profile            V8 CPU profile of the gateway over the window: top functions printed,
 *                        the profile written beside --json (.cpuprofile) or into the scratch dir
 *   --cpu-prof DIR       V8 CPU profile of the gateway's whole run (start-up, the calls' set-up and
 *                        tear-down, which the window leaves out), written into DIR at its exit
 *   --no-floor           skip the C floor
 *   --floor-only         only the three C floors (no gateway): what this machine can carry at all
 *   --gateway-cpus LIST  run the gateway (and the C floor) on these CPUs only (taskset list, e.g. 0),
 *                        sipp, gen.c and this process on the others: what the gateway carries on
 *                        the cores it was given, not on cores it shares with its own load
 *   --keep               keep the scratch directory (data dir, scenarios, binaries)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { table } from '../util.js';
import type { Row } from '../util.js';
import { MIN_TONE_FRACTION, MIN_TONE_RATIO, checkAll } from './checkRecordings.js';
import type { RecordingCheck, RecordingInfo } from './checkRecordings.js';
import { buildFloor, measureFloor } from './floor.js';
import type { FloorResult } from './floor.js';
import { repoRoot, startGatewayChild } from './gatewayChild.js';
import type { GatewayChild } from './gatewayChild.js';
import { busyCores, cpuSample, machineCpu, machineFacts, rssKiB, udpDrops } from './procfs.js';
import type { CpuSample } from './procfs.js';
import { NATIVE_THREAD_NAMES } from '../../rtp/index.js';
import { benchPorts, commandLine, exitWithin, inspectorUrl, listRecordings, recordingFiles } from './harness.js';
import { installCleanup, pinning, sleep, stopChild } from './processes.js';
import type { Child } from './processes.js';
import { PhaseMeter, perCall, rateOf } from './phases.js';
import type { Phase, PerCall } from './phases.js';
import { startProfile, summariseAllocations, summariseProfile } from './profile.js';
import type { AllocationLine, ProfileLine } from './profile.js';
import { CALLEE_HZ, CALLER_HZ, sippCounts, sippErrors, sippStepTrouble, startUac, startUas } from './sippLoad.js';

const PACKETS_PER_CALL_SECOND = 100; // two legs x 50 packets/s (PCMU, 20 ms)

interface Args {
  calls: number;
  seconds: number;
  format: 'wav' | 'mp3' | 'opus';
  /** libopus complexity, or null for the gateway's default. */
  opusComplexity: number | null;
  rate: number;
  warmup: number;
  json: string | null;
  profile: boolean;
  /** Directory for a whole-run --cpu-prof profile of the gateway, or null. */
  cpuProf: string | null;
  floor: boolean;
  floorOnly: boolean;
  keep: boolean;
  /** CPUs of the gateway and the floor, and of the load (sipp, gen.c, the bench), or null (unpinned). */
  cpus: { gateway: string; load: string } | null;
}

function usage(message: string): never {
  console.error(`bench:load: ${message}`);
  console.error('usage: npm run bench:load -- [--calls N] [--seconds S] [--format wav|mp3|opus] [--rate R] [--warmup S] [--json FILE] [--profile] [--cpu-prof DIR] [--no-floor] [--floor-only] [--gateway-cpus LIST] [--keep]');
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const { value, num, flag } = commandLine(argv, ['calls', 'seconds', 'format', 'opus-complexity', 'rate', 'warmup', 'json', 'profile', 'cpu-prof', 'no-floor', 'floor-only', 'gateway-cpus', 'keep'], usage);
  const opusComplexity = value('opus-complexity') === undefined ? null : Math.round(num('opus-complexity', 5, 0, 10));
  // The gateway child inherits the environment (bench/load/gatewayChild.ts).
  if (opusComplexity !== null) process.env.RECGATE_OPUS_COMPLEXITY = String(opusComplexity);
  const calls = Math.round(num('calls', 50, 1, 2000));
  const format = value('format') ?? 'wav';
  if (format !== 'wav' && format !== 'mp3' && format !== 'opus') usage(`--format must be wav, mp3 or opus, got "${format}"`);
  return {
    calls,
    seconds: num('seconds', 10, 1, 600),
    format,
    opusComplexity,
    rate: num('rate', Math.min(100, Math.max(10, Math.ceil(calls / 10))), 1, 1000),
    warmup: num('warmup', 2, 0, 60),
    json: value('json') ?? null,
    profile: flag('profile'),
    cpuProf: value('cpu-prof') ?? null,
    floor: !flag('no-floor'),
    floorOnly: flag('floor-only'),
    keep: flag('keep'),
    cpus: splitCpus(value('gateway-cpus')),
  };
}

/** The gateway's CPUs (a taskset list) and the others, for the load; null when not asked. */
function splitCpus(list: string | undefined): { gateway: string; load: string } | null {
  if (list === undefined) return null;
  const n = os.availableParallelism();
  const mine = new Set<number>();
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null) usage(`--gateway-cpus takes a CPU list such as 0 or 0-3, got "${list}"`);
    const lo = Number(m[1]);
    const hi = Number(m[2] ?? m[1]);
    for (let c = lo; c <= hi; c++) mine.add(c);
  }
  if ([...mine].some((c) => c >= n)) usage(`--gateway-cpus ${list}: this machine has CPUs 0-${n - 1}`);
  const others = [...Array(n).keys()].filter((c) => !mine.has(c));
  if (others.length === 0) usage(`--gateway-cpus ${list} leaves no CPU for sipp`);
  return { gateway: [...mine].sort((x, y) => x - y).join(','), load: others.join(',') };
}

/** A named thread's run time over the window, % of a core; NaN when no thread has that name. */
function threadPercent(c0: CpuSample, c1: CpuSample, name: string, windowS: number): number {
  const after = c1.byName.get(name);
  if (after === undefined) return NaN;
  return ((after - (c0.byName.get(name) ?? 0)) / 1e6 / windowS) * 100;
}

/** What the overload guard saw in one of its periods: the calls up, its median loop delay and the loop's utilization. */
interface GuardSample {
  calls: number;
  delayP50Ms: number;
  utilization: number;
  /** How far behind the MP3/Opus encoder workers were, ms. */
  encoderLagMs: number;
}

interface GatewayResult {
  usPerPacket: number;
  usPerPacketStat: number;
  cpuPercent: number;
  /** CPU of the started gateway without calls (timers, pollers), % of a core. */
  idleCpuPercent: number;
  /** The main thread alone (event loop: JS, sockets, timers), % of a core: near 100 it is saturated. */
  mainThreadPercent: number;
  /** The native UDP path's receive thread (reads, relays) and send thread, % of a core each (NaN: not running). */
  recvThreadPercent: number;
  sendThreadPercent: number;
  /** Time the gateway's threads were runnable but waited for a CPU, % of the window. */
  runQueueWaitPercent: number;
  /** Both sipp processes (signalling and the RTP load), % of a core. */
  sippCpuPercent: number;
  /** Cores busy on the whole machine over the window (everything, not only this run). */
  machineBusyCores: number;
  windowS: number;
  packetsInWindow: number;
  packetsPerCallSecond: number;
  callsUpAtStart: number;
  callsUpAtEnd: number;
  rssIdleKiB: number;
  rssSteadyKiB: number;
  rssPerCallKiB: number;
  loopP99IdleMs: number;
  loopP99Ms: number;
  loopP50IdleMs: number;
  loopP50Ms: number;
  kernelDropsInWindow: number;
  gatewaySockets: number;
  lostInWindow: number;
  concealedInWindow: number;
  lateInWindow: number;
  lateTotal: number;
  /** Samples the drift controller inserted and dropped, in the window and over the run. */
  driftInsertedInWindow: number;
  driftDroppedInWindow: number;
  driftInsertedTotal: number;
  driftDroppedTotal: number;
  /** Packets relayed leg to leg as they arrived, in the window. */
  relayedInWindow: number;
  udpNative: boolean;
  udpSendThread: boolean;
  udpRecvThread: boolean;
  /** Receive thread: datagrams per round and ring-full waits in the window. */
  packetsPerRecvRound: number;
  recvRingFullInWindow: number;
  packetsPerWake: number;
  /** Recordings' file writes per threadpool job in the window (NaN: an fs.write each). */
  writesPerJob: number;
  receivedTotal: number;
  lostTotal: number;
  concealedTotal: number;
  recordingFailures: number;
  rampS: number;
  /**
   * The ramp and the hang-up: the gateway's CPU over each, and per call beyond the media of the
   * calls up meanwhile and the idle gateway (phases.ts). Teardown null when it was not seen.
   */
  setup: { phase: Phase; perCall: PerCall };
  teardown: { phase: Phase; perCall: PerCall } | null;
  /** New calls the gateway refused with 503 (admission control: RECGATE_OVERLOAD_DELAY_MS, RECGATE_OVERLOAD_UTILIZATION, RECGATE_MAX_CALLS). */
  refused: { overload: number; maxCalls: number };
  /** The overload guard's view: the highest per-second median loop delay while the calls were set up, and periods at or over the threshold in the run. */
  guard: { rampDelayP50MaxMs: number; overloadedPeriods: number; rampSamples: GuardSample[]; windowUtilization: number };
  /** sipp's exit codes, call counts, its commonest error lines (-trace_err) and the scenario steps with retransmissions, timeouts or unexpected messages. */
  sipp: Record<'uac' | 'uas', { code: number | null; successful: number; failed: number; errors: string[]; steps: string[] }>;
  profile: { lines: ProfileLine[]; idlePercent: number } | null;
  allocations: { lines: AllocationLine[]; totalMbPerSecond: number } | null;
}

interface Result {
  command: string;
  date: string;
  machine: ReturnType<typeof machineFacts>;
  options: Args;
  holdMs: number;
  floor: FloorResult | null;
  /** The floor that also sends every packet back (one sendto each): a B2BUA's least. */
  floorRelay: FloorResult | null;
  /** The relay floor with a generator that reads the replies (gen.c --sink). */
  floorRelayReader: FloorResult | null;
  gateway: GatewayResult;
  recordings: {
    total: number;
    ok: number;
    expectedDurationMs: number;
    /** 20 ms frames with audio, summed over both channels of every file. */
    audioFrames: number;
    /** Frames with audio that is not a pure tone (drift corrections, concealment). */
    impureFrames: number;
    /** Silent frames inside recordings (between the first and last frame with audio). */
    silentGaps: number;
    minToneRatio: number;
    /** The same with the recipe's 80 % energy criterion. */
    minStrictToneRatio: number;
    /** How many recordings failed each check. */
    failedChecks: Record<string, number>;
    /** Shortest and longest recording (duration_ms). */
    durationMs: { min: number; max: number };
    /** From each recording's start to its call's BYE (sipp's hold plus its latency). */
    startToByeMs: { min: number; max: number };
    /** Each recording's duration minus its start to BYE (0: the file holds exactly the call's time). */
    offByMs: { min: number; max: number };
    failures: { id: string; why: string }[];
  };
  /**
   * Received by the gateway but not in any file: packets received minus 20 ms frames in the
   * files played from packets (frames with audio minus concealed ones). Within ±1 per leg when
   * nothing is lost (edge frames); beyond that, audio the gateway received and did not record.
   */
  lostInGateway: number;
  ratio: number;
  impliedCallsPerCore: number;
}

/**
 * The hang-up as a phase: from the first call that ends (fewer than `callsUp` up) until none is
 * up and no recording is still finishing (fsync, checksum); null when that did not happen
 * within `ms`.
 */
async function followHangup(gw: GatewayChild, callsUp: number, ms: number): Promise<Phase | null> {
  const end = Date.now() + ms;
  let up = (await gw.healthz()).activeCalls;
  while (up >= callsUp && up > 0) {
    if (Date.now() > end) return null;
    await sleep(100);
    up = (await gw.healthz()).activeCalls;
  }
  const meter = new PhaseMeter(gw.pid, up);
  while (up > 0) {
    if (Date.now() > end) return null;
    await sleep(250);
    up = (await gw.healthz()).activeCalls;
    meter.poll(up);
  }
  for (;;) {
    if (((await gw.metrics()).recgate_active_recordings ?? 0) === 0) break;
    if (Date.now() > end) return null;
    await sleep(250);
  }
  return meter.end(callsUp);
}

async function runGateway(a: Args, dir: string): Promise<{ gw: GatewayResult; checks: RecordingCheck[]; holdMs: number; recs: RecordingInfo[] }> {
  const n = a.calls;
  const rampS = Math.ceil(n / a.rate);
  // Every call is up from the first ACK until its BYE: the window must fit inside the hold of
  // the first call, after the last one is up (ramp + signalling slack) and the warm-up.
  const holdMs = (rampS + 4 + a.warmup + a.seconds + 3) * 1000;
  const { rtp, sipp: ports } = await benchPorts(4 * n + 64); // an RTP and an RTCP port per leg, two legs per call, and slack
  const gw = await startGatewayChild({
    dataDir: path.join(dir, 'data'),
    rtpPorts: rtp,
    apiToken: 'bench-load-token',
    routes: {
      routes: [
        {
          match: { user: '*' },
          action: 'connect',
          target: `sip:{user}@127.0.0.1:${ports.uas.sip}`,
          recording: { format: a.format, channels: 'stereo' },
        },
      ],
    },
    nodeFlags: [
      ...(a.profile ? ['--inspect=127.0.0.1:0'] : []),
      // Sampled every 1 ms (Node's default), written when the gateway exits after SIGTERM.
      ...(a.cpuProf !== null ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(a.cpuProf)}`] : []),
    ],
  });
  let uas: Child | null = null;
  let uac: Child | null = null;
  try {
    // Idle baseline: memory and event-loop delay of the started gateway with no call.
    await sleep(1500);
    await gw.metrics(); // resets the loop-delay histogram
    const ci0 = cpuSample(gw.pid);
    const ti0 = performance.now();
    await sleep(2000);
    const ci1 = cpuSample(gw.pid);
    // The idle gateway's CPU per second (all threads and the main one).
    const idleRate = rateOf(ci0, ci1, (performance.now() - ti0) / 1000);
    const idle = await gw.metrics();
    const rssIdleKiB = rssKiB(gw.pid);

    const sippOpts = { dir, calls: n, rate: a.rate, holdMs, gatewaySipPort: gw.sipPort, ports };
    uas = startUas(sippOpts);
    await sleep(500);
    uac = startUac(sippOpts);
    // The ramp's CPU, less the media of the calls already up and the idle gateway: set-up per call.
    const ramp = new PhaseMeter(gw.pid, 0);
    console.error(`bench:load: ${n} calls at ${a.rate}/s, each held ${holdMs / 1000} s; waiting for all to be up`);
    const upBy = Date.now() + (rampS + 60) * 1000;
    let uacGone = false;
    void uac.exited.then(() => (uacGone = true));
    // Calls the gateway refused (admission control) are not coming up: they count as settled.
    const refusedOf = (h: { rejected: Record<string, number> }): number => (h.rejected.overload ?? 0) + (h.rejected.max_calls ?? 0);
    let refusedAtUp = 0;
    // The guard's per-second view while the calls were set up (a sample each time it changes).
    const rampSamples: GuardSample[] = [];
    let callsUpAfterRamp = 0;
    // What the overload guard saw while the calls were set up: its per-second median delay.
    let rampDelayP50Max = 0;
    for (;;) {
      const h = await gw.healthz();
      ramp.poll(h.activeCalls);
      callsUpAfterRamp = h.activeCalls;
      refusedAtUp = refusedOf(h);
      rampDelayP50Max = Math.max(rampDelayP50Max, h.admission.delayP50Ms);
      const last = rampSamples[rampSamples.length - 1];
      if (last === undefined || last.delayP50Ms !== h.admission.delayP50Ms || last.utilization !== h.admission.utilization) {
        rampSamples.push({ calls: h.activeCalls, delayP50Ms: h.admission.delayP50Ms, utilization: h.admission.utilization, encoderLagMs: h.admission.encoderLagMs });
      }
      // Every call arrived (up, or refused): with refusals the accepted ones need not all be up at once.
      if (h.activeCalls + refusedAtUp >= n || (refusedAtUp > 0 && h.callsTotal + refusedAtUp >= n)) break;
      if (uacGone) throw new Error(`sipp UAC exited before all calls were up: ${uac.stderr.slice(-800)}\n${uac.stdout.slice(-1500)}`);
      if (Date.now() > upBy) throw new Error(`only ${h.activeCalls}/${n} calls up after ${rampS + 60} s`);
      await sleep(250);
    }
    const rampPhase = ramp.end(callsUpAfterRamp);
    await sleep(a.warmup * 1000);

    const profiler = a.profile ? await startProfile(inspectorUrl(gw.child)) : null;
    // The window: no HTTP request to the gateway inside it (RSS from /proc only).
    const callsUpAtStart = (await gw.healthz()).activeCalls;
    const mc0 = machineCpu();
    const sipp0 = [cpuSample(uac.pid), cpuSample(uas.pid)];
    // The packet counter (/metrics, which also resets the loop-delay histogram) next to the CPU clock.
    const m0 = await gw.metrics();
    const c0 = cpuSample(gw.pid);
    const t0 = performance.now();
    const drops0 = udpDrops(gw.pid);
    const rss: number[] = [];
    const end = t0 + a.seconds * 1000;
    while (performance.now() < end - 1000) {
      await sleep(1000);
      rss.push(rssKiB(gw.pid));
    }
    await sleep(Math.max(0, end - performance.now()));
    const c1 = cpuSample(gw.pid);
    const t1 = performance.now();
    const m1 = await gw.metrics();
    const sipp1 = [cpuSample(uac.pid), cpuSample(uas.pid)];
    const mc1 = machineCpu();
    const drops1 = udpDrops(gw.pid);
    const atEnd = await gw.healthz();
    const callsUpAtEnd = atEnd.activeCalls;
    let profile = null;
    let allocations = null;
    if (profiler !== null) {
      allocations = summariseAllocations(await profiler.stopAllocations(), repoRoot, (t1 - t0) / 1000);
      const raw = await profiler.stop();
      profiler.close();
      profile = summariseProfile(raw, repoRoot);
      // The whole profile, for Chrome DevTools / speedscope: beside the JSON, or in the scratch dir.
      const file = a.json !== null ? `${a.json.replace(/\.json$/, '')}.cpuprofile` : path.join(dir, 'gateway-window.cpuprofile');
      fs.writeFileSync(file, JSON.stringify(raw));
      console.error(`bench:load: CPU profile of the window written to ${file}`);
    }
    if (refusedAtUp > 0) console.error(`bench:load: the gateway refused ${refusedAtUp} of ${n} calls with 503 (admission control)`);
    if (callsUpAtStart < n - refusedAtUp || callsUpAtEnd < n - refusedAtUp) console.error(`bench:load: warning: only ${Math.min(callsUpAtStart, callsUpAtEnd)}/${n - refusedAtUp} calls up during the window`);

    // Let the calls end (sipp hangs up after holdMs), then collect.
    const hangup = followHangup(gw, callsUpAtEnd, holdMs + 60_000);
    const [uacCode, uasCode] = await Promise.all([exitWithin(uac, holdMs + 60_000, 'UAC'), exitWithin(uas, holdMs + 60_000, 'UAS')]);
    const hangupPhase = await hangup;
    const overloadedPeriods = (await gw.healthz()).admission.overloadedPeriods;
    for (let i = 0; i < 200 && (await gw.healthz()).activeCalls > 0; i++) await sleep(250);
    await sleep(500);
    const fin = await gw.metrics();
    const recs = await listRecordings(gw);
    for (let i = 0; i < 40 && recs.some((r) => r.status !== 'ended' && r.status !== 'failed'); i++) {
      await sleep(250);
      recs.splice(0, recs.length, ...(await listRecordings(gw)));
    }
    console.error(`bench:load: ${recs.length} recordings; checking them`);
    const files = recordingFiles(gw.dataDir);
    const checks = await checkAll(
      recs.map((rec) => ({ rec, file: files.get(rec.id) ?? path.join(gw.dataDir, 'recordings', `${rec.id}.missing`) })),
      holdMs,
      CALLER_HZ,
      CALLEE_HZ,
      a.format === 'wav' ? 1 : Math.max(1, os.availableParallelism()),
    );
    const windowS = (t1 - t0) / 1000;
    // A counter's growth over the window (`missing` when the gateway did not report it).
    const inWindow = (name: string, missing = 0): number => (m1[name] ?? missing) - (m0[name] ?? missing);
    const packetsInWindow = inWindow('recgate_rtp_packets_received_total', NaN);
    const rssSteadyKiB = rss.length > 0 ? rss.reduce((s, v) => s + v, 0) / rss.length : rssKiB(gw.pid);
    const counts = (c: Child): { successful: number; failed: number } => sippCounts(c.stdout);
    // Per call-second of media: the window, less the idle gateway.
    const windowRate = rateOf(c0, c1, windowS);
    const mediaRate = {
      all: (windowRate.all - idleRate.all) / Math.max(1, callsUpAtStart),
      main: (windowRate.main - idleRate.main) / Math.max(1, callsUpAtStart),
    };
    return {
      holdMs,
      recs,
      checks,
      gw: {
        usPerPacket: (c1.sched - c0.sched) / packetsInWindow,
        usPerPacketStat: (c1.stat - c0.stat) / packetsInWindow,
        cpuPercent: windowRate.all * 100,
        idleCpuPercent: idleRate.all * 100,
        mainThreadPercent: windowRate.main * 100,
        recvThreadPercent: threadPercent(c0, c1, NATIVE_THREAD_NAMES.recv, windowS),
        sendThreadPercent: threadPercent(c0, c1, NATIVE_THREAD_NAMES.send, windowS),
        runQueueWaitPercent: ((c1.wait - c0.wait) / 1e6 / windowS) * 100,
        sippCpuPercent: ((sipp1[0]!.sched - sipp0[0]!.sched + sipp1[1]!.sched - sipp0[1]!.sched) / 1e6 / windowS) * 100,
        machineBusyCores: busyCores(mc0, mc1, windowS),
        windowS,
        packetsInWindow,
        packetsPerCallSecond: packetsInWindow / windowS / Math.max(1, callsUpAtStart),
        callsUpAtStart,
        callsUpAtEnd,
        rssIdleKiB,
        rssSteadyKiB,
        rssPerCallKiB: (rssSteadyKiB - rssIdleKiB) / Math.max(1, callsUpAtStart),
        loopP99IdleMs: (idle.recgate_event_loop_delay_p99_seconds ?? NaN) * 1000,
        loopP99Ms: (m1.recgate_event_loop_delay_p99_seconds ?? NaN) * 1000,
        loopP50IdleMs: (idle.recgate_event_loop_delay_p50_seconds ?? NaN) * 1000,
        loopP50Ms: (m1.recgate_event_loop_delay_p50_seconds ?? NaN) * 1000,
        kernelDropsInWindow: drops1.drops - drops0.drops,
        gatewaySockets: drops1.sockets,
        lostInWindow: inWindow('recgate_rtp_packets_lost_total'),
        concealedInWindow: inWindow('recgate_rtp_packets_concealed_total'),
        lateInWindow: inWindow('recgate_rtp_packets_late_total'),
        lateTotal: fin.recgate_rtp_packets_late_total ?? NaN,
        driftInsertedInWindow: inWindow('recgate_mixer_drift_inserted_samples_total'),
        driftDroppedInWindow: inWindow('recgate_mixer_drift_dropped_samples_total'),
        driftInsertedTotal: fin.recgate_mixer_drift_inserted_samples_total ?? NaN,
        driftDroppedTotal: fin.recgate_mixer_drift_dropped_samples_total ?? NaN,
        relayedInWindow: inWindow('recgate_rtp_packets_relayed_total'),
        udpNative: m1.recgate_udp_native === 1,
        udpSendThread: m1.recgate_udp_send_thread === 1,
        udpRecvThread: m1.recgate_udp_recv_thread === 1,
        packetsPerRecvRound: inWindow('recgate_udp_native_packets_total', NaN) / inWindow('recgate_udp_recv_rounds_total', NaN),
        recvRingFullInWindow: inWindow('recgate_udp_recv_ring_full_total', NaN),
        // Datagrams per wake-up of the native path: how much each epoll/recvmmsg round batches.
        packetsPerWake: inWindow('recgate_udp_native_packets_total', NaN) / inWindow('recgate_udp_wakeups_total', NaN),
        writesPerJob: m1.recgate_file_writes_batched === 1 ? inWindow('recgate_file_writes_total', NaN) / inWindow('recgate_file_write_jobs_total', NaN) : NaN,
        receivedTotal: fin.recgate_rtp_packets_received_total ?? NaN,
        lostTotal: fin.recgate_rtp_packets_lost_total ?? NaN,
        concealedTotal: fin.recgate_rtp_packets_concealed_total ?? NaN,
        recordingFailures: fin.recgate_recording_failures_total ?? NaN,
        rampS,
        setup: { phase: rampPhase, perCall: perCall(rampPhase, mediaRate, idleRate) },
        teardown: hangupPhase === null ? null : { phase: hangupPhase, perCall: perCall(hangupPhase, mediaRate, idleRate) },
        refused: { overload: fin.recgate_calls_refused_overload_total ?? 0, maxCalls: fin.recgate_calls_refused_max_calls_total ?? 0 },
        guard: { rampDelayP50MaxMs: rampDelayP50Max, overloadedPeriods, rampSamples, windowUtilization: atEnd.admission.utilization },
        sipp: {
          uac: { code: uacCode, ...counts(uac), errors: sippErrors(dir, 'uac'), steps: sippStepTrouble(uac.stdout) },
          uas: { code: uasCode, ...counts(uas), errors: sippErrors(dir, 'uas'), steps: sippStepTrouble(uas.stdout) },
        },
        profile,
        allocations,
      },
    };
  } finally {
    if (uac !== null) await stopChild(uac, 'SIGKILL', 1000);
    if (uas !== null) await stopChild(uas, 'SIGKILL', 1000);
    await gw.stop();
  }
}

/** The floors alone: per packet, per core, and whether this machine kept up with the packet rate. */
function printFloors(calls: number, floors: [string, FloorResult][]): void {
  const expected = PACKETS_PER_CALL_SECOND * calls;
  table(
    `C floors alone: ${calls} two-leg calls, ${expected} packets/s offered by gen.c`,
    floors.map(([what, f]) => ({
      floor: what,
      'µs/packet': f.usPerPacket,
      'implied calls/core': Math.floor(1e6 / (f.usPerPacket * PACKETS_PER_CALL_SECOND)),
      'rx pkt/s per call': f.packetsPerCallSecond,
      'kept up': f.packetsPerCallSecond >= PACKETS_PER_CALL_SECOND * 0.99 && f.kernelDrops === 0 ? 'yes' : `no (${f.kernelDrops} kernel drops)`,
      'floor % of a core': f.cpuPercent,
      'gen.c % of a core': f.genCpuPercent,
      'machine cores busy': f.machineBusyCores,
    })),
  );
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  installCleanup();
  // Before pinning: once this process runs on the load's CPUs, it counts only those.
  const machine = machineFacts();
  if (a.cpus !== null) {
    pinning.gateway = a.cpus.gateway;
    pinning.load = a.cpus.load;
    // This process (its polls of the gateway, the recordings' checks) counts as load too.
    const r = spawnSync('taskset', ['-a', '-p', '-c', a.cpus.load, String(process.pid)], { encoding: 'utf8' });
    if (r.status !== 0) usage(`taskset failed: ${r.error?.message ?? r.stderr}`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-load-'));
  process.on('exit', () => {
    if (!a.keep) fs.rmSync(dir, { recursive: true, force: true });
  });
  const command = `npm run bench:load -- ${process.argv.slice(2).join(' ')}`.trim();
  console.log(`# recgate load bench — ${new Date().toISOString()}`);
  console.log(`\`${command}\``);
  console.log(`${machine.cpu}, nproc ${machine.nproc}, Node ${machine.node}, Linux ${machine.kernel}, load average at start ${machine.loadavg.join(' ')}`);

  let floor: FloorResult | null = null;
  let floorRelay: FloorResult | null = null;
  let floorRelayReader: FloorResult | null = null;
  if (a.floor) {
    const bin = buildFloor(dir);
    console.error(`bench:load: floor: ${2 * a.calls} RTP + ${2 * a.calls} RTCP sockets, ${PACKETS_PER_CALL_SECOND * a.calls} packets/s; then the same with relay`);
    floor = await measureFloor(bin, a.calls, a.seconds, a.warmup);
    floorRelay = await measureFloor(bin, a.calls, a.seconds, a.warmup, true);
    floorRelayReader = await measureFloor(bin, a.calls, a.seconds, a.warmup, true, true);
  }
  if (a.floorOnly) {
    if (floor === null || floorRelay === null || floorRelayReader === null) throw new Error('--floor-only and --no-floor exclude each other');
    printFloors(a.calls, [
      ['receive', floor],
      ['receive + relay (one sendto per packet, peer never reads)', floorRelay],
      ['receive + relay to a reading peer (as sipp reads)', floorRelayReader],
    ]);
    if (a.json !== null) fs.writeFileSync(a.json, JSON.stringify({ date: new Date().toISOString(), machine, options: a, floor, floorRelay, floorRelayReader }, null, 2));
    return;
  }
  const { gw, checks, holdMs, recs } = await runGateway(a, dir);

  const ok = checks.filter((c) => c.ok).length;
  const refused = gw.refused.overload + gw.refused.maxCalls;
  const sum = (k: 'audioFrames' | 'impureFrames' | 'silentGaps'): number => checks.reduce((s, c) => s + c.left[k] + c.right[k], 0);
  const audioFrames = sum('audioFrames');
  const impureFrames = sum('impureFrames');
  const silentGaps = sum('silentGaps');
  // Frames with audio that no packet brought: the concealed ones (the gateway's counter).
  const playedFromPackets = audioFrames - (Number.isFinite(gw.concealedTotal) ? gw.concealedTotal : 0);
  const lostInGateway = gw.receivedTotal - playedFromPackets;
  // The brief's cruder figure: recorded time x 50 packets/s per leg (blind to silence inside).
  const durationPackets = Math.round(checks.reduce((s, c) => s + c.durationMs, 0) / 20) * 2;
  const ratio = floor === null ? NaN : gw.usPerPacket / floor.usPerPacket;
  const impliedCallsPerCore = 1e6 / (gw.usPerPacket * PACKETS_PER_CALL_SECOND);
  const result: Result = {
    command,
    date: new Date().toISOString(),
    machine,
    options: a,
    holdMs,
    floor,
    floorRelay,
    floorRelayReader,
    gateway: gw,
    recordings: {
      total: recs.length,
      ok,
      expectedDurationMs: holdMs,
      audioFrames,
      impureFrames,
      silentGaps,
      minToneRatio: checks.reduce((m, c) => Math.min(m, c.left.ratio, c.right.ratio), 1),
      minStrictToneRatio: checks.reduce((m, c) => Math.min(m, c.left.strictRatio, c.right.strictRatio), 1),
      failedChecks: checks.flatMap((c) => c.failed).reduce<Record<string, number>>((m, k) => ((m[k] = (m[k] ?? 0) + 1), m), {}),
      durationMs: { min: Math.min(...checks.map((c) => c.durationMs)), max: Math.max(...checks.map((c) => c.durationMs)) },
      startToByeMs: { min: Math.min(...checks.map((c) => c.startToByeMs)), max: Math.max(...checks.map((c) => c.startToByeMs)) },
      offByMs: { min: Math.min(...checks.map((c) => c.durationMs - c.startToByeMs)), max: Math.max(...checks.map((c) => c.durationMs - c.startToByeMs)) },
      failures: checks.filter((c) => !c.ok).slice(0, 20).map((c) => ({ id: c.id, why: c.why })),
    },
    lostInGateway,
    ratio,
    impliedCallsPerCore,
  };

  const row: Row = {
    calls: String(a.calls),
    seconds: gw.windowS.toFixed(1),
    format: a.format,
    'rx pkt/s per call': gw.packetsPerCallSecond,
    'µs/packet gateway': gw.usPerPacket,
    'µs/packet floor': floor?.usPerPacket ?? NaN,
    ratio: Number.isFinite(ratio) ? `${ratio.toFixed(1)}x` : 'n/a',
    'ratio to relay floor with reader': floorRelayReader === null ? 'n/a' : `${(gw.usPerPacket / floorRelayReader.usPerPacket).toFixed(1)}x`,
    'implied calls/core': String(Math.round(impliedCallsPerCore)),
    'RSS/call KiB': String(Math.round(gw.rssPerCallKiB)),
    'loop delay p50 / p99 ms (idle)': `${gw.loopP50Ms.toFixed(1)} / ${gw.loopP99Ms.toFixed(1)} (${gw.loopP50IdleMs.toFixed(1)} / ${gw.loopP99IdleMs.toFixed(1)})`,
    // Below zero: more frames with audio than packets, as a stream's first and last frames are
    // partial (packets land at their arrival time, not on the frame grid); nothing was lost.
    'lost in gateway':
      lostInGateway < 0 ? `0 (${-lostInGateway} more frames than packets: the edges)` : `${lostInGateway} (${((lostInGateway / Math.max(1, gw.receivedTotal)) * 100).toFixed(1)} %)`,
    'recordings OK': `${ok} / ${a.calls}${refused > 0 ? ` (${refused} refused: 503)` : ''}`,
  };
  table(`Gateway under load: ${a.calls} two-leg calls (sipp UAC -> recgate connect -> sipp UAS), PCMU 20 ms both legs, stereo ${a.format}${a.opusComplexity !== null ? ` (opus complexity ${a.opusComplexity})` : ''}${a.profile ? ' (PROFILED: CPU inflated)' : ''}${a.cpus === null ? '' : ` (gateway pinned to CPU ${a.cpus.gateway})`}`, [row]);
  console.log('');
  console.log(
    `- gateway: ${gw.cpuPercent.toFixed(1)} % of a core over ${gw.windowS.toFixed(1)} s, of which the main thread ${gw.mainThreadPercent.toFixed(1)} %` +
      `${Number.isNaN(gw.recvThreadPercent) ? '' : `, the receive thread ${gw.recvThreadPercent.toFixed(1)} %`}${Number.isNaN(gw.sendThreadPercent) ? '' : `, the send thread ${gw.sendThreadPercent.toFixed(1)} %`} ` +
      `(idle, no call: ${gw.idleCpuPercent.toFixed(1)} %), ${gw.packetsInWindow} packets received ` +
      `(${gw.packetsPerCallSecond.toFixed(1)}/s per call, ${PACKETS_PER_CALL_SECOND} expected); utime+stime gave ${gw.usPerPacketStat.toFixed(2)} µs/packet; ` +
      `calls up at window start/end ${gw.callsUpAtStart}/${gw.callsUpAtEnd}; waited for a CPU ${gw.runQueueWaitPercent.toFixed(1)} % of the window; ` +
      `sipp (both) ${gw.sippCpuPercent.toFixed(1)} % of a core; whole machine ${gw.machineBusyCores.toFixed(2)} of ${machine.nproc} cores busy` +
      (a.cpus === null ? '' : `; pinned: the gateway on CPU ${a.cpus.gateway}, sipp and the bench on CPU ${a.cpus.load}`),
  );
  const phase = (what: string, p: { phase: Phase; perCall: PerCall }): string =>
    `${what} ${p.perCall.mainMs.toFixed(2)} ms of the main thread per call (${p.perCall.allMs.toFixed(2)} ms all threads), ` +
    `${p.phase.calls} calls in ${p.phase.seconds.toFixed(1)} s, the main thread ${((p.phase.main / p.phase.seconds) * 100).toFixed(1)} % of a core meanwhile`;
  console.log(
    `- setting calls up and tearing them down, in CPU beyond the media of the calls up meanwhile (the window's rate per call-second) and the idle gateway: ` +
      `${phase('set-up', gw.setup)}; ${gw.teardown === null ? 'the hang-up was not seen' : phase('tear-down (to the last recording closed)', gw.teardown)}`,
  );
  if (floor !== null) {
    console.log(
      `- floor (C, epoll + recvfrom + µ-law into a ring, ${4 * a.calls} sockets): ${floor.cpuPercent.toFixed(1)} % of a core, ${floor.packets} packets ` +
        `(${floor.packetsPerCallSecond.toFixed(1)}/s per call), ${floor.kernelDrops} kernel drops; utime+stime gave ${floor.usPerPacketStat.toFixed(2)} µs/packet; ` +
        `waited for a CPU ${floor.runQueueWaitPercent.toFixed(1)} %; gen.c ${floor.genCpuPercent.toFixed(1)} % of a core; whole machine ${floor.machineBusyCores.toFixed(2)} cores busy`,
    );
  }
  if (floorRelay !== null) {
    console.log(
      `- floor with relay (the same, plus one sendto per packet back to its source, as the B2BUA sends each leg the other's audio): ` +
        `${floorRelay.usPerPacket.toFixed(2)} µs/packet, ${floorRelay.cpuPercent.toFixed(1)} % of a core; the gateway costs ${(gw.usPerPacket / floorRelay.usPerPacket).toFixed(1)}x that`,
    );
  }
  if (floorRelayReader !== null) {
    console.log(
      `- floor with relay to a reading peer (gen.c --sink reads the replies, blocked in recv as sipp waits for RTP: on loopback each sendto also ` +
        `delivers into that socket and wakes the reader): ${floorRelayReader.usPerPacket.toFixed(2)} µs/packet, ${floorRelayReader.cpuPercent.toFixed(1)} % of a core; ` +
        `the gateway costs ${(gw.usPerPacket / floorRelayReader.usPerPacket).toFixed(1)}x that`,
    );
  }
  console.log(
    `- UDP path: ${
      gw.udpNative
        ? `native (epoll + recvmmsg${gw.udpRecvThread ? ` on the receive thread, ${gw.packetsPerRecvRound.toFixed(1)} datagrams per round, ring full ${gw.recvRingFullInWindow}x` : ''}${gw.udpSendThread ? ', sends on the send thread' : ''}), ${gw.packetsPerWake.toFixed(1)} datagrams per wake-up of the media thread`
        : 'node:dgram'
    }; ` +
      `file writes: ${Number.isNaN(gw.writesPerJob) ? 'an fs.write each' : `${gw.writesPerJob.toFixed(1)} per threadpool job`}; ` +
      `packets late for their playout time (dropped): ${gw.lateInWindow} in the window, ${gw.lateTotal} in all; ` +
      `relayed leg to leg as they arrived (same codec): ${((gw.relayedInWindow / Math.max(1, gw.packetsInWindow)) * 100).toFixed(1)} % of the packets received in the window; ` +
      `samples the drift controller inserted/dropped: ${gw.driftInsertedInWindow}/${gw.driftDroppedInWindow} in the window, ${gw.driftInsertedTotal}/${gw.driftDroppedTotal} in all ` +
      `(${(((gw.driftInsertedInWindow + gw.driftDroppedInWindow) / (2 * a.calls * gw.windowS * 8000)) * 1e6).toFixed(0)} ppm of the window's samples)`,
  );
  console.log(
    `- memory: RSS ${(gw.rssIdleKiB / 1024).toFixed(1)} MiB idle, ${(gw.rssSteadyKiB / 1024).toFixed(1)} MiB with ${a.calls} calls; ` +
      `event-loop delay p50 ${gw.loopP50Ms.toFixed(1)} ms, p99 ${gw.loopP99Ms.toFixed(1)} ms (idle ${gw.loopP50IdleMs.toFixed(1)} / ${gw.loopP99IdleMs.toFixed(1)} ms); the metric is Node's monitorEventLoopDelay at 10 ms ` +
      `resolution, whose samples include the 10 ms interval itself (an idle loop reads ~10-13 ms)`,
  );
  console.log(
    `- packets: the gateway received ${gw.receivedTotal} over the run; the recordings' durations x 50/s x 2 legs = ${durationPackets} ` +
      `(received - that = ${gw.receivedTotal - durationPackets}); the files hold ${audioFrames} 20 ms frames with audio, ` +
      `${gw.concealedTotal} of them concealed by the gateway: received - played = ${lostInGateway} (${(lostInGateway / Math.max(1, 2 * recs.length)).toFixed(2)} per leg; ` +
      `within ±1 per leg is the edges: the first packet straddles two frames, the last ones may be in the jitter buffer at the BYE); silent drop-outs inside recordings: ${silentGaps} frames; ` +
      `kernel drops at the gateway's ${gw.gatewaySockets} sockets in the window: ${gw.kernelDropsInWindow}; ` +
      `gateway counters over the run: lost ${gw.lostTotal}, concealed ${gw.concealedTotal} (in the window: ${gw.lostInWindow}, ${gw.concealedInWindow}); recording failures ${gw.recordingFailures}`,
  );
  const accepted = a.calls - refused;
  const expected = accepted * (holdMs / 1000) * PACKETS_PER_CALL_SECOND;
  console.log(
    `- generator check: the gateway received ${gw.receivedTotal} packets over the run, ${((gw.receivedTotal / expected) * 100).toFixed(1)} % of ` +
      `${expected} (${accepted} calls x ${holdMs / 1000} s x ${PACKETS_PER_CALL_SECOND}/s: sipp's rtp_stream kept up when this is ~100 %)`,
  );
  console.log(
    `- admission: ${refused === 0 ? 'every call taken' : `${refused} of ${a.calls} calls refused with 503 (${gw.refused.overload} for overload, ${gw.refused.maxCalls} at RECGATE_MAX_CALLS)`}` +
      ` (overload guard at RECGATE_OVERLOAD_DELAY_MS=${process.env.RECGATE_OVERLOAD_DELAY_MS || 'its default'} and RECGATE_OVERLOAD_UTILIZATION=${process.env.RECGATE_OVERLOAD_UTILIZATION || 'its default'}, cap RECGATE_MAX_CALLS=${process.env.RECGATE_MAX_CALLS || 'none'});` +
      ` the event loop's per-second median delay peaked at ${gw.guard.rampDelayP50MaxMs.toFixed(1)} ms while the calls were set up, ${gw.guard.overloadedPeriods} periods at or over the threshold in the run;` +
      ` the loop's utilization ${gw.guard.windowUtilization.toFixed(2)} at the window's end`,
  );
  // Every few periods of the ramp: what a guard could have known, by calls up.
  const step = Math.max(1, Math.ceil(gw.guard.rampSamples.length / 12));
  const shown = gw.guard.rampSamples.filter((_, i) => i % step === 0 || i === gw.guard.rampSamples.length - 1);
  if (shown.length > 0) {
    const lag = (g: GuardSample): string => (g.encoderLagMs > 0 ? `, encoders ${(g.encoderLagMs / 1000).toFixed(1)} s behind` : '');
    console.log(`  the guard's periods during the ramp (calls up: loop utilization, median delay): ${shown.map((g) => `${g.calls}: ${g.utilization.toFixed(2)}, ${g.delayP50Ms.toFixed(0)} ms${lag(g)}`).join('; ')}`);
  }
  console.log(
    `- sipp: UAC exit ${gw.sipp.uac.code} (${gw.sipp.uac.successful} ok, ${gw.sipp.uac.failed} failed), UAS exit ${gw.sipp.uas.code} ` +
      `(${gw.sipp.uas.successful} ok, ${gw.sipp.uas.failed} failed); ramp ${gw.rampS} s at ${a.rate} calls/s, each call held ${holdMs / 1000} s`,
  );
  for (const who of ['uac', 'uas'] as const) {
    for (const e of gw.sipp[who].errors) console.log(`  - sipp ${who.toUpperCase()}: ${e}`);
    for (const e of gw.sipp[who].steps) console.log(`  - sipp ${who.toUpperCase()} step ${e}`);
  }
  if (recs.length !== a.calls) console.log(`- ${recs.length} recordings for ${a.calls} calls`);
  console.log(
    `- recordings: ${ok}/${recs.length} OK (${CALLER_HZ} Hz left, ${CALLEE_HZ} Hz right, each in >= ${MIN_TONE_RATIO * 100} % of its 20 ms frames ` +
      `at >= ${MIN_TONE_FRACTION * 100} % of the energy, never the other's; from its start to the call's BYE ± 200 ms); lowest tone share ${(result.recordings.minToneRatio * 100).toFixed(1)} % ` +
      `(${(result.recordings.minStrictToneRatio * 100).toFixed(1)} % at the recipe's 80 %); ${impureFrames} frames with audio under 80 % at the tone ` +
      `(single samples inserted or dropped by the drift controller, concealment, or the tone's onset and end)`,
  );
  const fc = Object.entries(result.recordings.failedChecks);
  console.log(
    `  durations ${result.recordings.durationMs.min}-${result.recordings.durationMs.max} ms; start to BYE ${result.recordings.startToByeMs.min}-${result.recordings.startToByeMs.max} ms; ` +
      `duration minus start to BYE ${result.recordings.offByMs.min} to ${result.recordings.offByMs.max} ms` +
      (fc.length > 0 ? `; failed checks: ${fc.map(([k, v]) => `${k} ${v}`).join(', ')}; for example:` : ''),
  );
  for (const f of result.recordings.failures.slice(0, 5)) console.log(`  - ${f.id}: ${f.why}`);
  if (gw.profile !== null) {
    console.log(`\n### Gateway CPU profile over the window (self time, % of non-idle samples; idle ${gw.profile.idlePercent.toFixed(0)} %)\n`);
    console.log('| self % | function | where |');
    console.log('|---|---|---|');
    for (const l of gw.profile.lines) console.log(`| ${l.selfPercent.toFixed(1)} | ${l.function} | ${l.where} |`);
  }
  if (gw.allocations !== null) {
    console.log(`\n### Gateway allocations over the window (V8 sampling heap profiler, garbage included: ${gw.allocations.totalMbPerSecond.toFixed(2)} MB/s in all)\n`);
    console.log('| MB/s | % | function | where |');
    console.log('|---|---|---|---|');
    for (const l of gw.allocations.lines) console.log(`| ${l.mbPerSecond.toFixed(3)} | ${l.percent.toFixed(1)} | ${l.function} | ${l.where} |`);
  }
  if (a.json !== null) {
    fs.writeFileSync(a.json, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\n(JSON written to ${a.json})`);
  }
  if (a.keep) console.log(`(scratch directory kept: ${dir})`);
}

main().catch((err: unknown) => {
  console.error('bench:load: failed:', err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
