import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import sdpTransform from 'sdp-transform';
import { RecgateError } from '../common/index.js';
import {
  createOffer,
  isHoldOffer,
  negotiateAnswer,
  negotiateAnswerReceived,
  nextVersion,
  parseSdp,
  MAX_SDP_LENGTH,
} from '../sip/sdp/index.js';
import type {
  AnswerOptions,
  LocalCapabilities,
  SdpParseErrorCode,
  SessionDescription,
} from '../sip/sdp/index.js';

// ---------------------------------------------------------------------------------------------
// Fixtures: offers as real user agents send them.

const crlf = (...lines: string[]): string => lines.join('\r\n') + '\r\n';

/** sipp's usual UAC offer; written with bare LF line ends, as hand-made scenario files often are. */
const SIPP_OFFER = [
  'v=0',
  'o=user1 53655765 2353687637 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 6000 RTP/AVP 0 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=ptime:20',
  'a=sendrecv',
].join('\n') + '\n';

/** baresip 3.x: opus first, G.711, telephone-event at both clock rates, RFC 3605 a=rtcp and rtcp-mux. */
const BARESIP_OFFER = crlf(
  'v=0',
  'o=- 1951239371 1247212387 IN IP4 192.168.1.20',
  's=-',
  'c=IN IP4 192.168.1.20',
  't=0 0',
  'm=audio 10020 RTP/AVP 96 0 8 97 101',
  'b=AS:128',
  'a=rtpmap:96 opus/48000/2',
  'a=fmtp:96 stereo=1;sprop-stereo=1',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:97 telephone-event/48000',
  'a=fmtp:97 0-15',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=rtcp:10021 IN IP4 192.168.1.20',
  'a=rtcp-mux',
  'a=sendrecv',
  'a=label:1',
  'a=ssrc:3129876412 cname:2c6a1f0e-59b3-4c47-8e1c-7a6a1b1b9f20',
  'a=rtcp-rsize',
  'a=ptime:20',
);

/** Linphone: speex, G.729 without rtpmap (static 18), three telephone-event rates, no direction attribute. */
const LINPHONE_OFFER = crlf(
  'v=0',
  'o=alice 2237 3414 IN IP4 192.168.0.12',
  's=Talk',
  'c=IN IP4 192.168.0.12',
  't=0 0',
  'a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics',
  'a=record:off',
  'm=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100',
  'a=rtpmap:96 opus/48000/2',
  'a=fmtp:96 useinbandfec=1',
  'a=rtpmap:97 speex/16000',
  'a=fmtp:97 vbr=on',
  'a=rtpmap:98 speex/8000',
  'a=fmtp:98 vbr=on',
  'a=fmtp:18 annexb=yes',
  'a=rtpmap:101 telephone-event/48000',
  'a=rtpmap:99 telephone-event/16000',
  'a=rtpmap:100 telephone-event/8000',
  'a=rtcp:7079',
  'a=rtcp-fb:* trr-int 1000',
  'a=rtcp-fb:* ccm tmmbr',
);

/** Chromium after ICE gathering: DTLS-SRTP, BUNDLE, rtcp-mux, mid, candidates. */
const CHROME_OFFER = crlf(
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS 7e4f4b1b-6d3b-4f76-9f1a-1d2e3c4b5a69',
  'm=audio 50931 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
  'c=IN IP4 192.168.1.33',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=candidate:2999745851 1 udp 2122260223 192.168.1.33 50931 typ host generation 0 network-id 1 network-cost 10',
  'a=candidate:1606961068 1 tcp 1518280447 192.168.1.33 9 typ host tcptype active generation 0 network-id 1 network-cost 10',
  'a=ice-ufrag:Fs3m',
  'a=ice-pwd:jx7hWSFoS4y1aJ2dNj6Cvf0p',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 4C:8B:3E:1D:5F:62:9A:0B:7C:2E:91:D4:A8:36:5B:F0:17:C9:E2:48:6D:03:AF:B5:98:21:7E:4A:C6:0F:D3:59',
  'a=setup:actpass',
  'a=mid:0',
  'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=sendrecv',
  'a=msid:7e4f4b1b-6d3b-4f76-9f1a-1d2e3c4b5a69 0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e',
  'a=rtcp-mux',
  'a=rtcp-rsize',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2',
  'a=fmtp:63 111/111',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:13 CN/8000',
  'a=rtpmap:110 telephone-event/48000',
  'a=rtpmap:126 telephone-event/8000',
  'a=ssrc:1001 cname:Q2n0rHqE8pQ7xY1z',
);

/** Asterisk style: session-level c=, audio then video. */
const ASTERISK_OFFER = crlf(
  'v=0',
  'o=- 1709282838 1709282838 IN IP4 10.0.0.5',
  's=Asterisk',
  'c=IN IP4 10.0.0.5',
  't=0 0',
  'm=audio 17042 RTP/AVP 8 0 3 101',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:3 GSM/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  'a=maxptime:150',
  'a=sendrecv',
  'm=video 14460 RTP/AVP 99 34',
  'a=rtpmap:99 H264/90000',
  'a=fmtp:99 profile-level-id=42801F',
  'a=rtpmap:34 H263/90000',
  'a=sendrecv',
);

/** Our capabilities: G.711 first, opus, DTMF at both rates. */
const LOCAL: LocalCapabilities = {
  codecs: [
    { name: 'PCMU', clockRate: 8000 },
    { name: 'PCMA', clockRate: 8000 },
    { name: 'opus', clockRate: 48000, channels: 2, fmtp: 'useinbandfec=1' },
    { name: 'telephone-event', clockRate: 8000, fmtp: '0-16' },
    { name: 'telephone-event', clockRate: 48000, fmtp: '0-16' },
  ],
  ptime: 20,
};

const G711_ONLY: LocalCapabilities = {
  codecs: [
    { name: 'PCMU', clockRate: 8000 },
    { name: 'PCMA', clockRate: 8000 },
    { name: 'telephone-event', clockRate: 8000, fmtp: '0-16' },
  ],
};

const US: AnswerOptions = { address: '192.0.2.10', port: 40000, sessionId: '42', sessionVersion: 1 };

function parsed(text: string): SessionDescription {
  const r = parseSdp(text);
  if (!r.ok) throw new Error(`fixture did not parse: ${r.code} ${r.message}`);
  return r.sdp;
}

function answerOf(offer: string, local: LocalCapabilities = LOCAL, opts: AnswerOptions = US) {
  const r = negotiateAnswer(parsed(offer), local, opts);
  if (!r.ok) throw new Error(`no answer: ${r.code} ${r.message}`);
  return r;
}

/** Replace one exact line of a fixture. */
function swapLine(text: string, from: string, to: string): string {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.split(eol);
  const i = lines.indexOf(from);
  if (i === -1) throw new Error(`fixture has no line '${from}'`);
  lines[i] = to;
  return lines.join(eol);
}

// ---------------------------------------------------------------------------------------------
// Parsing real offers

test('parse: sipp offer (LF line ends), every field', () => {
  const sdp = parsed(SIPP_OFFER);
  assert.equal(sdp.origin, {
    username: 'user1',
    sessionId: '53655765',
    sessionVersion: '2353687637',
    addressType: 'IP4',
    address: '127.0.0.1',
  });
  assert.is(sdp.sessionName, '-');
  assert.is(sdp.mediaCount, 1);
  assert.is(sdp.audioIndex, 0);
  assert.equal(sdp.media, [{ type: 'audio', port: 6000, protocol: 'RTP/AVP', formats: ['0', '101'] }]);
  assert.equal(sdp.audio, {
    address: '127.0.0.1',
    addressType: 'IP4',
    holdByAddress: false,
    port: 6000,
    protocol: 'RTP/AVP',
    formats: [0, 101],
    codecs: [
      { payloadType: 0, name: 'PCMU', clockRate: 8000 },
      { payloadType: 101, name: 'telephone-event', clockRate: 8000, fmtp: '0-15' },
    ],
    direction: 'sendrecv',
    rejected: false,
    rtcpMux: false,
    candidates: [],
    ptime: 20,
  });
  assert.is(isHoldOffer(sdp), false);
});

test('parse: baresip offer keeps opus channels, both telephone-event rates, a=rtcp and rtcp-mux', () => {
  const a = parsed(BARESIP_OFFER).audio;
  assert.ok(a);
  assert.equal(a.formats, [96, 0, 8, 97, 101]);
  assert.equal(a.codecs, [
    { payloadType: 96, name: 'opus', clockRate: 48000, channels: 2, fmtp: 'stereo=1;sprop-stereo=1' },
    { payloadType: 0, name: 'PCMU', clockRate: 8000 },
    { payloadType: 8, name: 'PCMA', clockRate: 8000 },
    { payloadType: 97, name: 'telephone-event', clockRate: 48000, fmtp: '0-15' },
    { payloadType: 101, name: 'telephone-event', clockRate: 8000, fmtp: '0-15' },
  ]);
  assert.is(a.rtcpMux, true);
  assert.equal(a.rtcp, { port: 10021, address: '192.168.1.20' });
  assert.is(a.ptime, 20);
  assert.is(a.direction, 'sendrecv');
});

test('parse: linphone offer names static PT 18 without rtpmap and keeps its fmtp; no direction means sendrecv', () => {
  const sdp = parsed(LINPHONE_OFFER);
  const a = sdp.audio;
  assert.ok(a);
  assert.is(sdp.sessionName, 'Talk');
  assert.equal(
    a.codecs.map((c) => [c.payloadType, c.name, c.clockRate]),
    [
      [96, 'opus', 48000],
      [97, 'speex', 16000],
      [98, 'speex', 8000],
      [0, 'PCMU', 8000],
      [8, 'PCMA', 8000],
      [18, 'G729', 8000],
      [101, 'telephone-event', 48000],
      [99, 'telephone-event', 16000],
      [100, 'telephone-event', 8000],
    ],
  );
  assert.is(a.codecs[5]?.fmtp, 'annexb=yes');
  assert.equal(a.rtcp, { port: 7079 });
  assert.is(a.direction, 'sendrecv');
  assert.is(a.ptime, undefined);
});

test('parse: Chromium WebRTC offer, ICE/DTLS fields kept for later', () => {
  const sdp = parsed(CHROME_OFFER);
  const a = sdp.audio;
  assert.ok(a);
  assert.is(sdp.origin.sessionId, '4611731400430051336');
  assert.is(sdp.origin.sessionVersion, '2');
  assert.is(a.protocol, 'UDP/TLS/RTP/SAVPF');
  assert.is(a.port, 50931);
  assert.is(a.address, '192.168.1.33');
  assert.equal(a.formats, [111, 63, 9, 0, 8, 13, 110, 126]);
  assert.equal(
    a.codecs.map((c) => `${c.payloadType} ${c.name}/${c.clockRate}${c.channels ? '/' + c.channels : ''}`),
    ['111 opus/48000/2', '63 red/48000/2', '9 G722/8000', '0 PCMU/8000', '8 PCMA/8000', '13 CN/8000', '110 telephone-event/48000', '126 telephone-event/8000'],
  );
  assert.is(a.codecs[0]?.fmtp, 'minptime=10;useinbandfec=1');
  assert.is(a.rtcpMux, true);
  assert.equal(a.rtcp, { port: 9, address: '0.0.0.0' });
  assert.is(a.mid, '0');
  assert.is(a.iceUfrag, 'Fs3m');
  assert.is(a.icePwd, 'jx7hWSFoS4y1aJ2dNj6Cvf0p');
  assert.equal(a.fingerprint, {
    type: 'sha-256',
    hash: '4C:8B:3E:1D:5F:62:9A:0B:7C:2E:91:D4:A8:36:5B:F0:17:C9:E2:48:6D:03:AF:B5:98:21:7E:4A:C6:0F:D3:59',
  });
  assert.is(a.setup, 'actpass');
  assert.equal(a.candidates, [
    'candidate:2999745851 1 udp 2122260223 192.168.1.33 50931 typ host generation 0 network-id 1 network-cost 10',
    'candidate:1606961068 1 tcp 1518280447 192.168.1.33 9 typ host tcptype active generation 0 network-id 1 network-cost 10',
  ]);
  assert.equal(sdp.media[0]?.mid, '0');
  assert.equal(sdp.groups, [{ semantics: 'BUNDLE', mids: ['0'] }]);
  assert.is(a.holdByAddress, false);
});

test('regression: all-digit attribute values (a=mid:0, ice-ufrag 1234) were lost as numbers from sdp-transform', () => {
  const a = parsed(swapLine(CHROME_OFFER, 'a=ice-ufrag:Fs3m', 'a=ice-ufrag:1234')).audio;
  assert.is(a?.mid, '0');
  assert.is(a?.iceUfrag, '1234');
});

test('parse: 0.0.0.0 with ICE (trickle placeholder) is not hold; without ICE it is', () => {
  const placeholder = swapLine(CHROME_OFFER, 'c=IN IP4 192.168.1.33', 'c=IN IP4 0.0.0.0');
  const withIce = parsed(placeholder);
  assert.is(withIce.audio?.holdByAddress, false);
  const legacy = parsed(swapLine(SIPP_OFFER, 'c=IN IP4 127.0.0.1', 'c=IN IP4 0.0.0.0'));
  assert.is(legacy.audio?.holdByAddress, true);
  assert.is(legacy.audio?.direction, 'sendrecv');
  assert.is(isHoldOffer(legacy), true);
});

test('parse: Asterisk offer with session-level c= and audio + video', () => {
  const sdp = parsed(ASTERISK_OFFER);
  assert.is(sdp.mediaCount, 2);
  assert.is(sdp.audioIndex, 0);
  assert.is(sdp.audio?.address, '10.0.0.5');
  assert.is(sdp.audio?.maxptime, 150);
  assert.equal(sdp.media[1], { type: 'video', port: 14460, protocol: 'RTP/AVP', formats: ['99', '34'] });
});

test('parse: IPv6 connection address', () => {
  const sdp = parsed(
    crlf('v=0', 'o=- 1 1 IN IP6 2001:db8::1', 's=-', 'c=IN IP6 2001:db8::1', 't=0 0', 'm=audio 5004 RTP/AVP 8'),
  );
  assert.is(sdp.origin.addressType, 'IP6');
  assert.is(sdp.audio?.addressType, 'IP6');
  assert.is(sdp.audio?.address, '2001:db8::1');
  assert.equal(sdp.audio?.codecs, [{ payloadType: 8, name: 'PCMA', clockRate: 8000 }]);
});

test('parse: media-level direction overrides session-level; session-level applies otherwise', () => {
  const base = ['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', 'a=sendonly'];
  assert.is(parsed(crlf(...base, 'm=audio 5004 RTP/AVP 0')).audio?.direction, 'sendonly');
  assert.is(parsed(crlf(...base, 'm=audio 5004 RTP/AVP 0', 'a=inactive')).audio?.direction, 'inactive');
});

test('parse: port 0 is rejected and inactive; a later live audio line is preferred', () => {
  const head = ['v=0', 'o=- 1 2 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0'];
  const only = parsed(crlf(...head, 'm=audio 0 RTP/AVP 0'));
  assert.is(only.audio?.rejected, true);
  assert.is(only.audio?.direction, 'inactive');
  assert.is(isHoldOffer(only), false);
  const two = parsed(crlf(...head, 'm=audio 0 RTP/AVP 0', 'm=audio 5006 RTP/AVP 8'));
  assert.is(two.audioIndex, 1);
  assert.is(two.audio?.port, 5006);
});

test('parse: no audio is not an error unless requireAudio', () => {
  const text = crlf('v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', 'm=video 5004 RTP/AVP 96', 'a=rtpmap:96 VP8/90000');
  const r = parseSdp(text);
  assert.ok(r.ok);
  if (r.ok) {
    assert.is(r.sdp.audio, null);
    assert.is(r.sdp.audioIndex, -1);
  }
  const strict = parseSdp(text, { requireAudio: true });
  assert.is(strict.ok, false);
  if (!strict.ok) assert.is(strict.code, 'ERR_SDP_NO_AUDIO');
});

test('parse: a dynamic payload type without rtpmap is listed in formats but not named', () => {
  const sdp = parsed(crlf('v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', 'm=audio 5004 RTP/AVP 96 0'));
  assert.equal(sdp.audio?.formats, [96, 0]);
  assert.equal(sdp.audio?.codecs, [{ payloadType: 0, name: 'PCMU', clockRate: 8000 }]);
});

// ---------------------------------------------------------------------------------------------
// Malformed SDPs: each named, each with its code, never a throw.

const HEAD = ['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0'];

const MALFORMED: { name: string; text: string; code: SdpParseErrorCode; line?: number }[] = [
  { name: 'empty body', text: '', code: 'ERR_SDP_SYNTAX' },
  { name: 'only blank lines', text: '\r\n\r\n', code: 'ERR_SDP_SYNTAX' },
  { name: 'too large', text: 'v=0\r\n' + 'a=x\r\n'.repeat(MAX_SDP_LENGTH / 5), code: 'ERR_SDP_TOO_LARGE' },
  { name: 'not SDP at all', text: 'hello world', code: 'ERR_SDP_SYNTAX', line: 1 },
  { name: 'v=1', text: crlf('v=1', ...HEAD.slice(1), 'm=audio 5004 RTP/AVP 0'), code: 'ERR_SDP_VERSION', line: 1 },
  { name: 'v= not first', text: crlf(HEAD[1] ?? '', 'v=0', ...HEAD.slice(2), 'm=audio 5004 RTP/AVP 0'), code: 'ERR_SDP_VERSION', line: 1 },
  { name: 'second v= line', text: crlf(...HEAD, 'm=audio 5004 RTP/AVP 0', 'v=0'), code: 'ERR_SDP_SYNTAX', line: 7 },
  { name: 'unknown type letter', text: crlf(...HEAD, 'x=whatever', 'm=audio 5004 RTP/AVP 0'), code: 'ERR_SDP_SYNTAX', line: 6 },
  { name: 'upper-case type letter', text: crlf(...HEAD, 'M=audio 5004 RTP/AVP 0'), code: 'ERR_SDP_SYNTAX', line: 6 },
  { name: 'line without =', text: crlf(...HEAD, 'm audio 5004 RTP/AVP 0'), code: 'ERR_SDP_SYNTAX', line: 6 },
  { name: 'leading space', text: crlf(...HEAD, ' m=audio 5004 RTP/AVP 0'), code: 'ERR_SDP_SYNTAX', line: 6 },
  { name: 'NUL byte', text: crlf(...HEAD, 'm=audio 5004 RTP/AVP 0', 'a=x\u0000y'), code: 'ERR_SDP_SYNTAX', line: 7 },
  { name: 'missing o=', text: crlf('v=0', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', 'm=audio 5004 RTP/AVP 0'), code: 'ERR_SDP_ORIGIN' },
  { name: 'o= with too few fields', text: crlf('v=0', 'o=- 1 IN IP4 10.0.0.1', ...HEAD.slice(2), 'm=audio 5004 RTP/AVP 0'), code: 'ERR_SDP_ORIGIN', line: 2 },
  { name: 'o= with a non-numeric version', text: crlf('v=0', 'o=- 1 x IN IP4 10.0.0.1', ...HEAD.slice(2)), code: 'ERR_SDP_ORIGIN', line: 2 },
  { name: 'o= with address type IP5', text: crlf('v=0', 'o=- 1 1 IN IP5 10.0.0.1', ...HEAD.slice(2)), code: 'ERR_SDP_ORIGIN', line: 2 },
  { name: 'two o= lines', text: crlf(...HEAD, 'o=- 2 2 IN IP4 10.0.0.1'), code: 'ERR_SDP_ORIGIN', line: 6 },
  { name: 'o= inside media', text: crlf('v=0', ...HEAD.slice(2), 'm=audio 5004 RTP/AVP 0', HEAD[1] ?? ''), code: 'ERR_SDP_ORIGIN', line: 6 },
  { name: 'm= with no format', text: crlf(...HEAD, 'm=audio 5004 RTP/AVP'), code: 'ERR_SDP_SYNTAX', line: 6 },
  { name: 'm= with a double space', text: crlf(...HEAD, 'm=audio  5004 RTP/AVP 0'), code: 'ERR_SDP_SYNTAX', line: 6 },
  { name: 'm= port 65536', text: crlf(...HEAD, 'm=audio 65536 RTP/AVP 0'), code: 'ERR_SDP_PORT', line: 6 },
  { name: 'm= port 7 digits', text: crlf(...HEAD, 'm=audio 5000000 RTP/AVP 0'), code: 'ERR_SDP_PORT', line: 6 },
  { name: 'm= port not a number', text: crlf(...HEAD, 'm=audio abc RTP/AVP 0'), code: 'ERR_SDP_PORT', line: 6 },
  { name: 'm= negative port', text: crlf(...HEAD, 'm=audio -1 RTP/AVP 0'), code: 'ERR_SDP_PORT', line: 6 },
  { name: 'payload type 128', text: crlf(...HEAD, 'm=audio 5004 RTP/AVP 0 128'), code: 'ERR_SDP_PAYLOAD_TYPE', line: 6 },
  { name: 'payload type not a number', text: crlf(...HEAD, 'm=audio 5004 RTP/AVP PCMU'), code: 'ERR_SDP_PAYLOAD_TYPE', line: 6 },
  { name: 'no c= anywhere', text: crlf('v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 't=0 0', 'm=audio 5004 RTP/AVP 0'), code: 'ERR_SDP_ADDRESS', line: 5 },
  { name: 'c= octet 999', text: crlf(...HEAD.slice(0, 3), 'c=IN IP4 999.0.0.1', 't=0 0', 'm=audio 5004 RTP/AVP 0'), code: 'ERR_SDP_ADDRESS', line: 4 },
  { name: 'c= IP6 with an IPv4 address', text: crlf(...HEAD, 'm=audio 5004 RTP/AVP 0', 'c=IN IP6 10.0.0.1'), code: 'ERR_SDP_ADDRESS', line: 7 },
  { name: 'c= IP4 with an IPv6 address', text: crlf(...HEAD, 'm=audio 5004 RTP/AVP 0', 'c=IN IP4 2001:db8::1'), code: 'ERR_SDP_ADDRESS', line: 7 },
  { name: 'c= FQDN', text: crlf(...HEAD, 'm=audio 5004 RTP/AVP 0', 'c=IN IP4 media.example.com'), code: 'ERR_SDP_ADDRESS', line: 7 },
  { name: 'c= multicast with TTL', text: crlf(...HEAD, 'm=audio 5004 RTP/AVP 0', 'c=IN IP4 224.2.1.1/127'), code: 'ERR_SDP_ADDRESS', line: 7 },
  { name: 'c= network type ATM', text: crlf(...HEAD, 'm=audio 5004 RTP/AVP 0', 'c=ATM NSAP 47.0005.80.ffe100.0000.f21a.0000.0000.0000.0000.00'), code: 'ERR_SDP_ADDRESS', line: 7 },
  { name: 'c= empty', text: crlf(...HEAD, 'm=audio 5004 RTP/AVP 0', 'c='), code: 'ERR_SDP_ADDRESS', line: 7 },
];

for (const { name, text, code, line } of MALFORMED) {
  test(`malformed: ${name} -> ${code}`, () => {
    let r: ReturnType<typeof parseSdp> | undefined;
    assert.not.throws(() => {
      r = parseSdp(text);
    });
    assert.ok(r);
    assert.is(r.ok, false);
    if (!r.ok) {
      assert.is(r.code, code);
      assert.type(r.message, 'string');
      if (line !== undefined) assert.is(r.line, line);
    }
  });
}

test('malformed: a non-string body does not throw', () => {
  const r = parseSdp(undefined as unknown as string);
  assert.is(r.ok, false);
  if (!r.ok) assert.is(r.code, 'ERR_SDP_SYNTAX');
});

test('lenient: bad optional attributes are ignored, not fatal', () => {
  const sdp = parsed(
    crlf(
      ...HEAD,
      'm=audio 5004 RTP/AVP 0 96',
      'a=rtpmap:96 foo', // no clock rate: unusable, PT 96 stays unnamed
      'a=rtpmap:abc PCMA/8000',
      'a=ptime:abc',
      'a=rtcp:99999',
      'a=sendrecvx',
      'a=whatever:1',
    ),
  );
  const a = sdp.audio;
  assert.ok(a);
  assert.equal(a.codecs, [{ payloadType: 0, name: 'PCMU', clockRate: 8000 }]);
  assert.is(a.ptime, undefined);
  assert.is(a.rtcp, undefined);
  assert.is(a.direction, 'sendrecv');
});

// ---------------------------------------------------------------------------------------------
// Answering offers (RFC 3264 §6)

test('answer: Asterisk audio+video offer, every line checked; video rejected in place', () => {
  const r = answerOf(ASTERISK_OFFER, G711_ONLY);
  assert.is(
    r.answer,
    crlf(
      'v=0',
      'o=- 42 1 IN IP4 192.0.2.10',
      's=-',
      'c=IN IP4 192.0.2.10',
      't=0 0',
      'm=audio 40000 RTP/AVP 8 101',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=ptime:20',
      'a=sendrecv',
      'm=video 0 RTP/AVP 99',
    ),
  );
  assert.equal(r.audio, {
    codec: { payloadType: 8, name: 'PCMA', clockRate: 8000 },
    telephoneEvent: { payloadType: 101, name: 'telephone-event', clockRate: 8000, fmtp: '0-16' },
    remoteAddress: '10.0.0.5',
    remotePort: 17042,
    remoteRtcp: { address: '10.0.0.5', port: 17043 },
    ptime: 20,
    direction: 'sendrecv',
    remoteDirection: 'sendrecv',
    rtcpMux: false,
    rejected: false,
  });
});

test('answer: re-parses with our parser and with sdp-transform, and says what was negotiated', () => {
  const r = answerOf(ASTERISK_OFFER, G711_ONLY);
  const ours = parsed(r.answer);
  assert.is(ours.mediaCount, 2);
  assert.is(ours.audioIndex, 0);
  assert.equal(ours.media[1], { type: 'video', port: 0, protocol: 'RTP/AVP', formats: ['99'] });
  assert.equal(ours.audio?.codecs, [r.audio.codec, r.audio.telephoneEvent]);
  assert.is(ours.audio?.direction, r.audio.direction);
  assert.is(ours.audio?.address, '192.0.2.10');
  assert.is(ours.audio?.port, 40000);
  assert.is(ours.origin.sessionId, '42');
  assert.is(ours.origin.sessionVersion, '1');

  const theirs = sdpTransform.parse(r.answer);
  assert.is(theirs.version, 0);
  assert.is(theirs.connection?.ip, '192.0.2.10');
  assert.is(theirs.media.length, 2);
  assert.is(theirs.media[0]?.port, 40000);
  assert.is(theirs.media[0]?.payloads, '8 101');
  assert.equal(theirs.media[0]?.rtp, [
    { payload: 8, codec: 'PCMA', rate: 8000 },
    { payload: 101, codec: 'telephone-event', rate: 8000 },
  ]);
  assert.equal(theirs.media[0]?.fmtp, [{ payload: 101, config: '0-16' }]);
  assert.is(theirs.media[0]?.direction, 'sendrecv');
  assert.is(theirs.media[1]?.port, 0);
  assert.is(theirs.media[1]?.type, 'video');
});

test('answer: video first, audio second keeps the order (RFC 3264 §6)', () => {
  const text = crlf(
    ...HEAD,
    'm=video 5010 RTP/AVP 96',
    'a=rtpmap:96 VP8/90000',
    'm=audio 5004 RTP/AVP 0',
    'm=audio 5008 RTP/AVP 8',
  );
  const r = answerOf(text, G711_ONLY);
  const lines = r.answer.split('\r\n').filter((l) => l.startsWith('m='));
  assert.equal(lines, ['m=video 0 RTP/AVP 96', 'm=audio 40000 RTP/AVP 0', 'm=audio 0 RTP/AVP 8']);
});

test('answer: sipp offer -> PCMU with its telephone-event PT and event list echoed', () => {
  const r = answerOf(SIPP_OFFER);
  assert.is(
    r.answer,
    crlf(
      'v=0',
      'o=- 42 1 IN IP4 192.0.2.10',
      's=-',
      'c=IN IP4 192.0.2.10',
      't=0 0',
      'm=audio 40000 RTP/AVP 0 101',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-15',
      'a=ptime:20',
      'a=sendrecv',
    ),
  );
  assert.is(r.audio.remoteAddress, '127.0.0.1');
  assert.is(r.audio.remotePort, 6000);
});

test("answer: baresip offer -> opus (the offerer's first), telephone-event at 48000, our opus fmtp, rtcp-mux", () => {
  const r = answerOf(BARESIP_OFFER);
  const media = r.answer.slice(r.answer.indexOf('m='));
  assert.is(
    media,
    crlf(
      'm=audio 40000 RTP/AVP 96 97',
      'a=rtpmap:96 opus/48000/2',
      'a=fmtp:96 useinbandfec=1',
      'a=rtpmap:97 telephone-event/48000',
      'a=fmtp:97 0-15',
      'a=ptime:20',
      'a=sendrecv',
      'a=rtcp-mux',
    ),
  );
  // The negotiated codec carries the remote's fmtp: what it can receive.
  assert.equal(r.audio.codec, { payloadType: 96, name: 'opus', clockRate: 48000, channels: 2, fmtp: 'stereo=1;sprop-stereo=1' });
  assert.is(r.audio.telephoneEvent?.payloadType, 97);
  assert.is(r.audio.rtcpMux, true);
  assert.equal(r.audio.remoteRtcp, { address: '192.168.1.20', port: 10020 });
});

test('answer: baresip offer without opus on our side -> PCMU with telephone-event/8000; rtcp-mux can be refused', () => {
  const r = answerOf(BARESIP_OFFER, G711_ONLY, { ...US, rtcpMux: false });
  assert.is(r.audio.codec.payloadType, 0);
  assert.is(r.audio.telephoneEvent?.payloadType, 101);
  assert.is(r.audio.rtcpMux, false);
  assert.ok(!r.answer.includes('a=rtcp-mux'));
  // Without mux, RTCP goes where a=rtcp says (RFC 3605).
  assert.equal(r.audio.remoteRtcp, { address: '192.168.1.20', port: 10021 });
});

test('answer: linphone offer with G.711 only -> PCMU and the dynamic telephone-event/8000 PT 100 echoed', () => {
  const r = answerOf(LINPHONE_OFFER, G711_ONLY);
  const media = r.answer.slice(r.answer.indexOf('m='));
  assert.is(media, crlf('m=audio 40000 RTP/AVP 0 100', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:100 telephone-event/8000', 'a=sendrecv'));
  assert.is(r.audio.ptime, 20);
  assert.equal(r.audio.remoteRtcp, { address: '192.168.0.12', port: 7079 });
});

test('answer: opus only matches as opus/48000/2 (RFC 7587 §7)', () => {
  const text = crlf(...HEAD, 'm=audio 5004 RTP/AVP 96', 'a=rtpmap:96 OPUS/48000');
  const r = negotiateAnswer(parsed(text), LOCAL, US);
  assert.is(r.ok, false);
  if (!r.ok) assert.is(r.code, 'ERR_SDP_NO_COMMON_CODEC');
  const ok = answerOf(crlf(...HEAD, 'm=audio 5004 RTP/AVP 96', 'a=rtpmap:96 OPUS/48000/2'));
  assert.is(ok.audio.codec.name, 'OPUS');
  assert.ok(ok.answer.includes('a=rtpmap:96 OPUS/48000/2\r\n'));
});

test('answer: Chromium offer -> ERR_SDP_UNSUPPORTED_PROFILE unless allowed', () => {
  const sdp = parsed(CHROME_OFFER);
  const r = negotiateAnswer(sdp, LOCAL, US);
  assert.is(r.ok, false);
  if (!r.ok) assert.is(r.code, 'ERR_SDP_UNSUPPORTED_PROFILE');
  const allowed = negotiateAnswer(sdp, LOCAL, {
    ...US,
    allowProfiles: ['UDP/TLS/RTP/SAVPF'],
    extraAudioAttributes: ['setup:active'],
  });
  assert.ok(allowed.ok);
  if (allowed.ok) {
    assert.is(allowed.audio.codec.payloadType, 111);
    assert.is(allowed.audio.telephoneEvent?.payloadType, 110);
    assert.is(allowed.audio.mid, '0');
    const media = allowed.answer.slice(allowed.answer.indexOf('m='));
    assert.is(
      media,
      crlf(
        'm=audio 40000 UDP/TLS/RTP/SAVPF 111 110',
        'a=rtpmap:111 opus/48000/2',
        'a=fmtp:111 useinbandfec=1',
        'a=rtpmap:110 telephone-event/48000',
        'a=sendrecv',
        'a=rtcp-mux',
        'a=mid:0',
        'a=setup:active',
      ),
    );
  }
});

test('answer: codec mismatch (only G.729 and G.722 offered) -> ERR_SDP_NO_COMMON_CODEC', () => {
  const text = crlf(...HEAD, 'm=audio 5004 RTP/AVP 18 9', 'a=rtpmap:18 G729/8000', 'a=fmtp:18 annexb=no');
  const r = negotiateAnswer(parsed(text), LOCAL, US);
  assert.is(r.ok, false);
  if (!r.ok) assert.is(r.code, 'ERR_SDP_NO_COMMON_CODEC');
});

test('answer: telephone-event and CN alone are not an audio codec', () => {
  const text = crlf(...HEAD, 'm=audio 5004 RTP/AVP 101 13', 'a=rtpmap:101 telephone-event/8000');
  const r = negotiateAnswer(parsed(text), { codecs: [...G711_ONLY.codecs, { name: 'CN', clockRate: 8000 }] }, US);
  assert.is(r.ok, false);
  if (!r.ok) assert.is(r.code, 'ERR_SDP_NO_COMMON_CODEC');
});

test('answer: no audio, rejected audio', () => {
  const video = crlf(...HEAD, 'm=video 5004 RTP/AVP 96', 'a=rtpmap:96 VP8/90000');
  const a = negotiateAnswer(parsed(video), LOCAL, US);
  assert.is(a.ok ? 'ok' : a.code, 'ERR_SDP_NO_AUDIO');
  const rejected = crlf(...HEAD, 'm=audio 0 RTP/AVP 0');
  const b = negotiateAnswer(parsed(rejected), LOCAL, US);
  assert.is(b.ok ? 'ok' : b.code, 'ERR_SDP_REJECTED');
});

test('answer: IPv6 address family gives IP6 in o= and c=', () => {
  const r = answerOf(SIPP_OFFER, LOCAL, { address: '2001:db8::10', port: 40000, sessionId: '7', sessionVersion: 0 });
  assert.ok(r.answer.startsWith(crlf('v=0', 'o=- 7 0 IN IP6 2001:db8::10', 's=-', 'c=IN IP6 2001:db8::10', 't=0 0')));
  assert.is(parsed(r.answer).audio?.addressType, 'IP6');
});

test('answer: default session id is digits and a fresh one per call', () => {
  const a = parsed(answerOf(SIPP_OFFER, LOCAL, { address: '192.0.2.10', port: 40000 }).answer);
  const b = parsed(answerOf(SIPP_OFFER, LOCAL, { address: '192.0.2.10', port: 40000 }).answer);
  assert.match(a.origin.sessionId, /^\d+$/);
  assert.is(a.origin.sessionVersion, '0');
  assert.is.not(a.origin.sessionId, b.origin.sessionId);
});

// Directions and hold (RFC 3264 §6.1, §8.4)

const DIRECTION_CASES: { name: string; line: string; intent?: 'sendrecv' | 'recvonly'; ours: string; hold: boolean }[] = [
  { name: 'sendrecv offer', line: 'a=sendrecv', ours: 'sendrecv', hold: false },
  { name: 'sendonly offer (hold)', line: 'a=sendonly', ours: 'recvonly', hold: true },
  { name: 'inactive offer (hold)', line: 'a=inactive', ours: 'inactive', hold: true },
  { name: 'recvonly offer', line: 'a=recvonly', ours: 'sendonly', hold: false },
  { name: 'sendrecv offer, recording-only intent', line: 'a=sendrecv', intent: 'recvonly', ours: 'recvonly', hold: false },
  { name: 'recvonly offer, recording-only intent', line: 'a=recvonly', intent: 'recvonly', ours: 'inactive', hold: false },
];

for (const { name, line, intent, ours, hold } of DIRECTION_CASES) {
  test(`direction: ${name} -> we answer ${ours}`, () => {
    const offer = parsed(swapLine(SIPP_OFFER, 'a=sendrecv', line));
    assert.is(isHoldOffer(offer), hold);
    const r = negotiateAnswer(offer, LOCAL, intent === undefined ? US : { ...US, direction: intent });
    assert.ok(r.ok);
    if (r.ok) {
      assert.is(r.audio.direction, ours);
      assert.is(r.audio.remoteDirection, line.slice(2));
      assert.ok(r.answer.includes(`\r\na=${ours}\r\n`));
    }
  });
}

test('direction: c=0.0.0.0 hold (RFC 2543 form) with sendrecv -> we answer recvonly', () => {
  const offer = parsed(swapLine(SIPP_OFFER, 'c=IN IP4 127.0.0.1', 'c=IN IP4 0.0.0.0'));
  const r = answerOf(swapLine(SIPP_OFFER, 'c=IN IP4 127.0.0.1', 'c=IN IP4 0.0.0.0'));
  assert.is(isHoldOffer(offer), true);
  assert.is(r.audio.direction, 'recvonly');
  assert.is(r.audio.remoteDirection, 'sendrecv');
  assert.is(r.audio.remoteAddress, '0.0.0.0');
});

test('re-offer: hold then resume in a dialog, same session id, versions moving on', () => {
  const sessionId = '9001';
  let version = 0;
  const first = answerOf(ASTERISK_OFFER, G711_ONLY, { address: '192.0.2.10', port: 40000, sessionId, sessionVersion: version });
  assert.is(first.audio.direction, 'sendrecv');

  // Asterisk's hold re-INVITE: same o= id, version + 1, a=sendonly.
  const holdText = ASTERISK_OFFER.replace('o=- 1709282838 1709282838', 'o=- 1709282838 1709282839').replace('a=sendrecv', 'a=sendonly');
  const hold = parsed(holdText);
  assert.is(isHoldOffer(hold), true);
  version = nextVersion(version);
  const held = answerOf(holdText, G711_ONLY, { address: '192.0.2.10', port: 40000, sessionId, sessionVersion: version });
  assert.is(held.audio.direction, 'recvonly');
  assert.ok(held.answer.includes('o=- 9001 1 IN IP4 192.0.2.10\r\n'));
  assert.ok(held.answer.includes('\r\na=recvonly\r\n'));
  assert.ok(held.answer.includes('m=video 0 RTP/AVP 99\r\n'));

  const resumeText = ASTERISK_OFFER.replace('o=- 1709282838 1709282838', 'o=- 1709282838 1709282840');
  version = nextVersion(version);
  const resumed = answerOf(resumeText, G711_ONLY, { address: '192.0.2.10', port: 40000, sessionId, sessionVersion: version });
  assert.is(resumed.audio.direction, 'sendrecv');
  assert.ok(resumed.answer.includes('o=- 9001 2 IN IP4 192.0.2.10\r\n'));
  assert.is(nextVersion(parsed(resumeText).origin.sessionVersion), '1709282841');
});

test('nextVersion: numbers, big strings, misuse', () => {
  assert.is(nextVersion(0), 1);
  assert.is(nextVersion(41), 42);
  assert.is(nextVersion('18446744073709551615'), '18446744073709551616');
  for (const bad of [-1, 1.5, Number.NaN]) {
    assert.throws(() => nextVersion(bad), (e: unknown) => e instanceof RecgateError && e.code === 'ERR_INVALID_ARGUMENT');
  }
  assert.throws(() => nextVersion(Number.MAX_SAFE_INTEGER), (e: unknown) => e instanceof RecgateError && e.code === 'ERR_OUT_OF_RANGE');
  assert.throws(() => nextVersion('12a'), (e: unknown) => e instanceof RecgateError && e.code === 'ERR_INVALID_ARGUMENT');
});

test('misuse of our own options throws ERR_INVALID_ARGUMENT', () => {
  const offer = parsed(SIPP_OFFER);
  const bad: [string, () => unknown][] = [
    ['hostname address', () => negotiateAnswer(offer, LOCAL, { address: 'gw.example.com', port: 4000 })],
    ['port 0', () => negotiateAnswer(offer, LOCAL, { address: '192.0.2.1', port: 0 })],
    ['port 70000', () => createOffer(LOCAL, { address: '192.0.2.1', port: 70000 })],
    ['no codecs', () => negotiateAnswer(offer, { codecs: [] }, US)],
    ['codec name with a space', () => createOffer({ codecs: [{ name: 'PC MU', clockRate: 8000 }] }, US)],
    ['clock rate 0', () => createOffer({ codecs: [{ name: 'PCMU', clockRate: 0 }] }, US)],
    ['fmtp with CRLF', () => createOffer({ codecs: [{ name: 'opus', clockRate: 48000, channels: 2, fmtp: 'a\r\nb' }] }, US)],
    ['payload type 200', () => createOffer({ codecs: [{ name: 'PCMU', clockRate: 8000, payloadType: 200 }] }, US)],
    ['same payload type twice', () => createOffer({ codecs: [{ name: 'PCMU', clockRate: 8000, payloadType: 0 }, { name: 'PCMA', clockRate: 8000, payloadType: 0 }] }, US)],
    ['session id not digits', () => createOffer(LOCAL, { ...US, sessionId: 'abc' })],
    ['username with a space', () => createOffer(LOCAL, { ...US, username: 'a b' })],
    ['direction typo', () => createOffer(LOCAL, { ...US, direction: 'sendrcv' as 'sendrecv' })],
    ['extra attribute with CRLF', () => negotiateAnswer(offer, LOCAL, { ...US, extraAudioAttributes: ['x\r\nm=video 1 RTP/AVP 0'] })],
  ];
  for (const [name, fn] of bad) {
    assert.throws(fn, (e: unknown) => e instanceof RecgateError && e.code === 'ERR_INVALID_ARGUMENT', name);
  }
  const tooMany = { codecs: Array.from({ length: 33 }, (_, i) => ({ name: `x${i}`, clockRate: 8000 })) };
  assert.throws(() => createOffer(tooMany, US), (e: unknown) => e instanceof RecgateError && e.code === 'ERR_OUT_OF_RANGE');
});

// ---------------------------------------------------------------------------------------------
// Our offer and the answer to it (RFC 3264 §5, §7)

test('createOffer: every line; static PTs, 101 for telephone-event/8000, dynamic from 96', () => {
  const offer = createOffer(LOCAL, { address: '192.0.2.10', port: 30000, sessionId: '5', sessionVersion: 0 });
  assert.is(
    offer.sdp,
    crlf(
      'v=0',
      'o=- 5 0 IN IP4 192.0.2.10',
      's=-',
      'c=IN IP4 192.0.2.10',
      't=0 0',
      'm=audio 30000 RTP/AVP 0 8 96 101 97',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:96 opus/48000/2',
      'a=fmtp:96 useinbandfec=1',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=rtpmap:97 telephone-event/48000',
      'a=fmtp:97 0-16',
      'a=ptime:20',
      'a=sendrecv',
    ),
  );
  assert.equal(
    offer.codecs.map((c) => c.payloadType),
    [0, 8, 96, 101, 97],
  );
  assert.is(offer.direction, 'sendrecv');
  assert.is(offer.rtcpMux, false);
  assert.is(offer.protocol, 'RTP/AVP');
  // Read back independently.
  const t = sdpTransform.parse(offer.sdp);
  assert.is(t.media[0]?.payloads, '0 8 96 101 97');
  assert.is(t.media[0]?.rtp.length, 5);
});

test('createOffer: given payload types are kept (re-offer), G.722 gets static 9, options applied', () => {
  const offer = createOffer(
    {
      codecs: [
        { name: 'opus', clockRate: 48000, channels: 2, payloadType: 111 },
        { name: 'G722', clockRate: 8000 },
        { name: 'telephone-event', clockRate: 8000, payloadType: 96 },
      ],
    },
    { address: '192.0.2.10', port: 30000, sessionId: '5', sessionVersion: '7', direction: 'sendonly', rtcpMux: true },
  );
  assert.equal(offer.codecs.map((c) => c.payloadType), [111, 9, 96]);
  const again = createOffer({ codecs: offer.codecs }, { address: '192.0.2.10', port: 30000, sessionId: '5', sessionVersion: nextVersion('7') });
  assert.equal(again.codecs, offer.codecs);
  const sdp = parsed(offer.sdp);
  assert.is(sdp.audio?.direction, 'sendonly');
  assert.is(sdp.audio?.rtcpMux, true);
  assert.is(sdp.audio?.ptime, undefined);
  assert.is(parsed(again.sdp).origin.sessionVersion, '8');
});

test('answer received: a sipp UAS answer picks PCMU and telephone-event from our offer', () => {
  const offer = createOffer(LOCAL, { address: '192.0.2.10', port: 30000, sessionId: '5', sessionVersion: 0 });
  const answer = parsed(
    crlf(
      'v=0',
      'o=user1 53655765 2353687637 IN IP4 127.0.0.2',
      's=-',
      'c=IN IP4 127.0.0.2',
      't=0 0',
      'm=audio 6002 RTP/AVP 0 101',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-15',
      'a=recvonly',
    ),
  );
  const r = negotiateAnswerReceived(offer, answer);
  assert.ok(r.ok);
  if (r.ok) {
    assert.equal(r.audio, {
      codec: { payloadType: 0, name: 'PCMU', clockRate: 8000 },
      telephoneEvent: { payloadType: 101, name: 'telephone-event', clockRate: 8000, fmtp: '0-15' },
      remoteAddress: '127.0.0.2',
      remotePort: 6002,
      remoteRtcp: { address: '127.0.0.2', port: 6003 },
      ptime: 20,
      direction: 'sendonly',
      remoteDirection: 'recvonly',
      rtcpMux: false,
      rejected: false,
    });
  }
});

test('answer received: an answer without rtpmap for our dynamic PT still resolves by number', () => {
  const offer = createOffer(LOCAL, { address: '192.0.2.10', port: 30000, sessionId: '5', sessionVersion: 0 });
  const r = negotiateAnswerReceived(offer, parsed(crlf(...HEAD, 'm=audio 6002 RTP/AVP 96 97', 'a=ptime:40')));
  assert.ok(r.ok);
  if (r.ok) {
    assert.is(r.audio.codec.name, 'opus');
    assert.is(r.audio.telephoneEvent?.payloadType, 97);
    assert.is(r.audio.ptime, 40);
  }
});

const BAD_ANSWERS: { name: string; text: string; code: string }[] = [
  { name: 'port 0', text: crlf(...HEAD, 'm=audio 0 RTP/AVP 0'), code: 'ERR_SDP_REJECTED' },
  { name: 'two m= lines', text: crlf(...HEAD, 'm=audio 6002 RTP/AVP 0', 'm=video 0 RTP/AVP 96'), code: 'ERR_SDP_ANSWER_MISMATCH' },
  { name: 'no audio', text: crlf(...HEAD, 'm=video 6002 RTP/AVP 96'), code: 'ERR_SDP_NO_AUDIO' },
  { name: 'another profile', text: crlf(...HEAD, 'm=audio 6002 RTP/SAVP 0'), code: 'ERR_SDP_ANSWER_MISMATCH' },
  { name: 'a PT we did not offer', text: crlf(...HEAD, 'm=audio 6002 RTP/AVP 18'), code: 'ERR_SDP_NO_COMMON_CODEC' },
  { name: 'only telephone-event', text: crlf(...HEAD, 'm=audio 6002 RTP/AVP 101'), code: 'ERR_SDP_NO_COMMON_CODEC' },
  { name: 'our PT renamed', text: crlf(...HEAD, 'm=audio 6002 RTP/AVP 96', 'a=rtpmap:96 speex/16000'), code: 'ERR_SDP_ANSWER_MISMATCH' },
];

for (const { name, text, code } of BAD_ANSWERS) {
  test(`answer received: ${name} -> ${code}`, () => {
    const offer = createOffer(LOCAL, { address: '192.0.2.10', port: 30000, sessionId: '5', sessionVersion: 0 });
    const r = negotiateAnswerReceived(offer, parsed(text));
    assert.is(r.ok ? 'ok' : r.code, code);
  });
}

test('loop: our offer answered by our answerer, read back by our offerer; both sides agree', () => {
  const offer = createOffer(LOCAL, { address: '192.0.2.10', port: 30000, sessionId: '5', sessionVersion: 0, rtcpMux: true });
  const answered = negotiateAnswer(parsed(offer.sdp), G711_ONLY, { address: '198.51.100.7', port: 50000, direction: 'recvonly' });
  assert.ok(answered.ok);
  if (!answered.ok) return;
  const back = negotiateAnswerReceived(offer, parsed(answered.answer));
  assert.ok(back.ok);
  if (!back.ok) return;
  assert.equal(back.audio.codec, answered.audio.codec);
  assert.equal(back.audio.telephoneEvent, { payloadType: 101, name: 'telephone-event', clockRate: 8000, fmtp: '0-16' });
  assert.is(answered.audio.direction, 'recvonly');
  assert.is(back.audio.direction, 'sendonly');
  assert.is(back.audio.rtcpMux, true);
  assert.equal(back.audio.remoteRtcp, { address: '198.51.100.7', port: 50000 });
});

// ---------------------------------------------------------------------------------------------
// Fuzz: bytes from the network never make parseSdp (or negotiation on what it accepts) throw.

const FIXTURES = [SIPP_OFFER, BARESIP_OFFER, LINPHONE_OFFER, CHROME_OFFER, ASTERISK_OFFER];

/** Whatever parseSdp accepts must be answerable without a throw, and the answer must parse. */
function checkAccepted(text: string): void {
  const r = parseSdp(text);
  assert.type(r.ok, 'boolean');
  if (!r.ok) {
    assert.type(r.code, 'string');
    return;
  }
  const a = negotiateAnswer(r.sdp, LOCAL, { ...US, allowProfiles: ['RTP/SAVP', 'UDP/TLS/RTP/SAVPF', 'RTP/AVPF'] });
  if (a.ok) {
    const back = parseSdp(a.answer);
    assert.ok(back.ok, a.answer);
    if (back.ok) assert.is(back.sdp.mediaCount, r.sdp.mediaCount);
  }
  isHoldOffer(r.sdp);
}

test('fuzz: arbitrary strings never throw', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (s) => {
      checkAccepted(s);
      checkAccepted('v=0\r\n' + s);
    }),
    { numRuns: 2000 },
  );
});

test('fuzz: SDP-shaped lines never throw', () => {
  const line = fc.tuple(fc.constantFrom(...'vosictmab'.split('')), fc.string({ unit: 'grapheme-ascii', maxLength: 40 }));
  fc.assert(
    fc.property(fc.array(line, { maxLength: 20 }), (lines) => {
      checkAccepted(['v=0', 'o=- 1 1 IN IP4 10.0.0.1', ...lines.map(([t, v]) => `${t}=${v}`)].join('\r\n'));
    }),
    { numRuns: 2000 },
  );
});

test('fuzz: mutated real offers never throw', () => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), to: fc.nat() }),
    fc.record({ kind: fc.constant('char' as const), at: fc.nat(), s: fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('digits' as const), at: fc.nat(), n: fc.oneof(fc.nat(), fc.integer({ min: -5, max: 200000 })) }),
  );
  fc.assert(
    fc.property(fc.constantFrom(...FIXTURES), fc.array(mutation, { minLength: 1, maxLength: 4 }), (fixture, mutations) => {
      let lines = fixture.split(/\r?\n/);
      let text = fixture;
      for (const m of mutations) {
        const i = m.at % Math.max(1, lines.length);
        switch (m.kind) {
          case 'delete':
            lines.splice(i, 1);
            break;
          case 'duplicate':
            lines.splice(i, 0, lines[i] ?? '');
            break;
          case 'swap': {
            const j = m.to % Math.max(1, lines.length);
            const a = lines[i] ?? '';
            lines[i] = lines[j] ?? '';
            lines[j] = a;
            break;
          }
          case 'char': {
            const l = lines[i] ?? '';
            const p = m.at % (l.length + 1);
            lines[i] = l.slice(0, p) + m.s + l.slice(p + 1);
            break;
          }
          case 'truncate': {
            text = lines.join('\r\n');
            text = text.slice(0, m.at % (text.length + 1));
            lines = text.split(/\r?\n/);
            break;
          }
          case 'digits':
            // Replace the first number on the line: ports, payload types, versions, rates.
            lines[i] = (lines[i] ?? '').replace(/\d+/, String(m.n));
            break;
        }
      }
      checkAccepted(lines.join('\r\n'));
    }),
    { numRuns: 3000 },
  );
});

test.run();
