/**
 * A real UDP peer on 127.0.0.1 for end-to-end tests: sends a ToneStream in real time
 * (optionally with seeded loss and reordering) and collects what it receives.
 */
import dgram from 'node:dgram';
import { ToneStream } from './rtpStream.js';
import type { ToneStreamOptions } from './rtpStream.js';

export interface SendPlan {
  /** Packets to send. */
  packets: number;
  /** Drop this share of packets (seeded, deterministic); default 0. */
  loss?: number;
  /** Swap this share of adjacent packet pairs; default 0. */
  reorder?: number;
  seed?: number;
}

export class UdpPeer {
  readonly socket: dgram.Socket;
  readonly received: Buffer[] = [];

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (m) => this.received.push(Buffer.from(m)));
  }

  static async open(): Promise<UdpPeer> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    return new UdpPeer(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Sends `plan.packets` packets of `tone` to 127.0.0.1:port, paced on the monotonic clock. */
  async sendTone(port: number, tone: ToneStreamOptions, plan: SendPlan): Promise<{ sent: number; dropped: number }> {
    const stream = new ToneStream(tone);
    let seed = plan.seed ?? 42;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const all = Array.from({ length: plan.packets }, () => stream.next().bytes);
    // Reorder: swap adjacent pairs.
    for (let i = 0; i + 1 < all.length; i++) {
      if (rand() < (plan.reorder ?? 0)) {
        [all[i], all[i + 1]] = [all[i + 1]!, all[i]!];
        i++;
      }
    }
    const start = performance.now();
    let sent = 0;
    let dropped = 0;
    for (let i = 0; i < all.length; i++) {
      const due = start + i * stream.ptimeMs;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      if (rand() < (plan.loss ?? 0)) {
        dropped++;
        continue;
      }
      const b = all[i]!;
      this.socket.send(b, 0, b.length, port, '127.0.0.1');
      sent++;
    }
    return { sent, dropped };
  }

  close(): void {
    this.socket.close();
  }
}

/** A random base for a 200-port range between 40000 and 59800, so parallel runs rarely collide. */
export function randomPortRange(): [number, number] {
  const base = 40000 + 2 * Math.floor(Math.random() * 9900);
  return [base, base + 199];
}
