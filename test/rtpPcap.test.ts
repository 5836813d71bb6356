/**
 * test/helpers/rtpPcap.ts: the pcap it writes, read back byte by byte (pcap, Ethernet, IPv4, UDP,
 * RTP, RFC 4733, PCMU audio), and replayed by a real sipp (play_pcap_audio) to a media socket of
 * ours behind a minimal SIP responder: every packet arrives with identical RTP bytes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DtmfDetector, rms, toneFraction, toneFrames } from '../dsp/index.js';
import { decodePcmu, parseTelephoneEvent } from '../rtp/index.js';
import { pcapCallerScenario } from './helpers/sippScenarios.js';
import type { TelephoneEventFields } from '../rtp/index.js';
import { readPcap } from './helpers/pcap.js';
import { DTMF_FREQUENCIES, writeRtpPcap } from './helpers/rtpPcap.js';
import type { MediaSegment } from './helpers/rtpPcap.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-rtppcap-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** 1000 Hz 200 ms, silence 100 ms, in-band '5' 100 ms, RFC 4733 '#' 100 ms, 1500 Hz 100 ms. */
const script: MediaSegment[] = [
  { kind: 'tone', hz: 1000, ms: 200 },
  { kind: 'silence', ms: 100 },
  { kind: 'dtmf-inband', digit: '5', ms: 100 },
  { kind: 'dtmf-rfc4733', digit: '#', ms: 100 },
  { kind: 'tone', hz: 1500, ms: 100 },
];
// 10 + 5 + 5 audio, 5 + 2 event, 5 audio.
const AUDIO_BEFORE = 20;
const EVENT_PACKETS = 7;
const TOTAL = AUDIO_BEFORE + EVENT_PACKETS + 5;
const SSRC = 0xcafe0001;

interface RtpView {
  timeUs: number;
  bytes: Buffer;
  seq: number;
  ts: number;
  ssrc: number;
  pt: number;
  marker: boolean;
  payload: Buffer;
}

function ipChecksumOk(h: Buffer): boolean {
  let s = 0;
  for (let i = 0; i < h.length; i += 2) s += h.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s === 0xffff;
}

function rtpView(bytes: Buffer, timeUs = 0): RtpView {
  return {
    timeUs,
    bytes,
    seq: bytes.readUInt16BE(2),
    ts: bytes.readUInt32BE(4),
    ssrc: bytes.readUInt32BE(8),
    pt: bytes[1]! & 0x7f,
    marker: (bytes[1]! & 0x80) !== 0,
    payload: bytes.subarray(12),
  };
}

/** A strict reader of what writeRtpPcap promises: classic pcap, Ethernet, IPv4, UDP, RTP v2. */
function readRtpPcap(buf: Buffer): RtpView[] {
  assert.is(buf.readUInt32LE(0), 0xa1b2c3d4, 'magic (microseconds, little-endian)');
  assert.is(buf.readUInt16LE(4), 2);
  assert.is(buf.readUInt16LE(6), 4);
  assert.is(buf.readUInt32LE(16), 65535, 'snaplen');
  assert.is(buf.readUInt32LE(20), 1, 'link type Ethernet');
  const out: RtpView[] = [];
  let o = 24;
  while (o < buf.length) {
    const sec = buf.readUInt32LE(o);
    const usec = buf.readUInt32LE(o + 4);
    const incl = buf.readUInt32LE(o + 8);
    assert.is(buf.readUInt32LE(o + 12), incl, 'not truncated');
    const f = buf.subarray(o + 16, o + 16 + incl);
    assert.is(f.length, incl);
    o += 16 + incl;
    assert.is(f.readUInt16BE(12), 0x0800, 'ethertype IPv4');
    const ip = f.subarray(14);
    assert.is(ip[0], 0x45, 'IPv4, 20-byte header');
    assert.is(ip.readUInt16BE(2), ip.length, 'IP total length');
    assert.is(ip[9], 17, 'UDP');
    assert.ok(ipChecksumOk(ip.subarray(0, 20)), 'IP header checksum');
    const udp = ip.subarray(20);
    assert.is(udp.readUInt16BE(4), udp.length, 'UDP length');
    const rtp = Buffer.from(udp.subarray(8));
    assert.is(rtp[0], 0x80, 'RTP v2, no padding, extension or CSRC');
    out.push(rtpView(rtp, sec * 1e6 + usec));
  }
  return out;
}

function decode(payload: Buffer): Int16Array {
  const pcm = new Int16Array(payload.length);
  decodePcmu(payload, 0, payload.length, pcm, 0);
  return pcm;
}

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

test('writeRtpPcap: pcap framing, RTP header continuity, RFC 4733 events and PCMU audio', () => {
  const file = path.join(dir, 'script.pcap');
  const r = writeRtpPcap(file, script, { ssrc: SSRC });
  assert.equal(r, { packets: TOTAL, durationMs: TOTAL * 20 });
  const raw = fs.readFileSync(file);
  const pkts = readRtpPcap(raw);
  assert.is(pkts.length, TOTAL);
  // The repo's capture reader sees the same packets.
  const viaHelper = readPcap(raw);
  assert.is(viaHelper.length, TOTAL);
  viaHelper.forEach((p, i) => assert.ok(p.payload.equals(pkts[i]!.bytes), `readPcap packet ${i}`));

  const seq0 = pkts[0]!.seq;
  const ts0 = pkts[0]!.ts;
  const eventTs = ts0 + AUDIO_BEFORE * 160;
  pkts.forEach((p, i) => {
    assert.is(p.timeUs - pkts[0]!.timeUs, i * 20_000, `pcap time of packet ${i}`);
    assert.is(p.seq, (seq0 + i) & 0xffff, `seq of packet ${i}`);
    assert.is(p.ssrc, SSRC);
    const isEvent = i >= AUDIO_BEFORE && i < AUDIO_BEFORE + EVENT_PACKETS;
    assert.is(p.pt, isEvent ? 101 : 0, `PT of packet ${i}`);
    assert.is(p.payload.length, isEvent ? 4 : 160);
    const expectTs = i < AUDIO_BEFORE ? ts0 + i * 160 : isEvent ? eventTs : eventTs + 800 + 320 + (i - AUDIO_BEFORE - EVENT_PACKETS) * 160;
    assert.is(p.ts, expectTs >>> 0, `timestamp of packet ${i}`);
    const marker = i === 0 || i === AUDIO_BEFORE || i === AUDIO_BEFORE + EVENT_PACKETS;
    assert.is(p.marker, marker, `marker of packet ${i}`);
  });

  // RFC 4733: '#' = 11, durations growing by 160 up to 800, the last three with E, volume 10.
  const ev: TelephoneEventFields = { event: 0, end: false, volume: 0, duration: 0 };
  const events = pkts.slice(AUDIO_BEFORE, AUDIO_BEFORE + EVENT_PACKETS).map((p) => {
    assert.ok(parseTelephoneEvent(p.payload, 0, p.payload.length, ev));
    assert.is(ev.event, 11);
    assert.is(ev.volume, 10);
    assert.is(p.payload[1]! & 0x40, 0, 'R bit clear');
    return { end: ev.end, duration: ev.duration };
  });
  assert.equal(events.map((e) => e.duration), [160, 320, 480, 640, 800, 800, 800]);
  assert.equal(events.map((e) => e.end), [false, false, false, false, true, true, true]);

  // Audio: decode each segment and look for its tones.
  const audio = pkts.filter((p) => p.pt === 0).map((p) => decode(p.payload));
  const tone1k = concat(audio.slice(0, 10));
  const silence = concat(audio.slice(10, 15));
  const inband = concat(audio.slice(15, 20));
  const tone15 = concat(audio.slice(20, 25));
  assert.is(toneFrames(tone1k, 8000, 1000).toneFrames, 10);
  assert.is(toneFrames(tone15, 8000, 1500).toneFrames, 5);
  // Phase continuous across packets: the whole segment is one clean sine.
  assert.ok(toneFraction(tone1k, 0, tone1k.length, 1000, 8000) > 0.97, 'one phase-continuous 1000 Hz sine');
  const level = rms(tone1k, 0, tone1k.length);
  assert.ok(Math.abs(level - 8000 / Math.SQRT2) < 150, `tone RMS ${level.toFixed(0)} ~ 8000/sqrt(2)`);
  assert.is(rms(silence, 0, silence.length), 0, 'silence decodes to zeros');
  const [row, col] = DTMF_FREQUENCIES['5']!;
  assert.equal([row, col], [770, 1336]);
  for (let f = 0; f < 5; f++) {
    const lo = toneFraction(inband, f * 160, 160, row, 8000);
    const hi = toneFraction(inband, f * 160, 160, col, 8000);
    assert.ok(lo > 0.4 && hi > 0.4 && lo + hi > 0.9, `in-band frame ${f}: row ${lo.toFixed(2)}, column ${hi.toFixed(2)}`);
    assert.ok(toneFraction(inband, f * 160, 160, 697, 8000) < 0.05, 'not the 697 Hz row');
    assert.ok(toneFraction(inband, f * 160, 160, 1209, 8000) < 0.05, 'not the 1209 Hz column');
  }
  // The repo's in-band detector hears exactly one '5' in the whole audio track.
  const digits: string[] = [];
  const detector = new DtmfDetector({ sampleRateHz: 8000, onDigit: (d) => digits.push(d) });
  const track = concat(audio);
  detector.push(track, 0, track.length);
  assert.equal(digits, ['5']);
});

test('writeRtpPcap: options and invalid segments', () => {
  const file = path.join(dir, 'opts.pcap');
  const r = writeRtpPcap(file, [{ kind: 'dtmf-rfc4733', digit: 'd', ms: 20, payloadType: 96 }, { kind: 'silence', ms: 20 }], {
    ssrc: 7,
    firstSeq: 0xffff,
    firstTimestamp: 0xffffff80,
  });
  assert.equal(r, { packets: 4, durationMs: 80 });
  const pkts = readRtpPcap(fs.readFileSync(file));
  assert.equal(pkts.map((p) => p.seq), [0xffff, 0, 1, 2], 'seq wraps');
  assert.equal(pkts.map((p) => p.ts), [0xffffff80, 0xffffff80, 0xffffff80, 0x160], 'ts wraps (the next audio after 3 packets of 20 ms: +480)');
  assert.equal(pkts.map((p) => p.pt), [96, 96, 96, 0]);
  assert.equal(pkts.map((p) => p.marker), [true, false, false, true]);
  // A one-step event: all three packets carry E and the full duration; 'd' is event 15.
  assert.equal(pkts.slice(0, 3).map((p) => [...p.payload]), [[15, 0x8a, 0, 160], [15, 0x8a, 0, 160], [15, 0x8a, 0, 160]]);
  assert.throws(() => writeRtpPcap(file, [{ kind: 'tone', hz: 440, ms: 30 }]), /multiple of 20/);
  assert.throws(() => writeRtpPcap(file, [{ kind: 'silence', ms: 0 }]), /multiple of 20/);
  assert.throws(() => writeRtpPcap(file, [{ kind: 'dtmf-inband', digit: 'x', ms: 20 }]), /DTMF digit/);
  assert.throws(() => writeRtpPcap(file, [{ kind: 'dtmf-rfc4733', digit: '12', ms: 20 }]), /DTMF digit/);
  assert.throws(() => writeRtpPcap(file, [{ kind: 'dtmf-rfc4733', digit: '1', ms: 8200 }]), /16-bit duration/);
});

// ---- end to end with sipp 3.6.1 ----------------------------------------------------------------

function header(msg: string, name: string): string {
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(msg);
  return m?.[1]?.trim() ?? '';
}

async function bind(socket: dgram.Socket): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket.address().port;
}

test('sipp play_pcap_audio delivers every packet of the pcap with identical RTP bytes', async () => {
  const pcapFile = path.join(dir, 'sipp.pcap');
  const { packets, durationMs } = writeRtpPcap(pcapFile, script, { ssrc: SSRC });
  const expected = readRtpPcap(fs.readFileSync(pcapFile));
  const sip = dgram.createSocket('udp4');
  const media = dgram.createSocket('udp4');
  const received: { at: number; from: dgram.RemoteInfo; bytes: Buffer }[] = [];
  const requests: string[] = [];
  let offerPort = -1;
  let child: ChildProcess | null = null;
  try {
    const sipPort = await bind(sip);
    const mediaPort = await bind(media);
    media.on('message', (m, from) => received.push({ at: performance.now(), from, bytes: Buffer.from(m) }));
    sip.on('message', (m, from) => {
      const msg = m.toString();
      const method = /^([A-Z]+) /.exec(msg)?.[1];
      if (!method) return; // a response: none expected
      requests.push(method);
      if (method === 'ACK') return;
      const common = ['Via', 'From', 'Call-ID', 'CSeq'].map((h) => `${h}: ${header(msg, h)}`);
      let reply: string;
      if (method === 'INVITE') {
        offerPort = Number(/^m=audio (\d+)/m.exec(msg)?.[1] ?? -1);
        const body = `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${mediaPort} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n`;
        reply = [
          'SIP/2.0 200 OK',
          ...common,
          `To: ${header(msg, 'To')};tag=rtppcap`,
          `Contact: <sip:responder@127.0.0.1:${sipPort}>`,
          'Content-Type: application/sdp',
          `Content-Length: ${Buffer.byteLength(body)}`,
          '',
          body,
        ].join('\r\n');
      } else {
        reply = ['SIP/2.0 200 OK', ...common, `To: ${header(msg, 'To')}`, 'Content-Length: 0', '', ''].join('\r\n');
      }
      sip.send(reply, from.port, from.address);
    });

    const base = 40000 + 10 * Math.floor(Math.random() * 1900);
    const sippSip = base;
    const sippMedia = base + 2;
    const scenario = path.join(dir, 'play.xml');
    fs.writeFileSync(scenario, pcapCallerScenario(pcapFile, durationMs + 500));
    const proc = spawn(
      'sipp',
      ['-sf', scenario, '-s', 'play', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-p', String(sippSip), '-mp', String(sippMedia), '-m', '1', '-nostdin', `127.0.0.1:${sipPort}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    let output = '';
    proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      proc.on('close', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    child = null;
    assert.is(code, 0, `sipp failed: ${output.slice(-800)}`);
    assert.equal(requests, ['INVITE', 'ACK', 'BYE']);
    assert.is(offerPort, sippMedia, 'the offer names -mp');

    // Every packet, in order, byte for byte: seq, ts, marker, PT, SSRC and payload.
    assert.is(received.length, packets, `received ${received.length} of ${packets} packets`);
    received.forEach((r, i) => {
      const got = rtpView(r.bytes);
      const want = expected[i]!;
      assert.equal([got.seq, got.ts, got.marker, got.pt, got.ssrc], [want.seq, want.ts, want.marker, want.pt, want.ssrc], `header of packet ${i}`);
      assert.ok(r.bytes.equals(want.bytes), `bytes of packet ${i}`);
      // sipp sends from its media address and port (the pcap's 10.0.0.1:40000 are rewritten).
      assert.is(r.from.address, '127.0.0.1');
      assert.is(r.from.port, sippMedia, `source port of packet ${i}`);
    });
    // Paced by the pcap's timestamps: 31 gaps of 20 ms (the first one too: a file starting at
    // t = 0 made sipp send the first two packets together).
    const spread = received[received.length - 1]!.at - received[0]!.at;
    const want = (packets - 1) * 20;
    assert.ok(spread > want - 20 && spread < want + 200, `packets spread over ${spread.toFixed(0)} ms, pcap ${want} ms`);
    const firstGap = received[1]!.at - received[0]!.at;
    assert.ok(firstGap > 10, `first gap ${firstGap.toFixed(1)} ms`);
  } finally {
    child?.kill('SIGKILL');
    sip.close();
    media.close();
  }
});

test.run();
