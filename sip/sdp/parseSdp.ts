/**
 * SDP parsing (RFC 8866) for offers and answers that arrive in SIP bodies.
 *
 * Two passes over the same text. Our own pass checks the structure that decides what we do with
 * the call (v=, o=, m=, c=, direction attributes) strictly and line by line; sdp-transform then
 * parses the attribute grammar (rtpmap, fmtp, rtcp, ICE, DTLS), and every value it returns is
 * type-checked before use, because its regular expressions are unanchored and loose.
 *
 * Bytes from the network never make this throw: every failure is a result with a code.
 */
import { isIPv4, isIPv6 } from 'node:net';
import sdpTransform from 'sdp-transform';
import type { MediaAttributes, SessionDescription as TransformSession } from 'sdp-transform';
import { staticAudioCodec } from './payloadTypes.js';
import type {
  AddressType,
  Codec,
  Direction,
  Fingerprint,
  MediaDescription,
  MediaGroup,
  MediaLine,
  Origin,
  ParseSdpOptions,
  RtcpAttribute,
  SdpParseErrorCode,
  SdpParseFailure,
  SdpParseResult,
  SessionDescription,
} from './SessionDescription.js';

/** Longest SDP accepted, in UTF-16 code units. A SIP body over UDP cannot reach it (RFC 3261 §18.1.1). */
export const MAX_SDP_LENGTH = 65536;

/**
 * Type letters of RFC 8866 §5, plus k= (obsolete, §5.12, still met). §5: a parser must ignore or
 * reject a description with a type letter it does not understand; we reject.
 */
const KNOWN_TYPES = new Set(['v', 'o', 's', 'i', 'u', 'e', 'p', 'c', 'b', 't', 'r', 'z', 'k', 'a', 'm']);

/** RFC 8866 §9: byte-string excludes NUL, CR and LF; we also refuse other C0 controls except TAB and DEL. */
const CONTROL_CHARS = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/**
 * o=<username> <sess-id> <sess-version> IN <IP4|IP6> <unicast-address> (RFC 8866 §5.2). sess-id is
 * 1*DIGIT in the ABNF but any token is accepted: we only compare it. sess-version must be digits.
 */
const ORIGIN_LINE = /^(\S+) (\S+) (\d{1,20}) IN (IP4|IP6) (\S+)$/;

/** c=IN <IP4|IP6> <connection-address> (RFC 8866 §5.7). */
const CONNECTION_LINE = /^IN (IP4|IP6) (\S+)$/;

const DIRECTIONS: ReadonlySet<string> = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

interface Line {
  type: string;
  value: string;
  /** 1-based, counting every line of the input. */
  lineNo: number;
}

interface Section {
  type: string;
  port: number;
  protocol: string;
  formats: string[];
  lineNo: number;
  connection?: Line;
  direction?: Direction;
  candidates: string[];
}

function fail(code: SdpParseErrorCode, message: string, line?: number): SdpParseFailure {
  return line === undefined ? { ok: false, code, message } : { ok: false, code, message, line };
}

/** Parse an SDP body. Never throws. */
export function parseSdp(text: string, options: ParseSdpOptions = {}): SdpParseResult {
  try {
    return parseUnsafe(text, options);
  } catch (err) {
    // Nothing above is expected to throw; a bug must still not take the SIP stack down with it.
    return fail('ERR_SDP_SYNTAX', `SDP parser failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function parseUnsafe(text: string, options: ParseSdpOptions): SdpParseResult {
  if (typeof text !== 'string') return fail('ERR_SDP_SYNTAX', 'SDP body is not a string');
  if (text.length > MAX_SDP_LENGTH) {
    return fail('ERR_SDP_TOO_LARGE', `SDP is ${text.length} characters, limit ${MAX_SDP_LENGTH}`);
  }

  // RFC 8866 §5 wants CRLF; bare LF (and CR) is accepted as most stacks do. Trailing blanks and
  // empty lines are dropped: both are common and carry nothing.
  const lines: Line[] = [];
  const rawLines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < rawLines.length; i++) {
    const raw = (rawLines[i] ?? '').replace(/[ \t]+$/, '');
    if (raw === '') continue;
    const lineNo = i + 1;
    if (raw.length < 2 || raw[1] !== '=' || !/^[a-z]$/.test(raw[0] ?? '')) {
      return fail('ERR_SDP_SYNTAX', `line ${lineNo} is not <type>=<value>`, lineNo);
    }
    const type = raw[0] ?? '';
    if (!KNOWN_TYPES.has(type)) return fail('ERR_SDP_SYNTAX', `line ${lineNo}: unknown type '${type}='`, lineNo);
    const value = raw.slice(2);
    if (CONTROL_CHARS.test(value)) return fail('ERR_SDP_SYNTAX', `line ${lineNo} holds a control character`, lineNo);
    lines.push({ type, value, lineNo });
  }

  const first = lines[0];
  if (first === undefined) return fail('ERR_SDP_SYNTAX', 'SDP is empty');
  // RFC 8866 §5.1: v=0 is the first line, and 0 the only version.
  if (first.type !== 'v' || first.value !== '0') {
    return fail('ERR_SDP_VERSION', 'SDP must begin with v=0', first.lineNo);
  }

  let origin: Origin | undefined;
  let sessionName: string | undefined;
  let sessionConnection: Line | undefined;
  let sessionDirection: Direction | undefined;
  const groups: MediaGroup[] = [];
  const sections: Section[] = [];
  let current: Section | undefined;

  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === undefined) continue;
    switch (line.type) {
      case 'v':
        // A second v= starts a second description: SIP carries one (RFC 3264 §5).
        return fail('ERR_SDP_SYNTAX', `line ${line.lineNo}: second v= line`, line.lineNo);
      case 'o': {
        if (current !== undefined) return fail('ERR_SDP_ORIGIN', `line ${line.lineNo}: o= inside a media description`, line.lineNo);
        if (origin !== undefined) return fail('ERR_SDP_ORIGIN', `line ${line.lineNo}: second o= line`, line.lineNo);
        const parsed = parseOrigin(line);
        if (!parsed.ok) return parsed;
        origin = parsed.origin;
        break;
      }
      case 's':
        if (current === undefined && sessionName === undefined) sessionName = line.value;
        break;
      case 'c':
        // Several c= lines are a multicast form (RFC 8866 §5.7); unicast needs the first only.
        if (current === undefined) sessionConnection ??= line;
        else current.connection ??= line;
        break;
      case 'm': {
        const parsed = parseMediaLine(line);
        if (!parsed.ok) return parsed;
        current = parsed.section;
        sections.push(current);
        break;
      }
      case 'a': {
        if (DIRECTIONS.has(line.value)) {
          // Exact match on purpose: sdp-transform would read 'a=sendonlyx' as sendonly.
          const d = line.value as Direction;
          if (current === undefined) sessionDirection = d;
          else current.direction = d;
        } else if (current !== undefined && line.value.startsWith('candidate:')) {
          current.candidates.push(line.value);
        } else if (current === undefined && line.value.startsWith('group:')) {
          // Read here, not from sdp-transform, which hands back 'a=group:BUNDLE 0' with mids as the number 0.
          const [semantics = '', ...mids] = line.value.slice(6).split(' ').filter((t) => t !== '');
          if (semantics !== '') groups.push({ semantics, mids });
        }
        break;
      }
      default:
        break;
    }
  }

  if (origin === undefined) return fail('ERR_SDP_ORIGIN', 'SDP has no o= line');

  // sdp-transform reads the same normalized lines, so its media[] lines up with our sections.
  const normalized = lines.map((l) => `${l.type}=${l.value}`).join('\r\n') + '\r\n';
  const raw = sdpTransform.parse(normalized);
  if (!Array.isArray(raw.media) || raw.media.length !== sections.length) {
    return fail('ERR_SDP_SYNTAX', 'm= lines could not be matched with their attributes');
  }

  const media: MediaLine[] = [];
  let audioIndex = -1;
  for (let i = 0; i < sections.length; i++) {
    const s = sections[i];
    if (s === undefined) continue;
    const line: MediaLine = { type: s.type, port: s.port, protocol: s.protocol, formats: s.formats };
    const mid = stringOf(raw.media[i]?.mid);
    if (mid !== undefined) line.mid = mid;
    media.push(line);
    if (s.type.toLowerCase() === 'audio') {
      // Prefer a live audio stream: a re-offer may keep a disabled one in place before a new one.
      if (audioIndex === -1 || (s.port !== 0 && sections[audioIndex]?.port === 0)) audioIndex = i;
    }
  }

  let audio: MediaDescription | null = null;
  const audioSection = sections[audioIndex];
  const audioRaw = raw.media[audioIndex];
  if (audioSection !== undefined && audioRaw !== undefined) {
    const built = buildAudio(audioSection, audioRaw, raw, sessionConnection, sessionDirection);
    if (!built.ok) return built;
    audio = built.audio;
  } else if (options.requireAudio === true) {
    return fail('ERR_SDP_NO_AUDIO', 'SDP has no audio m= line');
  }

  const sdp: SessionDescription = {
    origin,
    sessionName: sessionName ?? '',
    audio,
    audioIndex,
    mediaCount: sections.length,
    media,
    groups,
    raw,
  };
  return { ok: true, sdp };
}

function parseOrigin(line: Line): { ok: true; origin: Origin } | SdpParseFailure {
  const m = ORIGIN_LINE.exec(line.value);
  if (m === null) return fail('ERR_SDP_ORIGIN', `line ${line.lineNo}: malformed o= line`, line.lineNo);
  // The o= address may be a FQDN (RFC 8866 §5.2) and is never used to send media, so it is not checked.
  return {
    ok: true,
    origin: {
      username: m[1] ?? '',
      sessionId: m[2] ?? '',
      sessionVersion: m[3] ?? '',
      addressType: m[4] === 'IP6' ? 'IP6' : 'IP4',
      address: m[5] ?? '',
    },
  };
}

/** m=<media> <port>[/<number of ports>] <proto> <fmt> ... (RFC 8866 §5.14). */
function parseMediaLine(line: Line): { ok: true; section: Section } | SdpParseFailure {
  const tokens = line.value.split(' ');
  if (tokens.length < 4 || tokens.some((t) => t === '')) {
    return fail('ERR_SDP_SYNTAX', `line ${line.lineNo}: m= needs <media> <port> <proto> <fmt>...`, line.lineNo);
  }
  const [type = '', portToken = '', protocol = ''] = tokens;
  if (!/^[A-Za-z0-9_.-]+$/.test(type)) {
    return fail('ERR_SDP_SYNTAX', `line ${line.lineNo}: bad media type`, line.lineNo);
  }
  // The port count suffix (layered multicast) is accepted and ignored: a unicast peer has one port.
  const pm = /^(\d{1,5})(?:\/\d{1,5})?$/.exec(portToken);
  const port = pm === null ? NaN : Number(pm[1]);
  if (!(port >= 0 && port <= 65535)) {
    return fail('ERR_SDP_PORT', `line ${line.lineNo}: port '${portToken}' is not 0..65535`, line.lineNo);
  }
  if (!/^[A-Za-z0-9_.\/-]+$/.test(protocol)) {
    return fail('ERR_SDP_SYNTAX', `line ${line.lineNo}: bad transport protocol`, line.lineNo);
  }
  return {
    ok: true,
    section: { type, port, protocol, formats: tokens.slice(3), lineNo: line.lineNo, candidates: [] },
  };
}

/** Whether an m= protocol carries RTP, so its formats are payload types (RFC 8866 §5.14). */
function isRtpProtocol(protocol: string): boolean {
  return protocol.toUpperCase().split('/').includes('RTP');
}

/** IPv4 0.0.0.0 or IPv6 :: in any spelling. */
function isUnspecified(addressType: AddressType, address: string): boolean {
  return addressType === 'IP4' ? address === '0.0.0.0' : /^[0:]+$/.test(address);
}

function buildAudio(
  s: Section,
  m: TransformSession['media'][number],
  session: TransformSession,
  sessionConnection: Line | undefined,
  sessionDirection: Direction | undefined,
): { ok: true; audio: MediaDescription } | SdpParseFailure {
  // RFC 8866 §5.7: a c= in every media description or one at session level.
  const cLine = s.connection ?? sessionConnection;
  if (cLine === undefined) {
    return fail('ERR_SDP_ADDRESS', `audio m= line ${s.lineNo} has no c= line, at media or session level`, s.lineNo);
  }
  const cm = CONNECTION_LINE.exec(cLine.value);
  if (cm === null) return fail('ERR_SDP_ADDRESS', `line ${cLine.lineNo}: malformed c= line`, cLine.lineNo);
  const addressType: AddressType = cm[1] === 'IP6' ? 'IP6' : 'IP4';
  const address = cm[2] ?? '';
  // A literal of the stated family. FQDNs (allowed by §5.7) and multicast TTL forms are refused:
  // we need a unicast address to send RTP to, and resolving names is not this layer's business.
  if (addressType === 'IP4' ? !isIPv4(address) : !isIPv6(address)) {
    return fail('ERR_SDP_ADDRESS', `line ${cLine.lineNo}: '${address}' is not an ${addressType} address`, cLine.lineNo);
  }

  const formats: number[] = [];
  if (isRtpProtocol(s.protocol)) {
    for (const token of s.formats) {
      const pt = /^\d{1,3}$/.test(token) ? Number(token) : NaN;
      if (!(pt >= 0 && pt <= 127)) {
        return fail('ERR_SDP_PAYLOAD_TYPE', `line ${s.lineNo}: payload type '${token}' is not 0..127`, s.lineNo);
      }
      if (!formats.includes(pt)) formats.push(pt);
    }
  }

  const codecs = buildCodecs(formats, m);

  const rejected = s.port === 0;
  const iceUfrag = stringOf(m.iceUfrag) ?? stringOf(session.iceUfrag);
  const audio: MediaDescription = {
    address,
    addressType,
    // With ICE, 0.0.0.0 (port 9) is the placeholder for "no default candidate yet" (RFC 8840), not hold.
    holdByAddress: isUnspecified(addressType, address) && iceUfrag === undefined,
    port: s.port,
    protocol: s.protocol,
    formats,
    codecs,
    direction: rejected ? 'inactive' : (s.direction ?? sessionDirection ?? 'sendrecv'),
    rejected,
    rtcpMux: m.rtcpMux === 'rtcp-mux',
    candidates: s.candidates,
  };

  // a=ptime is media-level (RFC 8866 §6.4); some stacks put it at session level, sdp-transform keeps it there.
  const ptime = positiveNumber(m.ptime) ?? positiveNumber((session as { ptime?: unknown }).ptime);
  if (ptime !== undefined) audio.ptime = ptime;
  const maxptime = positiveNumber(m.maxptime) ?? positiveNumber((session as { maxptime?: unknown }).maxptime);
  if (maxptime !== undefined) audio.maxptime = maxptime;
  const rtcp = rtcpOf(m.rtcp);
  if (rtcp !== undefined) audio.rtcp = rtcp;
  const mid = stringOf(m.mid);
  if (mid !== undefined) audio.mid = mid;
  if (iceUfrag !== undefined) audio.iceUfrag = iceUfrag;
  const icePwd = stringOf(m.icePwd) ?? stringOf(session.icePwd);
  if (icePwd !== undefined) audio.icePwd = icePwd;
  const fingerprint = fingerprintOf(m.fingerprint) ?? fingerprintOf(session.fingerprint);
  if (fingerprint !== undefined) audio.fingerprint = fingerprint;
  const setup = stringOf(m.setup) ?? stringOf(session.setup);
  if (setup !== undefined) audio.setup = setup;

  return { ok: true, audio };
}

/** Name the payload types: a=rtpmap first (it may restate a static type), then RFC 3551 §6. */
function buildCodecs(formats: readonly number[], m: MediaAttributes): Codec[] {
  const rtpmaps = new Map<number, { name: string; clockRate: number; channels?: number }>();
  for (const r of Array.isArray(m.rtp) ? m.rtp : []) {
    const pt: unknown = r.payload;
    const name: unknown = r.codec;
    const rate: unknown = r.rate;
    if (typeof pt !== 'number' || rtpmaps.has(pt)) continue;
    if (typeof name !== 'string' || name === '') continue;
    // The clock rate is mandatory in rtpmap (RFC 8866 §6.6); without it the mapping is unusable.
    if (typeof rate !== 'number' || !Number.isInteger(rate) || rate <= 0) continue;
    const channels: unknown = r.encoding;
    if (typeof channels === 'number' && Number.isInteger(channels) && channels > 0) {
      rtpmaps.set(pt, { name, clockRate: rate, channels });
    } else {
      rtpmaps.set(pt, { name, clockRate: rate });
    }
  }
  const fmtps = new Map<number, string>();
  for (const f of Array.isArray(m.fmtp) ? m.fmtp : []) {
    const pt: unknown = f.payload;
    const config: unknown = f.config;
    // sdp-transform turns an all-digit config ('15') into a number; String() restores it exactly.
    if (typeof pt === 'number' && !fmtps.has(pt) && (typeof config === 'string' || typeof config === 'number')) {
      fmtps.set(pt, String(config));
    }
  }

  const codecs: Codec[] = [];
  for (const pt of formats) {
    const mapped = rtpmaps.get(pt);
    const codec: Codec | undefined = mapped !== undefined ? { payloadType: pt, ...mapped } : staticAudioCodec(pt);
    if (codec === undefined) continue;
    const fmtp = fmtps.get(pt);
    if (fmtp !== undefined) codec.fmtp = fmtp;
    codecs.push(codec);
  }
  return codecs;
}

/**
 * A text attribute value. sdp-transform turns all-digit values into numbers ('a=mid:0' gives 0,
 * an all-digit ice-ufrag likewise); it converts only when String() gives the text back exactly.
 */
function stringOf(v: unknown): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function positiveNumber(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;
}

function fingerprintOf(v: unknown): Fingerprint | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const type = stringOf((v as { type?: unknown }).type);
  const hash = stringOf((v as { hash?: unknown }).hash);
  return type !== undefined && hash !== undefined ? { type, hash } : undefined;
}

/** a=rtcp:<port> [IN IP4|IP6 <address>] (RFC 3605 §2.1); a bad value is ignored, as an unknown attribute would be. */
function rtcpOf(v: unknown): RtcpAttribute | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const port: unknown = (v as { port?: unknown }).port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  const address = stringOf((v as { address?: unknown }).address);
  const ipVer: unknown = (v as { ipVer?: unknown }).ipVer;
  if (address !== undefined && ((ipVer === 4 && isIPv4(address)) || (ipVer === 6 && isIPv6(address)))) {
    return { port, address };
  }
  return { port };
}
