/**
 * The native UDP path under a burst: many endpoints, many datagrams per wake-up, several arena
 * swaps. Every datagram arrives once, in order per socket, from the right source, and packets
 * kept by reference (as the jitter buffer keeps them) still hold their own bytes after the
 * arena they were copied into has been replaced.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { threadTimes } from '../common/index.js';
import { AudioSender, NATIVE_THREAD_NAMES, PortAllocator, RELAY_STATE_FIELDS, RtpEndpoint, RtpHeaderReader, nativeUdpStats, pollNative, relayProbeNative, relayStartNative, relayStopNative, testRecvDelay, udpPath } from '../rtp/index.js';
import { randomPortRange } from './helpers/udpPeer.js';

const native = udpPath().startsWith('native');
const ENDPOINTS = 100;
const PER_ENDPOINT = 100;
const PAYLOAD = 160;

function packet(endpoint: number, seq: number): Uint8Array {
  const p = new Uint8Array(12 + PAYLOAD);
  p[0] = 0x80;
  p[2] = seq >> 8;
  p[3] = seq & 0xff;
  p[11] = endpoint & 0xff;
  // The payload names its packet: a byte from another packet (a reused arena) shows up.
  for (let i = 0; i < PAYLOAD; i++) p[12 + i] = (endpoint * 31 + seq * 7 + i) & 0xff;
  return p;
}

test('native path: a burst to 100 endpoints arrives whole, in order, and kept packets keep their bytes across arena swaps', async () => {
  if (!native) {
    // rtpEndpoint.test.ts fails the run when the addon is missing on Linux; elsewhere there is nothing to test here.
    assert.ok(process.platform !== 'linux' || process.env.RECGATE_NATIVE_UDP === '0', udpPath());
    return;
  }
  const [min] = randomPortRange();
  const ports = new PortAllocator(min, min + 2 * ENDPOINTS + 20);
  const endpoints: RtpEndpoint[] = [];
  const kept: { ep: number; seq: number; bytes: Uint8Array; offset: number; length: number }[] = [];
  const sender = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r) => sender.bind(0, '127.0.0.1', r));
    const senderPort = sender.address().port;
    for (let e = 0; e < ENDPOINTS; e++) {
      const ep = await RtpEndpoint.open({ ports, bindAddress: '127.0.0.1', rtcpMux: true, recvBufferBytes: 1 << 20 });
      assert.is(ep.path, 'native');
      const index = e;
      ep.handler = {
        receive(bytes: Uint8Array, h: RtpHeaderReader) {
          kept.push({ ep: index, seq: h.sequenceNumber, bytes, offset: h.payloadOffset, length: h.payloadLength });
        },
      };
      endpoints.push(ep);
    }
    const before = nativeUdpStats();
    // The burst: every endpoint's packets sent back to back before the loop reads any of them.
    for (let s = 0; s < PER_ENDPOINT; s++) {
      for (let e = 0; e < ENDPOINTS; e++) sender.send(packet(e, s), endpoints[e]!.port, '127.0.0.1');
    }
    const deadline = Date.now() + 10_000;
    while (kept.length < ENDPOINTS * PER_ENDPOINT && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const after = nativeUdpStats();
    assert.is(kept.length, ENDPOINTS * PER_ENDPOINT, 'every datagram once');
    const wakeups = after.wakeups - before.wakeups;
    const arenas = Math.ceil((ENDPOINTS * PER_ENDPOINT * (12 + PAYLOAD + 4)) / (64 * 1024));
    console.log(`  ${kept.length} datagrams in ${wakeups} wake-ups (${(kept.length / wakeups).toFixed(1)} per wake-up), about ${arenas} arenas`);
    assert.ok(wakeups < kept.length / 2, `batched: ${wakeups} wake-ups for ${kept.length} datagrams`);
    const next = new Array<number>(ENDPOINTS).fill(0);
    for (const k of kept) {
      assert.is(k.seq, next[k.ep], `endpoint ${k.ep}: in order`);
      next[k.ep]!++;
      assert.is(k.length, PAYLOAD);
      for (let i = 0; i < PAYLOAD; i += 37) {
        assert.is(k.bytes[k.offset + i], (k.ep * 31 + k.seq * 7 + i) & 0xff, `endpoint ${k.ep} seq ${k.seq}: its own bytes`);
      }
    }
    for (const ep of endpoints) {
      assert.equal(ep.remote, { address: '127.0.0.1', port: senderPort }, 'the source, learned from the native address');
      assert.is(ep.stats().packets, PER_ENDPOINT);
    }
    assert.is(after.stale - before.stale, 0);

    // Replies: each endpoint sends 20 packets back to the learned source (on the send thread
    // when it is on); they arrive, from each endpoint's own port, in order.
    const replies = new Map<number, number[]>();
    sender.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      const list = replies.get(rinfo.port) ?? [];
      list.push((msg[2]! << 8) | msg[3]!);
      replies.set(rinfo.port, list);
    });
    const got = (): number => [...replies.values()].reduce((n, l) => n + l.length, 0);
    const s0 = nativeUdpStats();
    // A round of 100 at a time: our one receiving socket's buffer holds about 250 (net.core.rmem_max).
    for (let s = 0; s < 20; s++) {
      for (let e = 0; e < ENDPOINTS; e++) endpoints[e]!.send(packet(e, s), 0, 12 + PAYLOAD);
      const want = (s + 1) * ENDPOINTS;
      for (let i = 0; i < 100 && got() < want; i++) await new Promise((r) => setTimeout(r, 5));
    }
    const until = Date.now() + 10_000;
    while (got() < 20 * ENDPOINTS && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.is(got(), 20 * ENDPOINTS);
    for (const ep of endpoints) assert.equal(replies.get(ep.port), [...Array(20).keys()], `from port ${ep.port}, in order`);
    const s1 = nativeUdpStats();
    if (s1.sendThread) {
      assert.is(s1.threadSent - s0.threadSent, 20 * ENDPOINTS, 'sent by the send thread');
      // One wake-up per round of 100 sends (at most; none when the thread was still awake), and
      // the packets do not wait for the thread's 20 ms safety timeout: without the kick every
      // round does (20 of 20). The timeout may still land, rarely, between a round's first send
      // and its kick (a fraction of a ms, once per 20 ms): at most 2 such.
      assert.ok(s1.sendThreadKicks - s0.sendThreadKicks <= 20, `${s1.sendThreadKicks - s0.sendThreadKicks} kicks for 20 rounds`);
      const missed = s1.sendThreadMissedKicks - s0.sendThreadMissedKicks;
      assert.ok(missed <= 2, `${missed} of 20 rounds waited for the safety timeout`);
    }
    assert.is(s1.threadSendErrors - s0.threadSendErrors, 0);
  } finally {
    for (const ep of endpoints) ep.close();
    sender.close();
  }
  assert.is(nativeUdpStats().open, 0, 'closed endpoints release their native sockets');
});

/** `n` native endpoints on fresh ports, each with the handler `handlerFor(index)` gives it. */
async function openEndpoints(n: number, handlerFor: (index: number) => RtpEndpoint['handler']): Promise<RtpEndpoint[]> {
  const [min] = randomPortRange();
  const ports = new PortAllocator(min, min + 3 * n);
  const endpoints: RtpEndpoint[] = [];
  for (let e = 0; e < n; e++) {
    const ep = await RtpEndpoint.open({ ports, bindAddress: '127.0.0.1', rtcpMux: true, recvBufferBytes: 1 << 20 });
    ep.handler = handlerFor(e);
    endpoints.push(ep);
  }
  return endpoints;
}

/**
 * Another process sends `per` packets (sequence numbers 0..per-1) to each endpoint while this
 * thread is blocked in execFileSync: the event loop reads none of them meanwhile.
 */
function floodWhileThisThreadWaits(endpoints: RtpEndpoint[], per: number): void {
  const script = `const s = require('dgram').createSocket('udp4'); const ports = ${JSON.stringify(endpoints.map((e) => e.port))};
    let left = ${per} * ports.length;
    for (let i = 0; i < ${per}; i++) for (const port of ports) { const p = Buffer.alloc(172); p[0] = 0x80; p[3] = i; s.send(p, port, '127.0.0.1', () => { if (--left === 0) s.close(); }); }`;
  execFileSync(process.execPath, ['-e', script]);
}

test('pollNative() reads what waits in the sockets inside the call, past the 2048 datagrams of one loop wake-up', async () => {
  if (!native) {
    assert.ok(process.platform !== 'linux' || process.env.RECGATE_NATIVE_UDP === '0', udpPath());
    return;
  }
  const count = new Array<number>(20).fill(0);
  const endpoints = await openEndpoints(20, (index) => ({ receive: () => void count[index]!++ }));
  try {
    const before = nativeUdpStats();
    // 150 packets to each of the 20 sockets (3000 in all) while this thread is blocked.
    floodWhileThisThreadWaits(endpoints, 150);
    assert.equal(count.reduce((a, b) => a + b, 0), 0, 'nothing read while blocked');
    pollNative();
    // Read and delivered inside the call: no turn of the event loop in between.
    assert.equal(count, new Array<number>(20).fill(150));
    const after = nativeUdpStats();
    assert.is(after.polls - before.polls, 1);
    assert.is(after.wakeups - before.wakeups, 0, 'not through the event loop');
  } finally {
    for (const ep of endpoints) ep.close();
  }
});

/** What the blocked child reported (test/helpers/blockedReceiver.ts). */
interface BlockedReport {
  received: number;
  perEndpoint: number[];
  stats: ReturnType<typeof nativeUdpStats>;
}

/**
 * Runs blockedReceiver.ts with `env`, floods its endpoints with `perEndpoint` datagrams each
 * while its JavaScript thread is blocked, and returns what it received.
 */
async function floodWhileBlocked(env: Record<string, string>, perEndpoint: number): Promise<BlockedReport & { path: string }> {
  const [min] = randomPortRange();
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'helpers', 'blockedReceiver.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env, PORT_MIN: String(min) }, stdio: ['pipe', 'pipe', 'inherit'] });
  const sender = dgram.createSocket('udp4');
  try {
    const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const next = async (): Promise<string> => {
      const r = await Promise.race([lines.next(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('child timed out')), 20_000))]);
      if (r.done) throw new Error('child ended early');
      return r.value as string;
    };
    const { ports, path: udp } = JSON.parse(await next()) as { ports: number[]; path: string };
    await new Promise<void>((r) => sender.bind(0, '127.0.0.1', r));
    child.stdin!.write('block\n');
    assert.is(await next(), 'blocking');
    // The flood, while the child's thread is busy: 10 datagrams per socket per ms (a burst the
    // sockets' 32 KiB could not hold for 5 ms), 40 ms in all. Paced, so that the receive thread
    // gets a CPU now and then on a 2-core machine whose other core spins in the child.
    const PER_MS = 10;
    for (let s = 0; s < perEndpoint; s += PER_MS) {
      let left = PER_MS * ports.length;
      await new Promise<void>((resolve) => {
        for (let k = s; k < s + PER_MS; k++) {
          for (let e = 0; e < ports.length; e++) {
            sender.send(packet(e, k), ports[e]!, '127.0.0.1', () => {
              if (--left === 0) resolve();
            });
          }
        }
      });
      await new Promise((r) => setTimeout(r, 1));
    }
    return { ...(JSON.parse(await next()) as BlockedReport), path: udp };
  } finally {
    sender.close();
    child.kill('SIGKILL');
  }
}

test('receive thread: a flood that arrives while JavaScript is blocked for 600 ms is read, not dropped by the kernel', async () => {
  if (!native) {
    assert.ok(process.platform !== 'linux' || process.env.RECGATE_NATIVE_UDP === '0', udpPath());
    return;
  }
  // 10 sockets with ~32 KiB of buffer each (about 50 datagrams), 400 datagrams each.
  const PER = 400;
  const withThread = await floodWhileBlocked({ RECGATE_UDP_RECV_THREAD: '1' }, PER);
  const onLoop = await floodWhileBlocked({ RECGATE_UDP_RECV_THREAD: '0' }, PER);
  console.log(`  blocked 600 ms, 4000 datagrams: receive thread ${withThread.received} (ring high water ${withThread.stats.recvRingHighWater} bytes), event loop ${onLoop.received}`);
  assert.is(withThread.path, 'native');
  assert.ok(withThread.stats.recvThread, 'the thread is on');
  assert.equal(withThread.perEndpoint, new Array<number>(10).fill(PER), 'every datagram, through the thread');
  assert.is(withThread.stats.recvRingFullWaits, 0);
  // The control: read on the event loop, the same flood overflows the socket buffers.
  assert.not.ok(onLoop.stats.recvThread);
  assert.ok(onLoop.received < 10 * PER / 2, `on the event loop the kernel drops most: ${onLoop.received} of ${10 * PER}`);
});

test('receive thread: sockets closed and reopened under traffic get their own datagrams, none missing', async () => {
  if (!native) {
    assert.ok(process.platform !== 'linux' || process.env.RECGATE_NATIVE_UDP === '0', udpPath());
    return;
  }
  const [min] = randomPortRange();
  const ports = new PortAllocator(min, min + 190);
  const sender = dgram.createSocket('udp4');
  const live: RtpEndpoint[] = [];
  /** Per endpoint opened: the sequence numbers it received, in order. */
  const got: number[][] = [];
  const nextSeq = new Map<RtpEndpoint, number>();
  const serialOf = new Map<RtpEndpoint, number>();
  let foreign = 0;
  let earlierOwner = 0;
  const open = async (): Promise<RtpEndpoint> => {
    const ep = await RtpEndpoint.open({ ports, bindAddress: '127.0.0.1', rtcpMux: true, recvBufferBytes: 1 << 18 });
    const port = ep.port;
    const serial = got.length;
    const seqs: number[] = [];
    got.push(seqs);
    ep.handler = {
      // The datagram names the port it was sent to (payload bytes 0-1) and the endpoint it was
      // meant for (2-3). Another port is a misdelivery. Another endpoint on this same port is
      // one closed just before this one took its port, whose datagram was still on the way.
      receive(bytes: Uint8Array, h: RtpHeaderReader) {
        const o = h.payloadOffset;
        if (((bytes[o]! << 8) | bytes[o + 1]!) !== port) foreign++;
        else if (((bytes[o + 2]! << 8) | bytes[o + 3]!) !== serial) earlierOwner++;
        else seqs.push(h.sequenceNumber);
      },
    };
    nextSeq.set(ep, 0);
    serialOf.set(ep, serial);
    return ep;
  };
  try {
    await new Promise<void>((r) => sender.bind(0, '127.0.0.1', r));
    for (let i = 0; i < 20; i++) live.push(await open());
    let sending = true;
    // Steady traffic to every live endpoint, a round per ms, each endpoint its own sequence from 0.
    const traffic = (async () => {
      while (sending) {
        for (const ep of live) {
          const seq = nextSeq.get(ep)!;
          nextSeq.set(ep, seq + 1);
          // Its own bytes: dgram sends later and must not see them change.
          const p = new Uint8Array(12 + 160);
          p[0] = 0x80;
          p[2] = seq >> 8;
          p[3] = seq & 0xff;
          p[12] = ep.port >> 8;
          p[13] = ep.port & 0xff;
          p[14] = serialOf.get(ep)! >> 8;
          p[15] = serialOf.get(ep)! & 0xff;
          sender.send(p, ep.port, '127.0.0.1');
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    // Close one endpoint and open another, 300 times and for 1 s at least: descriptor numbers
    // are reused at once. The receive thread pauses 200 µs between epoll_wait and its reads, so
    // closes land inside that window: the list it holds then names descriptors that another
    // socket may have taken (it must drop the list, or read that socket's datagrams as the old one's).
    testRecvDelay(200);
    const before = nativeUdpStats();
    const t0 = performance.now();
    for (let k = 0; k < 300 || (performance.now() - t0 < 1000 && k < 60_000); k++) {
      const i = k % live.length;
      live[i]!.close();
      live[i] = await open();
      if (k % 10 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    sending = false;
    await traffic;
    testRecvDelay(0);
    await new Promise((r) => setTimeout(r, 50));
    const after = nativeUdpStats();
    const delivered = got.reduce((n, l) => n + l.length, 0);
    console.log(
      `  ${got.length} endpoints opened, ${delivered} datagrams delivered, ${after.stale - before.stale} for closed sockets (counted stale), ` +
        `${earlierOwner} for the port's previous owner, ${foreign} misdelivered`,
    );
    assert.ok(delivered > 2000, `traffic flowed: ${delivered}`);
    assert.is(foreign, 0, 'no datagram reached an endpoint it was not sent to');
    // Each endpoint got 0, 1, 2, ... with none missing: only the last few, in flight when it closed, may be.
    for (const [k, seqs] of got.entries()) {
      assert.equal(seqs, [...seqs.keys()], `endpoint ${k}: its datagrams from the first, none missing or out of order`);
    }
  } finally {
    testRecvDelay(0);
    for (const ep of live) ep.close();
    sender.close();
  }
});

/**
 * A peer in another process: sends 25 PCMU packets (seq seq0.., 20 ms apart) from
 * port `from` to `to`, and notes when packets arrive on port `listen` (seq, ms after the first
 * send, and the send time of the packet of the same index). Runs while this thread is blocked.
 */
function blockedPeer(from: number, to: number, listen: number, seq0: number): { arrivals: { seq: number; ssrc: number; ms: number }[]; sentMs: number[] } {
  const script = `const d = require('dgram'); const tx = d.createSocket('udp4'), rx = d.createSocket('udp4');
    const arrivals = [], sentMs = []; let t0 = 0;
    rx.on('message', (m) => arrivals.push({ seq: m.readUInt16BE(2), ssrc: m.readUInt32BE(8), ms: performance.now() - t0 }));
    rx.bind(${listen}, '127.0.0.1', () => tx.bind(${from}, '127.0.0.1', () => {
      t0 = performance.now(); let i = 0;
      const timer = setInterval(() => {
        const p = Buffer.alloc(172, 0xff); p[0] = 0x80; p[1] = 0; p.writeUInt16BE(${seq0} + i, 2); p.writeUInt32BE(160 * (${seq0} + i), 4); p.writeUInt32BE(0xabcd, 8);
        sentMs.push(performance.now() - t0); tx.send(p, ${to}, '127.0.0.1');
        if (++i === 25) { clearInterval(timer); setTimeout(() => { console.log(JSON.stringify({ arrivals, sentMs })); process.exit(0); }, 200); }
      }, 20);
    }));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as { arrivals: { seq: number; ssrc: number; ms: number }[]; sentMs: number[] };
}

test('relay table: after 20,000 relays came and went (the table holds 8,192) lookups read a few slots, and a closed socket takes its relays with it', async () => {
  if (!native || !nativeUdpStats().recvThread) {
    assert.ok(process.platform !== 'linux' || process.env.RECGATE_NATIVE_UDP === '0' || process.env.RECGATE_UDP_RECV_THREAD === '0', udpPath());
    return;
  }
  // Socket ids far above the ones this process opens: entries no datagram ever looks up.
  const fake = (id: number) => ({ id, fd: 0, port: 0 });
  const st = new Int32Array(RELAY_STATE_FIELDS);
  const LIVE = 1_000_000_000;
  const CHURN = 1_100_000_000;
  const live = 200;
  for (let k = 0; k < live; k++) assert.ok(relayStartNative(fake(LIVE + k), fake(LIVE + 10_000 + k), 0, 0, 1, 160, st));
  // Calls come and go while those run: each relay starts and ends (as at a hang-up).
  for (let i = 0; i < 20_000; i++) {
    assert.ok(relayStartNative(fake(CHURN + i), fake(CHURN + 1_000_000 + i), 0, 0, 1, 160, st), `relay ${i} starts`);
    assert.is(relayStopNative(fake(CHURN + i), st), 0, `relay ${i} ends`);
  }
  let worst = 0;
  let total = 0;
  for (let i = 0; i < 1000; i++) {
    const miss = relayProbeNative(CHURN + 2_000_000 + i * 7919)!;
    assert.is(miss.relays, false);
    worst = Math.max(worst, miss.slots);
    total += miss.slots;
  }
  console.log(`  a lookup that misses, with ${live} relays up after 20,000 came and went: ${(total / 1000).toFixed(2)} slots on average, ${worst} at most`);
  assert.ok(worst <= 16, `a miss read ${worst} slots`);
  for (let k = 0; k < live; k++) {
    const hit = relayProbeNative(LIVE + k)!;
    assert.ok(hit.relays && hit.slots <= 16, `live relay ${k}: ${JSON.stringify(hit)}`);
    assert.is(relayStopNative(fake(LIVE + k), st), 0, `live relay ${k} is still there`);
  }

  // Real sockets: closing the destination ends the relay to it, closing the source its own.
  const [min] = randomPortRange();
  const ports = new PortAllocator(min, min + 40);
  const open = () => RtpEndpoint.open({ ports, bindAddress: '127.0.0.1', rtcpMux: true, remote: { address: '127.0.0.1', port: min + 150 } });
  const [a, b, c] = [await open(), await open(), await open()];
  try {
    const toB = new AudioSender({ format: { payloadType: 0, codec: 'PCMU', clockRate: 8000 }, mixerRate: 8000 }, b);
    const toA = new AudioSender({ format: { payloadType: 0, codec: 'PCMU', clockRate: 8000 }, mixerRate: 8000 }, a);
    assert.ok(toB.relayNatively(a, 0) && toA.relayNatively(c, 0));
    assert.ok(relayProbeNative(a.nativeSocket!.id)!.relays && relayProbeNative(c.nativeSocket!.id)!.relays);
    b.close();
    assert.is(relayProbeNative(a.nativeSocket!.id)!.relays, false, 'a relayed to b, which closed');
    assert.is(relayProbeNative(c.nativeSocket!.id)!.relays, true, 'c relays to a, still open');
    c.close();
    assert.is(relayProbeNative(c.nativeSocket!.id)!.relays, false, 'c closed');
  } finally {
    for (const ep of [a, b, c]) ep.close();
  }
});

test('relay on the receive thread: a bridged leg hears the other while JavaScript is blocked, and the stream carries on in JavaScript after', async () => {
  if (!native || !nativeUdpStats().recvThread) {
    assert.ok(process.platform !== 'linux' || process.env.RECGATE_NATIVE_UDP === '0' || process.env.RECGATE_UDP_RECV_THREAD === '0', udpPath());
    return;
  }
  const [min] = randomPortRange();
  const ports = new PortAllocator(min, min + 40);
  const peerTx = min + 150; // the talking party's port
  const peerRx = min + 151; // the listening party's port
  const a = await RtpEndpoint.open({ ports, bindAddress: '127.0.0.1', rtcpMux: true, remote: { address: '127.0.0.1', port: peerTx } });
  const b = await RtpEndpoint.open({ ports, bindAddress: '127.0.0.1', rtcpMux: true, remote: { address: '127.0.0.1', port: peerRx } });
  const listener = dgram.createSocket('udp4');
  try {
    const sender = new AudioSender({ format: { payloadType: 0, codec: 'PCMU', clockRate: 8000 }, mixerRate: 8000 }, b);
    let recorded = 0;
    const h0 = new RtpHeaderReader();
    let viaJs = false;
    a.handler = {
      receive(bytes: Uint8Array, h: RtpHeaderReader) {
        recorded++; // what a recording gets: every packet, relayed natively or not
        if (viaJs) sender.forward(bytes, h);
      },
    };
    // 1. Relayed by the receive thread while this thread is blocked in execFileSync.
    assert.ok(sender.relayNatively(a, 0), 'the receive thread takes the relay');
    const before = nativeUdpStats().relayedOnRecvThread;
    const run1 = blockedPeer(peerTx, a.port, peerRx, 1000);
    assert.is(run1.arrivals.length, 25, 'every packet reached the listener while JavaScript was blocked');
    const lag = run1.arrivals.map((x, i) => x.ms - run1.sentMs[i]!);
    // How soon is a figure, not a pass mark (one run with another process busy on a core saw
    // 29 ms once): that they all arrived while this thread was blocked is the behaviour.
    console.log(`  relayed while blocked: 25 of 25, ${Math.min(...lag).toFixed(1)}-${Math.max(...lag).toFixed(1)} ms after each was sent`);
    assert.is(new Set(run1.arrivals.map((x) => x.ssrc)).size, 1);
    assert.is(run1.arrivals[0]!.ssrc, sender.packetizer.ssrc, 'our SSRC, not the talker\'s');
    for (let i = 1; i < 25; i++) assert.is(run1.arrivals[i]!.seq, (run1.arrivals[0]!.seq + i) & 0xffff, `sequence at ${i}`);
    assert.is(nativeUdpStats().relayedOnRecvThread - before, 25);
    await new Promise((r) => setTimeout(r, 50));
    pollNative();
    assert.is(recorded, 25, 'JavaScript still got every packet, to record');
    assert.is(sender.packetsRelayed, 25);
    assert.is(b.stats().sent, 25, 'the sending endpoint counts the thread\'s relays while they run');

    // 2. The control: relayed by forward() in JavaScript, the same blocked peer hears nothing in time.
    sender.stopNativeRelay();
    viaJs = true;
    const run2 = blockedPeer(peerTx, a.port, peerRx, 1025); // the talker carries on
    assert.is(run2.arrivals.length, 0, 'through JavaScript nothing arrives while it is blocked');
    await new Promise((r) => setTimeout(r, 50));
    pollNative();
    assert.is(sender.packetsRelayed, 50, 'forward() relayed them late, after the block');
    assert.is(b.stats().sent, 50, 'the thread\'s 25 kept after its relay stopped, and forward()\'s 25');

    // 3. The handover: forward() numbered its packets after the thread's, so the stream is one.
    await new Promise<void>((r) => listener.bind(peerRx, '127.0.0.1', r));
    const seen: number[] = [];
    listener.on('message', (m: Buffer) => seen.push((h0.parse(m, 0, m.length), h0.sequenceNumber)));
    const talker = dgram.createSocket('udp4');
    await new Promise<void>((r) => talker.bind(peerTx, '127.0.0.1', r));
    const p = Buffer.alloc(172, 0xff);
    p[0] = 0x80;
    p[1] = 0;
    p.writeUInt16BE(1050, 2);
    p.writeUInt32BE(160 * 1050, 4);
    await new Promise<void>((r) => talker.send(p, a.port, '127.0.0.1', () => r()));
    for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    talker.close();
    assert.equal(seen, [(run1.arrivals[24]!.seq + 26) & 0xffff], 'after 25 from the thread and 25 from forward(), the next number');
  } finally {
    listener.close();
    a.close();
    b.close();
  }
});

test('pollNative() from a receiver, while packets are being handed over, does nothing: no packet twice, none out of order', async () => {
  if (!native) {
    assert.ok(process.platform !== 'linux' || process.env.RECGATE_NATIVE_UDP === '0', udpPath());
    return;
  }
  const seqs: number[][] = Array.from({ length: 20 }, () => []);
  // As Call ends itself from a packet's handler (a flow's hang-up on a digit) and takes what
  // has arrived first.
  const endpoints = await openEndpoints(20, (index) => ({
    receive(_bytes: Uint8Array, h: RtpHeaderReader) {
      seqs[index]!.push(h.sequenceNumber);
      pollNative();
    },
  }));
  try {
    const before = nativeUdpStats();
    floodWhileThisThreadWaits(endpoints, 150);
    const deadline = Date.now() + 5000;
    while (seqs.some((l) => l.length < 150) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const [e, l] of seqs.entries()) assert.equal(l, [...Array(150).keys()], `endpoint ${e}: each datagram once, in order`);
    assert.is(nativeUdpStats().polls - before.polls, 0, 'the nested polls returned at once');
  } finally {
    for (const ep of endpoints) ep.close();
  }
});

/** Threads of this process named `name` (the addon names its receive and send threads). */
function threadsNamed(name: string): number {
  return threadTimes().filter((t) => t.name === name).length;
}

/**
 * This process's descriptors of the kinds an addon instance holds besides its sockets (whose
 * ports the test rebinds): epoll sets, eventfds, /dev/null (the send thread's placeholder).
 * Counted by kind, not in total: other tests' sockets and pipes close on their own schedule.
 */
function descriptorKinds(): Record<string, number> {
  const kinds: Record<string, number> = { eventpoll: 0, eventfd: 0, devnull: 0 };
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target = '';
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed while we listed (readdir's own descriptor, among others)
    }
    if (target === 'anon_inode:[eventpoll]') kinds.eventpoll!++;
    else if (target === 'anon_inode:[eventfd]') kinds.eventfd!++;
    else if (target === '/dev/null') kinds.devnull!++;
  }
  return kinds;
}

interface WorkerReport {
  type: 'report';
  received: number;
  stats: ReturnType<typeof nativeUdpStats>;
}

test('worker threads: each runs its own native path (receive thread, relays, counters), and a terminated worker takes its threads and sockets with it', async () => {
  if (!native || !nativeUdpStats().recvThread || !nativeUdpStats().sendThread) {
    assert.ok(process.platform !== 'linux' || process.env.RECGATE_NATIVE_UDP === '0' || process.env.RECGATE_UDP_RECV_THREAD === '0' || process.env.RECGATE_UDP_SEND_THREAD === '0', udpPath());
    return;
  }
  const WORKERS = 2;
  const PACKETS = 200;
  const mainBefore = nativeUdpStats();
  const rxBefore = threadsNamed(NATIVE_THREAD_NAMES.recv);
  const txBefore = threadsNamed(NATIVE_THREAD_NAMES.send);
  const kindsBefore = descriptorKinds();
  const [min] = randomPortRange();
  const sockets: dgram.Socket[] = [];
  const workers: Worker[] = [];
  const bound = async () => {
    const s = dgram.createSocket('udp4');
    sockets.push(s);
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    return s;
  };
  try {
    const legs = [];
    for (let w = 0; w < WORKERS; w++) {
      const sender = await bound();
      const peer = await bound();
      // Each relayed packet as [its sequence number, the original's] (the payload names it:
      // byte 12 is (w * 31 + seq * 7) & 0xff, and 183 is 7's inverse mod 256).
      const relayed: [number, number][] = [];
      peer.on('message', (m) => relayed.push([(m[2]! << 8) | m[3]!, ((m[12]! - w * 31) * 183) & 0xff]));
      const worker = new Worker(new URL('./helpers/nativeUdpWorker.mjs', import.meta.url), {
        workerData: { portMin: min + 40 * w, senderPort: sender.address().port, peerPort: peer.address().port },
      });
      workers.push(worker);
      const messages: unknown[] = [];
      worker.on('message', (m) => messages.push(m));
      worker.on('error', (err) => messages.push({ type: 'error', message: String(err) }));
      legs.push({ worker, sender, relayed, messages });
    }
    const next = async (messages: unknown[], type: string): Promise<Record<string, unknown>> => {
      const until = Date.now() + 20_000;
      while (Date.now() < until) {
        const i = messages.findIndex((m) => (m as { type: string }).type === type || (m as { type: string }).type === 'error');
        if (i >= 0) return messages.splice(i, 1)[0] as Record<string, unknown>;
        await delay(20);
      }
      throw new Error(`no ${type} from the worker in 20 s`);
    };
    const ready = await Promise.all(legs.map((l) => next(l.messages, 'ready')));
    for (const r of ready) {
      assert.is(r.type, 'ready', JSON.stringify(r));
      assert.ok(String(r.path).startsWith('native') && String(r.path).includes('on a thread'), `worker ${r.threadId}: ${r.path}`);
      assert.ok(r.relaying, 'the worker\'s receive thread relays');
    }
    assert.is(threadsNamed(NATIVE_THREAD_NAMES.recv), rxBefore + WORKERS, 'a receive thread per worker');
    assert.is(threadsNamed(NATIVE_THREAD_NAMES.send), txBefore + WORKERS, 'a send thread per worker');

    // Both workers at once: each gets its own packets, and its receive thread relays them.
    for (let seq = 0; seq < PACKETS; seq++) {
      for (let w = 0; w < WORKERS; w++) legs[w]!.sender.send(packet(w, seq), (ready[w]!.ports as number[])[0]!, '127.0.0.1');
      if (seq % 20 === 19) await delay(5);
    }
    const reports: WorkerReport[] = [];
    for (const l of legs) {
      let r: WorkerReport;
      const until = Date.now() + 10_000;
      do {
        await delay(20);
        l.worker.postMessage('report');
        r = (await next(l.messages, 'report')) as unknown as WorkerReport;
      } while ((r.received < PACKETS || l.relayed.length < PACKETS) && Date.now() < until);
      reports.push(r);
    }
    for (let w = 0; w < WORKERS; w++) {
      const r = reports[w]!;
      console.log(`  worker ${w + 1}: received ${r.received}, its path counted ${r.stats.packets}, relayed ${r.stats.relayedOnRecvThread} (peer got ${legs[w]!.relayed.length})`);
      assert.is(r.received, PACKETS, `worker ${w + 1} received`);
      assert.is(r.stats.packets, PACKETS, `worker ${w + 1}'s counters are its own`);
      assert.is(r.stats.relayedOnRecvThread, PACKETS, `worker ${w + 1} relayed`);
      // Every packet once, renumbered as one stream: its sequence moves with the original's.
      const got = legs[w]!.relayed;
      assert.equal(got.map(([, k]) => k).sort((x, y) => x - y), Array.from({ length: PACKETS }, (_, k) => k), `worker ${w + 1}'s relayed packets`);
      const [seq0, k0] = got[0]!;
      assert.ok(got.every(([seq, k]) => ((seq - seq0) & 0xffff) === ((k - k0) & 0xffff)), `worker ${w + 1}'s relayed sequence numbers`);
    }
    assert.is(nativeUdpStats().relayedOnRecvThread, mainBefore.relayedOnRecvThread, 'the main thread relayed none of it');

    // Terminated with both endpoints open and the relay running.
    const ports = ready.flatMap((r) => r.ports as number[]);
    await Promise.all(workers.map((w) => w.terminate()));
    workers.length = 0;
    assert.is(threadsNamed(NATIVE_THREAD_NAMES.recv), rxBefore, 'the workers\' receive threads ended');
    assert.is(threadsNamed(NATIVE_THREAD_NAMES.send), txBefore, 'the workers\' send threads ended');
    for (const port of ports) {
      await new Promise<void>((resolve, reject) => {
        const again = dgram.createSocket('udp4');
        again.once('error', (err) => reject(new Error(`port ${port} still held after the worker ended: ${err.message}`)));
        again.bind(port, '127.0.0.1', () => again.close(() => resolve()));
      });
    }
    for (const s of sockets.splice(0)) s.close();
    await delay(50);
    const kindsAfter = descriptorKinds();
    assert.is(kindsAfter.eventpoll, kindsBefore.eventpoll, 'the workers\' epoll sets (theirs and their loops\') closed');
    assert.is(kindsAfter.eventfd, kindsBefore.eventfd, 'the workers\' eventfds closed');
    assert.ok(kindsAfter.devnull! <= kindsBefore.devnull!, 'the workers\' /dev/null placeholders closed');
  } finally {
    for (const w of workers) await w.terminate();
    for (const s of sockets) s.close();
  }
});

test.run();
