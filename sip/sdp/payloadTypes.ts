/** RTP payload type knowledge shared by the parser and offer/answer (internal to sip/sdp). */
import type { Codec, LocalCodec } from './SessionDescription.js';

/** A payload type's encoding, without the number. */
interface Encoding {
  name: string;
  clockRate: number;
  channels?: number;
}

/**
 * RFC 3551 §6 Table 4: the static audio payload types, which an m= line may list without
 * a=rtpmap. 1, 2 and 19 are reserved; 20..34 are video or unassigned.
 */
const STATIC_AUDIO: ReadonlyMap<number, Encoding> = new Map<number, Encoding>([
  [0, { name: 'PCMU', clockRate: 8000 }],
  [3, { name: 'GSM', clockRate: 8000 }],
  [4, { name: 'G723', clockRate: 8000 }],
  [5, { name: 'DVI4', clockRate: 8000 }],
  [6, { name: 'DVI4', clockRate: 16000 }],
  [7, { name: 'LPC', clockRate: 8000 }],
  [8, { name: 'PCMA', clockRate: 8000 }],
  // G.722 says 8000 although it samples at 16 kHz: an error RFC 3551 §4.5.2 keeps for compatibility.
  [9, { name: 'G722', clockRate: 8000 }],
  [10, { name: 'L16', clockRate: 44100, channels: 2 }],
  [11, { name: 'L16', clockRate: 44100 }],
  [12, { name: 'QCELP', clockRate: 8000 }],
  [13, { name: 'CN', clockRate: 8000 }],
  [14, { name: 'MPA', clockRate: 90000 }],
  [15, { name: 'G728', clockRate: 8000 }],
  [16, { name: 'DVI4', clockRate: 11025 }],
  [17, { name: 'DVI4', clockRate: 22050 }],
  [18, { name: 'G729', clockRate: 8000 }],
]);

/** First dynamic payload type (RFC 3551 §3). */
export const FIRST_DYNAMIC_PT = 96;
/** Last payload type: PT is a 7-bit field (RFC 3550 §5.1). */
export const MAX_PT = 127;
/** telephone-event's customary dynamic payload type; a convention only, RFC 4733 fixes none. */
export const TELEPHONE_EVENT_PT = 101;

/** The RFC 3551 static audio codec for a payload type, or undefined. */
export function staticAudioCodec(payloadType: number): Codec | undefined {
  const e = STATIC_AUDIO.get(payloadType);
  if (e === undefined) return undefined;
  return e.channels === undefined
    ? { payloadType, name: e.name, clockRate: e.clockRate }
    : { payloadType, name: e.name, clockRate: e.clockRate, channels: e.channels };
}

/** The static payload type that means exactly this encoding, or undefined. */
export function staticPayloadTypeFor(codec: LocalCodec): number | undefined {
  for (const [pt, e] of STATIC_AUDIO) {
    if (sameEncoding(codec, e)) return pt;
  }
  return undefined;
}

/**
 * Same encoding: name case-insensitively (RFC 8866 §6.6 rtpmap names are case-insensitive), clock
 * rate, and channel count with 1 as the default, which makes opus match only as opus/48000/2
 * (RFC 7587 §7).
 */
export function sameEncoding(a: Encoding, b: Encoding): boolean {
  return (
    a.name.toLowerCase() === b.name.toLowerCase() &&
    a.clockRate === b.clockRate &&
    (a.channels ?? 1) === (b.channels ?? 1)
  );
}

/** telephone-event (RFC 4733). */
export function isTelephoneEvent(codec: Encoding): boolean {
  return codec.name.toLowerCase() === 'telephone-event';
}

/**
 * Formats that ride along with an audio codec rather than being one: DTMF events and comfort
 * noise (RFC 3389). They are never chosen as the audio codec.
 */
export function isAuxiliary(codec: Encoding): boolean {
  const n = codec.name.toLowerCase();
  return n === 'telephone-event' || n === 'cn';
}
