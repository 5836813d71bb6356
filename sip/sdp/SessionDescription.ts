/**
 * The shapes recgate reads out of an SDP (RFC 8866) and the results of offer/answer (RFC 3264).
 *
 * Only what a B2BUA that records audio needs is lifted into typed fields: the first usable audio
 * m= line, a summary of every m= line (so an answer can reject the others in place, RFC 3264 §6),
 * and the WebRTC attributes kept for a later issue. Everything else stays in `raw`.
 */
import type { SessionDescription as TransformSession } from 'sdp-transform';

/** Media direction attribute (RFC 8866 §6.7, RFC 3264 §5.1). */
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** Address type of c= and o= lines (RFC 8866 §5.7). */
export type AddressType = 'IP4' | 'IP6';

/** One RTP payload format of an m= line. */
export interface Codec {
  /** RTP payload type, 0..127 (RFC 3551 §3; 96..127 are dynamic). */
  payloadType: number;
  /** Encoding name as written in a=rtpmap ('PCMU', 'PCMA', 'opus', 'telephone-event', 'CN'); compared case-insensitively. */
  name: string;
  /** RTP clock rate in Hz (opus is always 48000 in SDP, RFC 7587 §7). */
  clockRate: number;
  /** Audio channels from the rtpmap encoding parameters; absent means 1 (RFC 8866 §6.6). */
  channels?: number;
  /** The a=fmtp parameters for this payload type, verbatim (RFC 8866 §6.15). */
  fmtp?: string;
}

/** a=fingerprint (RFC 8122 §5): hash function name and the colon-separated hex hash. */
export interface Fingerprint {
  type: string;
  hash: string;
}

/** a=rtcp (RFC 3605 §2.1): RTCP port, and address when it differs from the c= address. */
export interface RtcpAttribute {
  port: number;
  address?: string;
}

/** The audio stream of an SDP, as recgate uses it. */
export interface MediaDescription {
  /** Connection address: the media-level c= line, else the session-level one (RFC 8866 §5.7). */
  address: string;
  addressType: AddressType;
  /**
   * c= is the unspecified address (0.0.0.0 or ::) without ICE: the RFC 2543 hold form, which
   * RFC 3264 §8.4 says an answerer must still understand. The peer does not want media sent to it.
   */
  holdByAddress: boolean;
  /** RTP port, 0..65535; 0 means the stream is rejected or disabled (RFC 3264 §5.1). */
  port: number;
  /** Transport protocol as written: 'RTP/AVP', 'RTP/SAVP', 'UDP/TLS/RTP/SAVPF', ... */
  protocol: string;
  /** Every payload type of the m= line in order, known or not (an answer is matched against these). */
  formats: number[];
  /**
   * The payload types we can name, in m= line order: those with an a=rtpmap, and the RFC 3551
   * static audio types without one. Dynamic types without a=rtpmap are left out.
   */
  codecs: Codec[];
  /** Media-level attribute, else session-level, else sendrecv (RFC 3264 §5.1); 'inactive' when rejected. */
  direction: Direction;
  /** Port 0. Kept apart from `direction` because a rejected stream cannot be resumed by a direction change. */
  rejected: boolean;
  /** a=ptime, in milliseconds (RFC 8866 §6.4). */
  ptime?: number;
  /** a=maxptime, in milliseconds (RFC 8866 §6.5). */
  maxptime?: number;
  /** a=rtcp-mux: RTP and RTCP share the port (RFC 5761 §5.1.1). */
  rtcpMux: boolean;
  /** a=rtcp (RFC 3605). */
  rtcp?: RtcpAttribute;
  /** a=mid (RFC 5888 §4). */
  mid?: string;
  /** a=ice-ufrag, media-level else session-level (RFC 8839 §5.4). */
  iceUfrag?: string;
  /** a=ice-pwd, media-level else session-level (RFC 8839 §5.4). */
  icePwd?: string;
  /** a=fingerprint, media-level else session-level (RFC 8122 §5). */
  fingerprint?: Fingerprint;
  /** a=setup, media-level else session-level (RFC 4145 §4). */
  setup?: string;
  /** a=candidate attribute values verbatim, each starting 'candidate:' (RFC 8839 §5.1). */
  candidates: string[];
}

/** A summary of one m= line, enough to reject it in an answer. */
export interface MediaLine {
  /** Media type as written: 'audio', 'video', 'application', 'image', ... */
  type: string;
  port: number;
  protocol: string;
  /** The fmt tokens of the m= line, verbatim (payload types for RTP, other tokens otherwise). */
  formats: string[];
  mid?: string;
}

/** a=group:<semantics> <mid>... (RFC 5888 §5). */
export interface MediaGroup {
  semantics: string;
  mids: string[];
}

/** The o= line (RFC 8866 §5.2). */
export interface Origin {
  username: string;
  /** sess-id as written; compare as a string. */
  sessionId: string;
  /** sess-version as decimal digits; may exceed 2^53, see `nextVersion`. */
  sessionVersion: string;
  addressType: AddressType;
  address: string;
}

/** A parsed SDP. */
export interface SessionDescription {
  origin: Origin;
  /** s= (RFC 8866 §5.3); '' when absent. */
  sessionName: string;
  /** The first audio m= line with a non-zero port, else the first audio m= line, else null. */
  audio: MediaDescription | null;
  /** Index of `audio` among all m= lines, -1 when there is none. */
  audioIndex: number;
  /** Number of m= lines: an answer must have as many, in the same order (RFC 3264 §6). */
  mediaCount: number;
  /** Every m= line in order. */
  media: MediaLine[];
  /** Session-level a=group lines (RFC 5888 §5), e.g. BUNDLE (RFC 8843). */
  groups: MediaGroup[];
  /** The sdp-transform parse of the same (normalized) text, for attributes not lifted above. */
  raw: TransformSession;
}

/** Why an SDP was refused. Callers branch on these, never on `message`. */
export type SdpParseErrorCode =
  /** Longer than the limit (64 KiB). */
  | 'ERR_SDP_TOO_LARGE'
  /** A line that is not `<letter>=<value>`, an unknown type letter, a control character, a bad m= line. */
  | 'ERR_SDP_SYNTAX'
  /** Does not start with v=0 (RFC 8866 §5.1). */
  | 'ERR_SDP_VERSION'
  /** o= missing, repeated or malformed (RFC 8866 §5.2). */
  | 'ERR_SDP_ORIGIN'
  /** The audio stream has no usable c= (missing, malformed, not an IP literal, multicast). */
  | 'ERR_SDP_ADDRESS'
  /** An m= port that is not a number in 0..65535. */
  | 'ERR_SDP_PORT'
  /** An RTP payload type on the audio m= line that is not 0..127. */
  | 'ERR_SDP_PAYLOAD_TYPE'
  /** No audio m= line, when `requireAudio` was asked for. */
  | 'ERR_SDP_NO_AUDIO';

export interface SdpParseFailure {
  ok: false;
  code: SdpParseErrorCode;
  message: string;
  /** 1-based line number of the offending line, when one is to blame. */
  line?: number;
}

export type SdpParseResult = { ok: true; sdp: SessionDescription } | SdpParseFailure;

export interface ParseSdpOptions {
  /** Refuse an SDP without an audio m= line with ERR_SDP_NO_AUDIO. Default false. */
  requireAudio?: boolean;
}

/** A codec we support; the payload type is optional because an answer echoes the offerer's. */
export type LocalCodec = Omit<Codec, 'payloadType'> & { payloadType?: number };

/** What our side can do. */
export interface LocalCapabilities {
  /**
   * Supported codecs in our preference order, e.g. PCMU/8000, PCMA/8000, opus/48000/2 (with our
   * fmtp, e.g. 'useinbandfec=1'), telephone-event/8000 (with 'fmtp: 0-16').
   */
  codecs: readonly LocalCodec[];
  /** a=ptime we put in offers, in milliseconds; none by default. */
  ptime?: number;
}

/** The outcome of negotiation for the audio stream, from our side's point of view. */
export interface NegotiatedMedia {
  /** The audio codec, with the remote's payload type number and fmtp (its receive parameters). */
  codec: Codec;
  /** telephone-event (RFC 4733) at the codec's clock rate, when both sides have it. */
  telephoneEvent?: Codec;
  /**
   * Further telephone-event formats the peer may send us (a WebRTC answer lists one per clock
   * rate, and Chrome's DTMF sender uses the 8000 Hz one even next to Opus).
   */
  receiveEvents?: Codec[];
  /** Where to send RTP (may be 0.0.0.0 on hold; `direction` then lacks send). */
  remoteAddress: string;
  remotePort: number;
  /**
   * Where to send RTCP: the RTP address and port with rtcp-mux, else a=rtcp (RFC 3605), else
   * port + 1 (RFC 3550 §11). Absent when port + 1 would exceed 65535.
   */
  remoteRtcp?: { address: string; port: number };
  /** Packetization the remote asked for (its a=ptime), else 20, in milliseconds. */
  ptime: number;
  /** OUR direction: the remote's reversed, intersected with our intent (RFC 3264 §6.1). */
  direction: Direction;
  /** The remote's direction attribute as written. */
  remoteDirection: Direction;
  /** rtcp-mux is in use: offered and accepted (RFC 5761 §5.1.1). */
  rtcpMux: boolean;
  rejected: false;
  /** The audio m= line's mid, when it had one. */
  mid?: string;
}

/** Options for answering an offer. */
export interface AnswerOptions {
  /** Our RTP address: an IPv4 or IPv6 literal, written to c= and o= (IP4 or IP6 by family). */
  address: string;
  /** Our RTP port, 1..65535. */
  port: number;
  /** Our intent; default sendrecv. A recording-only leg would pass recvonly. */
  direction?: Direction;
  /** o= sess-id, decimal digits; default random. Keep it for the dialog's lifetime (RFC 3264 §8). */
  sessionId?: string;
  /** o= sess-version; default 0. Use `nextVersion` for each later answer or offer in a dialog. */
  sessionVersion?: number | string;
  /** o= username; default '-'. */
  username?: string;
  /** s=; default '-'. */
  sessionName?: string;
  /** Accept rtcp-mux when offered; default true. */
  rtcpMux?: boolean;
  /**
   * Profiles to accept besides RTP/AVP, e.g. 'RTP/AVPF' or 'UDP/TLS/RTP/SAVPF'. The caller that
   * allows an encrypted profile must add its keying attributes through `extraAudioAttributes`.
   */
  allowProfiles?: readonly string[];
  /** Extra attribute lines for the audio m= section, without 'a=' (e.g. 'setup:active'). */
  extraAudioAttributes?: readonly string[];
}

export type NegotiateErrorCode =
  /** The offer has no audio m= line. */
  | 'ERR_SDP_NO_AUDIO'
  /** The audio stream is rejected or disabled (port 0). */
  | 'ERR_SDP_REJECTED'
  /** No codec in common; the SIP layer answers 488 (RFC 3261 §21.4.26). */
  | 'ERR_SDP_NO_COMMON_CODEC'
  /** Encrypted or other profile not allowed. */
  | 'ERR_SDP_UNSUPPORTED_PROFILE';

export interface NegotiateFailure {
  ok: false;
  code: NegotiateErrorCode;
  message: string;
}

export type AnswerResult = { ok: true; answer: string; audio: NegotiatedMedia } | NegotiateFailure;

/** Options for building our offer. */
export interface OfferOptions {
  /** Our RTP address: an IPv4 or IPv6 literal. */
  address: string;
  /** Our RTP port, 1..65535. */
  port: number;
  /** Default sendrecv. */
  direction?: Direction;
  /** o= sess-id; default random. */
  sessionId?: string;
  /** o= sess-version; default 0. */
  sessionVersion?: number | string;
  /** o= username; default '-'. */
  username?: string;
  /** s=; default '-'. */
  sessionName?: string;
  /** Offer rtcp-mux (RFC 5761); default false, since plain SIP peers often lack it. */
  rtcpMux?: boolean;
}

/** What we offered, kept to check the answer against (RFC 3264 §7). */
export interface LocalOffer {
  sdp: string;
  /** Our codecs with the payload types the offer gave them. Pass them back in a re-offer to keep the numbers (RFC 3264 §8.3.2). */
  codecs: Codec[];
  direction: Direction;
  rtcpMux: boolean;
  protocol: string;
}

export type AnswerReceivedErrorCode =
  | 'ERR_SDP_NO_AUDIO'
  | 'ERR_SDP_REJECTED'
  | 'ERR_SDP_NO_COMMON_CODEC'
  /** The answer breaks RFC 3264 §6: other m= line count, another profile, a payload type renamed. */
  | 'ERR_SDP_ANSWER_MISMATCH';

export interface AnswerReceivedFailure {
  ok: false;
  code: AnswerReceivedErrorCode;
  message: string;
}

export type AnswerReceivedResult = { ok: true; audio: NegotiatedMedia } | AnswerReceivedFailure;
