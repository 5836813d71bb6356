/**
 * Recording lifecycle on real files: time limit, pause (skip or silence), the bounded write
 * queue reporting a disk that cannot keep up, a full disk (/dev/full), checksums.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Mixer } from '../mixer/index.js';
import { createHash } from 'node:crypto';
import { FileSink, Recording, fileHashStats, hashFile, warmFileHash } from '../recorder/index.js';
import { ToneGenerator, toneFrames, rms } from '../dsp/index.js';
import { decodeFile } from './helpers/ffmpeg.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-recording-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A mixer with one leg producing a tone, driven in virtual time. */
function toneCall() {
  let t = 0;
  const mixer = new Mixer({ sampleRate: 8000, delayMs: 20, now: () => t });
  const leg = mixer.createInput('caller');
  const gen = new ToneGenerator(1000, 8000, 12000);
  const buf = new Int16Array(160);
  /** Advances `ms` of call time (the leg sends 20 ms per step); `runClock` false: a busy loop that does not run the mixer's clock meanwhile. */
  const advance = (ms: number, runClock = true): void => {
    for (let i = 0; i < ms / 20; i++) {
      if (!leg.anchored) leg.anchor();
      gen.fill(buf, 0, 160);
      leg.write(buf, 0, 160);
      t += 20;
      if (runClock) mixer.service(t, 1000);
    }
  };
  return { mixer, advance };
}

test('time limit: the recording stops itself at time_limit and says so', async () => {
  const { mixer, advance } = toneCall();
  const rec = await Recording.start({ mixer, path: path.join(dir, 'limit.wav'), format: 'wav', sampleRate: 8000, channels: 1, timeLimitSec: 0.5 });
  let autostop = '';
  rec.on('autostop', (r) => (autostop = r));
  advance(1000);
  const r = await rec.stop();
  assert.is(autostop, 'time_limit');
  assert.is(r.reason, 'time_limit');
  assert.is(r.durationMs, 500);
  assert.is(r.state, 'ended');
  const a = await decodeFile(r.path);
  assert.is(a.frames, 4000);
  // Hashed on the hash worker, not the event loop; checked against a hash of the bytes here.
  assert.is(r.sha256, createHash('sha256').update(fs.readFileSync(r.path)).digest('hex'));
  assert.ok(fileHashStats().lastThreadId > 0, `hashed on thread ${fileHashStats().lastThreadId} (0 is the event loop)`);
  assert.is(r.fileSize, 44 + 8000);
});

test('hashFile: a prefix, a whole file larger than its 1 MiB pieces, and a missing file rejected with its errno code', async () => {
  const file = path.join(dir, 'hash.bin');
  const bytes = Buffer.alloc(3 * 1024 * 1024 + 123);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
  fs.writeFileSync(file, bytes);
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  assert.is(await hashFile(file), sha(bytes));
  assert.is(await hashFile(file, 1000), sha(bytes.subarray(0, 1000)));
  assert.is(await hashFile(file, 0), sha(Buffer.alloc(0)));
  const missing = await hashFile(path.join(dir, 'nope.bin')).then(
    () => 'resolved',
    (e: NodeJS.ErrnoException) => e.code,
  );
  assert.is(missing, 'ENOENT');
  // Jobs at once are answered each with its own file's hash.
  const many = await Promise.all([1, 2, 3, 4].map((k) => hashFile(file, k * 100000)));
  assert.equal(many, [1, 2, 3, 4].map((k) => sha(bytes.subarray(0, k * 100000))));
});

test('warmFileHash (called at start-up) has the worker loaded and answering before any recording ends', async () => {
  assert.is(await warmFileHash(), true);
  const warmed = fileHashStats().lastThreadId;
  assert.ok(warmed > 0, `warmed on thread ${warmed}`);
  const file = path.join(dir, 'after-warm.bin');
  fs.writeFileSync(file, 'abc');
  assert.is(await hashFile(file), createHash('sha256').update('abc').digest('hex'));
  assert.is(fileHashStats().lastThreadId, warmed, 'the worker warmed up is the one that hashes');
});

test('a recording takes the audio from when it is started, while its file is still being created', async () => {
  const { mixer, advance } = toneCall();
  advance(200); // the call is up
  const file = path.join(dir, 'from-start.wav');
  const starting = Recording.start({ mixer, path: file, format: 'wav', sampleRate: 8000, channels: 1 });
  // 300 ms of call pass before the open (on the libuv threadpool, busy under load) completes.
  advance(300);
  const rec = await starting;
  advance(200);
  const r = await rec.stop();
  assert.is(r.durationMs, 500, 'from the start request to the stop');
  const a = await decodeFile(r.path);
  assert.ok(toneFrames(a.pcm, 8000, 1000).ratio > 0.95, 'the tone throughout');
  // A file that cannot be created still fails the start, and leaves nothing behind it.
  const refused = await Recording.start({ mixer, path: file, format: 'wav', sampleRate: 8000, channels: 1 }).then(
    () => 'started',
    (e: Error) => e.message,
  );
  assert.match(refused, /cannot create/);
  assert.is(fs.statSync(file).size, r.fileSize, 'the existing recording is untouched');
  assert.is(mixer.stats().outputs, 0, 'the failed start left no output on the mixer');
});

test('a recording started before the first packet keeps the call\'s timeline: silence, then the audio', async () => {
  // Under load a party's first RTP packet comes a few hundred ms after the answer that started
  // the recording. The file must still run from the start to the hangup (its offsets are call
  // time), not from the first packet.
  let t = 0;
  const mixer = new Mixer({ sampleRate: 8000, delayMs: 20, now: () => t });
  const leg = mixer.createInput('caller');
  const rec = await Recording.start({ mixer, path: path.join(dir, 'late-media.wav'), format: 'wav', sampleRate: 8000, channels: 1 });
  assert.ok(mixer.started, 'the recording started the idle clock');
  const gen = new ToneGenerator(1000, 8000, 12000);
  const buf = new Int16Array(160);
  for (; t < 1000; ) {
    if (t >= 300) {
      if (!leg.anchored) leg.anchor();
      gen.fill(buf, 0, 160);
      leg.write(buf, 0, 160);
    }
    t += 20;
    mixer.service(t, 10);
  }
  mixer.drain();
  const r = await rec.stop();
  assert.is(r.durationMs, 1000, 'from the start to the hangup');
  const a = await decodeFile(r.path);
  assert.is(rms(a.pcm, 0, 300 * 8), 0, 'silent before the first packet');
  assert.ok(toneFrames(a.pcm.subarray(300 * 8), 8000, 1000).ratio > 0.99, 'the tone from 300 ms on, in place');
});

test('a call that ends while a busy event loop left the mixer behind: the recording still lasts until the hangup', async () => {
  let t = 0;
  const mixer = new Mixer({ sampleRate: 8000, delayMs: 20, now: () => t });
  const leg = mixer.createInput('caller');
  const rec = await Recording.start({ mixer, path: path.join(dir, 'behind.wav'), format: 'wav', sampleRate: 8000, channels: 1 });
  const gen = new ToneGenerator(1000, 8000, 12000);
  const buf = new Int16Array(160);
  for (; t < 600; ) {
    if (!leg.anchored) leg.anchor();
    gen.fill(buf, 0, 160);
    leg.write(buf, 0, 160);
    t += 20;
    mixer.service(t, 10);
  }
  // The caller hung up at 600 ms; the loop handles the BYE at 1000 ms, its clock not run since.
  t = 1000;
  mixer.drain();
  const r = await rec.stop();
  assert.is(r.durationMs, 1000, 'from the start to the hangup');
  const a = await decodeFile(r.path);
  assert.ok(toneFrames(a.pcm.subarray(0, 600 * 8), 8000, 1000).ratio > 0.99, 'the audio');
  assert.is(rms(a.pcm, 620 * 8, 380 * 8), 0, 'then silence until the hangup');
});

test('a recording started while a busy event loop left the clock behind takes no audio from before its start', async () => {
  const { mixer, advance } = toneCall();
  advance(500); // 500 ms of call
  advance(300, false); // 300 ms in which the loop did not run the clock
  const rec = await Recording.start({ mixer, path: path.join(dir, 'started-behind.wav'), format: 'wav', sampleRate: 8000, channels: 1 });
  advance(200); // the clock catches up; 200 ms more
  mixer.drain();
  const r = await rec.stop();
  // From its start (800 ms) to the hang-up (1000 ms), and the playout delay the clock trails
  // by; not the 300 ms the clock caught up on.
  assert.is(r.durationMs, 220);
});

for (const behavior of ['skip', 'silence'] as const) {
  test(`pause with ${behavior}: the paused span is ${behavior === 'skip' ? 'absent' : 'silent'} and listed`, async () => {
    const { mixer, advance } = toneCall();
    const rec = await Recording.start({
      mixer,
      path: path.join(dir, `pause-${behavior}.wav`),
      format: 'wav',
      sampleRate: 8000,
      channels: 1,
      pauseBehavior: behavior,
    });
    advance(1000);
    rec.pause();
    assert.is(rec.state, 'paused');
    advance(500);
    rec.resume();
    advance(1000);
    mixer.drain();
    const r = await rec.stop();
    assert.is(r.pauses.length, 1);
    // The pause applies from the mixer's position, which trails the live edge by the
    // playout delay (20 ms here): 980 ms of audio are in the file when it starts.
    assert.is(r.pauses[0]!.offsetMs, 980);
    assert.is(r.pauses[0]!.callEndMs - r.pauses[0]!.callStartMs, 500);
    const a = await decodeFile(r.path);
    if (behavior === 'skip') {
      assert.is(r.durationMs, 2000); // 2.5 s sent, 0.5 s paused
      assert.ok(toneFrames(a.pcm, 8000, 1000).ratio > 0.99);
    } else {
      assert.is(r.durationMs, 2500);
      assert.ok(rms(a.pcm, 980 * 8, 500 * 8) === 0, 'silent while paused');
      assert.ok(toneFrames(a.pcm.subarray(0, 980 * 8), 8000, 1000).ratio > 0.99);
      assert.ok(toneFrames(a.pcm.subarray(1480 * 8), 8000, 1000).ratio > 0.99);
    }
  });
}

test('a closed sink holds no staging memory, and refuses what comes after', async () => {
  const file = path.join(dir, 'released.bin');
  const sink = await FileSink.create(file, { chunkBytes: 4096 });
  const data = new Uint8Array(1000).map((_, i) => i & 0xff);
  for (let i = 0; i < 10; i++) sink.append(data, 0, data.length);
  assert.ok(sink.stagingBytes >= 4096, `${sink.stagingBytes} bytes staged while open`);
  await sink.close();
  assert.is(sink.stagingBytes, 0);
  assert.is(fs.readFileSync(file).length, 10_000, 'everything written before it let go');
  assert.throws(() => sink.append(data, 0, 10), /closed/);
  sink.maybeFlush();
  sink.flush();
  assert.is(fs.readFileSync(file).length, 10_000);
});

test('a disk that cannot keep up: the bounded queue fails the sink with ERR_QUEUE_FULL, nothing is dropped silently', async () => {
  const file = path.join(dir, 'slow.bin');
  const sink = await FileSink.create(file, { chunkBytes: 1024, maxQueuedBytes: 4096 });
  const errors: string[] = [];
  sink.onError = (e) => errors.push(e.code);
  const data = new Uint8Array(1000).fill(7);
  // 64 kB appended without yielding: the disk gets no chance to drain the queue.
  for (let i = 0; i < 64; i++) sink.append(data, 0, data.length);
  assert.equal(errors, ['ERR_QUEUE_FULL']);
  await sink.close().then(
    () => assert.unreachable('close must report the failure'),
    (e: { code: string }) => assert.is(e.code, 'ERR_QUEUE_FULL'),
  );
  // What was queued before the failure is on disk, in order.
  const written = fs.readFileSync(file);
  assert.ok(written.length >= 4096 && written.length < 64000);
  assert.ok(written.every((b) => b === 7));
});

test('every sink flushes its partial chunk at the same clock boundaries, each byte waiting at most the interval', async () => {
  let t = 1010;
  const now = () => t;
  const [a, b] = await Promise.all(['phase-a.bin', 'phase-b.bin'].map((f) => FileSink.create(path.join(dir, f), { now, flushIntervalMs: 250 })));
  const bytes = new Uint8Array(160).fill(3);
  const staged = (): number[] => [a!.backlog, b!.backlog];
  a!.append(bytes, 0, 160); // a begins at 1010, b 120 ms later
  for (; t < 1250; t += 20) {
    if (t === 1130) b!.append(bytes, 0, 160);
    a!.maybeFlush();
    b!.maybeFlush();
  }
  assert.equal([a!.writes, b!.writes], [0, 0], 'nothing written before the boundary at 1250 ms');
  assert.equal(staged(), [160, 160]);
  // The boundary: both go to the disk in the same turn, a after 240 ms, b after 120 ms.
  a!.maybeFlush();
  b!.maybeFlush();
  for (let i = 0; i < 200 && a!.writes + b!.writes < 2; i++) await new Promise((r) => setTimeout(r, 10)); // the clock stays at 1250
  assert.equal([a!.writes, b!.writes], [1, 1], 'both flushed at 1250 ms');
  await Promise.all([a!.close(), b!.close()]);
  assert.is(fs.statSync(path.join(dir, 'phase-b.bin')).size, 160);
});

test('a full disk (/dev/full): the recording fails with reason disk_full, the call is not affected', async () => {
  const { mixer, advance } = toneCall();
  const rec = await Recording.start({
    mixer,
    path: '/dev/full',
    format: 'wav',
    sampleRate: 8000,
    channels: 1,
    sink: { overwrite: true, flushIntervalMs: 0 },
  });
  advance(200);
  await new Promise((r) => setTimeout(r, 50)); // let the writes fail
  advance(200); // the mixer keeps running
  const r = await rec.stop();
  assert.is(r.state, 'failed');
  assert.is(r.reason, 'disk_full');
  assert.is(r.error?.code, 'ERR_IO');
  assert.ok(mixer.ticks >= 19);
});

test('stop is idempotent and write-after-stop is ignored', async () => {
  const { mixer, advance } = toneCall();
  const rec = await Recording.start({ mixer, path: path.join(dir, 'twice.opus.ogg'), format: 'opus', sampleRate: 16000, channels: 1 });
  advance(400);
  const [a, b] = await Promise.all([rec.stop(), rec.stop()]);
  assert.is(a, b);
  advance(100);
  assert.is((await rec.stop()).durationMs, a.durationMs);
  assert.throws(() => rec.pause(), (e: { code: string }) => e.code === 'ERR_INVALID_STATE');
});

test.run();
