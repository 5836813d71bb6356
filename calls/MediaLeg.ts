/**
 * One party's media in a call: its transport (a plain RTP endpoint for SIP trunks and phones,
 * a WebRTC transport for browsers), the receiver that feeds its mixer input, and (when the
 * gateway sends to it) the sender that encodes what it should hear.
 * Built from the SDP negotiation; a re-INVITE updates it (hold, resume, codec change).
 */
import { AudioReceiver, AudioSender, RtpEndpoint } from '../rtp/index.js';
import type { PayloadFormat, PortAllocator, CodecName, RtpPacketHandler, RemoteAddress, RtpHeaderReader } from '../rtp/index.js';
import type { FrameConsumer, Mixer, MixerInput, MixOutput, OutputSpec } from '../mixer/index.js';
import type { Codec, Direction, NegotiatedMedia } from '../sip/index.js';

/** What we offer and accept, in preference order (telephone-event for RFC 4733 DTMF). */
export const LOCAL_CODECS = [
  { name: 'PCMU', clockRate: 8000 },
  { name: 'PCMA', clockRate: 8000 },
  { name: 'opus', clockRate: 48000, channels: 2, fmtp: 'useinbandfec=1' },
  { name: 'telephone-event', clockRate: 8000, fmtp: '0-16' },
  { name: 'telephone-event', clockRate: 48000, fmtp: '0-16' },
] as const;

/** rtp/'s payload format for an SDP codec, or null if we cannot decode it. */
export function payloadFormat(codec: Codec): PayloadFormat | null {
  const name = codec.name.toLowerCase();
  const map: Record<string, CodecName> = { pcmu: 'PCMU', pcma: 'PCMA', opus: 'opus', 'telephone-event': 'telephone-event', cn: 'CN' };
  const c = map[name];
  if (c === undefined) return null;
  return { payloadType: codec.payloadType, codec: c, clockRate: codec.clockRate, ...(codec.channels !== undefined ? { channels: codec.channels } : {}) };
}

function formatsOf(media: NegotiatedMedia): PayloadFormat[] {
  const out: PayloadFormat[] = [];
  const audio = payloadFormat(media.codec);
  if (audio !== null) out.push(audio);
  for (const event of [media.telephoneEvent, ...(media.receiveEvents ?? [])]) {
    if (event === undefined || out.some((f) => f.payloadType === event.payloadType)) continue;
    const te = payloadFormat(event);
    if (te !== null) out.push(te);
  }
  return out;
}

/** Whether a direction means we send, or the remote sends. */
export function weSend(d: Direction): boolean {
  return d === 'sendrecv' || d === 'sendonly';
}

/** What a leg needs from its transport: RTP in (to a handler) and out, and its liveness. */
export interface MediaTransport {
  handler: RtpPacketHandler | null;
  send(bytes: Uint8Array, offset: number, length: number): void;
  /** Monotonic ms of the last packet received, -1 before any. */
  readonly lastPacketMs: number;
  /** Plain RTP only: where to send (from SDP); WebRTC negotiates that itself. */
  setRemote?(remote: RemoteAddress): void;
  close(): void;
}

/** A leg's media counters since it began (see MediaLeg.addTotals). */
export interface RtpTotals {
  received: number;
  lost: number;
  concealed: number;
  /** Arrived after their playout time: not in the recording. */
  late: number;
  /** Samples the drift controller inserted (sender slow) and dropped (sender fast). */
  driftInserted: number;
  driftDropped: number;
  /** Packets relayed to this leg as they arrived from the other party (AudioSender.forward). */
  relayed: number;
}

/** All counters at 0. */
export function emptyRtpTotals(): RtpTotals {
  return { received: 0, lost: 0, concealed: 0, late: 0, driftInserted: 0, driftDropped: 0, relayed: 0 };
}

/** Adds a receiver's packet counters to `t`. */
function addReceiverStats(t: RtpTotals, s: { received: number; lost: number; concealed: number; late: number }): void {
  t.received += s.received;
  t.lost += s.lost;
  t.concealed += s.concealed;
  t.late += s.late;
}

export class MediaLeg {
  readonly label: string;
  /** The transport: an RtpEndpoint (plain RTP) or a WebRtcTransport (browser). */
  readonly endpoint: MediaTransport;
  /** Where this leg's audio goes; both change when the leg moves (a call joins a conference). */
  input: MixerInput;
  mixer: Mixer;
  media: NegotiatedMedia | null = null;
  receiver: AudioReceiver | null = null;
  sender: AudioSender | null = null;
  #senderOutput: MixOutput | null = null;
  /** What this leg hears, when the gateway sends to it. */
  #hears: OutputSpec | null = null;
  // Relay (see AudioSender.forward). As the hearing leg: the leg whose packets it would be
  // sent. As the source: the sender its packets go to now, their payload type, and that leg.
  #relayFrom: MediaLeg | null = null;
  #relayTo: AudioSender | null = null;
  #relayPt = -1;
  #relayFor: MediaLeg | null = null;
  /** The sender forward()s each packet here (null: no relay, or the receive thread relays in C). */
  #forwardTo: AudioSender | null = null;
  /** The transport's handler: relays the audio packets (when relaying in JavaScript), then records them. */
  readonly #tap: RtpPacketHandler = {
    receive: (bytes: Uint8Array, h: RtpHeaderReader): void => {
      const to = this.#forwardTo;
      if (to !== null && h.payloadType === this.#relayPt) to.forward(bytes, h);
      this.receiver?.receive(bytes, h);
    },
  };
  /** Counters of the receivers and inputs this leg had before (a codec change, a conference join). */
  readonly #before: RtpTotals = emptyRtpTotals();
  /** When media was last seen or expected, for the RTP timeout (monotonic ms). */
  sinceMs = performance.now();
  /** Called with each RFC 4733 digit this leg sends us, once, at the event's end. */
  onDigit: ((digit: string, durationMs: number) => void) | null = null;

  /** SDP o= session id and version for our side of this leg (RFC 3264 §8: version +1 per change). */
  readonly sessionId = String(Math.floor(Math.random() * 1e12));
  sessionVersion = 0;

  constructor(label: string, endpoint: MediaTransport, mixer: Mixer) {
    this.label = label;
    this.endpoint = endpoint;
    this.mixer = mixer;
    this.input = mixer.createInput(label);
  }

  /** Binds an RTP port pair for a leg (RTP even, RTCP odd). */
  static openEndpoint(ports: PortAllocator, bindAddress: string): Promise<RtpEndpoint> {
    return RtpEndpoint.open({ ports, bindAddress, rtcpMux: false });
  }

  /** The RTP port of a plain RTP leg (0 for WebRTC). */
  get port(): number {
    return this.endpoint instanceof RtpEndpoint ? this.endpoint.port : 0;
  }

  /** Applies a negotiation (first answer or a re-INVITE): receive formats, remote address, direction. */
  apply(media: NegotiatedMedia): void {
    const previous = this.media;
    this.media = media;
    const sameFormats =
      previous !== null &&
      previous.codec.payloadType === media.codec.payloadType &&
      previous.codec.name.toLowerCase() === media.codec.name.toLowerCase() &&
      previous.telephoneEvent?.payloadType === media.telephoneEvent?.payloadType;
    if (!sameFormats) {
      this.#retireReceiver();
      const receiver = new AudioReceiver({ formats: formatsOf(media), mixerRate: this.mixer.sampleRate });
      receiver.attach(this.input);
      receiver.on('dtmf', (e) => {
        if (e.type === 'end') this.onDigit?.(e.digit, e.durationMs);
      });
      this.receiver = receiver;
      this.endpoint.handler = this.#tap;
    }
    // On hold the peer may send c=0.0.0.0: keep what symmetric RTP learned.
    if (this.endpoint.setRemote !== undefined && media.remoteAddress !== '0.0.0.0' && media.remoteAddress !== '::' && media.remotePort > 0) {
      this.endpoint.setRemote({ address: media.remoteAddress, port: media.remotePort });
    }
    this.sinceMs = performance.now();
    if (this.sender !== null) {
      const active = weSend(media.direction);
      if (active && !this.sender.active) this.sender.markTalkspurt();
      this.sender.active = active;
    }
    if (this.#hears !== null) this.#connectSender(!sameFormats);
    // As a source, what this leg sends may no longer match its listener's codec.
    const listener = this.#relayFor;
    if (listener !== null) listener.#connectSender(false);
  }

  /** Adds this leg's counters since it began to `t`. */
  addTotals(t: RtpTotals): void {
    const b = this.#before;
    addReceiverStats(t, b);
    t.driftInserted += b.driftInserted + this.input.driftInserted;
    t.driftDropped += b.driftDropped + this.input.driftDropped;
    t.relayed += b.relayed + (this.sender?.packetsRelayed ?? 0);
    const s = this.receiver?.stats();
    if (s !== undefined) addReceiverStats(t, s);
  }

  /** Keeps the counters of a receiver about to be replaced. */
  #retireReceiver(): void {
    const s = this.receiver?.stats();
    if (s === undefined) return;
    addReceiverStats(this.#before, s);
    this.receiver = null;
  }

  /**
   * The gateway sends this leg what `spec` mixes. `from`: the one leg that spec is (a B2BUA
   * call without a prompt), whose packets are then relayed as they arrive when both use the
   * same codec and ptime, instead of mixed and re-encoded.
   */
  hear(spec: OutputSpec, from: MediaLeg | null = null): void {
    this.#hears = spec;
    if (this.#relayFrom !== from) this.#stopRelayFrom();
    this.#relayFrom = from;
    this.#connectSender(false);
  }

  /** The source leg stops relaying to this one. */
  #stopRelayFrom(): void {
    const src = this.#relayFrom;
    if (src !== null && src.#relayFor === this) src.#setRelay(null, -1, null);
  }

  /**
   * As the source: relay packets of payload type `pt` to `sender` (the listener's), on the
   * native receive thread when it can (no JavaScript on the way), else through forward() in
   * #tap; null stops. The sender's relay state moves to the thread and back.
   */
  #setRelay(sender: AudioSender | null, pt: number, listener: MediaLeg | null): void {
    this.#relayTo?.stopNativeRelay();
    this.#relayTo = sender;
    this.#relayPt = pt;
    this.#relayFor = listener;
    this.#forwardTo = sender !== null && !sender.relayNatively(this.endpoint, pt) ? sender : null;
  }

  /** What this leg hears (null before hear()). */
  get hearing(): OutputSpec | null {
    return this.#hears;
  }

  /** Whether the remote is expected to send RTP (not on hold with inactive/recvonly). */
  get remoteSends(): boolean {
    return this.media === null || weSend(this.media.remoteDirection);
  }

  close(): void {
    if (this.#senderOutput !== null) this.mixer.removeOutput(this.#senderOutput);
    this.#senderOutput = null;
    this.#stopRelays();
    this.endpoint.close();
  }

  /** Ends both relay roles (the leg closes or moves to a conference). */
  #stopRelays(): void {
    this.#stopRelayFrom();
    this.#relayFrom = null;
    const listener = this.#relayFor;
    if (listener !== null) {
      this.#setRelay(null, -1, null);
      // The listener hears this leg from the mixer again, if it still listens.
      listener.#connectSender(false);
    }
  }

  /**
   * Moves the leg to another mixer (a call joining a conference): a new input there, a new
   * receiver at that mixer's rate (it keeps the transport and the negotiated media), and no
   * sender until hear() says what the leg hears in its new place. The old input is removed.
   */
  moveTo(mixer: Mixer): void {
    if (mixer === this.mixer) return;
    if (this.#senderOutput !== null) this.mixer.removeOutput(this.#senderOutput);
    this.#senderOutput = null;
    this.#stopRelays();
    this.#before.relayed += this.sender?.packetsRelayed ?? 0;
    this.sender = null;
    this.#hears = null;
    const muted = this.input.muted;
    this.#retireReceiver();
    this.#before.driftInserted += this.input.driftInserted;
    this.#before.driftDropped += this.input.driftDropped;
    this.mixer.removeInput(this.input);
    this.mixer = mixer;
    this.input = mixer.createInput(this.label);
    this.input.muted = muted;
    const media = this.media;
    this.media = null; // forces a new receiver bound to the new input
    if (media !== null) this.apply(media);
  }

  /** Leaves the mixer altogether (a losing fork of a connect) and closes the transport. */
  detach(): void {
    this.close();
    this.mixer.removeInput(this.input);
  }

  /**
   * Builds the sender (again when the format changed), then connects it: to the source leg's
   * packets when they can be relayed, else to the mixer output of what this leg hears.
   */
  #connectSender(rebuild: boolean): void {
    const media = this.media;
    const spec = this.#hears;
    if (media === null || spec === null) return;
    const format = payloadFormat(media.codec);
    if (format === null) return;
    const ptime = ptimeFor(format, media.ptime);
    let sender = this.sender;
    if (rebuild || sender === null || sender.format.payloadType !== format.payloadType || sender.ptimeMs !== ptime) {
      this.#before.relayed += sender?.packetsRelayed ?? 0;
      sender = new AudioSender({ format, mixerRate: this.mixer.sampleRate, ptimeMs: ptime }, this.endpoint);
      sender.active = weSend(media.direction);
      this.sender = sender;
    }
    if (this.#senderOutput !== null) this.mixer.removeOutput(this.#senderOutput);
    this.#senderOutput = null;
    const src = this.#relayFrom;
    // One listener per source: a source already relaying to another leg is mixed for this one.
    if (src !== null && src.media !== null && (src.#relayFor === null || src.#relayFor === this) && sameStream(src.media, media)) {
      src.#setRelay(sender, src.media.codec.payloadType, this);
    } else {
      this.#stopRelayFrom();
      this.#senderOutput = this.mixer.addOutput(spec, sender as FrameConsumer);
    }
  }
}

/**
 * Whether packets received with `from`'s codec can be relayed as `to`'s: the same codec (name,
 * clock rate, channels) and ptime; the payload type may differ (it is rewritten).
 */
function sameStream(from: NegotiatedMedia, to: NegotiatedMedia): boolean {
  const a = payloadFormat(from.codec);
  const b = payloadFormat(to.codec);
  return (
    a !== null &&
    b !== null &&
    a.codec === b.codec &&
    a.clockRate === b.clockRate &&
    (a.channels ?? 1) === (b.channels ?? 1) &&
    ptimeFor(a, from.ptime) === ptimeFor(b, to.ptime)
  );
}

function ptimeFor(format: PayloadFormat, wanted: number): number {
  const allowed = format.codec === 'opus' ? [10, 20, 40, 60] : [10, 20, 30, 40, 60];
  return allowed.includes(wanted) ? wanted : 20;
}
