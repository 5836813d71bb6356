/**
 * ITU-T G.711 µ-law (PCMU, RTP payload type 0) and A-law (PCMA, payload type 8), RFC 3551 §4.5.14.
 *
 * Table driven and bit-exact with the ITU-T G.191 reference implementation of G.711
 * (ulaw_compress/ulaw_expand, alaw_compress/alaw_expand in the STL's g711.c): 16-bit input
 * is truncated to the law's 14-bit (µ) or 13-bit (A) uniform code, negative values through
 * the one's complement, so x and -x-1 share a magnitude. All tables are built once at load:
 * decode 2 × 256 Int16 entries; encode 16384 µ-law entries indexed by `x >> 2` (the 14-bit
 * code) and 4096 A-law entries indexed by `x >> 4` (G.191 drops the 13-bit code's last bit
 * too, as A-law's two smallest segments have a step of 2 in 13-bit units).
 *
 * sox rounds to 14/13 bits instead of truncating, so its encoder differs from G.191 on the
 * few inputs near each decision level; test/g711.test.ts pins that relation down.
 */
import { checkSpan } from '../span.js';

/** Static RTP payload type of PCMU (RFC 3551 §6, table 4). */
export const PCMU_PAYLOAD_TYPE = 0;
/** Static RTP payload type of PCMA (RFC 3551 §6, table 4). */
export const PCMA_PAYLOAD_TYPE = 8;

/** µ-law code -> linear sample (16-bit, the 14-bit G.711 value × 4). */
const ULAW_DECODE = new Int16Array(256);
/** A-law code -> linear sample (16-bit, the 13-bit G.711 value × 8). */
const ALAW_DECODE = new Int16Array(256);
/** (x >> 2) & 0x3fff -> µ-law code. */
const ULAW_ENCODE = new Uint8Array(16384);
/** (x >> 4) & 0x0fff -> A-law code. */
const ALAW_ENCODE = new Uint8Array(4096);

buildTables();

function buildTables(): void {
  for (let code = 0; code < 256; code++) {
    // µ-law: the code is transmitted inverted; sign 1 = positive, 3-bit exponent, 4-bit
    // mantissa; with the bias of 33 (×4 = 0x84) each segment doubles the step (G.711 table 2a).
    const u = ~code & 0xff;
    const uMag = ((((u & 0x0f) << 3) + 0x84) << ((u >> 4) & 7)) - 0x84;
    ULAW_DECODE[code] = u & 0x80 ? -uMag : uMag;
    // A-law: even bits inverted (0x55); segments 0 and 1 share the smallest step, the rest
    // double it; reconstruction is the middle of the interval (G.711 table 1a).
    const a = code ^ 0x55;
    const aExp = (a >> 4) & 7;
    const aMant = a & 0x0f;
    const aMag = aExp === 0 ? (aMant << 4) + 8 : ((aMant << 4) + 0x108) << (aExp - 1);
    ALAW_DECODE[code] = a & 0x80 ? aMag : -aMag;
  }
  for (let i = 0; i < 16384; i++) {
    const v = (i << 18) >> 18; // the signed 14-bit value x >> 2
    const mag = v >= 0 ? v : ~v; // one's complement magnitude, 0..8191
    const biased = Math.min(mag + 33, 0x1fff);
    const exp = 26 - Math.clz32(biased); // biased is 33..8191: highest set bit 5..12 -> 0..7
    const mant = (biased >> (exp + 1)) & 0x0f;
    ULAW_ENCODE[i] = ((v >= 0 ? 0x80 : 0) | (exp << 4) | mant) ^ 0x7f;
  }
  for (let i = 0; i < 4096; i++) {
    const v = (i << 20) >> 20; // the signed 12-bit value x >> 4
    const mag = v >= 0 ? v : ~v; // 0..2047
    let seg: number;
    if (mag < 32) {
      seg = mag; // segments 0 and 1: the magnitude is the code
    } else {
      const exp = 28 - Math.clz32(mag); // highest set bit 5..10 -> exponent 2..7
      seg = (exp << 4) | ((mag >> (exp - 1)) & 0x0f);
    }
    ALAW_ENCODE[i] = ((v >= 0 ? 0x80 : 0) | seg) ^ 0x55;
  }
}

/** Decodes `n` µ-law bytes from `src[srcOffset]` into 16-bit samples at `dst[dstOffset]`. */
export function decodePcmu(src: Uint8Array, srcOffset: number, n: number, dst: Int16Array, dstOffset: number): void {
  checkSpan(src.length, srcOffset, n, 'decodePcmu src');
  checkSpan(dst.length, dstOffset, n, 'decodePcmu dst');
  for (let i = 0; i < n; i++) dst[dstOffset + i] = ULAW_DECODE[src[srcOffset + i]!]!;
}

/** Decodes `n` A-law bytes from `src[srcOffset]` into 16-bit samples at `dst[dstOffset]`. */
export function decodePcma(src: Uint8Array, srcOffset: number, n: number, dst: Int16Array, dstOffset: number): void {
  checkSpan(src.length, srcOffset, n, 'decodePcma src');
  checkSpan(dst.length, dstOffset, n, 'decodePcma dst');
  for (let i = 0; i < n; i++) dst[dstOffset + i] = ALAW_DECODE[src[srcOffset + i]!]!;
}

/** Encodes `n` 16-bit samples from `src[srcOffset]` into µ-law bytes at `dst[dstOffset]`. */
export function encodePcmu(src: Int16Array, srcOffset: number, n: number, dst: Uint8Array, dstOffset: number): void {
  checkSpan(src.length, srcOffset, n, 'encodePcmu src');
  checkSpan(dst.length, dstOffset, n, 'encodePcmu dst');
  for (let i = 0; i < n; i++) dst[dstOffset + i] = ULAW_ENCODE[(src[srcOffset + i]! >> 2) & 0x3fff]!;
}

/** Encodes `n` 16-bit samples from `src[srcOffset]` into A-law bytes at `dst[dstOffset]`. */
export function encodePcma(src: Int16Array, srcOffset: number, n: number, dst: Uint8Array, dstOffset: number): void {
  checkSpan(src.length, srcOffset, n, 'encodePcma src');
  checkSpan(dst.length, dstOffset, n, 'encodePcma dst');
  for (let i = 0; i < n; i++) dst[dstOffset + i] = ALAW_ENCODE[(src[srcOffset + i]! >> 4) & 0x0fff]!;
}
