/**
 * The offer/answer model (RFC 3264) for one audio stream, both ways round:
 *
 *   inbound leg   remote offer  -> negotiateAnswer         -> our answer   (§6)
 *   outbound leg  createOffer   -> remote answer -> negotiateAnswerReceived  (§5, §7)
 *
 * Re-offers (re-INVITE, §8) go through the same functions; the caller keeps the o= sess-id and
 * moves sess-version on with `nextVersion`.
 *
 * The SDP passed in comes from `parseSdp` (already checked), so network bytes never make these
 * throw; they throw InvalidArgumentError only when our own options are wrong.
 */
import { randomInt } from 'node:crypto';
import { isIP } from 'node:net';
import { InvalidArgumentError, OutOfRangeError } from '../../common/index.js';
import {
  FIRST_DYNAMIC_PT,
  MAX_PT,
  TELEPHONE_EVENT_PT,
  isAuxiliary,
  isTelephoneEvent,
  sameEncoding,
  staticPayloadTypeFor,
} from './payloadTypes.js';
import type {
  AddressType,
  AnswerOptions,
  AnswerReceivedResult,
  AnswerResult,
  Codec,
  Direction,
  LocalCapabilities,
  LocalCodec,
  LocalOffer,
  MediaDescription,
  NegotiatedMedia,
  OfferOptions,
  SessionDescription,
} from './SessionDescription.js';

/** ptime assumed when the remote states none, in ms: the RFC 3551 §4.2 default for frame-less audio. */
export const DEFAULT_PTIME_MS = 20;

/** The profile every SIP peer speaks; others must be allowed explicitly. */
const PLAIN_PROFILE = 'RTP/AVP';

const DIRECTIONS: ReadonlySet<string> = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

/** Printable ASCII, no space: o= username, tokens (RFC 8866 §9 non-ws-string). */
const TOKEN = /^[\x21-\x7e]+$/;
/** No control characters: anything we write into a line (RFC 8866 §9 byte-string, text). */
const TEXT = /^[^\u0000-\u001f\u007f]+$/;

// ---------------------------------------------------------------------------------------------
// Directions (RFC 3264 §6.1)

function sends(d: Direction): boolean {
  return d === 'sendrecv' || d === 'sendonly';
}

function receives(d: Direction): boolean {
  return d === 'sendrecv' || d === 'recvonly';
}

function direction(send: boolean, recv: boolean): Direction {
  if (send) return recv ? 'sendrecv' : 'sendonly';
  return recv ? 'recvonly' : 'inactive';
}

/**
 * Our direction toward a remote stream: RFC 3264 §6.1 mirrors the remote's (sendonly -> recvonly,
 * recvonly -> sendonly, inactive -> inactive), intersected with what we want. A remote whose c= is
 * 0.0.0.0 cannot receive (RFC 3264 §8.4), so we never send to it.
 */
function ourDirection(remote: MediaDescription, intent: Direction): Direction {
  const remoteReceives = receives(remote.direction) && !remote.holdByAddress;
  return direction(remoteReceives && sends(intent), sends(remote.direction) && receives(intent));
}

/** A hold offer (RFC 3264 §8.4): the peer stops receiving, by direction or by the old c=0.0.0.0 form. */
export function isHoldOffer(sdp: SessionDescription): boolean {
  const a = sdp.audio;
  // A rejected stream is gone, not held.
  if (a === null || a.rejected) return false;
  return a.direction === 'sendonly' || a.direction === 'inactive' || a.holdByAddress;
}

// ---------------------------------------------------------------------------------------------
// o= versions (RFC 3264 §8: each new offer or answer in a dialog increments sess-version)

/** The sess-version after `v`. Strings (as parsed, up to 20 digits) are incremented without precision loss. */
export function nextVersion(v: number): number;
export function nextVersion(v: string): string;
export function nextVersion(v: number | string): number | string;
export function nextVersion(v: number | string): number | string {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError(`sess-version ${v} is not a non-negative integer`);
    if (v >= Number.MAX_SAFE_INTEGER) throw new OutOfRangeError(`sess-version ${v} cannot grow as a number; pass it as a string`);
    return v + 1;
  }
  if (typeof v !== 'string' || !/^\d{1,20}$/.test(v)) throw new InvalidArgumentError(`sess-version '${String(v)}' is not decimal digits`);
  return (BigInt(v) + 1n).toString();
}

// ---------------------------------------------------------------------------------------------
// Option checks (caller misuse throws; see STYLE.md point 7)

interface SessionHeader {
  username: string;
  sessionId: string;
  sessionVersion: string;
  sessionName: string;
  address: string;
  addressType: AddressType;
  port: number;
  direction: Direction;
}

function checkHeaderOptions(opts: AnswerOptions | OfferOptions): SessionHeader {
  if (typeof opts !== 'object' || opts === null) throw new InvalidArgumentError('options must be an object');
  const family = typeof opts.address === 'string' ? isIP(opts.address) : 0;
  if (family === 0) throw new InvalidArgumentError(`address '${String(opts.address)}' is not an IPv4 or IPv6 literal`);
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) {
    throw new InvalidArgumentError(`port ${String(opts.port)} is not 1..65535`);
  }
  const dir = opts.direction ?? 'sendrecv';
  if (!DIRECTIONS.has(dir)) throw new InvalidArgumentError(`direction '${String(dir)}' is not a media direction`);
  const sessionId = opts.sessionId ?? String(randomInt(1, 2 ** 47));
  if (typeof sessionId !== 'string' || !/^\d{1,20}$/.test(sessionId)) {
    throw new InvalidArgumentError(`sessionId '${String(sessionId)}' is not decimal digits (RFC 8866 §5.2)`);
  }
  const version = opts.sessionVersion ?? 0;
  const versionOk =
    typeof version === 'number' ? Number.isSafeInteger(version) && version >= 0 : typeof version === 'string' && /^\d{1,20}$/.test(version);
  if (!versionOk) throw new InvalidArgumentError(`sessionVersion '${String(version)}' is not a non-negative integer`);
  const username = opts.username ?? '-';
  if (typeof username !== 'string' || !TOKEN.test(username)) throw new InvalidArgumentError('username must be a non-empty token without spaces');
  const sessionName = opts.sessionName ?? '-';
  if (typeof sessionName !== 'string' || !TEXT.test(sessionName)) throw new InvalidArgumentError('sessionName must be non-empty text');
  return {
    username,
    sessionId,
    sessionVersion: String(version),
    sessionName,
    address: opts.address,
    addressType: family === 6 ? 'IP6' : 'IP4',
    port: opts.port,
    direction: dir,
  };
}

function checkLocal(local: LocalCapabilities): void {
  if (typeof local !== 'object' || local === null || !Array.isArray(local.codecs) || local.codecs.length === 0) {
    throw new InvalidArgumentError('local capabilities need at least one codec');
  }
  for (const c of local.codecs) {
    if (typeof c.name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(c.name)) throw new InvalidArgumentError(`codec name '${String(c.name)}' is not an encoding name`);
    if (!Number.isInteger(c.clockRate) || c.clockRate <= 0) throw new InvalidArgumentError(`${c.name}: clockRate ${c.clockRate} is not a positive integer`);
    if (c.channels !== undefined && (!Number.isInteger(c.channels) || c.channels <= 0)) {
      throw new InvalidArgumentError(`${c.name}: channels ${c.channels} is not a positive integer`);
    }
    if (c.fmtp !== undefined && (typeof c.fmtp !== 'string' || !TEXT.test(c.fmtp))) throw new InvalidArgumentError(`${c.name}: fmtp must be non-empty text`);
    if (c.payloadType !== undefined && (!Number.isInteger(c.payloadType) || c.payloadType < 0 || c.payloadType > MAX_PT)) {
      throw new InvalidArgumentError(`${c.name}: payloadType ${c.payloadType} is not 0..127`);
    }
  }
  if (local.ptime !== undefined && !(Number.isFinite(local.ptime) && local.ptime > 0)) {
    throw new InvalidArgumentError(`ptime ${local.ptime} is not a positive number of milliseconds`);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing (RFC 8866 §5 line order: v o s c t, then each m= with its c/a lines)

function sessionLines(h: SessionHeader): string[] {
  return [
    'v=0',
    `o=${h.username} ${h.sessionId} ${h.sessionVersion} IN ${h.addressType} ${h.address}`,
    `s=${h.sessionName}`,
    // Session-level c= covers every m= line, rejected ones included (§5.7 wants one or the other).
    `c=IN ${h.addressType} ${h.address}`,
    't=0 0',
  ];
}

function rtpmapLine(c: Codec): string {
  const channels = c.channels === undefined ? '' : `/${c.channels}`;
  return `a=rtpmap:${c.payloadType} ${c.name}/${c.clockRate}${channels}`;
}

function codecLines(codecs: readonly Codec[]): string[] {
  const out: string[] = [];
  for (const c of codecs) {
    out.push(rtpmapLine(c));
    if (c.fmtp !== undefined) out.push(`a=fmtp:${c.payloadType} ${c.fmtp}`);
  }
  return out;
}

function toText(lines: readonly string[]): string {
  return lines.join('\r\n') + '\r\n';
}

// ---------------------------------------------------------------------------------------------
// Negotiated result

function negotiatedMedia(
  remote: MediaDescription,
  codec: Codec,
  telephoneEvent: Codec | undefined,
  ourDir: Direction,
  rtcpMux: boolean,
): NegotiatedMedia {
  const out: NegotiatedMedia = {
    codec,
    remoteAddress: remote.address,
    remotePort: remote.port,
    ptime: remote.ptime ?? DEFAULT_PTIME_MS,
    direction: ourDir,
    remoteDirection: remote.direction,
    rtcpMux,
    rejected: false,
  };
  if (telephoneEvent !== undefined) out.telephoneEvent = telephoneEvent;
  if (rtcpMux) {
    out.remoteRtcp = { address: remote.address, port: remote.port };
  } else if (remote.rtcp !== undefined) {
    out.remoteRtcp = { address: remote.rtcp.address ?? remote.address, port: remote.rtcp.port };
  } else if (remote.port < 65535) {
    out.remoteRtcp = { address: remote.address, port: remote.port + 1 };
  }
  if (remote.mid !== undefined) out.mid = remote.mid;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Answering a remote offer (RFC 3264 §6)

/**
 * Answer `offer` with one audio stream. The codec is the first of the OFFER's list that we
 * support: §6.1 lets the answerer choose, and following the offerer's preference avoids
 * transcoding on its side. Every other m= line is rejected with port 0, in place (§6).
 */
export function negotiateAnswer(offer: SessionDescription, local: LocalCapabilities, opts: AnswerOptions): AnswerResult {
  const header = checkHeaderOptions(opts);
  checkLocal(local);
  const allowProfiles = new Set((opts.allowProfiles ?? []).map((p) => String(p).toUpperCase()));
  const extra = opts.extraAudioAttributes ?? [];
  for (const a of extra) {
    if (typeof a !== 'string' || !TEXT.test(a)) throw new InvalidArgumentError('extraAudioAttributes must be non-empty text lines');
  }

  const audio = offer.audio;
  if (audio === null) return { ok: false, code: 'ERR_SDP_NO_AUDIO', message: 'the offer has no audio m= line' };
  if (audio.rejected) return { ok: false, code: 'ERR_SDP_REJECTED', message: 'the offer disables its audio stream (port 0)' };
  const profile = audio.protocol.toUpperCase();
  if (profile !== PLAIN_PROFILE && !allowProfiles.has(profile)) {
    // A profile cannot be changed in the answer (RFC 3264 §6), so it is all or nothing.
    return { ok: false, code: 'ERR_SDP_UNSUPPORTED_PROFILE', message: `profile ${audio.protocol} is not enabled` };
  }

  let chosen: Codec | undefined;
  let ours: LocalCodec | undefined;
  for (const offered of audio.codecs) {
    if (isAuxiliary(offered)) continue;
    ours = local.codecs.find((l) => !isAuxiliary(l) && sameEncoding(l, offered));
    if (ours !== undefined) {
      chosen = offered;
      break;
    }
  }
  if (chosen === undefined || ours === undefined) {
    const names = audio.codecs.map((c) => `${c.name}/${c.clockRate}`).join(', ') || 'none we can name';
    return { ok: false, code: 'ERR_SDP_NO_COMMON_CODEC', message: `no common audio codec (offered: ${names})` };
  }

  // telephone-event shares the audio stream's RTP timestamp clock (RFC 4733), so only the offer's
  // entry at the chosen codec's clock rate will do.
  const chosenRate = chosen.clockRate;
  const telephoneEvent = audio.codecs.find(
    (c) => isTelephoneEvent(c) && c.clockRate === chosenRate && local.codecs.some((l) => isTelephoneEvent(l) && l.clockRate === chosenRate),
  );

  const dir = ourDirection(audio, header.direction);
  const rtcpMux = audio.rtcpMux && (opts.rtcpMux ?? true);

  // The answer echoes the offer's payload type numbers (§6.1: required for dynamic types) and
  // rtpmap; the fmtp of the audio codec is ours (what we can receive), that of telephone-event is
  // the offer's event list echoed.
  const answerCodec: Codec = { payloadType: chosen.payloadType, name: chosen.name, clockRate: chosen.clockRate };
  if (chosen.channels !== undefined) answerCodec.channels = chosen.channels;
  if (ours.fmtp !== undefined) answerCodec.fmtp = ours.fmtp;
  const answerCodecs: Codec[] = [answerCodec];
  if (telephoneEvent !== undefined) answerCodecs.push(telephoneEvent);

  const lines = sessionLines(header);
  for (let i = 0; i < offer.mediaCount; i++) {
    const line = offer.media[i];
    if (line === undefined) continue;
    if (i !== offer.audioIndex) {
      // §6: rejected with port 0; the formats are ignored but SDP needs at least one.
      lines.push(`m=${line.type} 0 ${line.protocol} ${line.formats[0] ?? '0'}`);
      if (line.mid !== undefined) lines.push(`a=mid:${line.mid}`);
      continue;
    }
    lines.push(`m=${line.type} ${header.port} ${line.protocol} ${answerCodecs.map((c) => c.payloadType).join(' ')}`);
    lines.push(...codecLines(answerCodecs));
    // ptime in an answer is the answerer's wish for what it receives (§6.1); we take the offer's.
    if (audio.ptime !== undefined) lines.push(`a=ptime:${audio.ptime}`);
    lines.push(`a=${dir}`);
    if (rtcpMux) lines.push('a=rtcp-mux');
    if (audio.mid !== undefined) lines.push(`a=mid:${audio.mid}`);
    for (const a of extra) lines.push(`a=${a}`);
  }

  return { ok: true, answer: toText(lines), audio: negotiatedMedia(audio, chosen, telephoneEvent, dir, rtcpMux) };
}

// ---------------------------------------------------------------------------------------------
// Offering, and reading the answer (RFC 3264 §5, §7)

/**
 * Give each local codec a payload type: one it already has (keep them across re-offers, §8.3.2),
 * else its RFC 3551 static type, else 101 for the first telephone-event/8000 by convention, else
 * the next free dynamic type from 96.
 */
function assignPayloadTypes(codecs: readonly LocalCodec[]): Codec[] {
  const used = new Set<number>();
  const pts: (number | undefined)[] = codecs.map((c) => {
    if (c.payloadType === undefined) return undefined;
    if (used.has(c.payloadType)) throw new InvalidArgumentError(`payloadType ${c.payloadType} is given to two codecs`);
    used.add(c.payloadType);
    return c.payloadType;
  });
  codecs.forEach((c, i) => {
    if (pts[i] !== undefined) return;
    const pt = staticPayloadTypeFor(c);
    if (pt !== undefined && !used.has(pt)) {
      used.add(pt);
      pts[i] = pt;
    }
  });
  const te = codecs.findIndex((c, i) => pts[i] === undefined && isTelephoneEvent(c) && c.clockRate === 8000);
  if (te !== -1 && !used.has(TELEPHONE_EVENT_PT)) {
    used.add(TELEPHONE_EVENT_PT);
    pts[te] = TELEPHONE_EVENT_PT;
  }
  let next = FIRST_DYNAMIC_PT;
  return codecs.map((c, i) => {
    let pt = pts[i];
    if (pt === undefined) {
      while (used.has(next)) next++;
      if (next > MAX_PT) throw new OutOfRangeError('more codecs than dynamic payload types (96..127)');
      pt = next;
      used.add(pt);
    }
    const codec: Codec = { payloadType: pt, name: c.name, clockRate: c.clockRate };
    if (c.channels !== undefined) codec.channels = c.channels;
    if (c.fmtp !== undefined) codec.fmtp = c.fmtp;
    return codec;
  });
}

/** Our offer for the gateway's outbound leg: one RTP/AVP audio m= line with all our codecs. */
export function createOffer(local: LocalCapabilities, opts: OfferOptions): LocalOffer {
  const header = checkHeaderOptions(opts);
  checkLocal(local);
  const codecs = assignPayloadTypes(local.codecs);
  const rtcpMux = opts.rtcpMux ?? false;
  const lines = sessionLines(header);
  lines.push(`m=audio ${header.port} ${PLAIN_PROFILE} ${codecs.map((c) => c.payloadType).join(' ')}`);
  // rtpmap for static types too: optional (RFC 3551 §6) but it spares the peer a table lookup.
  lines.push(...codecLines(codecs));
  if (local.ptime !== undefined) lines.push(`a=ptime:${local.ptime}`);
  lines.push(`a=${header.direction}`);
  if (rtcpMux) lines.push('a=rtcp-mux');
  return { sdp: toText(lines), codecs, direction: header.direction, rtcpMux, protocol: PLAIN_PROFILE };
}

/**
 * Check the remote's answer against the offer we sent (§7) and read the outcome. The answer must
 * keep our single m= line and its profile, and pick from our payload types (§6.1); the audio codec
 * is the first of the answer's list that we offered.
 */
export function negotiateAnswerReceived(offer: LocalOffer, answer: SessionDescription): AnswerReceivedResult {
  const audio = answer.audio;
  if (audio === null) return { ok: false, code: 'ERR_SDP_NO_AUDIO', message: 'the answer has no audio m= line' };
  if (answer.mediaCount !== 1) {
    return { ok: false, code: 'ERR_SDP_ANSWER_MISMATCH', message: `we offered 1 m= line, the answer has ${answer.mediaCount}` };
  }
  if (audio.rejected) return { ok: false, code: 'ERR_SDP_REJECTED', message: 'the answer rejects the audio stream (port 0)' };
  if (audio.protocol.toUpperCase() !== offer.protocol.toUpperCase()) {
    return { ok: false, code: 'ERR_SDP_ANSWER_MISMATCH', message: `we offered ${offer.protocol}, the answer uses ${audio.protocol}` };
  }

  // Our codec for each payload type the answer lists; a differing rtpmap breaks §6.1.
  const picked: Codec[] = [];
  for (const pt of audio.formats) {
    const ours = offer.codecs.find((c) => c.payloadType === pt);
    if (ours === undefined) continue;
    const theirs = audio.codecs.find((c) => c.payloadType === pt);
    if (theirs !== undefined && !sameEncoding(theirs, ours)) {
      return {
        ok: false,
        code: 'ERR_SDP_ANSWER_MISMATCH',
        message: `payload type ${pt} is ${ours.name}/${ours.clockRate} in our offer, ${theirs.name}/${theirs.clockRate} in the answer`,
      };
    }
    // The remote's fmtp is what it can receive; keep it, not ours.
    const codec: Codec = { payloadType: pt, name: ours.name, clockRate: ours.clockRate };
    if (ours.channels !== undefined) codec.channels = ours.channels;
    if (theirs?.fmtp !== undefined) codec.fmtp = theirs.fmtp;
    picked.push(codec);
  }

  const chosen = picked.find((c) => !isAuxiliary(c));
  if (chosen === undefined) {
    return { ok: false, code: 'ERR_SDP_NO_COMMON_CODEC', message: 'the answer lists none of our audio codecs' };
  }
  const chosenRate = chosen.clockRate;
  const telephoneEvent = picked.find((c) => isTelephoneEvent(c) && c.clockRate === chosenRate);
  const dir = ourDirection(audio, offer.direction);
  return { ok: true, audio: negotiatedMedia(audio, chosen, telephoneEvent, dir, offer.rtcpMux && audio.rtcpMux) };
}
