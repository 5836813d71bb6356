/**
 * The WebRTC counterpart of RtpEndpoint for one audio leg: werift terminates ICE (RFC 8445),
 * DTLS-SRTP (RFC 5763/5764) and rtcp-mux, and this class exposes what the gateway needs from
 * any leg: decrypted RTP in (to a `handler`, the RtpEndpoint contract) and raw RTP out.
 *
 * - SIP carries no trickle ICE: the offer or answer is returned only once gathering is
 *   complete, with every candidate in it (RFC 8839 §4.2, `a=end-of-candidates`).
 * - Only the audio transceiver is ours. Video m-lines of an offer are declined (answered
 *   `inactive`, which werift writes with port 0) instead of failing the whole offer.
 * - werift never fails a check list that gets no answer at all (a browser that vanished
 *   before ICE started), so a connect timer turns that into `failed` (`connectTimeoutMs`).
 * - werift binds its ICE sockets by probing a port, closing it, then binding it again; a
 *   port taken in between (by RtpEndpoint on the shared RTP range, or another call) makes
 *   the bind emit an unhandled 'error' that kills the process. guardUdpBinding() below
 *   replaces that step with a direct bind that moves on to the next port.
 *
 * Allocation: werift allocates per packet (SRTP, header objects, a clone per received
 * packet); our part adds the serialized Buffer handed to the handler (a fresh one per packet,
 * as the AudioReceiver contract needs) and one Buffer copy per sent packet.
 */
import type dgram from 'node:dgram';
import { isIP } from 'node:net';
import { RTCPeerConnection, MediaStreamTrack, RTCRtpCodecParameters, RtpPacket, UdpTransport } from 'werift';
import type { RTCRtpTransceiver } from 'werift';
import {
  InvalidArgumentError,
  InvalidStateError,
  IoError,
  NoPortError,
  SafeEmitter,
  UnsupportedError,
  errnoCode,
} from '../common/index.js';
import { RtpDrop, RtpHeaderReader } from './RtpHeader.js';
import type { RtpPacketHandler } from './RtpEndpoint.js';

/** Audio codecs a WebRTC leg can offer or accept (what AudioReceiver/AudioSender handle). */
export type WebRtcCodec = 'opus' | 'PCMU' | 'PCMA';

export interface WebRtcIceServer {
  /** One `stun:`, `stuns:`, `turn:` or `turns:` URL (RFC 7064, RFC 7065). */
  urls: string;
  username?: string;
  credential?: string;
}

export interface WebRtcOptions {
  /**
   * Extra host candidate addresses besides the machine's interfaces: the public address of a
   * 1:1 NAT, or 127.0.0.1 (werift leaves loopback out otherwise).
   */
  hostAddresses?: string[];
  /** STUN/TURN servers; default none (werift's own default is a Google STUN server). */
  iceServers?: WebRtcIceServer[];
  /** UDP ports for the ICE sockets, inclusive, min < max (may be the RTP range). Default: any. */
  portRange?: [number, number];
  /** Codecs in order of preference; default ['opus', 'PCMU']. telephone-event/48000 and /8000 are always added. */
  codecs?: WebRtcCodec[];
  /** ICE+DTLS must be up this many ms after the answer was made or accepted, else `failed`; default 30000. */
  connectTimeoutMs?: number;
  /** Longest wait for candidate gathering (a STUN/TURN server that does not answer), in ms; default 10000. */
  gatherTimeoutMs?: number;
}

/** A payload format as written in the final SDP (names in recgate's spelling: opus, PCMU, PCMA). */
export interface WebRtcCodecInfo {
  payloadType: number;
  name: string;
  /** RTP clock rate in Hz. */
  clockRate: number;
  /** Channels as announced (2 for Opus, RFC 7587 §7); absent when the SDP omits them. */
  channels?: number;
}

export interface WebRtcNegotiated {
  /** The audio codec in use: the first audio codec of the answer's audio m-line. */
  codec: WebRtcCodecInfo;
  /** RFC 4733 events, preferring the clock rate of `codec`; absent when not negotiated. */
  telephoneEvent?: { payloadType: number; name: string; clockRate: number };
  /** Every telephone-event format of the answer: the peer may send any of them. */
  telephoneEvents: { payloadType: number; name: string; clockRate: number }[];
}

/** The connection state (RTCPeerConnectionState, plus our connect timeout as `failed`). */
export type WebRtcState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

/** Why a transport failed: no connection in time, ICE/DTLS failure (consent lost), or the peer closed DTLS. */
export type WebRtcFailReason = 'timeout' | 'connection' | 'peer-closed';

export interface WebRtcTransportEvents {
  [key: string]: unknown[];
  /** ICE and DTLS are up: media flows. Emitted again after a reconnection. */
  connected: [];
  failed: [WebRtcFailReason];
  /** close() finished: every socket is released. */
  closed: [];
}

export interface WebRtcTransportStats {
  state: WebRtcState;
  /** Decrypted RTP packets of the audio track received, and their bytes. */
  packets: number;
  bytes: number;
  /** Received packets our RTP header reader rejected (never expected after werift). */
  malformed: number;
  sent: number;
  sentBytes: number;
  /** Sends dropped because ICE/DTLS was not up (yet, or any more). */
  sendNotConnected: number;
  /** Sends dropped because the payload type is neither the codec's nor telephone-event's. */
  sendUnexpectedPayloadType: number;
  /** Sends dropped because the bytes are not an RTP packet. */
  sendMalformed: number;
  sendErrors: number;
  /** Last time a packet arrived (monotonic ms), or -1. */
  lastPacketMs: number;
  /** From the answer made or accepted until connected, in ms; -1 before. */
  connectMs: number;
}

type Role = 'answerer' | 'offerer';

/** Chromium's payload types, so our offers look familiar to browsers and SBCs. */
const OPUS_PT = 111;
const TE48_PT = 110;
const TE8_PT = 126;
const DEFAULT_CODECS: readonly WebRtcCodec[] = ['opus', 'PCMU'];

export class WebRtcTransport extends SafeEmitter<WebRtcTransportEvents> {
  /** Receives every decrypted RTP packet of the audio track (the RtpEndpoint contract). */
  handler: RtpPacketHandler | null = null;
  readonly role: Role;

  packets = 0;
  bytes = 0;
  malformed = 0;
  sent = 0;
  sentBytes = 0;
  sendNotConnected = 0;
  sendUnexpectedPayloadType = 0;
  sendMalformed = 0;
  sendErrors = 0;
  lastPacketMs = -1;
  connectMs = -1;

  readonly #pc: RTCPeerConnection;
  readonly #transceiver: RTCRtpTransceiver;
  readonly #connectTimeoutMs: number;
  readonly #gatherTimeoutMs: number;
  readonly #reader = new RtpHeaderReader();
  readonly #sendReader = new RtpHeaderReader();
  readonly #unsubscribe: (() => void)[] = [];
  #negotiated: WebRtcNegotiated | null = null;
  #codecPt = -1;
  #eventPt = -1;
  #state: WebRtcState = 'new';
  #connected = false;
  #closed = false;
  #answerAccepted = false;
  #negotiatedAt = -1;
  #timer: NodeJS.Timeout | null = null;

  readonly #onRtp = (packet: RtpPacket): void => this.#receive(packet);
  readonly #onSendError = (): void => {
    this.sendErrors++;
  };
  readonly #onTimeout = (): void => {
    this.#timer = null;
    if (this.#closed || this.#connected) return;
    this.#state = 'failed';
    this.emit('failed', 'timeout');
  };

  private constructor(role: Role, options: WebRtcOptions) {
    super();
    const codecs = options.codecs ?? DEFAULT_CODECS;
    this.role = role;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 30000;
    this.#gatherTimeoutMs = options.gatherTimeoutMs ?? 10000;
    this.#pc = new RTCPeerConnection({
      codecs: { audio: audioCodecs(codecs), video: declineVideoCodecs() },
      headerExtensions: { audio: [], video: [] },
      iceServers: (options.iceServers ?? []).map((s) => ({ ...s })),
      iceAdditionalHostAddresses: options.hostAddresses?.slice(),
      icePortRange: options.portRange ? [options.portRange[0], options.portRange[1]] : undefined,
    });
    // A local track gives the m-line its a=ssrc/msid; we send through the sender directly.
    this.#transceiver = this.#pc.addTransceiver(new MediaStreamTrack({ kind: 'audio' }), { direction: 'sendrecv' });
    this.#unsubscribe.push(this.#transceiver.onTrack.subscribe((track) => this.#listen(track)).unSubscribe);
    this.#unsubscribe.push(this.#pc.connectionStateChange.subscribe((s) => this.#onState(s)).unSubscribe);
  }

  /**
   * The browser called us: answers its offer with a sendrecv audio m-line and every ICE
   * candidate.
   * @throws UnsupportedError not a WebRTC offer (no ICE credentials or DTLS fingerprint), no
   *   audio m-line, or no audio codec in common
   * @throws InvalidArgumentError bad options, or an offer werift cannot apply
   * @throws NoPortError no ICE socket could be bound (every port of `portRange` taken)
   */
  static async answer(offerSdp: string, options: WebRtcOptions = {}): Promise<{ transport: WebRtcTransport; answerSdp: string }> {
    checkOptions(options);
    const offer = inspectSdp(offerSdp);
    if (!offer.ice || !offer.fingerprint) {
      throw new UnsupportedError('not a WebRTC offer: ICE credentials and a DTLS fingerprint are required');
    }
    if (offer.audio === 0) throw new UnsupportedError('the offer has no audio m-line');
    guardUdpBinding();
    const t = new WebRtcTransport('answerer', options);
    try {
      // One inactive transceiver per video m-line, so werift declines video instead of failing.
      for (let i = 0; i < offer.video; i++) t.#pc.addTransceiver('video', { direction: 'inactive' });
      try {
        await t.#pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
      } catch (err) {
        throw negotiationError(err);
      }
      await t.#pc.setLocalDescription(await t.#pc.createAnswer());
      const answerSdp = await t.#completeGathering(options);
      const neg = readNegotiated(answerSdp);
      if (neg === null) throw new UnsupportedError('no audio codec in common with the offer');
      t.#setNegotiated(neg);
      return { transport: t, answerSdp };
    } catch (err) {
      t.close();
      throw err;
    }
  }

  /**
   * We call a browser: an offer with a sendrecv audio m-line, our codecs and every ICE
   * candidate. Apply the browser's answer with acceptAnswer().
   * @throws InvalidArgumentError bad options
   * @throws NoPortError no ICE socket could be bound
   */
  static async offer(options: WebRtcOptions = {}): Promise<{ transport: WebRtcTransport; offerSdp: string }> {
    checkOptions(options);
    guardUdpBinding();
    const t = new WebRtcTransport('offerer', options);
    try {
      await t.#pc.setLocalDescription(await t.#pc.createOffer());
      const offerSdp = await t.#completeGathering(options);
      return { transport: t, offerSdp };
    } catch (err) {
      t.close();
      throw err;
    }
  }

  /**
   * Applies the browser's answer to our offer. Resolves false, leaving negotiated() null,
   * when the answer cannot be used (bad SDP, no common audio codec): it comes from the
   * network, so it is reported rather than thrown.
   * @throws InvalidStateError after close, on an answerer, or when an answer was already applied
   */
  async acceptAnswer(answerSdp: string): Promise<boolean> {
    if (this.#closed) throw new InvalidStateError('WebRTC transport is closed');
    if (this.role !== 'offerer') throw new InvalidStateError('acceptAnswer() is for transports made by offer()');
    if (this.#answerAccepted) throw new InvalidStateError('an answer was already applied');
    this.#answerAccepted = true;
    const neg = readNegotiated(answerSdp);
    if (neg === null) return false;
    try {
      await this.#pc.setRemoteDescription({ type: 'answer', sdp: answerSdp });
    } catch {
      return false;
    }
    if (this.#closed) return false;
    this.#setNegotiated(neg);
    return true;
  }

  /** The codec (and telephone-event) in use, read from the final SDP; null before it is known. */
  negotiated(): WebRtcNegotiated | null {
    return this.#negotiated;
  }

  get state(): WebRtcState {
    return this.#state;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends one RTP packet (bytes[offset, offset + length), e.g. from AudioSender) SRTP-encrypted.
   * werift rewrites the SSRC to the one in our SDP. Counted; never throws on network errors.
   * @throws InvalidStateError after close
   */
  send(bytes: Uint8Array, offset: number, length: number): void {
    if (this.#closed) throw new InvalidStateError('WebRTC transport is closed');
    if (!this.#connected) {
      this.sendNotConnected++;
      return;
    }
    const h = this.#sendReader;
    if (h.parse(bytes, offset, length) !== RtpDrop.None) {
      this.sendMalformed++;
      return;
    }
    const pt = h.payloadType;
    if (pt !== this.#codecPt && pt !== this.#eventPt) {
      this.sendUnexpectedPayloadType++;
      return;
    }
    // werift keeps the packet (NACK history) and reads it asynchronously: it needs its own copy.
    const buf = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) buf[i] = bytes[offset + i]!;
    const sender = this.#transceiver.sender;
    if (pt === this.#codecPt) {
      // sendRtp sets SSRC and PT (the codec's, which is ours) and keeps sender reports right.
      sender.sendRtp(buf).then(undefined, this.#onSendError);
    } else {
      // sendRtp would rewrite the PT to the codec's: events go to SRTP directly.
      const packet = RtpPacket.deSerialize(buf);
      packet.header.ssrc = sender.ssrc;
      sender.dtlsTransport.sendRtp(packet.payload, packet.header).then(undefined, this.#onSendError);
    }
    this.sent++;
    this.sentBytes += length;
  }

  /** Closes the peer connection; `closed` is emitted once its sockets are released. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#connected = false;
    this.#state = 'closed';
    this.handler = null;
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe.length = 0;
    const done = (): void => {
      this.emit('closed');
      this.removeAllListeners();
    };
    this.#pc.close().then(done, done);
  }

  stats(): WebRtcTransportStats {
    return {
      state: this.#state,
      packets: this.packets,
      bytes: this.bytes,
      malformed: this.malformed,
      sent: this.sent,
      sentBytes: this.sentBytes,
      sendNotConnected: this.sendNotConnected,
      sendUnexpectedPayloadType: this.sendUnexpectedPayloadType,
      sendMalformed: this.sendMalformed,
      sendErrors: this.sendErrors,
      lastPacketMs: this.lastPacketMs,
      connectMs: this.connectMs,
    };
  }

  #listen(track: MediaStreamTrack): void {
    if (this.#closed || track.kind !== 'audio') return;
    this.#unsubscribe.push(track.onReceiveRtp.subscribe(this.#onRtp).unSubscribe);
  }

  #receive(packet: RtpPacket): void {
    if (this.#closed) return;
    const bytes = packet.serialize();
    this.packets++;
    this.bytes += bytes.length;
    const h = this.#reader;
    if (h.parse(bytes, 0, bytes.length) !== RtpDrop.None) {
      this.malformed++;
      return;
    }
    h.arrivalMs = performance.now();
    this.lastPacketMs = h.arrivalMs;
    this.handler?.receive(bytes, h);
  }

  #onState(s: RTCPeerConnection['connectionState']): void {
    if (this.#closed) return;
    switch (s) {
      case 'connected':
        this.#state = 'connected';
        if (!this.#connected) {
          this.#connected = true;
          if (this.#timer !== null) {
            clearTimeout(this.#timer);
            this.#timer = null;
          }
          if (this.connectMs < 0 && this.#negotiatedAt >= 0) this.connectMs = performance.now() - this.#negotiatedAt;
          this.emit('connected');
        }
        break;
      case 'failed':
        this.#state = 'failed';
        this.#connected = false;
        this.emit('failed', 'connection');
        break;
      case 'closed':
        // Not our close(): the peer ended DTLS (close_notify).
        this.#state = 'failed';
        this.#connected = false;
        this.emit('failed', 'peer-closed');
        break;
      default:
        // 'disconnected' keeps sending allowed: ICE may recover on its own (consent, RFC 7675).
        this.#state = s;
    }
  }

  /** Both descriptions are applied: remember the codec and start the connect timer. */
  #setNegotiated(neg: WebRtcNegotiated): void {
    this.#negotiated = neg;
    this.#codecPt = neg.codec.payloadType;
    this.#eventPt = neg.telephoneEvent?.payloadType ?? -1;
    this.#negotiatedAt = performance.now();
    if (this.#state === 'new') this.#state = 'connecting';
    if (!this.#connected && this.#connectTimeoutMs > 0) {
      this.#timer = setTimeout(this.#onTimeout, this.#connectTimeoutMs);
      this.#timer.unref();
    }
  }

  /** Waits until every candidate is gathered (or the gather timeout), then returns the local SDP. */
  async #completeGathering(options: WebRtcOptions): Promise<string> {
    const pc = this.#pc;
    if (pc.iceGatheringState !== 'complete') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(finish, this.#gatherTimeoutMs);
        const sub = pc.iceGatheringStateChange.subscribe((s) => {
          if (s === 'complete') finish();
        });
        function finish(): void {
          clearTimeout(timer);
          sub.unSubscribe();
          resolve();
        }
      });
    }
    const sdp = pc.localDescription?.sdp ?? '';
    if (!/^a=candidate:/m.test(sdp)) {
      const range = options.portRange ? ` in ${options.portRange[0]}-${options.portRange[1]}` : '';
      throw new NoPortError(`no ICE candidate: no UDP socket could be bound${range}`);
    }
    return sdp;
  }
}

// --- Options, SDP

function checkOptions(o: WebRtcOptions): void {
  if (o.hostAddresses !== undefined) {
    if (!Array.isArray(o.hostAddresses)) throw new InvalidArgumentError('hostAddresses must be an array of IP addresses');
    for (const a of o.hostAddresses) {
      if (typeof a !== 'string' || isIP(a) === 0) throw new InvalidArgumentError(`hostAddresses: not an IP address: ${String(a)}`);
    }
  }
  if (o.iceServers !== undefined) {
    if (!Array.isArray(o.iceServers)) throw new InvalidArgumentError('iceServers must be an array');
    for (const s of o.iceServers) {
      if (typeof s?.urls !== 'string' || !/^(stun|stuns|turn|turns):\S+$/i.test(s.urls)) {
        throw new InvalidArgumentError(`iceServers: a stun:, stuns:, turn: or turns: URL is needed, got ${String(s?.urls)}`);
      }
    }
  }
  if (o.portRange !== undefined) {
    const r = o.portRange;
    if (
      !Array.isArray(r) ||
      r.length !== 2 ||
      !Number.isInteger(r[0]) ||
      !Number.isInteger(r[1]) ||
      r[0] < 1024 ||
      r[1] > 65535 ||
      r[0] >= r[1]
    ) {
      throw new InvalidArgumentError(`portRange must be [min, max] within 1024-65535 with min < max, got ${String(r)}`);
    }
  }
  if (o.codecs !== undefined) {
    if (!Array.isArray(o.codecs) || o.codecs.length === 0) throw new InvalidArgumentError('codecs must list at least one codec');
    const seen = new Set<string>();
    for (const c of o.codecs) {
      if (c !== 'opus' && c !== 'PCMU' && c !== 'PCMA') throw new UnsupportedError(`codec ${String(c)}: opus, PCMU or PCMA`);
      if (seen.has(c)) throw new InvalidArgumentError(`codec ${c} listed twice`);
      seen.add(c);
    }
  }
  for (const k of ['connectTimeoutMs', 'gatherTimeoutMs'] as const) {
    const v = o[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new InvalidArgumentError(`${k} must be a number >= 0, got ${v}`);
  }
}

/** werift's codec list for our m-line: the audio codecs in order, then telephone-event. */
function audioCodecs(codecs: readonly WebRtcCodec[]): RTCRtpCodecParameters[] {
  const out: RTCRtpCodecParameters[] = [];
  for (const c of codecs) {
    switch (c) {
      case 'opus':
        // RFC 7587: always announced as 48000/2; we send and prefer mono (stereo=0 is the default).
        out.push(
          new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: OPUS_PT, parameters: 'minptime=10;useinbandfec=1' }),
        );
        break;
      case 'PCMU':
        out.push(new RTCRtpCodecParameters({ mimeType: 'audio/PCMU', clockRate: 8000, channels: 1, payloadType: 0 }));
        break;
      case 'PCMA':
        out.push(new RTCRtpCodecParameters({ mimeType: 'audio/PCMA', clockRate: 8000, channels: 1, payloadType: 8 }));
        break;
    }
  }
  // werift matches codecs by MIME type only, so telephone-event at both rates is one entry
  // when answering (the offer's rates are kept) and two in our own offers.
  if (codecs.includes('opus')) {
    out.push(new RTCRtpCodecParameters({ mimeType: 'audio/telephone-event', clockRate: 48000, channels: 1, payloadType: TE48_PT, parameters: '0-15' }));
  }
  out.push(new RTCRtpCodecParameters({ mimeType: 'audio/telephone-event', clockRate: 8000, channels: 1, payloadType: TE8_PT, parameters: '0-15' }));
  return out;
}

/** Video codecs werift may match so that an offer's video m-line is declined, not fatal. */
function declineVideoCodecs(): RTCRtpCodecParameters[] {
  return ['VP8', 'VP9', 'H264', 'AV1', 'AV1X'].map((name) => new RTCRtpCodecParameters({ mimeType: `video/${name}`, clockRate: 90000 }));
}

interface SdpFacts {
  audio: number;
  video: number;
  ice: boolean;
  fingerprint: boolean;
}

function inspectSdp(sdp: string): SdpFacts {
  if (typeof sdp !== 'string') throw new InvalidArgumentError('the SDP must be a string');
  return {
    audio: (sdp.match(/^m=audio /gm) ?? []).length,
    video: (sdp.match(/^m=video /gm) ?? []).length,
    ice: /^a=ice-ufrag:/m.test(sdp) && /^a=ice-pwd:/m.test(sdp),
    fingerprint: /^a=fingerprint:/m.test(sdp),
  };
}

/**
 * The codec in use per the final SDP (RFC 3264 §6.1: the answer's first listed format): the
 * first opus/PCMU/PCMA format of the first audio m-line with a non-zero port, and its
 * telephone-event. Null when there is none.
 */
export function readNegotiated(sdp: string): WebRtcNegotiated | null {
  const lines = sdp.split(/\r?\n/);
  let i = lines.findIndex((l) => l.startsWith('m=audio '));
  if (i === -1) return null;
  const m = /^m=audio (\d+)(?:\/\d+)? \S+((?: \d+)*)\s*$/.exec(lines[i]!);
  if (m === null || m[1] === '0') return null;
  const order = m[2]!.trim().split(/ +/).map(Number);
  const maps = new Map<number, WebRtcCodecInfo>();
  for (i++; i < lines.length && !lines[i]!.startsWith('m='); i++) {
    const r = /^a=rtpmap:(\d+) ([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(lines[i]!);
    if (r === null) continue;
    const pt = Number(r[1]);
    const name = canonicalName(r[2]!);
    maps.set(pt, { payloadType: pt, name, clockRate: Number(r[3]), ...(r[4] !== undefined ? { channels: Number(r[4]) } : {}) });
  }
  const formats = order.map((pt) => maps.get(pt) ?? staticFormat(pt)).filter((f): f is WebRtcCodecInfo => f !== null);
  const codec = formats.find((f) => f.name === 'opus' || f.name === 'PCMU' || f.name === 'PCMA');
  if (codec === undefined) return null;
  const events = formats.filter((f) => f.name === 'telephone-event');
  const event = events.find((f) => f.clockRate === codec.clockRate) ?? events[0];
  return {
    codec,
    ...(event !== undefined ? { telephoneEvent: { payloadType: event.payloadType, name: event.name, clockRate: event.clockRate } } : {}),
    telephoneEvents: events.map((e) => ({ payloadType: e.payloadType, name: e.name, clockRate: e.clockRate })),
  };
}

function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  if (lower === 'opus' || lower === 'telephone-event') return lower;
  if (lower === 'pcmu' || lower === 'pcma') return name.toUpperCase();
  return name;
}

/** RFC 3551 static payload types that may be listed without an rtpmap. */
function staticFormat(pt: number): WebRtcCodecInfo | null {
  if (pt === 0) return { payloadType: 0, name: 'PCMU', clockRate: 8000 };
  if (pt === 8) return { payloadType: 8, name: 'PCMA', clockRate: 8000 };
  return null;
}

/** werift throws plain Errors while applying an offer: give them our codes. */
function negotiationError(err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  if (/negotiate codecs failed/i.test(message)) return new UnsupportedError('no codec in common with the offer');
  const e = new InvalidArgumentError(`the offer cannot be applied: ${message}`);
  e.cause = err;
  return e;
}

// --- werift's ICE socket binding

/** Errors werift's ICE sockets reported after binding (ICMP errors and the like), process-wide. */
let socketErrors = 0;
let guarded = false;

/** Number of socket errors werift's ICE sockets reported (counted, never thrown). */
export function webRtcSocketErrors(): number {
  return socketErrors;
}

interface UdpTransportShape {
  socket: dgram.Socket;
  socketType: 'udp4' | 'udp6';
  options: { port?: number; portRange?: [number, number]; interfaceAddresses?: { udp4?: string; udp6?: string } };
}

/**
 * Replaces werift's UdpTransport.init (probe a port with a throw-away socket, close it, bind
 * the real socket there with no 'error' listener) by a direct bind that tries the next port
 * on EADDRINUSE. With the probe, a port taken in between made the process exit on an
 * unhandled 'error' event. A failed bind now rejects: werift drops that candidate.
 * Installed once, only if UdpTransport still has the shape this relies on.
 */
function guardUdpBinding(): void {
  if (guarded) return;
  guarded = true;
  const proto = (UdpTransport as unknown as { prototype: { init?: unknown } }).prototype;
  if (typeof proto.init !== 'function') return;
  proto.init = guardedInit;
}

async function guardedInit(this: UdpTransportShape): Promise<void> {
  try {
    await bindIceSocket(this);
  } catch (err) {
    // werift drops a candidate whose init threw without closing its socket: close it here, or
    // every offer refused for a full port range would leak a descriptor.
    this.socket.close();
    throw err;
  }
  this.socket.on('error', () => socketErrors++);
}

async function bindIceSocket(self: UdpTransportShape): Promise<void> {
  const socket = self.socket;
  const address = self.options.interfaceAddresses?.[self.socketType];
  const { port, portRange } = self.options;
  if (port) {
    const err = await bindOnce(socket, port, address);
    if (err !== null) throw new IoError(`cannot bind UDP port ${port}: ${err.message}`, err);
  } else if (portRange) {
    const [min, max] = portRange;
    const span = max - min + 1;
    // Start anywhere in the range: RtpEndpoint fills it from the bottom.
    const start = Math.floor(Math.random() * span);
    let bound = false;
    for (let k = 0; k < span && !bound; k++) {
      const err = await bindOnce(socket, min + ((start + k) % span), address);
      if (err === null) bound = true;
      else if (errnoCode(err) !== 'EADDRINUSE' && errnoCode(err) !== 'EACCES') throw new IoError(`cannot bind UDP: ${err.message}`, err);
      else if ((k & 255) === 255) await new Promise((r) => setImmediate(r)); // a full range: let I/O run
    }
    if (!bound) throw new NoPortError(`no free UDP port in ${min}-${max} for ICE`);
  } else {
    const err = await bindOnce(socket, 0, address);
    if (err !== null) throw new IoError(`cannot bind UDP: ${err.message}`, err);
  }
}

/** Binds `socket` (a failed bind leaves it unbound, so it can try again); resolves the error or null. */
function bindOnce(socket: dgram.Socket, port: number, address: string | undefined): Promise<Error | null> {
  return new Promise((resolve) => {
    const onError = (err: Error): void => {
      socket.off('listening', onListening);
      resolve(err);
    };
    const onListening = (): void => {
      socket.off('error', onError);
      resolve(null);
    };
    socket.once('error', onError);
    socket.once('listening', onListening);
    socket.bind(address === undefined ? { port } : { port, address });
  });
}
