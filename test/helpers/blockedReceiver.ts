/**
 * Child process for test/nativeUdp.test.ts: opens ENDPOINTS native RTP endpoints with small
 * socket buffers, prints their ports as one JSON line, and on "block" from stdin prints
 * "blocking" and keeps its JavaScript thread busy for BLOCK_MS (as a long collection, a big API
 * response or a stalled disk would), then lets the event loop run and prints what arrived:
 * {"received": n, "perEndpoint": [...], "stats": nativeUdpStats()}. The UDP path's threads are
 * chosen by the environment (RECGATE_UDP_RECV_THREAD).
 */
import readline from 'node:readline';
import { PortAllocator, RtpEndpoint, nativeUdpStats } from '../../rtp/index.js';

const ENDPOINTS = Number(process.env.ENDPOINTS ?? 10);
const BLOCK_MS = Number(process.env.BLOCK_MS ?? 600);
const PORT_MIN = Number(process.env.PORT_MIN);
/** SO_RCVBUF asked for, in bytes: the kernel doubles it and holds ~50 datagrams of 172 bytes in 32 KiB. */
const RCVBUF = 16 * 1024;

const ports = new PortAllocator(PORT_MIN, PORT_MIN + 4 * ENDPOINTS + 20);
const endpoints: RtpEndpoint[] = [];
const perEndpoint = new Array<number>(ENDPOINTS).fill(0);
for (let e = 0; e < ENDPOINTS; e++) {
  const ep = await RtpEndpoint.open({ ports, bindAddress: '127.0.0.1', rtcpMux: true, recvBufferBytes: RCVBUF });
  const index = e;
  ep.handler = { receive: () => void perEndpoint[index]!++ };
  endpoints.push(ep);
}
console.log(JSON.stringify({ ports: endpoints.map((e) => e.port), path: endpoints[0]!.path }));

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line !== 'block') return;
  console.log('blocking');
  const until = performance.now() + BLOCK_MS;
  while (performance.now() < until) {
    // Busy: nothing else runs on this thread.
  }
  setTimeout(() => {
    console.log(JSON.stringify({ received: perEndpoint.reduce((a, b) => a + b, 0), perEndpoint, stats: nativeUdpStats() }));
    for (const ep of endpoints) ep.close();
    rl.close();
  }, 300);
});
