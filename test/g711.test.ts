import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { decodePcma, decodePcmu, encodePcma, encodePcmu } from '../rtp/index.js';

// ---------------------------------------------------------------------------------------------
// Reference: the segment algorithm of ITU-T G.191's g711.c, transcribed statement by statement
// (ulaw_compress, ulaw_expand, alaw_compress, alaw_expand), one sample at a time. Our module
// builds its tables with a different formulation; these must agree on every input.

function refUlawCompress(x: number): number {
  let absno = x < 0 ? (~x >> 2) + 33 : (x >> 2) + 33; // 14-bit magnitude, one's complement for negatives, biased
  if (absno > 0x1fff) absno = 0x1fff;
  let i = absno >> 6;
  let segno = 1;
  while (i !== 0) {
    segno++;
    i >>= 1;
  }
  const high = 0x08 - segno;
  const low = 0x0f - ((absno >> segno) & 0x0f);
  let code = (high << 4) | low;
  if (x >= 0) code |= 0x80;
  return code;
}

function refUlawExpand(code: number): number {
  const sign = code < 0x80 ? -1 : 1;
  let mantissa = ~code;
  const exponent = (mantissa >> 4) & 0x07;
  const segment = exponent + 1;
  mantissa &= 0x0f;
  const step = 0x04 << segment;
  return sign * ((0x80 << exponent) + step * mantissa + step / 2 - 4 * 33);
}

function refAlawCompress(x: number): number {
  let ix = x < 0 ? ~x >> 4 : x >> 4;
  if (ix > 15) {
    let iexp = 1;
    while (ix > 16 + 15) {
      ix >>= 1;
      iexp++;
    }
    ix -= 16;
    ix += iexp << 4;
  }
  if (x >= 0) ix |= 0x80;
  return ix ^ 0x55;
}

function refAlawExpand(code: number): number {
  let ix = code ^ 0x55;
  ix &= 0x7f;
  const iexp = ix >> 4;
  let mant = ix & 0x0f;
  if (iexp > 0) mant += 16;
  mant = (mant << 4) + 0x08;
  if (iexp > 1) mant <<= iexp - 1;
  return code > 127 ? mant : -mant;
}

const ALL_CODES = Uint8Array.from({ length: 256 }, (_, i) => i);
const ALL_LINEAR = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);

type Decode = typeof decodePcmu;
type Encode = typeof encodePcmu;

const LAWS: {
  name: string;
  sox: string;
  decode: Decode;
  encode: Encode;
  refExpand: (c: number) => number;
  refCompress: (x: number) => number;
}[] = [
  { name: 'µ-law', sox: 'ul', decode: decodePcmu, encode: encodePcmu, refExpand: refUlawExpand, refCompress: refUlawCompress },
  { name: 'A-law', sox: 'al', decode: decodePcma, encode: encodePcma, refExpand: refAlawExpand, refCompress: refAlawCompress },
];

test('decode: all 256 codes equal the G.191 reference', () => {
  for (const law of LAWS) {
    const out = new Int16Array(256);
    law.decode(ALL_CODES, 0, 256, out, 0);
    for (let c = 0; c < 256; c++) assert.is(out[c], law.refExpand(c), `${law.name} code ${c}`);
  }
});

test('decode: known values from the G.711 tables', () => {
  const out = new Int16Array(1);
  const cases: [Decode, number, number, string][] = [
    [decodePcmu, 0x00, -32124, 'µ-law most negative'],
    [decodePcmu, 0x80, 32124, 'µ-law most positive'],
    [decodePcmu, 0xff, 0, 'µ-law +0'],
    [decodePcmu, 0x7f, 0, 'µ-law -0'],
    [decodePcmu, 0xfe, 8, 'µ-law smallest positive step'],
    [decodePcma, 0x2a, -32256, 'A-law most negative'],
    [decodePcma, 0xaa, 32256, 'A-law most positive'],
    [decodePcma, 0xd5, 8, 'A-law smallest positive (silence)'],
    [decodePcma, 0x55, -8, 'A-law smallest negative'],
  ];
  for (const [decode, code, expected, name] of cases) {
    decode(new Uint8Array([code]), 0, 1, out, 0);
    assert.is(out[0], expected, name);
  }
});

test('encode: all 65536 linear values equal the G.191 reference', () => {
  for (const law of LAWS) {
    const out = new Uint8Array(65536);
    law.encode(ALL_LINEAR, 0, 65536, out, 0);
    for (let i = 0; i < 65536; i++) {
      const x = i - 32768;
      if (out[i] !== law.refCompress(x)) assert.is(out[i], law.refCompress(x), `${law.name} x=${x}`);
    }
  }
});

test('encode(decode(code)) gives the code back, except µ-law -0 which becomes +0', () => {
  for (const law of LAWS) {
    const pcm = new Int16Array(256);
    const back = new Uint8Array(256);
    law.decode(ALL_CODES, 0, 256, pcm, 0);
    law.encode(pcm, 0, 256, back, 0);
    for (let c = 0; c < 256; c++) {
      const expected = law.name === 'µ-law' && c === 0x7f ? 0xff : c;
      assert.is(back[c], expected, `${law.name} code ${c}`);
    }
  }
});

test('offsets: only [dstOffset, dstOffset + n) is written, from [srcOffset, srcOffset + n)', () => {
  const codes = new Uint8Array([0x11, 0x22, 0xff, 0x80, 0x00, 0x33]);
  const pcm = new Int16Array(8).fill(1234);
  decodePcmu(codes, 2, 3, pcm, 4);
  assert.equal(Array.from(pcm), [1234, 1234, 1234, 1234, 0, 32124, -32124, 1234]);
  const bytes = new Uint8Array(6).fill(0x99);
  encodePcma(pcm, 4, 3, bytes, 1);
  assert.equal(Array.from(bytes), [0x99, 0xd5, 0xaa, 0x2a, 0x99, 0x99]);
  decodePcma(codes, 0, 0, pcm, 8); // n = 0 at the very end is allowed
});

test('a span that does not fit is a caller error', () => {
  const cases: [string, () => void, string][] = [
    ['decodePcmu src too short', () => decodePcmu(new Uint8Array(159), 0, 160, new Int16Array(160), 0), 'ERR_OUT_OF_RANGE'],
    ['decodePcma dst too short', () => decodePcma(new Uint8Array(160), 0, 160, new Int16Array(160), 1), 'ERR_OUT_OF_RANGE'],
    ['encodePcmu negative n', () => encodePcmu(new Int16Array(160), 0, -1, new Uint8Array(160), 0), 'ERR_OUT_OF_RANGE'],
    ['encodePcma fractional offset', () => encodePcma(new Int16Array(160), 0.5, 1, new Uint8Array(160), 0), 'ERR_INVALID_ARGUMENT'],
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

// ---------------------------------------------------------------------------------------------
// sox as an independent implementation

function sox(args: string[], input?: Uint8Array): Buffer {
  return execFileSync('sox', args, { input: input ?? Buffer.alloc(0), stdio: ['pipe', 'pipe', 'ignore'] });
}

function s16le(buf: Buffer): Int16Array {
  const out = new Int16Array(buf.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = buf.readInt16LE(2 * i);
  return out;
}

test('sox decodes all 256 codes of both laws to the same samples as ours', () => {
  for (const law of LAWS) {
    const theirs = s16le(sox(['-t', law.sox, '-r', '8000', '-c', '1', '-', '-t', 's16', '-L', '-'], ALL_CODES));
    const ours = new Int16Array(256);
    law.decode(ALL_CODES, 0, 256, ours, 0);
    assert.equal(Array.from(ours), Array.from(theirs), law.name);
  }
});

test('a 1 kHz sine encoded by sox (synth) decodes to what sox itself decodes', () => {
  for (const law of LAWS) {
    const coded = sox(['-n', '-r', '8000', '-c', '1', '-t', law.sox, '-', 'synth', '0.1', 'sine', '1000']);
    assert.is(coded.length, 800, `${law.name}: 0.1 s at 8 kHz`);
    const theirs = s16le(sox(['-t', law.sox, '-r', '8000', '-c', '1', '-', '-t', 's16', '-L', '-'], coded));
    const ours = new Int16Array(coded.length);
    law.decode(coded, 0, coded.length, ours, 0);
    assert.equal(Array.from(ours), Array.from(theirs), law.name);
  }
});

test('sox encodes all 65536 values like ours after rounding (not truncating) to 14/13 bits', () => {
  // G.191 truncates 16-bit input to the law's 14-bit (µ) / 13-bit (A) code; sox rounds to the
  // nearest, then takes negative magnitudes by two's complement (-v, not ~v). So sox(x) is ours at
  // a shifted input: µ-law x+2 (x >= 0) or x-2 (x < 0); A-law x+4. The only exceptions are
  // x = -2 and -1 in µ-law, which sox rounds to +0 (0xff) where G.191 gives -0 (0x7f): both are 0.
  // -D: no dither, so sox quantizes deterministically.
  const input = Buffer.alloc(131072);
  for (let i = 0; i < 65536; i++) input.writeInt16LE(i - 32768, 2 * i);
  const clamp = (v: number): number => Math.max(-32768, Math.min(32767, v));
  const one = new Int16Array(1);
  const code = new Uint8Array(1);
  for (const law of LAWS) {
    const theirs = sox(['-D', '-t', 's16', '-L', '-r', '8000', '-c', '1', '-', '-t', law.sox, '-'], input);
    assert.is(theirs.length, 65536);
    let exceptions = 0;
    for (let i = 0; i < 65536; i++) {
      const x = i - 32768;
      one[0] = clamp(law.sox === 'ul' ? (x >= 0 ? x + 2 : x - 2) : x + 4);
      law.encode(one, 0, 1, code, 0);
      if (code[0] === theirs[i]) continue;
      assert.ok(law.sox === 'ul' && (x === -2 || x === -1), `${law.name} x=${x}: sox ${theirs[i]}, ours ${code[0]}`);
      assert.is(theirs[i], 0xff);
      assert.is(code[0], 0x7f);
      exceptions++;
    }
    assert.is(exceptions, law.sox === 'ul' ? 2 : 0, law.name);
  }
});

test.run();
