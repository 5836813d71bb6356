/**
 * The batched UDP path (native/udp.c): RTP sockets in one epoll set, drained with recvmmsg by
 * the addon's receive thread (or on the event loop with RECGATE_UDP_RECV_THREAD=0) and handed
 * over one JavaScript call per wake-up; sends queued to the addon's send thread (or a
 * synchronous sendto with RECGATE_UDP_SEND_THREAD=0).
 *
 * Per thread: this module's state (receivers, arena, meta) and the addon's instance (epoll
 * set, threads, rings, relays) belong to the thread that loaded them, so a worker thread that
 * imports this runs a native path of its own, and relays only between its own sockets.
 *
 * Optional by construction: when the addon is not built, not on Linux, turned off with
 * RECGATE_NATIVE_UDP=0, or the bind address is not IPv4, RtpEndpoint uses node:dgram. Both
 * paths classify, count and deliver packets the same way (test/rtpEndpoint.test.ts runs on
 * both).
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import util from 'node:util';

/**
 * Receives the datagrams of one native socket: `bytes[offset, offset + length)` from ip4:port,
 * read from the socket at `atMs` (performance.now() time). Under load a datagram waits in the
 * receive ring until the event loop is free, so `atMs` can be well before the hand-over.
 */
export interface NativeReceiver {
  /**
   * One datagram: `ip4` is the source address's 32 bits as a signed int32 (a small integer
   * for V8: a uint32 above 2^31 would be boxed in every call it is passed to); when it was
   * read from its socket is in `nativeArrival[0]` for the duration of the call.
   */
  onDatagram(bytes: Uint8Array, offset: number, length: number, ip4: number, port: number): void;
}

interface Addon {
  start(meta: Int32Array, arena: Uint8Array, onBatch: (count: number, arenaFull: boolean) => void, sendThread: boolean, recvThread: boolean): void;
  setArena(arena: Uint8Array): void;
  open(ip4: number, port: number, rcvbuf: number, id: number): number;
  close(fd: number, id: number): void;
  send(fd: number, bytes: Uint8Array, offset: number, length: number, ip4: number, port: number): number;
  /** Wakes the send thread if it sleeps with packets queued. */
  kick(): void;
  /** Reads the sockets now; onBatch runs inside. */
  poll(): void;
  localPort(fd: number): number;
  stats(): number[];
  testRecvDelay(us: number): void;
  relayStart(srcId: number, srcFd: number, dstId: number, dstFd: number, matchPt: number, outPt: number, ssrc: number, tsPerPacket: number, state: Int32Array): number;
  relayStop(srcId: number, state: Int32Array): number;
  relaySetActive(srcId: number, active: number, markTalkspurt: number): void;
  relayRemote(id: number, ip4: number, port: number): void;
  relayCount(srcId: number): number;
  /** Tests only: index slots a relay lookup of socket `id` reads, and 1 if it relays. */
  relayProbe(id: number): [number, number];
  rtpPayload(bytes: Uint8Array, offset: number, length: number): [number, number] | null;
}

/** id, arena offset, length, source IPv4, source port, age at the hand-over in µs (native/udp.c). */
const META_FIELDS = 6;
const META_PACKETS = 1024;
/**
 * Received payloads are copied here back to back and never overwritten (the jitter buffer
 * keeps packets by reference); a full arena is replaced and the old one is garbage once its
 * last packet was played. Small on purpose: a leg that goes silent (hold) keeps its last
 * packet, and so that packet's whole arena, alive; 64 KiB x legs bounds what silent legs pin.
 * 64 KiB holds about 350 PCMU packets: about 300 allocations per second at 2,000 calls.
 */
const ARENA_BYTES = 64 * 1024;

let addon: Addon | null | undefined;
let why = '';
const receivers = new Map<number, NativeReceiver>();
let nextId = 1;
let meta: Int32Array;
let arena: Uint8Array;
/**
 * While onBatch delivers a datagram: when it was read from its socket (performance.now() ms);
 * NaN otherwise. A typed-array slot rather than an argument: a fractional double passed down
 * three calls would be boxed three times per packet.
 */
export const nativeArrival = new Float64Array([NaN]);
/** Datagrams for a socket closed while its batch was being delivered. */
let stale = 0;
let openSockets = 0;
/** The addon started its receive thread (which relays: relayStartNative). */
let recvThreadOn = false;

function onBatch(count: number, arenaFull: boolean): void {
  const m = meta;
  const a = arena;
  // One clock reading per batch: each datagram's read time is this less its age.
  const now = performance.now();
  for (let k = 0, j = 0; k < count; k++, j += META_FIELDS) {
    const r = receivers.get(m[j]!);
    if (r === undefined) {
      stale++;
      continue;
    }
    // A receiver may throw (a bug): the rest of the batch still goes to its sockets.
    nativeArrival[0] = now - m[j + 5]! / 1000;
    try {
      r.onDatagram(a, m[j + 1]!, m[j + 2]!, m[j + 3]!, m[j + 4]!);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }
  nativeArrival[0] = NaN;
  if (arenaFull) {
    arena = new Uint8Array(ARENA_BYTES);
    addon!.setArena(arena);
  }
}

function load(): Addon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env.RECGATE_NATIVE_UDP === '0') {
    why = 'turned off (RECGATE_NATIVE_UDP=0)';
    return null;
  }
  if (process.platform !== 'linux') {
    why = `not built for ${process.platform}`;
    return null;
  }
  try {
    const a = createRequire(import.meta.url)('../native/build/Release/recgate_udp.node') as Addon;
    meta = new Int32Array(META_PACKETS * META_FIELDS);
    arena = new Uint8Array(ARENA_BYTES);
    // Sends on a thread of their own unless RECGATE_UDP_SEND_THREAD=0 (then sendto on this
    // thread), and reads on one unless RECGATE_UDP_RECV_THREAD=0 (then on the event loop).
    const sendThread = process.env.RECGATE_UDP_SEND_THREAD !== '0';
    const recvThread = process.env.RECGATE_UDP_RECV_THREAD !== '0';
    a.start(meta, arena, onBatch, sendThread, recvThread);
    addon = a;
    recvThreadOn = recvThread;
    why = `native (epoll + recvmmsg${recvThread ? ' on a thread' : ''}${sendThread ? ', sends on a thread' : ''})`;
  } catch (err) {
    why = `node:dgram (native addon unavailable: ${(err as Error).message.split('\n')[0]})`;
  }
  return addon;
}

/** Which UDP path RTP uses, and why; for /metrics and start-up logs. */
export function udpPath(): string {
  load();
  return why;
}

/** Counters of the native path (zeros when it is off). */
export function nativeUdpStats(): {
  wakeups: number;
  batches: number;
  packets: number;
  truncated: number;
  stale: number;
  open: number;
  /** Sends on the send thread: on, sent, failed in the kernel, dropped because the queue was full. */
  sendThread: boolean;
  threadSent: number;
  threadSendErrors: number;
  sendQueueDrops: number;
  /**
   * Times the send thread was woken by a kick (once per callback that sent), and found packets
   * after its 20 ms safety timeout instead: rarely the timeout lands between a batch's first
   * send and its kick; more than that means kicks are missing.
   */
  sendThreadKicks: number;
  sendThreadMissedKicks: number;
  /** pollNative() calls that reached the addon. */
  polls: number;
  /** Reads on the receive thread: on, its rounds over the ready sockets, and how often its ring was full. */
  recvThread: boolean;
  recvRounds: number;
  recvRingFullWaits: number;
  /** Most bytes the receive ring held at once (of 8 MiB). */
  recvRingHighWater: number;
  /** Packets the receive thread relayed leg to leg (relayNatively), all sockets. */
  relayedOnRecvThread: number;
} {
  const a = load();
  const [
    wakeups = 0,
    batches = 0,
    packets = 0,
    truncated = 0,
    on = 0,
    threadSent = 0,
    threadSendErrors = 0,
    sendQueueDrops = 0,
    sendThreadKicks = 0,
    sendThreadMissedKicks = 0,
    polls = 0,
    rxOn = 0,
    recvRounds = 0,
    recvRingFullWaits = 0,
    recvRingHighWater = 0,
    relayedOnRecvThread = 0,
  ] = a === null ? [] : a.stats();
  return {
    wakeups,
    batches,
    packets,
    truncated,
    stale,
    open: openSockets,
    sendThread: on === 1,
    threadSent,
    threadSendErrors,
    sendQueueDrops,
    sendThreadKicks,
    sendThreadMissedKicks,
    polls,
    recvThread: rxOn === 1,
    recvRounds,
    recvRingFullWaits,
    recvRingHighWater,
    relayedOnRecvThread,
  };
}

/** IPv4 dotted quad to a uint32, or -1 when `address` is not one (on learning a source, not per packet). */
export function ip4ToInt(address: string): number {
  if (!net.isIPv4(address)) return -1;
  const [a, b, c, d] = address.split('.').map(Number) as [number, number, number, number];
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

export function intToIp4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** A bound native socket. */
export interface NativeSocket {
  readonly fd: number;
  readonly id: number;
  readonly port: number;
}

export type NativeOpen = NativeSocket | { errno: number };

/**
 * Binds `address:port` (IPv4) through the addon and delivers its datagrams to `receiver`.
 * Returns null when the native path is off (use node:dgram), or the bind's errno.
 */
export function openNative(address: string, port: number, rcvbuf: number, receiver: NativeReceiver): NativeOpen | null {
  const a = load();
  const ip = ip4ToInt(address);
  if (a === null || ip < 0) return null;
  const id = nextId++;
  const fd = a.open(ip, port, rcvbuf, id);
  if (fd < 0) return { errno: -fd };
  receivers.set(id, receiver);
  openSockets++;
  return { fd, id, port: port === 0 ? a.localPort(fd) : port };
}

export function closeNative(s: NativeSocket): void {
  if (!receivers.delete(s.id)) return;
  openSockets--;
  addon!.close(s.fd, s.id);
}

/**
 * Reads what the native sockets hold now and delivers it (synchronously, to the endpoints'
 * receivers). The media clock calls this before it mixes: Node runs timers before it polls
 * sockets, and one poll phase reads at most 2048 datagrams, so after a stall a frame could
 * otherwise be mixed while its packet still waited in a socket, and the packet would then be
 * dropped as late. A no-op when no native socket is open (or the path is off), and when called
 * while packets are being handed over (from a receiver, or a microtask after a batch).
 */
export function pollNative(): void {
  if (openSockets > 0) addon!.poll();
}

let kickQueued = false;
function kick(): void {
  kickQueued = false;
  addon!.kick();
}

/**
 * sendto(2), or queued for the send thread; 0 or an errno (EAGAIN when the socket buffer is
 * full: the packet is dropped). Queued packets are handed over when the current callback (a
 * mixer tick, a receive batch) returns: one wake-up of the send thread per batch.
 */
export function sendNative(s: NativeSocket, bytes: Uint8Array, offset: number, length: number, ip4: number, port: number): number {
  const r = addon!.send(s.fd, bytes, offset, length, ip4, port);
  if (!kickQueued) {
    kickQueued = true;
    process.nextTick(kick);
  }
  return r;
}

/**
 * Tests only: the receive thread pauses `us` between learning which sockets are readable and
 * reading them, so that a test can close sockets inside that window (0 turns it off).
 */
export function testRecvDelay(us: number): void {
  load()?.testRecvDelay(us);
}

/**
 * Relay on the receive thread (native/udp.c; AudioSender.forward in C). `state` carries
 * forward()'s state both ways, RELAY_STATE_FIELDS int32s in this order (see RelayState).
 */
export const RelayState = {
  active: 0,
  relaying: 1,
  talkspurt: 2,
  resumeSeq: 3,
  seqOffset: 4,
  tsOffset: 5,
  nextSeq: 6,
  nextTs: 7,
  packetizerSeq: 8,
  packetizerTs: 9,
  srcIp: 10,
  srcPort: 11,
  dstIp: 12,
  dstPort: 13,
} as const;
export const RELAY_STATE_FIELDS = 14;

let parserModule: Pick<Addon, 'rtpPayload'> | null | undefined;

/**
 * The C RTP parser of the relay (native/udp.c rtp_payload): the payload's [offset, length] from
 * `offset`, null when the datagram is not RTP it would relay; undefined when the addon is not
 * built. For the fuzz target rtp-header, which checks it against RtpHeaderReader; it loads the
 * addon without starting it (a worker thread may call it).
 */
export function nativeRtpPayload(bytes: Uint8Array, offset: number, length: number): [number, number] | null | undefined {
  if (parserModule === undefined) {
    try {
      parserModule = process.platform === 'linux' ? (createRequire(import.meta.url)('../native/build/Release/recgate_udp.node') as Addon) : null;
    } catch {
      parserModule = null;
    }
  }
  return parserModule === null ? undefined : parserModule.rtpPayload(bytes, offset, length);
}

/**
 * The names the addon gives its threads (pthread_setname_np in native/udp.c): what top -H,
 * /proc/<pid>/task/<tid>/comm, /metrics and the benches show.
 */
export const NATIVE_THREAD_NAMES = { recv: 'recgate-udp-rx', send: 'recgate-udp-tx' } as const;

/** Whether the receive thread runs (and can relay). */
export function nativeRelayAvailable(): boolean {
  load();
  return recvThreadOn;
}

/**
 * The receive thread relays `src`'s packets of payload type `matchPt` from its remote to `dst`'s
 * remote, rewritten as the next packets of a stream (ssrc, outPt). False when it cannot (no
 * receive thread, table full): the caller relays in JavaScript.
 */
export function relayStartNative(
  src: NativeSocket,
  dst: NativeSocket,
  matchPt: number,
  outPt: number,
  ssrc: number,
  tsPerPacket: number,
  state: Int32Array,
): boolean {
  const a = load();
  return a !== null && a.relayStart(src.id, src.fd, dst.id, dst.fd, matchPt, outPt, ssrc >>> 0, tsPerPacket, state) === 0;
}

/** Ends the relay of `src`; fills `state` with where it stopped and returns the packets it relayed (-1: none was running). */
export function relayStopNative(src: NativeSocket, state: Int32Array): number {
  return addon!.relayStop(src.id, state);
}

/**
 * Tests only: how many slots of the relay index a lookup of socket `id` reads, and whether the
 * socket relays; null without the native path.
 */
export function relayProbeNative(id: number): { slots: number; relays: boolean } | null {
  const a = load();
  if (a === null) return null;
  const [slots, found] = a.relayProbe(id);
  return { slots, relays: found === 1 };
}

/** Hold (false) or send (true); `markTalkspurt`: the next packet out carries the marker bit. */
export function relaySetActiveNative(src: NativeSocket, active: boolean, markTalkspurt: boolean): void {
  addon!.relaySetActive(src.id, active ? 1 : 0, markTalkspurt ? 1 : 0);
}

/** Packets the receive thread relayed for `src` so far. */
export function relayCountNative(src: NativeSocket): number {
  return addon!.relayCount(src.id);
}

/** A socket's remote changed: relays from it (its source filter) and to it (their destination) follow. */
export function relayRemoteNative(s: NativeSocket, ip4: number, port: number): void {
  addon!.relayRemote(s.id, ip4 < 0 ? 0 : ip4, ip4 < 0 ? 0 : port);
}

/** errno values the endpoint tells apart. */
export const EACCES = os.constants.errno.EACCES;
export const EADDRINUSE = os.constants.errno.EADDRINUSE;

/** An Error like Node's system errors (`code` 'EMFILE', ...), for an errno from the addon. */
export function systemError(errno: number, what: string): Error & { code: string; errno: number } {
  const code = util.getSystemErrorName(-errno);
  return Object.assign(new Error(`${what}: ${code}`), { code, errno: -errno });
}
