/**
 * A UDP endpoint for one RTP stream: bound to a port from the configured range, it
 * classifies every datagram, drops and counts what is not RTP for us, and hands RTP to its
 * receiver with the header already parsed.
 *
 * - Symmetric RTP (RFC 4961): the remote address is learned from the first valid RTP packet
 *   and replies go there, so callers behind NAT are reached. Packets from another source are
 *   dropped and counted; if the learned source has been silent for `relearnMs`, the new
 *   source takes over (a NAT rebinding or a re-INVITE to another media address).
 * - rtcp-mux (RFC 5761): RTCP on the RTP port is recognised, counted and parsed (rtp.js), never
 *   treated as audio. Without rtcp-mux the odd port above is bound for RTCP too.
 * - Drops are counters, never exceptions (STYLE.md point 7).
 * - Two socket paths, the same behaviour: IPv4 endpoints use the batched native path
 *   (native/udp.c via nativeUdp.ts: epoll + recvmmsg, sendto) when the addon is built, others
 *   node:dgram.
 */
import dgram from 'node:dgram';
import { isRtcp, CompoundPacket, SenderReportPacket } from 'rtp.js/packets';
import { IoError, NoPortError, SafeEmitter, errnoCode, InvalidStateError } from '../common/index.js';
import { PortAllocator } from './PortAllocator.js';
import { RtpDrop, RtpHeaderReader } from './RtpHeader.js';
import { EACCES, EADDRINUSE, closeNative, intToIp4, ip4ToInt, nativeArrival, openNative, relayCountNative, relayRemoteNative, sendNative, systemError } from './nativeUdp.js';
import type { NativeReceiver, NativeSocket } from './nativeUdp.js';

/**
 * Receives valid RTP packets: `h` holds the parsed header of bytes, and in `h.arrivalMs` when
 * the packet was read from its socket (performance.now() time), which on the native path can
 * be well before this call.
 */
export interface RtpPacketHandler {
  receive(bytes: Uint8Array, h: RtpHeaderReader): void;
}

export interface RemoteAddress {
  address: string;
  port: number;
}

export interface RtpEndpointOptions {
  /** Port range to bind from. */
  ports: PortAllocator;
  /** Local address to bind; default 0.0.0.0. */
  bindAddress?: string;
  /** RTCP multiplexed on the RTP port (WebRTC, modern trunks); when false the odd port above is bound too. Default false. */
  rtcpMux?: boolean;
  /** Where to send before anything was received (the address in the peer's SDP). */
  remote?: RemoteAddress;
  /** Silence of the learned source after which another source may take over, in ms; default 2000. */
  relearnMs?: number;
  /** Socket receive buffer in bytes; default 256 KiB (several seconds of a call, for stalls). */
  recvBufferBytes?: number;
  /** Use the native batched path when it is available (IPv4); default true. false: node:dgram. */
  nativeUdp?: boolean;
}

export interface RtcpSenderInfo {
  ssrc: number;
  ntpSeconds: number;
  ntpFraction: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
}

export interface RtpEndpointEvents {
  [key: string]: unknown[];
  /** The remote address was learned (or re-learned). */
  remote: [RemoteAddress];
  /** An RTCP sender report arrived. */
  rtcp: [RtcpSenderInfo];
}

export interface RtpEndpointStats {
  port: number;
  rtcpPort: number;
  remote: RemoteAddress | null;
  packets: number;
  bytes: number;
  /** Shorter than an RTP header. */
  tooShort: number;
  /** Version field not 2 (e.g. the keep-alives some softphones send to the RTP port). */
  badVersion: number;
  /** Valid RTP version but inconsistent CSRC, extension or padding lengths. */
  malformed: number;
  rtcp: number;
  rtcpMalformed: number;
  /** From an address other than the learned remote. */
  wrongSource: number;
  relearned: number;
  sent: number;
  /** Sends dropped because no remote address was known yet. */
  sendNoRemote: number;
  sendErrors: number;
  /** Last time a valid packet arrived (monotonic ms), or -1. */
  lastPacketMs: number;
}

export class RtpEndpoint extends SafeEmitter<RtpEndpointEvents> {
  readonly port: number;
  /** The RTCP port (port + 1), or equal to port with rtcp-mux. */
  readonly rtcpPort: number;
  readonly rtcpMux: boolean;
  handler: RtpPacketHandler | null = null;

  readonly #socket: dgram.Socket | null;
  readonly #rtcpSocket: dgram.Socket | null;
  readonly #native: NativeSocket | null;
  readonly #nativeRtcp: NativeSocket | null;
  readonly #ports: PortAllocator;
  readonly #relearnMs: number;
  readonly #reader = new RtpHeaderReader();
  #remoteAddress: string | null = null;
  #remotePort = 0;
  /** #remoteAddress as a uint32 when it is an IPv4 literal, else -1 (the native path compares and sends with it). */
  #remoteIp4 = -1;
  /** The same as an int32, as the native path delivers sources (NaN: none, matches nothing). */
  #remoteIp4s = NaN;
  #learned = false;
  #closed = false;
  lastSenderReport: RtcpSenderInfo | null = null;

  packets = 0;
  bytes = 0;
  tooShort = 0;
  badVersion = 0;
  malformed = 0;
  rtcp = 0;
  rtcpMalformed = 0;
  wrongSource = 0;
  relearned = 0;
  #sent = 0;
  /** The source socket of a relay the receive thread runs out of this endpoint (its count is live). */
  #relayFrom: NativeSocket | null = null;
  sendNoRemote = 0;
  sendErrors = 0;
  lastPacketMs = -1;

  readonly #onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => this.#handle(msg, rinfo);
  readonly #onRtcpMessage = (msg: Buffer): void => this.#handleRtcp(msg);
  readonly #onSendDone = (err: Error | null): void => {
    if (err) this.sendErrors++;
  };

  private constructor(
    sockets: { socket: dgram.Socket; rtcpSocket: dgram.Socket | null } | { native: NativeSocket; nativeRtcp: NativeSocket | null; taps: NativeTap[] },
    port: number,
    options: RtpEndpointOptions,
  ) {
    super();
    this.port = port;
    this.#ports = options.ports;
    this.#relearnMs = options.relearnMs ?? 2000;
    if (options.remote) this.#setRemote(options.remote.address, options.remote.port);
    if ('native' in sockets) {
      this.#socket = null;
      this.#rtcpSocket = null;
      this.#native = sockets.native;
      this.#nativeRtcp = sockets.nativeRtcp;
      for (const tap of sockets.taps) tap.endpoint = this;
    } else {
      const { socket, rtcpSocket } = sockets;
      this.#socket = socket;
      this.#rtcpSocket = rtcpSocket;
      this.#native = null;
      this.#nativeRtcp = null;
      socket.on('message', this.#onMessage);
      // A socket error after bind (ICMP unreachable on some platforms) must not crash the process.
      socket.on('error', () => this.sendErrors++);
      if (rtcpSocket !== null) {
        rtcpSocket.on('message', this.#onRtcpMessage);
        rtcpSocket.on('error', () => this.rtcpMalformed++);
      }
    }
    const mux = this.#native !== null ? this.#nativeRtcp === null : this.#rtcpSocket === null;
    this.rtcpPort = mux ? port : port + 1;
    this.rtcpMux = mux;
  }

  /** Which socket path this endpoint uses: 'native' (epoll + recvmmsg) or 'dgram'. */
  get path(): 'native' | 'dgram' {
    return this.#native !== null ? 'native' : 'dgram';
  }

  /**
   * Binds the lowest free even port of the range (and the odd one above it without rtcp-mux).
   * @throws NoPortError when every port of the range is taken
   */
  static async open(options: RtpEndpointOptions): Promise<RtpEndpoint> {
    const address = options.bindAddress ?? '0.0.0.0';
    const type = address.includes(':') ? 'udp6' : 'udp4';
    const mux = options.rtcpMux ?? false;
    const native = options.nativeUdp === false ? undefined : RtpEndpoint.#openNative(address, mux, options);
    if (native !== undefined) return native;
    for (const port of options.ports.candidates()) {
      const socket = await bindUdp(type, address, port);
      if (socket === null) continue;
      let rtcpSocket: dgram.Socket | null = null;
      if (!mux) {
        rtcpSocket = await bindUdp(type, address, port + 1);
        if (rtcpSocket === null) {
          socket.close();
          continue;
        }
      }
      options.ports.take(port);
      try {
        socket.setRecvBufferSize(options.recvBufferBytes ?? 256 * 1024);
      } catch {
        // The kernel caps the size (net.core.rmem_max); the default still works.
      }
      return new RtpEndpoint({ socket, rtcpSocket }, port, options);
    }
    throw new NoPortError(`no free UDP port in ${options.ports.min}-${options.ports.max} on ${address}`);
  }

  /** open() on the native path; undefined when that path is off for `address`. */
  static #openNative(address: string, mux: boolean, options: RtpEndpointOptions): RtpEndpoint | undefined {
    const rcvbuf = options.recvBufferBytes ?? 256 * 1024;
    const fail = (errno: number): never => {
      // Named like Node's errors (EMFILE...): the gateway answers 503 to a call refused for want of descriptors.
      const cause = systemError(errno, `bind ${address}`);
      throw new IoError(`cannot bind UDP ${address}: ${cause.code}`, cause);
    };
    const busy = (errno: number): boolean => errno === EADDRINUSE || errno === EACCES;
    for (const port of options.ports.candidates()) {
      const tap = new NativeTap(false);
      const rtp = openNative(address, port, rcvbuf, tap);
      if (rtp === null) return undefined;
      if ('errno' in rtp) {
        if (busy(rtp.errno)) continue;
        return fail(rtp.errno);
      }
      const taps = [tap];
      let rtcp: NativeSocket | null = null;
      if (!mux) {
        const rtcpTap = new NativeTap(true);
        const r = openNative(address, port + 1, rcvbuf, rtcpTap);
        if (r === null || 'errno' in r) {
          closeNative(rtp);
          if (r !== null && !busy(r.errno)) fail(r.errno);
          continue;
        }
        rtcp = r;
        taps.push(rtcpTap);
      }
      options.ports.take(port);
      return new RtpEndpoint({ native: rtp, nativeRtcp: rtcp, taps }, port, options);
    }
    throw new NoPortError(`no free UDP port in ${options.ports.min}-${options.ports.max} on ${address}`);
  }

  /** The address packets are sent to: learned from the peer, or given by its SDP. */
  get remote(): RemoteAddress | null {
    return this.#remoteAddress === null ? null : { address: this.#remoteAddress, port: this.#remotePort };
  }

  /** Sets where to send (from a new SDP offer or answer); symmetric learning may override it. */
  setRemote(remote: RemoteAddress): void {
    this.#setRemote(remote.address, remote.port);
    this.#learned = false;
  }

  #setRemote(address: string, port: number): void {
    this.#remoteAddress = address;
    this.#remotePort = port;
    this.#remoteIp4 = ip4ToInt(address);
    this.#remoteIp4s = this.#remoteIp4 < 0 ? NaN : this.#remoteIp4 | 0;
    // Relays on the receive thread filter by this source and send to this destination.
    if (this.#native) relayRemoteNative(this.#native, this.#remoteIp4, port);
  }

  /** Packets sent, the receive thread's relays out of this endpoint included, as they go. */
  get sent(): number {
    return this.#sent + (this.#relayFrom !== null ? relayCountNative(this.#relayFrom) : 0);
  }

  /**
   * The receive thread relays `src`'s packets out of this endpoint from now (AudioSender
   * relayNatively()); `sent` reads its count live until relayEnded().
   */
  relayStarted(src: NativeSocket): void {
    this.#relayFrom = src;
  }

  /** That relay stopped after sending `n` packets: they stay counted. */
  relayEnded(n: number): void {
    this.#relayFrom = null;
    if (n > 0) this.#sent += n;
  }

  /** The native socket (null on node:dgram): for relays on the receive thread. */
  get nativeSocket(): NativeSocket | null {
    return this.#native;
  }

  /** The remote as host-order IPv4 and port (-1 and 0 when not IPv4 or not known). */
  get remoteIp4(): number {
    return this.#remoteAddress === null ? -1 : this.#remoteIp4;
  }

  get remotePort(): number {
    return this.#remoteAddress === null ? 0 : this.#remotePort;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends bytes[offset, offset + length) to the remote; counted, never throws on network errors. */
  send(bytes: Uint8Array, offset: number, length: number): void {
    if (this.#closed) throw new InvalidStateError('RTP endpoint is closed');
    if (this.#remoteAddress === null) {
      this.sendNoRemote++;
      return;
    }
    if (this.#native !== null) {
      // A non-IPv4 remote cannot be reached from an IPv4 socket: counted like any send error.
      if (this.#remoteIp4 < 0 || sendNative(this.#native, bytes, offset, length, this.#remoteIp4, this.#remotePort) !== 0) {
        this.sendErrors++;
        return;
      }
    } else {
      this.#socket!.send(bytes, offset, length, this.#remotePort, this.#remoteAddress, this.#onSendDone);
    }
    this.#sent++;
  }

  /** Closes the sockets and gives the port back. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket?.close();
    this.#rtcpSocket?.close();
    if (this.#native !== null) closeNative(this.#native);
    if (this.#nativeRtcp !== null) closeNative(this.#nativeRtcp);
    this.#ports.release(this.port);
    this.removeAllListeners();
  }

  stats(): RtpEndpointStats {
    return {
      port: this.port,
      rtcpPort: this.rtcpPort,
      remote: this.remote,
      packets: this.packets,
      bytes: this.bytes,
      tooShort: this.tooShort,
      badVersion: this.badVersion,
      malformed: this.malformed,
      rtcp: this.rtcp,
      rtcpMalformed: this.rtcpMalformed,
      wrongSource: this.wrongSource,
      relearned: this.relearned,
      sent: this.sent,
      sendNoRemote: this.sendNoRemote,
      sendErrors: this.sendErrors,
      lastPacketMs: this.lastPacketMs,
    };
  }

  #handle(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (!this.#parse(msg, 0, msg.length)) return;
    const h = this.#reader;
    h.arrivalMs = performance.now();
    if (!this.#fromRemote(rinfo.address, 0, rinfo.port)) return;
    this.lastPacketMs = h.arrivalMs;
    this.handler?.receive(msg, h);
  }

  /**
   * A datagram on the native RTP socket (bytes is the shared arena: never reused, see
   * nativeUdp.ts) from `ip4` (its 32 bits as an int32 or a uint32), read from the socket at
   * `nativeArrival[0]` (performance.now() time; now when that is NaN: not inside a batch).
   */
  onNativeRtp(bytes: Uint8Array, offset: number, length: number, ip4: number, port: number): void {
    if (this.#closed || !this.#parse(bytes, offset, length)) return;
    const h = this.#reader;
    const at = nativeArrival[0]!;
    h.arrivalMs = at === at ? at : performance.now();
    if (!this.#fromRemote(null, ip4 | 0, port)) return;
    this.lastPacketMs = h.arrivalMs;
    this.handler?.receive(bytes, h);
  }

  /** A datagram on the native RTCP socket. */
  onNativeRtcp(bytes: Uint8Array, offset: number, length: number): void {
    if (!this.#closed) this.#handleRtcp(bytes.subarray(offset, offset + length));
  }

  /** Counts and parses one datagram; true when it is RTP for the handler. */
  #parse(msg: Uint8Array, offset: number, length: number): boolean {
    this.packets++;
    this.bytes += length;
    const h = this.#reader;
    const drop = h.parse(msg, offset, length);
    if (drop !== RtpDrop.None) {
      switch (drop) {
        case RtpDrop.TooShort:
          this.tooShort++;
          break;
        case RtpDrop.BadVersion:
          this.badVersion++;
          break;
        case RtpDrop.Rtcp:
          this.#handleRtcp(offset === 0 && length === msg.length ? msg : msg.subarray(offset, offset + length));
          break;
        default:
          this.malformed++;
      }
      return false;
    }
    return true;
  }

  /**
   * Symmetric RTP: learn, accept, or count a packet from a foreign source, which arrived at
   * the reader's arrivalMs. The source is `address` (node:dgram) or, with address null, the
   * int32 `ip4` (native path: no string is made unless the source is learned).
   */
  #fromRemote(address: string | null, ip4: number, port: number): boolean {
    if (port === this.#remotePort && (address === null ? ip4 === this.#remoteIp4s : address === this.#remoteAddress)) {
      this.#learned = true;
      return true;
    }
    const stale = this.lastPacketMs < 0 || this.#reader.arrivalMs - this.lastPacketMs >= this.#relearnMs;
    if (!this.#learned || stale) {
      if (this.#learned) this.relearned++;
      const from = address ?? intToIp4(ip4);
      this.#setRemote(from, port);
      this.#learned = true;
      this.emit('remote', { address: from, port });
      return true;
    }
    this.wrongSource++;
    return false;
  }

  #handleRtcp(msg: Uint8Array): void {
    this.rtcp++;
    const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
    // rtp.js's isRtcp reads two bytes before it checks the length: a 0- or 1-byte datagram on
    // the RTCP port threw out of the socket handler and took the process down.
    if (msg.length < 4 || !isRtcp(view)) {
      this.rtcpMalformed++;
      return;
    }
    // RTCP is a few packets per 5 s: parsing it with rtp.js (which allocates) is fine here.
    try {
      const compound = new CompoundPacket(view);
      for (const p of compound.getPackets()) {
        if (p instanceof SenderReportPacket) {
          this.lastSenderReport = {
            ssrc: p.getSsrc(),
            ntpSeconds: p.getNtpSeconds(),
            ntpFraction: p.getNtpFraction(),
            rtpTimestamp: p.getRtpTimestamp(),
            packetCount: p.getPacketCount(),
            octetCount: p.getOctetCount(),
          };
          this.emit('rtcp', this.lastSenderReport);
        }
      }
    } catch {
      this.rtcpMalformed++;
    }
  }
}

/** Forwards a native socket's datagrams to its endpoint (set once the endpoint exists). */
class NativeTap implements NativeReceiver {
  endpoint: RtpEndpoint | null = null;
  constructor(readonly rtcp: boolean) {}
  onDatagram(bytes: Uint8Array, offset: number, length: number, ip4: number, port: number): void {
    const ep = this.endpoint;
    if (ep === null) return;
    if (this.rtcp) ep.onNativeRtcp(bytes, offset, length);
    else ep.onNativeRtp(bytes, offset, length, ip4, port);
  }
}

/** Binds a UDP socket exclusively; resolves null when the port is taken. */
function bindUdp(type: 'udp4' | 'udp6', address: string, port: number): Promise<dgram.Socket | null> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type, reuseAddr: false });
    const onError = (err: Error): void => {
      socket.close();
      const code = errnoCode(err);
      if (code === 'EADDRINUSE' || code === 'EACCES') resolve(null);
      else reject(new IoError(`cannot bind UDP ${address}:${port}: ${err.message}`, err));
    };
    socket.once('error', onError);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}
