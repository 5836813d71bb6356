/**
 * Steady state allocates nothing: packet parse -> jitter buffer -> G.711 decode -> mixer
 * (mono, stereo, N-1, track outputs) -> WAV encoder, for 50,000 ticks after a warm-up.
 * (bench/ reports the same over 10^6 ticks with timings.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Mixer } from '../mixer/index.js';
import type { FrameConsumer } from '../mixer/index.js';
import { AudioReceiver, PCMU, RtpHeaderReader } from '../rtp/index.js';
import { createEncoder } from '../encoders/index.js';
import type { ByteSink } from '../encoders/index.js';
import { measureAllocation } from './helpers/allocation.js';
import { ToneStream } from './helpers/rtpStream.js';

test('the receive, mix and WAV path allocates nothing per packet or per tick', async () => {
  // Arrival times as performance.now() gives them (fractional ms) and RTP timestamps above
  // 2^31 (a random start, as real senders pick): numbers that are not small integers, which
  // V8 boxes when they are passed around.
  // The time lives in a Float64Array, as the frame scheduler keeps it: a captured \`let\`
  // holding a fractional double would allocate a heap number per tick in this test itself.
  const clock = new Float64Array([1_000.123]);
  const mixer = new Mixer({ sampleRate: 8000, delayMs: 60, now: () => clock[0]! });
  const legs = [mixer.createInput('a'), mixer.createInput('b'), mixer.createInput('c')];
  const receivers = legs.map((input) => {
    const r = new AudioReceiver({ formats: [PCMU], mixerRate: 8000 });
    r.attach(input);
    return r;
  });
  let written = 0;
  const sink: ByteSink = { append: (_b, _o, n) => void (written += n), patch: () => undefined };
  const wav = createEncoder({ format: 'wav', inputRate: 8000, sampleRate: 8000, channels: 2 }, sink);
  const toWav: FrameConsumer = { onFrame: (pcm) => wav.write(pcm) };
  const ignore: FrameConsumer = { onFrame: () => undefined };
  mixer.addOutput({ kind: 'stereo', left: [legs[0]!], right: [legs[1]!, legs[2]!] }, toWav);
  mixer.addOutput({ kind: 'mono' }, ignore);
  mixer.addOutput({ kind: 'minus', input: legs[0]! }, ignore);
  mixer.addOutput({ kind: 'track', input: legs[2]! }, ignore);
  // 32 real packets per leg, whose sequence numbers and timestamps are rewritten in place.
  const ring = legs.map((_, i) => {
    const s = new ToneStream({ freq: 800 + 200 * i, ssrc: i + 1, seq: 0, ts: 0 });
    return Array.from({ length: 32 }, () => s.next().bytes);
  });
  const views = ring.map((list) => list.map((b) => new DataView(b.buffer, b.byteOffset, b.byteLength)));
  const h = new RtpHeaderReader();
  let seq = 2; // (not a swapped pair first: the first packet received starts the stream)
  const deliver = (l: number, s: number): void => {
    const b = ring[l]![s & 31]!;
    views[l]![s & 31]!.setUint16(2, s & 0xffff);
    views[l]![s & 31]!.setUint32(4, (0x90000000 + s * 160) >>> 0);
    h.parse(b, 0, b.length);
    h.arrivalMs = clock[0]! + 0.37 * l;
    receivers[l]!.receive(b, h);
  };
  const run = (ticks: number): void => {
    for (let i = 0; i < ticks; i++) {
      clock[0]! += 20;
      for (let l = 0; l < 3; l++) {
        // Every 8th pair arrives swapped: the jitter buffer path, not only the in-order one.
        if ((seq & 7) === 0) {
          deliver(l, seq + 1);
          deliver(l, seq);
        } else if ((seq & 7) !== 1) deliver(l, seq);
      }
      seq++;
      mixer.serviceFrom(clock, 4); // as the frame scheduler hands its round's time to each mixer
    }
  };
  run(20000); // warm up: V8 optimises, inline caches settle
  const r = await measureAllocation(() => run(50000));
  assert.is(r.collections, 0, 'no garbage collection during 50k ticks');
  // One 16-byte object per tick would be 800 kB, one per packet 2.3 MB. What is left (70-160
  // kB here, under 3 bytes a tick) is bookkeeping that runs about once per second per leg.
  assert.ok(r.bytes < 256 * 1024, `allocated ${r.bytes} bytes over 50k ticks`);
  assert.is(written, 44 + mixer.ticks * 640); // header + one stereo frame per tick
  assert.ok(mixer.ticks > 69990);
  for (const rec of receivers) {
    const st = rec.stats();
    assert.is(st.lost + st.late, 0);
    assert.ok(st.reordered > 0);
  }
});

test('a per-tick allocation is caught by the same measurement (the check can fail)', async () => {
  const keep: number[][] = [];
  const r = await measureAllocation(() => {
    for (let i = 0; i < 50000; i++) {
      const a = [i, i + 1];
      if (i % 10000 === 0) keep.push(a);
    }
  });
  assert.ok(r.collections > 0 || r.bytes > 64 * 1024, `${r.bytes} bytes, ${r.collections} collections`);
});

test.run();
