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
 */
import dgram from 'node:dgram';
import { isRtcp, CompoundPacket, SenderReportPacket } from 'rtp.js/packets';
import { IoError, NoPortError, SafeEmitter, errnoCode, InvalidStateError } from '../common/index.js';
import { PortAllocator } from './PortAllocator.js';
import { RtpDrop, RtpHeaderReader } from './RtpHeader.js';

/** Receives valid RTP packets: `h` holds the parsed header of bytes. */
export interface RtpPacketHandler {
  receive(bytes: Uint8Array, h: RtpHeaderReader, nowMs: number): void;
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

  readonly #socket: dgram.Socket;
  readonly #rtcpSocket: dgram.Socket | null;
  readonly #ports: PortAllocator;
  readonly #relearnMs: number;
  readonly #reader = new RtpHeaderReader();
  #remoteAddress: string | null = null;
  #remotePort = 0;
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
  sent = 0;
  sendNoRemote = 0;
  sendErrors = 0;
  lastPacketMs = -1;

  readonly #onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => this.#handle(msg, rinfo);
  readonly #onRtcpMessage = (msg: Buffer): void => this.#handleRtcp(msg);
  readonly #onSendDone = (err: Error | null): void => {
    if (err) this.sendErrors++;
  };

  private constructor(
    socket: dgram.Socket,
    rtcpSocket: dgram.Socket | null,
    port: number,
    options: RtpEndpointOptions,
  ) {
    super();
    this.#socket = socket;
    this.#rtcpSocket = rtcpSocket;
    this.port = port;
    this.rtcpPort = rtcpSocket === null ? port : port + 1;
    this.rtcpMux = rtcpSocket === null;
    this.#ports = options.ports;
    this.#relearnMs = options.relearnMs ?? 2000;
    if (options.remote) {
      this.#remoteAddress = options.remote.address;
      this.#remotePort = options.remote.port;
    }
    socket.on('message', this.#onMessage);
    // A socket error after bind (ICMP unreachable on some platforms) must not crash the process.
    socket.on('error', () => this.sendErrors++);
    if (rtcpSocket !== null) {
      rtcpSocket.on('message', this.#onRtcpMessage);
      rtcpSocket.on('error', () => this.rtcpMalformed++);
    }
  }

  /**
   * Binds the lowest free even port of the range (and the odd one above it without rtcp-mux).
   * @throws NoPortError when every port of the range is taken
   */
  static async open(options: RtpEndpointOptions): Promise<RtpEndpoint> {
    const address = options.bindAddress ?? '0.0.0.0';
    const type = address.includes(':') ? 'udp6' : 'udp4';
    const mux = options.rtcpMux ?? false;
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
      return new RtpEndpoint(socket, rtcpSocket, port, options);
    }
    throw new NoPortError(`no free UDP port in ${options.ports.min}-${options.ports.max} on ${address}`);
  }

  /** The address packets are sent to: learned from the peer, or given by its SDP. */
  get remote(): RemoteAddress | null {
    return this.#remoteAddress === null ? null : { address: this.#remoteAddress, port: this.#remotePort };
  }

  /** Sets where to send (from a new SDP offer or answer); symmetric learning may override it. */
  setRemote(remote: RemoteAddress): void {
    this.#remoteAddress = remote.address;
    this.#remotePort = remote.port;
    this.#learned = false;
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
    this.#socket.send(bytes, offset, length, this.#remotePort, this.#remoteAddress, this.#onSendDone);
    this.sent++;
  }

  /** Closes the sockets and gives the port back. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
    this.#rtcpSocket?.close();
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
    this.packets++;
    this.bytes += msg.length;
    const h = this.#reader;
    const drop = h.parse(msg, 0, msg.length);
    if (drop !== RtpDrop.None) {
      switch (drop) {
        case RtpDrop.TooShort:
          this.tooShort++;
          break;
        case RtpDrop.BadVersion:
          this.badVersion++;
          break;
        case RtpDrop.Rtcp:
          this.#handleRtcp(msg);
          break;
        default:
          this.malformed++;
      }
      return;
    }
    const now = performance.now();
    if (!this.#fromRemote(rinfo, now)) return;
    this.lastPacketMs = now;
    this.handler?.receive(msg, h, now);
  }

  /** Symmetric RTP: learn, accept, or count a packet from a foreign source. */
  #fromRemote(rinfo: dgram.RemoteInfo, now: number): boolean {
    if (rinfo.port === this.#remotePort && rinfo.address === this.#remoteAddress) {
      this.#learned = true;
      return true;
    }
    const stale = this.lastPacketMs < 0 || now - this.lastPacketMs >= this.#relearnMs;
    if (!this.#learned || stale) {
      if (this.#learned) this.relearned++;
      this.#remoteAddress = rinfo.address;
      this.#remotePort = rinfo.port;
      this.#learned = true;
      this.emit('remote', { address: rinfo.address, port: rinfo.port });
      return true;
    }
    this.wrongSource++;
    return false;
  }

  #handleRtcp(msg: Buffer): void {
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
