/**
 * Per-packet costs: G.711 decode, RTP header parsing, the jitter buffer, and the whole
 * receive -> decode -> mix path in virtual time with its heap growth and GC count.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { RtpPacket } from 'rtp.js/packets';
import { Mixer } from '../mixer/index.js';
import type { FrameConsumer } from '../mixer/index.js';
import { AudioReceiver, PCMU, RtpDrop, RtpHeaderReader, decodePcmu, encodePcmu } from '../rtp/index.js';
import { createEncoder } from '../encoders/index.js';
import type { ByteSink } from '../encoders/index.js';
import { ToneGenerator } from '../dsp/index.js';
import { bestNsPer, noise, runC } from './util.js';
import type { Row } from './util.js';

/** ITU-T G.711 mu-law expansion computed per sample, the way a table-less decoder does. */
function ulawFormula(u8: number): number {
  const u = ~u8 & 0xff;
  let t = ((u & 0x0f) << 3) + 0x84;
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? 0x84 - t : t - 0x84;
}

export function benchG711(cBin: string | null): Row[] {
  const payload = new Uint8Array(160);
  noise(160).forEach((v, i) => (payload[i] = v & 0xff));
  const out = new Int16Array(160);
  const packets = 200000;
  const ours = bestNsPer((n) => {
    for (let p = 0; p < n; p++) {
      payload[p % 160] = p & 0xff;
      decodePcmu(payload, 0, 160, out, 0);
    }
  }, packets) / 160;
  const plain = bestNsPer((n) => {
    for (let p = 0; p < n; p++) {
      payload[p % 160] = p & 0xff;
      for (let i = 0; i < 160; i++) out[i] = ulawFormula(payload[i]!);
    }
  }, packets) / 160;
  const c = runC(cBin, ['g711', String(packets * 160 * 10)]);
  return [
    {
      kernel: 'G.711 mu-law decode',
      'C ns/sample': c,
      'C samples/s': 1e9 / c,
      'plain JS (formula) samples/s': 1e9 / plain,
      'recgate (table) samples/s': 1e9 / ours,
      'recgate % of C': (100 * c) / ours,
    },
  ];
}

/** Builds n PCMU packets of a tone with consecutive seq/ts. */
function packets(n: number, ssrc = 0x1234, seq0 = 1, ts0 = 0): Uint8Array[] {
  const gen = new ToneGenerator(1000, 8000, 12000);
  const pcm = new Int16Array(160);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    gen.fill(pcm, 0, 160);
    const b = new Uint8Array(172);
    b[0] = 0x80;
    b[1] = 0;
    const seq = (seq0 + i) & 0xffff;
    const ts = (ts0 + i * 160) >>> 0;
    b[2] = seq >> 8;
    b[3] = seq & 0xff;
    new DataView(b.buffer).setUint32(4, ts);
    new DataView(b.buffer).setUint32(8, ssrc);
    encodePcmu(pcm, 0, 160, b, 12);
    out.push(b);
  }
  return out;
}

export function benchParse(): Row[] {
  const pk = packets(256);
  const h = new RtpHeaderReader();
  let sink = 0;
  const ours = bestNsPer((n) => {
    for (let i = 0; i < n; i++) {
      const b = pk[i & 255]!;
      if (h.parse(b, 0, b.length) === RtpDrop.None) sink += h.sequenceNumber;
    }
  }, 1_000_000);
  const views = pk.map((b) => new DataView(b.buffer, b.byteOffset, b.byteLength));
  const rtpjs = bestNsPer((n) => {
    for (let i = 0; i < n; i++) sink += new RtpPacket(views[i & 255]).getSequenceNumber();
  }, 200_000);
  if (sink === 42) console.log('');
  return [
    {
      parser: 'RTP header',
      'rtp.js RtpPacket packets/s': 1e9 / rtpjs,
      'recgate RtpHeaderReader packets/s': 1e9 / ours,
      'ratio (recgate / rtp.js)': rtpjs / ours,
    },
  ];
}

/** A ByteSink that keeps nothing: encoder cost without I/O. */
class NullSink implements ByteSink {
  bytes = 0;
  append(_b: Uint8Array, _o: number, length: number): void {
    this.bytes += length;
  }
  patch(): void {}
}

interface PipelineSetup {
  step: (ticks: number) => void;
  packetsPerTick: number;
}

/**
 * Two PCMU legs through header parse, jitter buffer, decoder, mixer (stereo) and optionally
 * a WAV encoder, in virtual time: per tick each leg receives one packet (every 8th pair
 * swapped to exercise reordering) and the mixer runs one frame.
 */
export function pipeline(withWav: boolean): PipelineSetup {
  let t = 0;
  const mixer = new Mixer({ sampleRate: 8000, delayMs: 60, now: () => t });
  const legs = [mixer.createInput('a'), mixer.createInput('b')];
  const receivers = legs.map((input) => {
    const r = new AudioReceiver({ formats: [PCMU], mixerRate: 8000 });
    r.attach(input);
    return r;
  });
  const h = new RtpHeaderReader();
  // Preallocated packets, 16 per leg rewritten in turn (the jitter buffer keeps references to
  // reordered packets, like it does to Node's per-datagram Buffers): the loop allocates nothing.
  const pk = [packets(16, 0xa), packets(16, 0xb)];
  const view = pk.map((list) => list.map((b) => new DataView(b.buffer)));
  let seq = 1;
  const enc = withWav ? createEncoder({ format: 'wav', inputRate: 8000, sampleRate: 8000, channels: 2 }, new NullSink()) : null;
  const consumer: FrameConsumer = { onFrame: (pcm) => enc?.write(pcm) };
  mixer.addOutput({ kind: 'stereo', left: [legs[0]!], right: [legs[1]!] }, consumer);
  const deliver = (s: number): void => {
    for (let l = 0; l < 2; l++) {
      const b = pk[l]![s & 15]!;
      const v = view[l]![s & 15]!;
      v.setUint16(2, s & 0xffff);
      v.setUint32(4, (s * 160) >>> 0);
      h.parse(b, 0, b.length);
      h.arrivalMs = t;
    receivers[l]!.receive(b, h);
    }
  };
  return {
    packetsPerTick: 2,
    step: (ticks) => {
      for (let i = 0; i < ticks; i++) {
        t += 20;
        // Every 8th pair of packets arrives swapped (the second one a tick early).
        if ((seq & 7) === 0) {
          deliver(seq + 1);
          deliver(seq);
        } else if ((seq & 7) !== 1) deliver(seq);
        seq++;
        mixer.service(t, 4);
      }
    },
  };
}

export async function benchPipelineVirtual(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const withWav of [false, true]) {
    const p = pipeline(withWav);
    const nsPerTick = bestNsPer(p.step, 200_000, 3);
    // Heap and GC over 10^6 ticks (2 x 10^6 packets).
    const gcApi = (globalThis as { gc?: () => void }).gc;
    // Count only collections that started inside the measured loop (entries arrive later).
    const starts: number[] = [];
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) starts.push(e.startTime);
    });
    obs.observe({ entryTypes: ['gc'] });
    gcApi?.();
    await new Promise((r) => setTimeout(r, 10));
    const before = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    p.step(1_000_000);
    const t1 = performance.now();
    const growth = process.memoryUsage().heapUsed - before;
    await new Promise((r) => setTimeout(r, 10));
    obs.disconnect();
    const gcs = starts.filter((t) => t >= t0 && t <= t1).length;
    rows.push({
      path: withWav ? 'parse+JB+decode+stereo mix+WAV encode' : 'parse+JB+decode+stereo mix',
      'ns per tick (2 packets)': nsPerTick,
      'us per received packet': nsPerTick / p.packetsPerTick / 1000,
      'heap growth over 1e6 ticks (bytes)': growth,
      'GCs over 1e6 ticks': gcApi ? gcs : NaN,
    });
  }
  return rows;
}
