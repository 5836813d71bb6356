/**
 * Worker thread for test/nativeUdp.test.ts: the native UDP path in a worker of its own, as a
 * media worker would run it. Opens two native endpoints, `a` (remote: the test's sender) and
 * `b` (remote: the test's peer), has the receive thread relay a's packets out of b, counts what
 * a's handler gets, and answers "report" with that count and this thread's nativeUdpStats().
 * It never closes its endpoints: the test terminates it with sockets open and a relay running.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { AudioSender, PortAllocator, RtpEndpoint, nativeUdpStats, udpPath } from '../../rtp/index.js';

const { portMin, senderPort, peerPort } = workerData as { portMin: number; senderPort: number; peerPort: number };
const ports = new PortAllocator(portMin, portMin + 20);
const open = (port: number) => RtpEndpoint.open({ ports, bindAddress: '127.0.0.1', rtcpMux: true, remote: { address: '127.0.0.1', port } });
const a = await open(senderPort);
const b = await open(peerPort);
let received = 0;
a.handler = { receive: () => void received++ };
const toB = new AudioSender({ format: { payloadType: 0, codec: 'PCMU', clockRate: 8000 }, mixerRate: 8000 }, b);
const relaying = toB.relayNatively(a, 0);
parentPort!.on('message', (m) => {
  if (m === 'report') parentPort!.postMessage({ type: 'report', received, stats: nativeUdpStats() });
});
parentPort!.postMessage({ type: 'ready', threadId, path: udpPath(), ports: [a.port, b.port], relaying });
