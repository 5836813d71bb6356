import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isRtcp, isRtp, RtpPacket } from 'rtp.js/packets';
import { classifyPacket, RtpDrop, RtpHeaderReader, RtpPacketizer } from '../rtp/index.js';
import type { PacketClass } from '../rtp/index.js';
import { prng } from './helpers/prng.js';

// ---------------------------------------------------------------------------------------------
// Fixtures (RFC 3550 §5.1 layout; one comment per field)

/** Minimal PCMU packet: fixed header only, 8 bytes of payload. */
const PCMU_MINIMAL = new Uint8Array([
  0x80, //                   V=2, P=0, X=0, CC=0
  0x00, //                   M=0, PT=0 (PCMU)
  0x12, 0x34, //             sequence number 4660
  0x00, 0x00, 0x03, 0x20, // timestamp 800
  0xde, 0xad, 0xbe, 0xef, // SSRC 0xdeadbeef
  0xff, 0xfe, 0xfd, 0xfc, 0x7f, 0x7e, 0x7d, 0x7c, // payload: 8 µ-law samples (1 ms at 8 kHz)
]);

/** PCMA packet from a mixer: marker set, two contributing sources. */
const PCMA_MARKER_2CSRC = new Uint8Array([
  0x82, //                   V=2, P=0, X=0, CC=2
  0x88, //                   M=1, PT=8 (PCMA)
  0x00, 0x01, //             sequence number 1
  0x00, 0x01, 0x00, 0x00, // timestamp 65536
  0x80, 0x00, 0x00, 0x01, // SSRC 0x80000001 (bit 31 set: must stay positive)
  0x11, 0x11, 0x11, 0x11, // CSRC[0] 0x11111111
  0xff, 0xff, 0xff, 0xfe, // CSRC[1] 0xfffffffe
  0xd5, 0xd5, 0xd5, 0xd5, // payload: 4 A-law silence bytes
]);

/** Opus-style packet with an RFC 8285 one-byte extension, padding, seq and timestamp at their maxima. */
const EXT_PADDED_WRAP = new Uint8Array([
  0xb0, //                   V=2, P=1, X=1, CC=0
  0x6f, //                   M=0, PT=111 (dynamic)
  0xff, 0xff, //             sequence number 65535
  0xff, 0xff, 0xff, 0xff, // timestamp 4294967295
  0x01, 0x02, 0x03, 0x04, // SSRC 0x01020304
  0xbe, 0xde, //             extension profile 0xBEDE (RFC 8285 one-byte elements)
  0x00, 0x01, //             extension length: 1 word (4 bytes)
  0x10, 0x8a, //             element ID=1, L=0 (1 byte): 0x8a (RFC 6464 audio level V=1, 10 -dBov)
  0x00, 0x00, //             two alignment bytes
  0xfc, 0xff, 0xfe, //       payload: 3 bytes (Opus TOC 0xfc + frame)
  0x00, 0x00, 0x03, //       padding: 3 bytes, the last one counts them
]);

interface Expected {
  padding: boolean;
  extension: boolean;
  csrcs: number[];
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  extensionProfile: number;
  extensionLength: number;
  /** Relative to the packet's first byte. */
  payloadStart: number;
  payloadLength: number;
  paddingLength: number;
}

const FIXTURES: { name: string; bytes: Uint8Array; expected: Expected }[] = [
  {
    name: 'minimal PCMU',
    bytes: PCMU_MINIMAL,
    expected: {
      padding: false,
      extension: false,
      csrcs: [],
      marker: false,
      payloadType: 0,
      sequenceNumber: 4660,
      timestamp: 800,
      ssrc: 0xdeadbeef,
      extensionProfile: 0,
      extensionLength: 0,
      payloadStart: 12,
      payloadLength: 8,
      paddingLength: 0,
    },
  },
  {
    name: 'PCMA with marker and 2 CSRCs',
    bytes: PCMA_MARKER_2CSRC,
    expected: {
      padding: false,
      extension: false,
      csrcs: [0x11111111, 0xfffffffe],
      marker: true,
      payloadType: 8,
      sequenceNumber: 1,
      timestamp: 65536,
      ssrc: 0x80000001,
      extensionProfile: 0,
      extensionLength: 0,
      payloadStart: 20,
      payloadLength: 4,
      paddingLength: 0,
    },
  },
  {
    name: 'one-byte extension, padding, seq 65535, timestamp 0xFFFFFFFF',
    bytes: EXT_PADDED_WRAP,
    expected: {
      padding: true,
      extension: true,
      csrcs: [],
      marker: false,
      payloadType: 111,
      sequenceNumber: 65535,
      timestamp: 0xffffffff,
      ssrc: 0x01020304,
      extensionProfile: 0xbede,
      extensionLength: 4,
      payloadStart: 20,
      payloadLength: 3,
      paddingLength: 3,
    },
  },
];

/** The bytes placed at `offset` inside a larger buffer, as in a socket receive slab. */
function embed(bytes: Uint8Array, offset: number, total = bytes.length + offset + 7): Uint8Array {
  const slab = new Uint8Array(total).fill(0xaa);
  slab.set(bytes, offset);
  return slab;
}

function viewOf(bytes: Uint8Array, offset: number, length: number): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset + offset, length);
}

/** Our reader, after a successful parse, against rtp.js's full parser on the same bytes. */
function crossCheck(r: RtpHeaderReader, bytes: Uint8Array, offset: number, length: number): void {
  const view = viewOf(bytes, offset, length);
  assert.ok(isRtp(view), 'rtp.js isRtp agrees');
  assert.not.ok(isRtcp(view), 'rtp.js isRtcp agrees');
  const p = new RtpPacket(view);
  assert.is(r.payloadType, p.getPayloadType(), 'payloadType vs rtp.js');
  assert.is(r.sequenceNumber, p.getSequenceNumber(), 'sequenceNumber vs rtp.js');
  assert.is(r.timestamp, p.getTimestamp(), 'timestamp vs rtp.js');
  assert.is(r.ssrc, p.getSsrc(), 'ssrc vs rtp.js');
  assert.is(r.marker, p.getMarker(), 'marker vs rtp.js');
  const csrcs = p.getCsrcs();
  assert.is(r.csrcCount, csrcs.length, 'csrcCount vs rtp.js');
  for (let i = 0; i < csrcs.length; i++) assert.is(r.csrcAt(i), csrcs[i], `CSRC ${i} vs rtp.js`);
  assert.is(r.paddingLength, p.getPadding(), 'padding vs rtp.js');
  const payload = p.getPayload();
  assert.is(r.payloadLength, payload.byteLength, 'payload length vs rtp.js');
  assert.is(r.payloadOffset, payload.byteOffset - bytes.byteOffset, 'payload position vs rtp.js');
}

test('fixtures: every field, at offset 0 and inside a larger buffer, agrees with rtp.js', () => {
  const r = new RtpHeaderReader();
  for (const { name, bytes, expected: e } of FIXTURES) {
    for (const offset of [0, 37]) {
      const slab = offset === 0 ? bytes : embed(bytes, offset);
      assert.is(r.parse(slab, offset, bytes.length), RtpDrop.None, name);
      assert.is(r.version, 2, `${name}: version`);
      assert.is(r.padding, e.padding, `${name}: padding`);
      assert.is(r.extension, e.extension, `${name}: extension`);
      assert.is(r.csrcCount, e.csrcs.length, `${name}: csrcCount`);
      for (let i = 0; i < e.csrcs.length; i++) assert.is(r.csrcAt(i), e.csrcs[i], `${name}: CSRC ${i}`);
      assert.is(r.marker, e.marker, `${name}: marker`);
      assert.is(r.payloadType, e.payloadType, `${name}: payloadType`);
      assert.is(r.sequenceNumber, e.sequenceNumber, `${name}: sequenceNumber`);
      assert.is(r.timestamp, e.timestamp, `${name}: timestamp`);
      assert.is(r.ssrc, e.ssrc, `${name}: ssrc`);
      assert.is(r.extensionProfile, e.extensionProfile, `${name}: extensionProfile`);
      assert.is(r.extensionLength, e.extensionLength, `${name}: extensionLength`);
      assert.is(r.payloadOffset, offset + e.payloadStart, `${name}: payloadOffset`);
      assert.is(r.payloadLength, e.payloadLength, `${name}: payloadLength`);
      assert.is(r.paddingLength, e.paddingLength, `${name}: paddingLength`);
      crossCheck(r, slab, offset, bytes.length);
    }
  }
});

test('the extension is skipped by length; its bytes are where rtp.js finds its elements', () => {
  const r = new RtpHeaderReader();
  assert.is(r.parse(EXT_PADDED_WRAP, 0, EXT_PADDED_WRAP.length), RtpDrop.None);
  const p = new RtpPacket(viewOf(EXT_PADDED_WRAP, 0, EXT_PADDED_WRAP.length));
  assert.ok(p.hasOneByteExtensions());
  const level = p.getExtension(1);
  assert.ok(level !== undefined);
  assert.is(level.byteLength, 1);
  assert.is(level.byteOffset, r.extensionOffset + 1, 'element data follows its 1-byte ID/L header');
  assert.is(EXT_PADDED_WRAP[r.extensionOffset], 0x10);
});

test('csrcAt() outside [0, csrcCount) is a caller error', () => {
  const r = new RtpHeaderReader();
  r.parse(PCMA_MARKER_2CSRC, 0, PCMA_MARKER_2CSRC.length);
  for (const i of [-1, 2, 1.5]) {
    try {
      r.csrcAt(i);
      assert.unreachable(`csrcAt(${i})`);
    } catch (err) {
      assert.is((err as { code?: string }).code, 'ERR_OUT_OF_RANGE');
    }
  }
});

test('round trip: RtpPacketizer headers read back by our reader and by rtp.js, across both wraps', () => {
  const pz = new RtpPacketizer({
    payloadType: 0,
    clockRate: 8000,
    ssrc: 0xcafebabe,
    initialSequence: 65534,
    initialTimestamp: 0xffffff00,
  });
  const r = new RtpHeaderReader();
  const out = new Uint8Array(12 + 160 + 5);
  const expectSeq = [65534, 65535, 0, 1];
  const expectTs = [0xffffff00, 0xffffffa0, 0x00000040, 0x00000220];
  for (let i = 0; i < 4; i++) {
    if (i === 3) pz.skip(320); // 40 ms of silence before the last packet
    assert.is(pz.writeHeader(out, 5, 160, i === 0), 12);
    out.fill(0xff, 17, 17 + 160);
    assert.is(r.parse(out, 5, 172), RtpDrop.None);
    assert.is(r.version, 2);
    assert.is(r.padding, false);
    assert.is(r.extension, false);
    assert.is(r.csrcCount, 0);
    assert.is(r.marker, i === 0, 'marker on the first packet of the talkspurt only');
    assert.is(r.payloadType, 0);
    assert.is(r.sequenceNumber, expectSeq[i]);
    assert.is(r.timestamp, expectTs[i]);
    assert.is(r.ssrc, 0xcafebabe);
    assert.is(r.payloadOffset, 17);
    assert.is(r.payloadLength, 160);
    crossCheck(r, out, 5, 172);
  }
  assert.is(pz.sequenceNumber, 2);
  assert.is(pz.timestamp, 0x220 + 160);
});

test('round trip: a packet serialized by rtp.js (CSRCs, one-byte extension, padding) is read by ours', () => {
  const p = new RtpPacket();
  p.setPayloadType(96);
  p.setSequenceNumber(40000);
  p.setTimestamp(0x87654321);
  p.setSsrc(0xfedcba98);
  p.setMarker(true);
  p.setCsrcs([7, 0x80000000]);
  p.enableOneByteExtensions();
  p.setExtension(3, new DataView(new Uint8Array([1, 2, 3]).buffer));
  p.setPayload(new DataView(new Uint8Array([9, 8, 7, 6, 5]).buffer));
  p.padTo4Bytes();
  const view = p.getView();
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const r = new RtpHeaderReader();
  assert.is(r.parse(bytes, 0, bytes.length), RtpDrop.None);
  assert.is(r.payloadType, 96);
  assert.is(r.sequenceNumber, 40000);
  assert.is(r.timestamp, 0x87654321);
  assert.is(r.ssrc, 0xfedcba98);
  assert.is(r.marker, true);
  assert.is(r.csrcCount, 2);
  assert.is(r.csrcAt(1), 0x80000000);
  assert.is(r.extensionProfile, 0xbede);
  assert.is(r.payloadLength, 5);
  assert.equal(Array.from(bytes.subarray(r.payloadOffset, r.payloadOffset + r.payloadLength)), [9, 8, 7, 6, 5]);
  assert.is(r.paddingLength, p.getPadding());
  assert.ok(r.paddingLength > 0, 'padTo4Bytes added padding');
  crossCheck(r, bytes, 0, bytes.length);
});

// ---------------------------------------------------------------------------------------------
// Malformed input: each named, with its drop code; never a throw.

/** A valid 12-byte fixed header (PCMU, seq 1, ts 160, SSRC 1) followed by `rest`. */
function rtp(b0: number, b1: number, ...rest: number[]): Uint8Array {
  return new Uint8Array([b0, b1, 0x00, 0x01, 0x00, 0x00, 0x00, 0xa0, 0x00, 0x00, 0x00, 0x01, ...rest]);
}

const MALFORMED: { name: string; bytes: Uint8Array; drop: RtpDrop }[] = [
  { name: 'empty buffer', bytes: new Uint8Array(0), drop: RtpDrop.TooShort },
  { name: '11 bytes', bytes: rtp(0x80, 0x00).subarray(0, 11), drop: RtpDrop.TooShort },
  { name: '3 bytes of an RTCP header', bytes: new Uint8Array([0x80, 0xc8, 0x00]), drop: RtpDrop.TooShort },
  { name: 'version 0', bytes: rtp(0x00, 0x00, 0xff), drop: RtpDrop.BadVersion },
  { name: 'version 1', bytes: rtp(0x40, 0x00, 0xff), drop: RtpDrop.BadVersion },
  { name: 'version 3', bytes: rtp(0xc0, 0x00, 0xff), drop: RtpDrop.BadVersion },
  {
    name: 'CSRC count beyond length (CC=3, 2 CSRCs present)',
    bytes: rtp(0x83, 0x00, 0, 0, 0, 1, 0, 0, 0, 2),
    drop: RtpDrop.BadCsrc,
  },
  { name: 'CSRC count 15 on a bare header', bytes: rtp(0x8f, 0x00), drop: RtpDrop.BadCsrc },
  { name: 'extension header cut off (X=1, 2 of 4 bytes)', bytes: rtp(0x90, 0x00, 0xbe, 0xde), drop: RtpDrop.BadExtension },
  {
    name: 'extension length beyond length (2 words announced, 1 present)',
    bytes: rtp(0x90, 0x00, 0xbe, 0xde, 0x00, 0x02, 0x10, 0x01, 0x00, 0x00),
    drop: RtpDrop.BadExtension,
  },
  { name: 'padding length 0 with P set', bytes: rtp(0xa0, 0x00, 0xff, 0xff, 0xff, 0x00), drop: RtpDrop.BadPadding },
  {
    name: 'padding longer than payload (count 5, 4 bytes follow the header)',
    bytes: rtp(0xa0, 0x00, 0xff, 0x00, 0x00, 0x05),
    drop: RtpDrop.BadPadding,
  },
  { name: 'P set on a bare header (count byte is the SSRC)', bytes: rtp(0xa0, 0x00), drop: RtpDrop.BadPadding },
  {
    name: 'padding spilling into the extension',
    bytes: rtp(0xb0, 0x00, 0xbe, 0xde, 0x00, 0x01, 0x10, 0x01, 0x00, 0x02),
    drop: RtpDrop.BadPadding,
  },
  {
    name: 'RTCP SR on the RTP port (PT 200)',
    bytes: new Uint8Array([
      0x80, //                   V=2, P=0, RC=0
      0xc8, //                   PT=200 (SR)
      0x00, 0x06, //             length 6 (words - 1): 28 bytes
      0x00, 0x00, 0x00, 0x01, // sender SSRC
      0xe8, 0x00, 0x00, 0x00, // NTP timestamp, seconds
      0x00, 0x00, 0x00, 0x00, // NTP timestamp, fraction
      0x00, 0x00, 0x03, 0x20, // RTP timestamp 800
      0x00, 0x00, 0x00, 0x05, // sender's packet count 5
      0x00, 0x00, 0x03, 0x20, // sender's octet count 800
    ]),
    drop: RtpDrop.Rtcp,
  },
  {
    name: 'RTCP RR on the RTP port (PT 201), no report blocks: 8 bytes',
    bytes: new Uint8Array([
      0x80, //                   V=2, P=0, RC=0
      0xc9, //                   PT=201 (RR)
      0x00, 0x01, //             length 1: 8 bytes
      0x00, 0x00, 0x00, 0x02, // reporter SSRC
    ]),
    drop: RtpDrop.Rtcp,
  },
  {
    name: 'RTP PT 64 with marker: 192 in the second byte, the RFC 5761 clash, read as RTCP',
    bytes: rtp(0x80, 0xc0, 0xff),
    drop: RtpDrop.Rtcp,
  },
  {
    name: 'STUN binding request',
    bytes: new Uint8Array([
      0x00, 0x01, //             message type: Binding Request
      0x00, 0x00, //             message length 0
      0x21, 0x12, 0xa4, 0x42, // magic cookie
      0x63, 0xc7, 0x11, 0x7e, 0x07, 0x14, 0x27, 0x8f, 0x5d, 0xed, 0x32, 0x21, // transaction ID
    ]),
    drop: RtpDrop.BadVersion,
  },
  {
    name: 'DTLS record first byte 22',
    bytes: new Uint8Array([
      0x16, //                   content type 22: handshake
      0xfe, 0xfd, //             DTLS 1.2
      0x00, 0x00, //             epoch 0
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // sequence number 0
      0x00, 0x01, //             length 1
      0x01, //                   handshake type: ClientHello (truncated)
    ]),
    drop: RtpDrop.BadVersion,
  },
];

test('malformed input table: each named input gives its drop code and never throws', () => {
  const r = new RtpHeaderReader();
  for (const { name, bytes, drop } of MALFORMED) {
    let got: RtpDrop | 'threw';
    try {
      got = r.parse(bytes, 0, bytes.length);
    } catch {
      got = 'threw';
    }
    assert.is(got, drop, name);
    // The same bytes inside a larger buffer: nothing after `length` may be read.
    const slab = embed(bytes, 3);
    assert.is(r.parse(slab, 3, bytes.length), drop, `${name} (embedded)`);
    if (drop !== RtpDrop.None) assert.is(r.payloadLength, 0, `${name}: no payload on a drop`);
    // rtp.js agrees that these are not RTP packets it can read (it needs at least 2 bytes).
    if (bytes.length >= 2 && drop !== RtpDrop.Rtcp) {
      let rtpJsAccepts = true;
      try {
        if (!isRtp(viewOf(bytes, 0, bytes.length))) rtpJsAccepts = false;
        else new RtpPacket(viewOf(bytes, 0, bytes.length));
      } catch {
        rtpJsAccepts = false;
      }
      // rtp.js accepts a padding count of 0 (it reads it as "no padding"); RFC 3550 §5.1 does not.
      if (name !== 'padding length 0 with P set') assert.not.ok(rtpJsAccepts, `${name}: rtp.js rejects too`);
    }
    if (drop === RtpDrop.Rtcp) assert.ok(isRtcp(viewOf(bytes, 0, bytes.length)), `${name}: rtp.js isRtcp`);
  }
});


test('10000 random datagrams (seeded): never a throw; accepted ones match rtp.js; classifiers agree', () => {
  const rand = prng(20240607);
  const r = new RtpHeaderReader();
  const slab = new Uint8Array(64 + 16);
  const counts = new Map<RtpDrop, number>();
  let crossChecked = 0;
  for (let n = 0; n < 10000; n++) {
    const length = Math.floor(rand() * 64);
    const offset = Math.floor(rand() * 16);
    for (let i = 0; i < slab.length; i++) slab[i] = Math.floor(rand() * 256);
    // Half the time force V=2 and a small CSRC count, so the deeper checks are reached too.
    if (length > 0 && rand() < 0.5) slab[offset] = 0x80 | (slab[offset]! & 0x30) | (slab[offset]! & 0x03);
    let drop: RtpDrop;
    try {
      drop = r.parse(slab, offset, length);
    } catch (err) {
      assert.unreachable(`parse threw on datagram ${n}: ${String(err)}`);
      return;
    }
    counts.set(drop, (counts.get(drop) ?? 0) + 1);
    const cls = classifyPacket(slab, offset, length);
    if (drop === RtpDrop.None) {
      assert.is(cls, 'rtp', `datagram ${n}: accepted RTP classifies as rtp`);
      assert.ok(r.payloadOffset + r.payloadLength + r.paddingLength === offset + length, `datagram ${n}: spans add up`);
      // rtp.js also parses RFC 8285 elements, which we skip: it may reject their contents.
      const elements = r.extensionProfile === 0xbede || (r.extensionProfile & 0xfff0) === 0x1000;
      let parsedByRtpJs = true;
      try {
        new RtpPacket(viewOf(slab, offset, length));
      } catch {
        parsedByRtpJs = false;
      }
      if (parsedByRtpJs) {
        crossCheck(r, slab, offset, length);
        crossChecked++;
      } else assert.ok(r.extension && elements, `datagram ${n}: rtp.js rejected an RTP packet we accepted`);
    }
    if (drop === RtpDrop.Rtcp) assert.is(cls, 'rtcp', `datagram ${n}: RTCP classifies as rtcp`);
    if (length >= 12) {
      const view = viewOf(slab, offset, length);
      assert.is(isRtp(view), cls === 'rtp' || cls === 'rtcp', `datagram ${n}: isRtp vs classifyPacket`);
      assert.is(isRtcp(view), cls === 'rtcp', `datagram ${n}: isRtcp vs classifyPacket`);
    }
  }
  for (const code of Object.values(RtpDrop)) {
    assert.ok((counts.get(code) ?? 0) > 0, `drop code ${code} was exercised`);
  }
  assert.ok(crossChecked > 500, `${crossChecked} accepted datagrams cross-checked against rtp.js`);
});

test('parse(): a span outside the buffer is a caller error, not a drop', () => {
  const r = new RtpHeaderReader();
  const cases: [string, number, number, string][] = [
    ['length past the end', 0, PCMU_MINIMAL.length + 1, 'ERR_OUT_OF_RANGE'],
    ['negative offset', -1, 12, 'ERR_OUT_OF_RANGE'],
    ['fractional length', 0, 12.5, 'ERR_INVALID_ARGUMENT'],
  ];
  for (const [name, offset, length, code] of cases) {
    try {
      r.parse(PCMU_MINIMAL, offset, length);
      assert.unreachable(name);
    } catch (err) {
      assert.is((err as { code?: string }).code, code, name);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// RFC 7983 demux

const CLASSIFY: { name: string; bytes: number[]; expected: PacketClass }[] = [
  { name: 'empty', bytes: [], expected: 'other' },
  { name: 'STUN binding request (first byte 0)', bytes: [0x00, 0x01, 0x00, 0x00], expected: 'stun' },
  { name: 'STUN binding success (first byte 1)', bytes: [0x01, 0x01, 0x00, 0x00], expected: 'stun' },
  { name: 'first byte 3: top of the STUN range', bytes: [0x03, 0x00], expected: 'stun' },
  { name: 'first byte 4: unassigned', bytes: [0x04, 0x00], expected: 'other' },
  { name: 'ZRTP (first byte 16)', bytes: [0x10, 0x00], expected: 'other' },
  { name: 'DTLS ChangeCipherSpec (20)', bytes: [0x14, 0xfe, 0xfd], expected: 'dtls' },
  { name: 'DTLS handshake (22)', bytes: [0x16, 0xfe, 0xfd], expected: 'dtls' },
  { name: 'DTLS application data (23)', bytes: [0x17, 0xfe, 0xfd], expected: 'dtls' },
  { name: 'first byte 63: top of the DTLS range', bytes: [0x3f, 0x00], expected: 'dtls' },
  { name: 'TURN ChannelData (64)', bytes: [0x40, 0x00, 0x00, 0x04], expected: 'other' },
  { name: 'first byte 127', bytes: [0x7f, 0x00], expected: 'other' },
  { name: 'RTP PCMU', bytes: [0x80, 0x00], expected: 'rtp' },
  { name: 'RTP PT 63 with marker (second byte 191)', bytes: [0x80, 0xbf], expected: 'rtp' },
  { name: 'RTCP SR (200)', bytes: [0x80, 0xc8], expected: 'rtcp' },
  { name: 'RTCP RR with padding and RC=1 (first byte 0xa1, 201)', bytes: [0xa1, 0xc9], expected: 'rtcp' },
  { name: 'second byte 192: RTP PT 64 with marker, the RFC 5761 clash', bytes: [0x80, 0xc0], expected: 'rtcp' },
  { name: 'second byte 223: top of the RTCP range', bytes: [0x80, 0xdf], expected: 'rtcp' },
  { name: 'second byte 224: RTP PT 96 with marker', bytes: [0x80, 0xe0], expected: 'rtp' },
  { name: 'first byte 191: last of the RTP range', bytes: [0xbf, 0x00], expected: 'rtp' },
  { name: 'first byte 192: version 3', bytes: [0xc0, 0x00], expected: 'other' },
  { name: 'first byte 255', bytes: [0xff, 0xff], expected: 'other' },
  { name: 'a lone RTP-range byte', bytes: [0x80], expected: 'other' },
];

test('classifyPacket table (RFC 7983 §7, RFC 5761 §4)', () => {
  for (const { name, bytes, expected } of CLASSIFY) {
    const b = new Uint8Array(bytes);
    assert.is(classifyPacket(b, 0, b.length), expected, name);
    const slab = embed(b, 9);
    assert.is(classifyPacket(slab, 9, b.length), expected, `${name} (embedded)`);
  }
  for (const { name, bytes } of FIXTURES) assert.is(classifyPacket(bytes, 0, bytes.length), 'rtp', name);
  for (const { name, bytes, drop } of MALFORMED) {
    if (drop === RtpDrop.Rtcp && bytes.length >= 4) assert.is(classifyPacket(bytes, 0, bytes.length), 'rtcp', name);
  }
});

// ---------------------------------------------------------------------------------------------
// RtpPacketizer options and misuse

test('RtpPacketizer: random SSRC, sequence and timestamp when not given, all in range', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 8; i++) {
    const pz = new RtpPacketizer({ payloadType: 8, clockRate: 8000 });
    assert.ok(pz.ssrc >= 0 && pz.ssrc <= 0xffffffff && Number.isInteger(pz.ssrc));
    assert.ok(pz.sequenceNumber >= 0 && pz.sequenceNumber <= 0xffff);
    assert.ok(pz.timestamp >= 0 && pz.timestamp <= 0xffffffff);
    assert.is(pz.payloadType, 8);
    assert.is(pz.clockRate, 8000);
    seen.add(pz.ssrc);
  }
  assert.ok(seen.size > 1, 'SSRCs differ between streams');
});

test('RtpPacketizer: bad options and misuse throw with stable codes', () => {
  const cases: [string, () => void, string][] = [
    ['payloadType 128', () => new RtpPacketizer({ payloadType: 128, clockRate: 8000 }), 'ERR_OUT_OF_RANGE'],
    ['payloadType -1', () => new RtpPacketizer({ payloadType: -1, clockRate: 8000 }), 'ERR_OUT_OF_RANGE'],
    ['payloadType 1.5', () => new RtpPacketizer({ payloadType: 1.5, clockRate: 8000 }), 'ERR_INVALID_ARGUMENT'],
    ['clockRate 0', () => new RtpPacketizer({ payloadType: 0, clockRate: 0 }), 'ERR_OUT_OF_RANGE'],
    ['ssrc 2^32', () => new RtpPacketizer({ payloadType: 0, clockRate: 8000, ssrc: 2 ** 32 }), 'ERR_OUT_OF_RANGE'],
    [
      'initialSequence 65536',
      () => new RtpPacketizer({ payloadType: 0, clockRate: 8000, initialSequence: 65536 }),
      'ERR_OUT_OF_RANGE',
    ],
    [
      'initialTimestamp NaN',
      () => new RtpPacketizer({ payloadType: 0, clockRate: 8000, initialTimestamp: Number.NaN }),
      'ERR_INVALID_ARGUMENT',
    ],
    [
      'writeHeader into 11 bytes',
      () => new RtpPacketizer({ payloadType: 0, clockRate: 8000 }).writeHeader(new Uint8Array(11), 0, 160, false),
      'ERR_OUT_OF_RANGE',
    ],
    [
      'writeHeader with negative samples',
      () => new RtpPacketizer({ payloadType: 0, clockRate: 8000 }).writeHeader(new Uint8Array(12), 0, -160, false),
      'ERR_OUT_OF_RANGE',
    ],
    ['skip 2^32', () => new RtpPacketizer({ payloadType: 0, clockRate: 8000 }).skip(2 ** 32), 'ERR_OUT_OF_RANGE'],
  ];
  for (const [name, fn, code] of cases) {
    try {
      fn();
      assert.unreachable(name);
    } catch (err) {
      assert.is((err as { code?: string }).code, code, name);
    }
  }
});

test.run();
