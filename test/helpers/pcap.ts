/**
 * Captures UDP on the loopback interface with tcpdump (root, as in CI) and reads the pcap
 * back: to see what the gateway really sent to a peer that cannot record it (sipp).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';

export interface CapturedPacket {
  /** Capture time in ms. */
  timeMs: number;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

export interface Capture {
  stop(): Promise<CapturedPacket[]>;
}

/** Starts `tcpdump -i lo` with a BPF filter, writing to `file`; resolves once it listens. */
export async function startCapture(file: string, filter: string): Promise<Capture> {
  const child = spawn('tcpdump', ['-i', 'lo', '-U', '-n', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${stderr}`)), 5000);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited ${code}: ${stderr}`));
    });
  });
  child.removeAllListeners('exit');
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let stopped: Promise<CapturedPacket[]> | null = null;
  return {
    // Idempotent: a finally block may stop it again.
    stop() {
      stopped ??= (async () => {
        child.kill('SIGINT');
        await exited;
        return readPcap(fs.readFileSync(file));
      })();
      return stopped;
    },
  };
}

/** Parses a classic pcap file of Ethernet (lo) or Linux cooked frames carrying IPv4/UDP. */
export function readPcap(buf: Buffer): CapturedPacket[] {
  if (buf.length < 24) return [];
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linkType = u32(20);
  const linkHeader = linkType === 1 ? 14 : linkType === 113 ? 16 : linkType === 0 ? 4 : 14;
  const out: CapturedPacket[] = [];
  for (let o = 24; o + 16 <= buf.length; ) {
    const sec = u32(o);
    const frac = u32(o + 4);
    const incl = u32(o + 8);
    const data = buf.subarray(o + 16, o + 16 + incl);
    o += 16 + incl;
    const ip = linkHeader;
    if (data.length < ip + 28 || data[ip]! >> 4 !== 4 || data[ip + 9] !== 17) continue;
    const ihl = (data[ip]! & 0x0f) * 4;
    const udp = ip + ihl;
    const len = data.readUInt16BE(udp + 4);
    out.push({
      timeMs: sec * 1000 + (nano ? frac / 1e6 : frac / 1e3),
      srcPort: data.readUInt16BE(udp),
      dstPort: data.readUInt16BE(udp + 2),
      payload: Buffer.from(data.subarray(udp + 8, udp + Math.min(len, data.length - udp))),
    });
  }
  return out;
}
