/**
 * Load generator for the UDP benchmark, run as a child process so its CPU is not counted:
 * sends a PCMU tone to every target port every 20 ms for the given seconds.
 *
 *   node --import tsx bench/blaster.ts <seconds> <port> [<port> ...]
 */
import dgram from 'node:dgram';
import { ToneGenerator } from '../dsp/index.js';
import { encodePcmu } from '../rtp/index.js';

const [secondsArg, ...portArgs] = process.argv.slice(2);
const seconds = Number(secondsArg);
const ports = portArgs.map(Number);
const socket = dgram.createSocket('udp4');
socket.bind(0, '127.0.0.1', () => {
  // One 172-byte packet per target, rewritten in place each round.
  const packets = ports.map((_, i) => {
    const b = Buffer.alloc(172);
    b[0] = 0x80;
    b.writeUInt32BE(0x10000 + i, 8);
    return b;
  });
  const gens = ports.map((_, i) => new ToneGenerator(i % 2 === 0 ? 1000 : 1500, 8000, 12000));
  const pcm = new Int16Array(160);
  const start = performance.now();
  let round = 0;
  const total = (seconds * 1000) / 20;
  const send = (): void => {
    const due = Math.min(total, Math.floor((performance.now() - start) / 20) + 1);
    for (; round < due; round++) {
      for (let i = 0; i < ports.length; i++) {
        const b = packets[i]!;
        b.writeUInt16BE(round & 0xffff, 2);
        b.writeUInt32BE((round * 160) >>> 0, 4);
        gens[i]!.fill(pcm, 0, 160);
        encodePcmu(pcm, 0, 160, b, 12);
        socket.send(b, ports[i]!, '127.0.0.1');
      }
    }
    if (round >= total) {
      clearInterval(timer);
      setTimeout(() => socket.close(), 50);
    }
  };
  const timer = setInterval(send, 5);
  send();
});
