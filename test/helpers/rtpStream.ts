/**
 * Synthetic RTP senders for tests: a tone encoded to PCMU/PCMA/Opus, cut into packets with
 * the header written by hand (independently of rtp/RtpPacketizer).
 */
import opus from '@discordjs/opus';
import { ToneGenerator } from '../../dsp/index.js';
import { encodePcma, encodePcmu, writeTelephoneEvent } from '../../rtp/index.js';

const { OpusEncoder } = opus;

export interface Packet {
  seq: number;
  ts: number;
  ssrc: number;
  pt: number;
  marker: boolean;
  bytes: Uint8Array;
}

/** Writes a 12-byte RTP header (RFC 3550 §5.1) followed by `payload`. */
export function rtpBytes(p: { seq: number; ts: number; ssrc: number; pt: number; marker: boolean }, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(12 + payload.length);
  b[0] = 0x80; // V=2, P=0, X=0, CC=0
  b[1] = (p.marker ? 0x80 : 0) | p.pt;
  b[2] = (p.seq >> 8) & 0xff;
  b[3] = p.seq & 0xff;
  b[4] = (p.ts >>> 24) & 0xff;
  b[5] = (p.ts >>> 16) & 0xff;
  b[6] = (p.ts >>> 8) & 0xff;
  b[7] = p.ts & 0xff;
  b[8] = (p.ssrc >>> 24) & 0xff;
  b[9] = (p.ssrc >>> 16) & 0xff;
  b[10] = (p.ssrc >>> 8) & 0xff;
  b[11] = p.ssrc & 0xff;
  b.set(payload, 12);
  return b;
}

export interface ToneStreamOptions {
  freq: number;
  codec?: 'PCMU' | 'PCMA' | 'opus';
  ptimeMs?: number;
  ssrc?: number;
  seq?: number;
  ts?: number;
  amplitude?: number;
  pt?: number;
}

/** A sender of a continuous tone; next() returns successive packets. */
export class ToneStream {
  readonly codec: 'PCMU' | 'PCMA' | 'opus';
  readonly ptimeMs: number;
  readonly clockRate: number;
  readonly pt: number;
  ssrc: number;
  seq: number;
  ts: number;
  #first = true;
  readonly #gen: ToneGenerator;
  readonly #pcm: Int16Array;
  readonly #opus: InstanceType<typeof OpusEncoder> | null;

  constructor(o: ToneStreamOptions) {
    this.codec = o.codec ?? 'PCMU';
    this.ptimeMs = o.ptimeMs ?? 20;
    this.clockRate = this.codec === 'opus' ? 48000 : 8000;
    this.pt = o.pt ?? (this.codec === 'PCMU' ? 0 : this.codec === 'PCMA' ? 8 : 111);
    this.ssrc = o.ssrc ?? 0x11223344;
    this.seq = o.seq ?? 1000;
    this.ts = o.ts ?? 160000;
    const pcmRate = this.codec === 'opus' ? 48000 : 8000;
    this.#gen = new ToneGenerator(o.freq, pcmRate, o.amplitude ?? 12000);
    this.#pcm = new Int16Array((pcmRate * this.ptimeMs) / 1000);
    this.#opus = this.codec === 'opus' ? new OpusEncoder(48000, 1) : null;
  }

  /** RTP clock units per packet. */
  get tsPerPacket(): number {
    return (this.clockRate * this.ptimeMs) / 1000;
  }

  next(): Packet {
    this.#gen.fill(this.#pcm, 0, this.#pcm.length);
    let payload: Uint8Array;
    if (this.codec === 'opus') {
      payload = new Uint8Array(this.#opus!.encode(Buffer.from(this.#pcm.buffer)));
    } else {
      payload = new Uint8Array(this.#pcm.length);
      (this.codec === 'PCMU' ? encodePcmu : encodePcma)(this.#pcm, 0, this.#pcm.length, payload, 0);
    }
    const p = { seq: this.seq, ts: this.ts, ssrc: this.ssrc, pt: this.pt, marker: this.#first };
    this.#first = false;
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + this.tsPerPacket) >>> 0;
    return { ...p, bytes: rtpBytes(p, payload) };
  }

  /** Skips `ms` of audio without sending (the tone phase and RTP clock move on). */
  silence(ms: number, marker = true): void {
    const samples = (this.clockRate * ms) / 1000;
    this.#gen.skip(samples);
    this.ts = (this.ts + samples) >>> 0;
    this.#first = marker;
  }

  /** RFC 4733 event packets for `digitEvent` lasting `ms`, sent every ptime, 3 end packets. */
  dtmf(event: number, ms: number, eventPt = 101): Packet[] {
    const out: Packet[] = [];
    const startTs = this.ts;
    const steps = Math.max(1, Math.round(ms / this.ptimeMs));
    for (let i = 1; i <= steps + 2; i++) {
      const end = i >= steps;
      const duration = Math.min(i, steps) * this.tsPerPacket;
      const payload = new Uint8Array(4);
      writeTelephoneEvent(payload, 0, event, end, 10, duration);
      const p = { seq: this.seq, ts: startTs, ssrc: this.ssrc, pt: eventPt, marker: i === 1 };
      this.seq = (this.seq + 1) & 0xffff;
      out.push({ ...p, bytes: rtpBytes(p, payload) });
    }
    // The audio after the event continues at the event's end.
    this.ts = (startTs + steps * this.tsPerPacket) >>> 0;
    this.#gen.skip(steps * this.tsPerPacket);
    this.#first = true;
    return out;
  }
}
