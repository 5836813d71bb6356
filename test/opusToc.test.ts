import { test } from 'uvu';
import * as assert from 'uvu/assert';
import opus from '@discordjs/opus';
import { ToneGenerator } from '../dsp/index.js';
import { opusFrameDurationUs, opusPacketSamples } from '../rtp/index.js';

const { OpusEncoder } = opus;

/** The next `samples` of `gen`'s tone, as the s16le Buffer the binding wants. */
function tone(samples: number, gen: ToneGenerator): Buffer {
  const pcm = new Int16Array(samples);
  gen.fill(pcm, 0, samples);
  return Buffer.from(pcm.buffer);
}

test('opusFrameDurationUs: every TOC config (RFC 6716 §3.1, table 2); s and c bits ignored', () => {
  const expected = [
    // SILK-only NB, MB, WB
    10000, 20000, 40000, 60000, 10000, 20000, 40000, 60000, 10000, 20000, 40000, 60000,
    // Hybrid SWB, FB
    10000, 20000, 10000, 20000,
    // CELT-only NB, WB, SWB, FB
    2500, 5000, 10000, 20000, 2500, 5000, 10000, 20000, 2500, 5000, 10000, 20000, 2500, 5000, 10000, 20000,
  ];
  for (let config = 0; config < 32; config++) {
    for (const low of [0b000, 0b100, 0b011, 0b111]) {
      assert.is(opusFrameDurationUs((config << 3) | low), expected[config], `config ${config}, low bits ${low}`);
    }
  }
});

test('packets from libopus (@discordjs/opus) at 10/20/40/60 ms, 48 kHz: samples match, and match the decoder', () => {
  const enc = new OpusEncoder(48000, 1);
  const gen = new ToneGenerator(440, 48000);
  for (const samples of [480, 960, 1920, 2880]) {
    for (let k = 0; k < 3; k++) {
      const packet = enc.encode(tone(samples, gen));
      assert.is(opusPacketSamples(packet, 0, packet.length), samples, `${samples / 48} ms, packet ${k}`);
      assert.is(opusPacketSamples(packet, 0, packet.length, 48000), samples);
      assert.is(opusPacketSamples(packet, 0, packet.length, 16000), samples / 3, 'same packet counted at 16 kHz');
      // libopus itself says how many samples the packet holds.
      const decoded = enc.decode(packet);
      assert.is(decoded.length / 2, samples, `${samples / 48} ms: decoder output`);
    }
  }
});

test('a packet encoded from 8 kHz input: 160 samples = 20 ms; 960 at the RTP clock of 48 kHz', () => {
  const enc = new OpusEncoder(8000, 1);
  const gen = new ToneGenerator(440, 8000);
  for (let k = 0; k < 3; k++) {
    const packet = enc.encode(tone(160, gen));
    assert.is(opusPacketSamples(packet, 0, packet.length, 8000), 160);
    assert.is(opusPacketSamples(packet, 0, packet.length), 960);
    assert.is(enc.decode(packet).length / 2, 160, 'decoder output at 8 kHz');
  }
});

test('a packet inside a larger buffer is read at its offset', () => {
  const enc = new OpusEncoder(48000, 1);
  const packet = enc.encode(tone(1920, new ToneGenerator(440, 48000)));
  const slab = new Uint8Array(packet.length + 50).fill(0x03); // 0x03: a code-3 TOC, wrong if read
  slab.set(packet, 17);
  assert.is(opusPacketSamples(slab, 17, packet.length), 1920);
});

test('hand-made TOC bytes: frame counts of codes 0-3 and the malformed cases', () => {
  const cases: { name: string; bytes: number[]; samples48k: number }[] = [
    { name: 'empty packet', bytes: [], samples48k: -1 },
    { name: 'code 0, CELT FB 20 ms (config 31)', bytes: [(31 << 3) | 0], samples48k: 960 },
    { name: 'code 0, TOC only (DTX, 0-byte frame), SILK NB 20 ms', bytes: [(1 << 3) | 0], samples48k: 960 },
    { name: 'code 0, CELT NB 2.5 ms (config 16)', bytes: [(16 << 3) | 0, 0xaa], samples48k: 120 },
    { name: 'code 0, SILK WB 60 ms (config 11)', bytes: [(11 << 3) | 0, 0xaa], samples48k: 2880 },
    { name: 'code 1, two SILK 60 ms frames', bytes: [(3 << 3) | 1, 0xaa, 0xbb], samples48k: 5760 },
    { name: 'code 2, two hybrid 10 ms frames', bytes: [(12 << 3) | 2, 0x01, 0xaa, 0xbb], samples48k: 960 },
    { name: 'code 3 without its count byte', bytes: [(31 << 3) | 3], samples48k: -1 },
    { name: 'code 3, count 0', bytes: [(31 << 3) | 3, 0x00], samples48k: -1 },
    { name: 'code 3, count 0 with v and p bits set', bytes: [(31 << 3) | 3, 0xc0], samples48k: -1 },
    { name: 'code 3, 3 × 20 ms CELT', bytes: [(31 << 3) | 3, 0x03, 0xaa], samples48k: 2880 },
    { name: 'code 3, 6 × 20 ms = 120 ms: the maximum', bytes: [(31 << 3) | 3, 0x06], samples48k: 5760 },
    { name: 'code 3, 7 × 20 ms = 140 ms', bytes: [(31 << 3) | 3, 0x07], samples48k: -1 },
    { name: 'code 3, 2 × 60 ms = 120 ms', bytes: [(3 << 3) | 3, 0x82], samples48k: 5760 },
    { name: 'code 3, 3 × 60 ms = 180 ms', bytes: [(3 << 3) | 3, 0x03], samples48k: -1 },
    { name: 'code 3, 48 × 2.5 ms = 120 ms', bytes: [(16 << 3) | 3, 48], samples48k: 5760 },
    { name: 'code 3, 49 × 2.5 ms', bytes: [(16 << 3) | 3, 49], samples48k: -1 },
    { name: 'code 3, count 63 (all M bits) × 2.5 ms', bytes: [(16 << 3) | 3, 0x3f], samples48k: -1 },
  ];
  for (const { name, bytes, samples48k } of cases) {
    const b = new Uint8Array(bytes);
    let got: number | 'threw';
    try {
      got = opusPacketSamples(b, 0, b.length);
    } catch {
      got = 'threw';
    }
    assert.is(got, samples48k, name);
    for (const rate of [8000, 12000, 16000, 24000]) {
      const expected = samples48k < 0 ? -1 : (samples48k * rate) / 48000;
      assert.is(opusPacketSamples(b, 0, b.length, rate), expected, `${name} at ${rate} Hz`);
    }
  }
});

test('misuse throws with stable codes', () => {
  const packet = new Uint8Array([0xf8, 0xff, 0xfe]);
  const cases: [string, () => void, string][] = [
    ['rate 44100', () => opusPacketSamples(packet, 0, 3, 44100), 'ERR_OUT_OF_RANGE'],
    ['span past the end', () => opusPacketSamples(packet, 1, 3), 'ERR_OUT_OF_RANGE'],
    ['negative length', () => opusPacketSamples(packet, 0, -1), 'ERR_OUT_OF_RANGE'],
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
