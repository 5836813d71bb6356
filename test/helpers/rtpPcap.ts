/**
 * Scripted caller media as a pcap file for sipp's `<exec play_pcap_audio="file.pcap"/>`: PCMU
 * tones, silence, in-band DTMF (dual tones inside the PCMU audio) and RFC 4733 telephone-events,
 * all in one RTP stream (one SSRC, continuous sequence numbers and timestamps, 20 ms packets).
 *
 * The file is classic libpcap (magic 0xa1b2c3d4 written little-endian, version 2.4, link type 1
 * Ethernet, like sipp's own /usr/share/sip-tester/*.pcap) holding Ethernet + IPv4 + UDP + RTP,
 * one packet every 20 ms from the first (dated 2024-01-01, not 0: see START_SEC).
 *
 * What sipp 3.6.1 does with it: it keeps only the UDP header and payload (the Ethernet and IP
 * headers, addresses included, are dropped) and sends them from a raw socket (so root) bound to
 * its media address (-mi) to the c= address of the SDP answer; it rewrites the UDP source port
 * to its media port (-mp) and the destination port to the m= port of the answer (each plus the
 * packet's offset from the lowest destination port in the file, 0 here), recomputes the UDP
 * checksum, and paces the packets by the pcap timestamps. The RTP bytes go out unchanged.
 *
 * Stream layout:
 * - audio (tone, silence, in-band DTMF): one PCMU packet per 20 ms, timestamp +160 each; marker
 *   on the first packet of the stream and on the first audio packet after an RFC 4733 event;
 * - RFC 4733 event of `ms` (n = ms / 20 steps): n + 2 packets, all with the event's start
 *   timestamp, marker on the first, durations 160, 320, ..., n * 160, the last three with the E
 *   bit and duration n * 160 (the final update and two retransmissions), volume 10. No audio is
 *   sent meanwhile; every packet takes its own 20 ms slot, and the next audio packet has
 *   timestamp start + (n + 2) * 160, so the RTP clock keeps up with the wall clock as a
 *   phone's does (a lagging clock would make the receiver drop the audio as late).
 */
import fs from 'node:fs';
import { ToneGenerator } from '../../dsp/index.js';
import { encodePcmu, writeTelephoneEvent } from '../../rtp/index.js';

export type MediaSegment =
  | { kind: 'tone'; hz: number; ms: number; amplitude?: number } // default amplitude 8000
  | { kind: 'silence'; ms: number }
  | { kind: 'dtmf-inband'; digit: string; ms: number; amplitude?: number } // row + column tone, default 6000 each
  | { kind: 'dtmf-rfc4733'; digit: string; ms: number; payloadType?: number }; // default PT 101, 8000 Hz clock

export interface RtpPcapOptions {
  /** Audio payload type: only PCMU (0). */
  payloadType?: 0;
  /** Default 0x5eed1234. */
  ssrc?: number;
  /** Packet interval: only 20 ms. */
  ptimeMs?: 20;
  /** Sequence number of the first packet; default 1000. */
  firstSeq?: number;
  /** RTP timestamp of the first packet; default 160000. */
  firstTimestamp?: number;
}

export interface RtpPcapResult {
  /** Packets written (audio + telephone-event). */
  packets: number;
  /** Playing time of the file: packets × 20 ms (the last packet leaves at durationMs - 20). */
  durationMs: number;
}

/** Standard DTMF frequencies (ITU-T Q.23): [row (low group), column (high group)] in Hz. */
export const DTMF_FREQUENCIES: Readonly<Record<string, readonly [number, number]>> = {
  '1': [697, 1209], '2': [697, 1336], '3': [697, 1477], A: [697, 1633],
  '4': [770, 1209], '5': [770, 1336], '6': [770, 1477], B: [770, 1633],
  '7': [852, 1209], '8': [852, 1336], '9': [852, 1477], C: [852, 1633],
  '*': [941, 1209], '0': [941, 1336], '#': [941, 1477], D: [941, 1633],
};

/** RFC 4733 §3.2 event code of a DTMF digit: 0-9, * 10, # 11, A-D 12-15. */
export function dtmfEventCode(digit: string): number {
  const d = digit.toUpperCase();
  if (/^[0-9]$/.test(d)) return Number(d);
  const i = '*#ABCD'.indexOf(d);
  if (d.length !== 1 || i < 0) throw new RangeError(`not a DTMF digit: ${JSON.stringify(digit)}`);
  return 10 + i;
}

function dtmfFrequencies(digit: string): readonly [number, number] {
  const f = DTMF_FREQUENCIES[digit.toUpperCase()];
  if (!f || digit.length !== 1) throw new RangeError(`not a DTMF digit: ${JSON.stringify(digit)}`);
  return f;
}

const SAMPLES = 160; // 20 ms at 8000 Hz
const PTIME_MS = 20;
const ETH = 14;
const IP = 20;
const UDP = 8;
const RTP = 12;
const SRC_IP = [10, 0, 0, 1] as const;
const DST_IP = [10, 0, 0, 2] as const;
const SRC_PORT = 40000;
const DST_PORT = 50000;
/**
 * Capture time of the first packet, in s since 1970 (2024-01-01). Not 0: sipp 3.6.1's pacing
 * (do_sleep in send_packets.c) takes a previous packet time of 0.000000 for "no packet yet",
 * so with a file starting at t = 0 it sends the first two packets back to back and every later
 * packet 20 ms early.
 */
const START_SEC = 1_704_067_200;

/** One's-complement sum of big-endian 16-bit words (odd length padded with a zero byte). */
function sum16(b: Uint8Array, start: number, end: number, acc = 0): number {
  for (let i = start; i < end; i += 2) acc += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  return acc;
}
function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return ~acc & 0xffff;
}

/** An Ethernet + IPv4 + UDP frame around `rtp` (IP and UDP checksums filled in). */
function frame(rtp: Uint8Array, ipId: number): Uint8Array {
  const f = new Uint8Array(ETH + IP + UDP + rtp.length);
  const v = new DataView(f.buffer);
  f.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01], 0); // dst MAC, src MAC (locally administered)
  v.setUint16(12, 0x0800); // IPv4
  const ip = ETH;
  f[ip] = 0x45; // version 4, IHL 5
  v.setUint16(ip + 2, IP + UDP + rtp.length); // total length
  v.setUint16(ip + 4, ipId & 0xffff);
  v.setUint16(ip + 6, 0x4000); // DF
  f[ip + 8] = 64; // TTL
  f[ip + 9] = 17; // UDP
  f.set(SRC_IP, ip + 12);
  f.set(DST_IP, ip + 16);
  v.setUint16(ip + 10, fold(sum16(f, ip, ip + IP)));
  const udp = ip + IP;
  const udpLen = UDP + rtp.length;
  v.setUint16(udp, SRC_PORT);
  v.setUint16(udp + 2, DST_PORT);
  v.setUint16(udp + 4, udpLen);
  f.set(rtp, udp + UDP);
  // Pseudo-header (addresses, protocol, length) + UDP header + payload; 0 would mean "none".
  const pseudo = sum16(f, ip + 12, ip + 20) + 17 + udpLen;
  const ck = fold(sum16(f, udp, udp + udpLen, pseudo));
  v.setUint16(udp + 6, ck === 0 ? 0xffff : ck);
  return f;
}

function rtpPacket(seq: number, ts: number, ssrc: number, pt: number, marker: boolean, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(RTP + payload.length);
  const v = new DataView(b.buffer);
  b[0] = 0x80; // V=2, no padding, extension or CSRC
  b[1] = (marker ? 0x80 : 0) | (pt & 0x7f);
  v.setUint16(2, seq & 0xffff);
  v.setUint32(4, ts >>> 0);
  v.setUint32(8, ssrc >>> 0);
  b.set(payload, RTP);
  return b;
}

function packetCount(seg: MediaSegment): number {
  const n = seg.ms / PTIME_MS;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${seg.kind}: ms must be a positive multiple of ${PTIME_MS}, got ${seg.ms}`);
  return n;
}

/**
 * Writes `segments` as one RTP stream to the pcap `file` (see the top of this file for the
 * layout). Each segment's `ms` must be a positive multiple of 20. Throws RangeError on a bad
 * digit, duration or option.
 */
export function writeRtpPcap(file: string, segments: MediaSegment[], options: RtpPcapOptions = {}): RtpPcapResult {
  if ((options.payloadType ?? 0) !== 0) throw new RangeError('only PCMU (payload type 0) is supported');
  if ((options.ptimeMs ?? PTIME_MS) !== PTIME_MS) throw new RangeError('only 20 ms packets are supported');
  const ssrc = (options.ssrc ?? 0x5eed1234) >>> 0;
  let seq = (options.firstSeq ?? 1000) & 0xffff;
  let ts = (options.firstTimestamp ?? 160000) >>> 0;
  let marker = true;
  const rtps: Uint8Array[] = [];
  const pcm = new Int16Array(SAMPLES);
  const mix = new Int16Array(SAMPLES);
  const ulaw = new Uint8Array(SAMPLES);

  const audio = (): void => {
    encodePcmu(pcm, 0, SAMPLES, ulaw, 0);
    rtps.push(rtpPacket(seq, ts, ssrc, 0, marker, ulaw));
    marker = false;
    seq = (seq + 1) & 0xffff;
    ts = (ts + SAMPLES) >>> 0;
  };

  for (const seg of segments) {
    const n = packetCount(seg);
    switch (seg.kind) {
      case 'tone': {
        const gen = new ToneGenerator(seg.hz, 8000, seg.amplitude ?? 8000);
        for (let i = 0; i < n; i++) {
          gen.fill(pcm, 0, SAMPLES);
          audio();
        }
        break;
      }
      case 'silence': {
        pcm.fill(0);
        for (let i = 0; i < n; i++) audio();
        break;
      }
      case 'dtmf-inband': {
        const [row, col] = dtmfFrequencies(seg.digit);
        const amp = seg.amplitude ?? 6000;
        const low = new ToneGenerator(row, 8000, amp);
        const high = new ToneGenerator(col, 8000, amp);
        for (let i = 0; i < n; i++) {
          low.fill(pcm, 0, SAMPLES);
          high.fill(mix, 0, SAMPLES);
          for (let j = 0; j < SAMPLES; j++) pcm[j] = Math.max(-32768, Math.min(32767, pcm[j]! + mix[j]!));
          audio();
        }
        break;
      }
      case 'dtmf-rfc4733': {
        const event = dtmfEventCode(seg.digit);
        const pt = seg.payloadType ?? 101;
        if (!Number.isInteger(pt) || pt < 0 || pt > 127) throw new RangeError(`payloadType must be 0..127, got ${pt}`);
        if (n * SAMPLES > 0xffff) throw new RangeError(`dtmf-rfc4733: ${seg.ms} ms does not fit the 16-bit duration`);
        const payload = new Uint8Array(4);
        for (let i = 1; i <= n + 2; i++) {
          writeTelephoneEvent(payload, 0, event, i >= n, 10, Math.min(i, n) * SAMPLES);
          rtps.push(rtpPacket(seq, ts, ssrc, pt, i === 1, payload));
          seq = (seq + 1) & 0xffff;
        }
        // The sender's clock ran on while the n + 2 packets went out (one per 20 ms slot), as a
        // phone's does: the next audio packet is stamped with the wall time it stands for.
        ts = (ts + (n + 2) * SAMPLES) >>> 0;
        marker = true; // audio resumes: a new talkspurt
        break;
      }
      default: {
        const never: never = seg;
        throw new RangeError(`unknown segment ${JSON.stringify(never)}`);
      }
    }
  }

  const frames = rtps.map((r, i) => frame(r, i + 1));
  const out = Buffer.alloc(24 + frames.reduce((s, f) => s + 16 + f.length, 0));
  out.writeUInt32LE(0xa1b2c3d4, 0); // microsecond timestamps
  out.writeUInt16LE(2, 4);
  out.writeUInt16LE(4, 6);
  out.writeInt32LE(0, 8); // thiszone
  out.writeUInt32LE(0, 12); // sigfigs
  out.writeUInt32LE(65535, 16); // snaplen
  out.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  let o = 24;
  frames.forEach((f, i) => {
    const ms = i * PTIME_MS;
    out.writeUInt32LE(START_SEC + Math.floor(ms / 1000), o);
    out.writeUInt32LE((ms % 1000) * 1000, o + 4);
    out.writeUInt32LE(f.length, o + 8); // captured
    out.writeUInt32LE(f.length, o + 12); // on the wire (sipp rejects truncated packets)
    out.set(f, o + 16);
    o += 16 + f.length;
  });
  fs.writeFileSync(file, out);
  return { packets: frames.length, durationMs: frames.length * PTIME_MS };
}
