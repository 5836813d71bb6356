/**
 * The whole in-process pipeline over real UDP: N concurrent two-leg PCMU calls from a load
 * generator in another process, each recorded to a stereo WAV; CPU microseconds per
 * call-second from process.cpuUsage over the steady part of the run. Reference in the same
 * run: the same traffic into bare Node sockets that only count packets, so the ratio shows
 * what recgate adds on top of Node's own receive cost.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FrameScheduler, Mixer } from '../mixer/index.js';
import { AudioReceiver, PCMU, PortAllocator, RtpEndpoint } from '../rtp/index.js';
import { Recording } from '../recorder/index.js';
import { benchDir } from './util.js';
import type { Row } from './util.js';

const WARMUP_S = 1;

function blast(seconds: number, ports: number[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(benchDir, 'blaster.ts'), String(seconds), ...ports.map(String)], {
      stdio: 'inherit',
    });
    child.on('error', reject);
    child.on('exit', () => resolve());
  });
}

/** CPU (user+system) microseconds spent between warm-up and the end of the blast. */
async function measure(seconds: number, ports: number[]): Promise<{ cpuUs: number; userUs: number; windowS: number }> {
  const done = blast(seconds, ports);
  await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await done;
  const c = process.cpuUsage(c0);
  return { cpuUs: c.user + c.system, userUs: c.user, windowS: (performance.now() - t0) / 1000 };
}

export async function benchUdp(calls: number, seconds: number): Promise<Row[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-udpbench-'));
  const base = 40000 + 2 * Math.floor(Math.random() * 5000);
  const ports = new PortAllocator(base, base + 4 * calls + 100);
  const rows: Row[] = [];
  try {
    // Reference: bare sockets that count packets.
    const bare: dgram.Socket[] = [];
    let bareCount = 0;
    for (let i = 0; i < 2 * calls; i++) {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
      s.on('message', () => void bareCount++);
      bare.push(s);
    }
    const ref = await measure(seconds, bare.map((s) => s.address().port));
    bare.forEach((s) => s.close());

    // recgate: endpoints -> receivers -> mixers -> stereo WAV recordings.
    const scheduler = new FrameScheduler();
    const endpoints: RtpEndpoint[] = [];
    const receivers: AudioReceiver[] = [];
    const recordings: Recording[] = [];
    const mixers: Mixer[] = [];
    for (let c = 0; c < calls; c++) {
      const mixer = new Mixer({ sampleRate: 8000, delayMs: 60 });
      const legs = [mixer.createInput('caller'), mixer.createInput('callee')];
      for (const input of legs) {
        const ep = await RtpEndpoint.open({ ports, bindAddress: '127.0.0.1' });
        const r = new AudioReceiver({ formats: [PCMU], mixerRate: 8000 });
        r.attach(input);
        ep.handler = r;
        endpoints.push(ep);
        receivers.push(r);
      }
      recordings.push(
        await Recording.start({
          mixer,
          path: path.join(dir, `call${c}.wav`),
          format: 'wav',
          sampleRate: 8000,
          channels: 2,
          output: { kind: 'stereo', left: [legs[0]!], right: [legs[1]!] },
        }),
      );
      scheduler.add(mixer);
      mixers.push(mixer);
    }
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const run = await measure(seconds, endpoints.map((e) => e.port));
    loop.disable();
    await new Promise((r) => setTimeout(r, 150));
    for (const m of mixers) m.drain();
    const results = await Promise.all(recordings.map((r) => r.stop()));
    scheduler.close();
    endpoints.forEach((e) => e.close());
    const lost = receivers.reduce((n, r) => n + r.stats().lost + r.stats().late, 0);
    const received = receivers.reduce((n, r) => n + r.stats().received, 0);
    const durations = results.map((r) => r.durationMs);
    const callSeconds = (w: { windowS: number }) => calls * w.windowS;
    const usRef = ref.cpuUs / callSeconds(ref);
    const usRun = run.cpuUs / callSeconds(run);
    rows.push(
      {
        setup: `bare Node UDP sockets (reference), ${calls} calls`,
        'CPU us per call-second': usRef,
        'of which user': ref.userUs / callSeconds(ref),
        'implied calls per core': 1e6 / usRef,
        'ratio to reference': 1,
        'event loop p99 ms': NaN,
        'packets lost in gateway': NaN,
      },
      {
        setup: `recgate: RTP -> JB -> mixer -> stereo WAV, ${calls} calls`,
        'CPU us per call-second': usRun,
        'of which user': run.userUs / callSeconds(run),
        'implied calls per core': 1e6 / usRun,
        'ratio to reference': usRun / usRef,
        'event loop p99 ms': loop.percentile(99) / 1e6,
        'packets lost in gateway': lost,
      },
    );
    console.log(
      `\n(${received} packets received by ${2 * calls} legs over ${seconds} s; bare sockets counted ${bareCount}; recordings ${Math.min(...durations).toFixed(0)}-${Math.max(...durations).toFixed(0)} ms long)`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
