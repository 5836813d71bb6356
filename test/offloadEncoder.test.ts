/**
 * Encoders on worker threads (EncoderPool / OffloadEncoder): the same bytes as the in-line
 * encoder, decodable by ffmpeg with the tones where they belong, bad options refused at once,
 * and a dead worker fails its recordings instead of hanging them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EncoderPool, OffloadEncoder, createEncoder } from '../encoders/index.js';
import type { AudioFormat, EncoderOptions } from '../encoders/index.js';
import { toneFrames } from '../dsp/index.js';
import { decodeFile } from './helpers/ffmpeg.js';
import { MemorySink } from './helpers/MemorySink.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-offload-'));
const pool = new EncoderPool(2);
test.after(async () => {
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** 3 s of stereo at 16 kHz: 1000 Hz left, 1500 Hz right, in 20 ms mixer frames. */
function frames(): Int16Array[] {
  const rate = 16000;
  const n = rate / 50;
  const out: Int16Array[] = [];
  for (let f = 0; f < 150; f++) {
    const pcm = new Int16Array(2 * n);
    for (let i = 0; i < n; i++) {
      const t = (f * n + i) / rate;
      pcm[2 * i] = Math.round(8000 * Math.sin(2 * Math.PI * 1000 * t));
      pcm[2 * i + 1] = Math.round(8000 * Math.sin(2 * Math.PI * 1500 * t));
    }
    out.push(pcm);
  }
  return out;
}

for (const format of ['mp3', 'opus'] as AudioFormat[]) {
  test(`${format}: a worker encodes the same bytes as the in-line encoder; ffmpeg decodes both tones on their channels`, async () => {
    const options: EncoderOptions = { format, inputRate: 16000, sampleRate: 16000, channels: 2 };
    const inline = new MemorySink();
    const offSink = new MemorySink();
    const a = createEncoder(options, inline);
    const b = pool.open(options, offSink);
    assert.ok(b instanceof OffloadEncoder);
    for (const f of frames()) {
      a.write(f);
      b.write(f);
    }
    // Before close the audio given is counted at once (pause offsets, time limits), bytes lag.
    assert.is(b.samplesWritten, 48000);
    a.close();
    b.close();
    await b.drained();
    assert.is(b.bytesWritten, a.bytesWritten);
    assert.is(b.samplesWritten, a.samplesWritten);
    if (format === 'mp3') assert.equal(offSink.bytes(), inline.bytes(), 'byte for byte');
    else {
      // Each Ogg stream gets a random serial number (RFC 3533), which also changes every page CRC:
      // the same pages otherwise, at the same places.
      const pages = (b: Uint8Array): number[] => [...b.keys()].filter((i) => b[i] === 0x4f && b[i + 1] === 0x67 && b[i + 2] === 0x67 && b[i + 3] === 0x53);
      assert.equal(pages(offSink.bytes()), pages(inline.bytes()));
    }
    const file = path.join(dir, `tone.${format === 'mp3' ? 'mp3' : 'ogg'}`);
    fs.writeFileSync(file, offSink.bytes());
    const audio = await decodeFile(file, { channels: 2 });
    const left = audio.pcm.filter((_, i) => i % 2 === 0);
    const right = audio.pcm.filter((_, i) => i % 2 === 1);
    assert.ok(toneFrames(left, audio.rate, 1000, { skipMs: 200 }).ratio > 0.9, 'left 1000 Hz');
    assert.ok(toneFrames(right, audio.rate, 1500, { skipMs: 200 }).ratio > 0.9, 'right 1500 Hz');
  });
}

test('many encoders at once spread over the workers; each file is its own', async () => {
  const sinks: MemorySink[] = [];
  const encs: OffloadEncoder[] = [];
  for (let i = 0; i < 6; i++) {
    const s = new MemorySink();
    sinks.push(s);
    encs.push(pool.open({ format: 'mp3', inputRate: 16000, sampleRate: 16000, channels: 2 }, s));
  }
  assert.equal(pool.load(), [3, 3]);
  const fr = frames();
  for (let k = 0; k < 50; k++) encs.forEach((e, i) => e.write(i % 2 === 0 ? fr[k]! : new Int16Array(fr[k]!.length)));
  for (const e of encs) e.close();
  await Promise.all(encs.map((e) => e.drained()));
  assert.equal(pool.load(), [0, 0], 'closed encoders leave their workers');
  // Even ones had the tones, odd ones silence: different files, equal within each group.
  assert.equal(sinks[0]!.bytes(), sinks[2]!.bytes());
  assert.equal(sinks[1]!.bytes(), sinks[3]!.bytes());
  assert.not.equal(sinks[0]!.bytes(), sinks[1]!.bytes());
});

test('lagMs and backlog: the age of the oldest batch a worker has not answered; 0 once it caught up', async () => {
  const own = new EncoderPool(1);
  try {
    assert.is(own.lagMs(), 0, 'no worker yet');
    const fr = frames();
    const t0 = performance.now();
    const encs = Array.from({ length: 8 }, () => own.open({ format: 'mp3', inputRate: 16000, sampleRate: 16000, channels: 2 }, new MemorySink()));
    // 3 s of audio each, sent in one turn: 12 batches per encoder wait for the worker.
    for (const f of fr) for (const e of encs) e.write(f);
    for (const e of encs) e.close();
    const waiting = own.backlog();
    assert.ok(waiting >= 8 * (12 + 2) - 1, `opens, batches and closes unanswered: ${waiting}`);
    // Nothing was answered inside this turn: the oldest was sent at or after t0.
    const later = performance.now() + 5000;
    assert.ok(own.lagMs(later) >= 5000 && own.lagMs(later) <= later - t0, `${own.lagMs(later)}`);
    await Promise.all(encs.map((e) => e.drained()));
    assert.is(own.backlog(), 0);
    assert.is(own.lagMs(performance.now() + 5000), 0, 'caught up: no lag however late it is asked');
    // utilization(): the busiest worker's share of the time since the last call spent encoding.
    own.utilization();
    await new Promise((r) => setTimeout(r, 400));
    const idle = own.utilization();
    assert.ok(idle < 0.2, `idle ${idle}`);
    const more = Array.from({ length: 8 }, () => own.open({ format: 'mp3', inputRate: 16000, sampleRate: 16000, channels: 2 }, new MemorySink()));
    for (const f of fr) for (const e of more) e.write(f);
    for (const e of more) e.close();
    await Promise.all(more.map((e) => e.drained()));
    const busy = own.utilization();
    assert.ok(busy > 0.5 && busy <= 1, `busy ${busy} (idle ${idle})`);
  } finally {
    await own.close();
  }
});

test('bad options are refused at open(), as by createEncoder; write after close throws', async () => {
  assert.throws(() => pool.open({ format: 'mp3', inputRate: 16000, sampleRate: 44100 as 16000, channels: 2 }, new MemorySink()), /sampleRate/);
  const e = pool.open({ format: 'mp3', inputRate: 8000, sampleRate: 8000, channels: 1 }, new MemorySink());
  e.close();
  await e.drained();
  assert.throws(() => e.write(new Int16Array(160)), (err: { code?: string }) => err.code === 'ERR_INVALID_STATE');
});

test('a closed pool fails its open encoders (drained rejects), it does not hang them', async () => {
  const p = new EncoderPool(1);
  const e = p.open({ format: 'opus', inputRate: 8000, sampleRate: 8000, channels: 1 }, new MemorySink());
  e.write(new Int16Array(1600));
  await p.close();
  e.close();
  await e.drained().then(
    () => assert.unreachable('drained after the pool closed'),
    (err: Error) => assert.match(err.message, /pool closed/),
  );
});

test.run();
