/**
 * Prompts: files decoded by ffmpeg and speech from espeak-ng, played through a real Mixer by
 * Prompt, checked in the mixer's output with the Goertzel detector (tone, timing, duration).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mixer } from '../mixer/index.js';
import type { FrameConsumer, MixerRate } from '../mixer/index.js';
import { ToneGenerator, rms, toneFrames } from '../dsp/index.js';
import { Prompt } from '../calls/Prompt.js';
import { loadAudioFile, resolveMediaPath, synthesize, MAX_TTS_CHARS } from '../calls/audioSource.js';

const dir = mkdtempSync(join(tmpdir(), 'recgate-prompt-'));

/** A canonical 16-bit PCM WAV: RIFF header, fmt chunk, data chunk (little-endian throughout). */
function wavBytes(pcm: Int16Array, rateHz: number, channels: 1 | 2): Buffer {
  const data = pcm.length * 2;
  const b = Buffer.alloc(44 + data);
  b.write('RIFF', 0, 'ascii');
  b.writeUInt32LE(36 + data, 4); // RIFF size: everything after this field
  b.write('WAVE', 8, 'ascii');
  b.write('fmt ', 12, 'ascii');
  b.writeUInt32LE(16, 16); // fmt chunk size (PCM)
  b.writeUInt16LE(1, 20); // format 1 = PCM
  b.writeUInt16LE(channels, 22);
  b.writeUInt32LE(rateHz, 24);
  b.writeUInt32LE(rateHz * channels * 2, 28); // byte rate
  b.writeUInt16LE(channels * 2, 32); // block align
  b.writeUInt16LE(16, 34); // bits per sample
  b.write('data', 36, 'ascii');
  b.writeUInt32LE(data, 40);
  for (let i = 0; i < pcm.length; i++) b.writeInt16LE(pcm[i]!, 44 + 2 * i);
  return b;
}

/** `ms` of `freqHz` at `rateHz`, the same tone in every channel (interleaved). */
function toneWav(path: string, freqHz: number, rateHz: number, ms: number, channels: 1 | 2 = 1): void {
  const frames = (rateHz * ms) / 1000;
  const mono = new Int16Array(frames);
  new ToneGenerator(freqHz, rateHz, 8000).fill(mono, 0, frames);
  const pcm = new Int16Array(frames * channels);
  for (let i = 0; i < pcm.length; i++) pcm[i] = mono[Math.floor(i / channels)]!;
  writeFileSync(path, wavBytes(pcm, rateHz, channels));
}

const WAV = join(dir, 'a440.wav'); // 1 s of 440 Hz, 16000 Hz mono
toneWav(WAV, 440, 16000, 1000);

/** Collects every frame of an output. */
class Collector implements FrameConsumer {
  chunks: Int16Array[] = [];
  onFrame(pcm: Int16Array): void {
    this.chunks.push(pcm.slice());
  }
  pcm(): Int16Array {
    const out = new Int16Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/** A mixer on a virtual clock with a Prompt on one input and a mono output of everything. */
function rig(rate: MixerRate = 8000) {
  const c = { t: 1000 };
  const mixer = new Mixer({ sampleRate: rate, delayMs: 60, now: () => c.t });
  const prompt = new Prompt(mixer.createInput('prompt'), rate);
  const out = new Collector();
  mixer.addOutput({ kind: 'mono' }, out);
  /** Advances 20 ms per tick, then lets promise callbacks run. */
  async function ticks(n: number, until?: () => boolean): Promise<void> {
    for (let i = 0; i < n && !(until?.() ?? false); i++) {
      c.t += 20;
      mixer.service(c.t);
      await new Promise((r) => setImmediate(r));
    }
  }
  return { mixer, prompt, out, ticks };
}

/** First and last sample whose magnitude passes `level` (-1 when none). */
function extent(pcm: Int16Array, level = 1000): [number, number] {
  let first = -1;
  let last = -1;
  for (let i = 0; i < pcm.length; i++) {
    if (Math.abs(pcm[i]!) > level) {
      if (first === -1) first = i;
      last = i;
    }
  }
  return [first, last];
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return String((err as { code?: unknown }).code);
  }
  return 'resolved';
}

test('a 16 kHz WAV loaded at 8 kHz plays 440 Hz for 1 s; play() resolves in the tick that mixed its last sample', async () => {
  const pcm = await loadAudioFile(WAV, 8000);
  assert.ok(Math.abs(pcm.length - 8000) <= 2, `decoded ${pcm.length} samples`);
  const { mixer, prompt, out, ticks } = rig(8000);
  let resolvedAt = -1;
  void prompt.play(pcm).then(() => (resolvedAt = mixer.position));
  assert.ok(prompt.busy);
  await ticks(200, () => resolvedAt !== -1);
  await ticks(10);
  // The first play anchors at mixer position 0, so the clip occupies [0, pcm.length).
  assert.ok(resolvedAt >= pcm.length, `resolved at ${resolvedAt}, before the clip's end ${pcm.length} was mixed`);
  assert.ok(resolvedAt < pcm.length + mixer.frameSamples, `resolved at ${resolvedAt}, a tick late`);
  assert.not.ok(prompt.busy);
  const mixed = out.pcm();
  const [on, off] = extent(mixed);
  assert.ok(on >= 0 && on < 10, `onset at sample ${on}`);
  const ms = ((off - on + 1) * 1000) / 8000;
  assert.ok(Math.abs(ms - 1000) <= 20, `tone lasted ${ms} ms`);
  const body = mixed.subarray(on, off + 1);
  assert.ok(toneFrames(body, 8000, 440).ratio >= 0.95, '440 Hz in the mix');
  assert.ok(toneFrames(body, 8000, 1000, { minFraction: 0.2 }).toneFrames === 0, 'nothing at 1 kHz');
  assert.ok(rms(mixed, off + 80, mixed.length - off - 80) < 5, 'silence after the clip');
});

test('tone() with whenIdle(): resolves once tone and gap have been mixed; clips queue in order with their gaps', async () => {
  const { mixer, prompt, out, ticks } = rig(8000);
  prompt.tone(1000, 200, 100);
  let idleAt = -1;
  void prompt.whenIdle().then(() => (idleAt = mixer.position));
  await ticks(100, () => idleAt !== -1);
  assert.ok(idleAt >= 2400 && idleAt < 2400 + 160, `idle at ${idleAt}, tone + gap end at 2400`);
  assert.is(prompt.tonesPlayed, 1);
  assert.ok(toneFrames(out.pcm().subarray(0, 1600), 8000, 1000).ratio >= 0.95);
  let sawIdle = false;
  await prompt.whenIdle().then(() => (sawIdle = true));
  assert.ok(sawIdle, 'whenIdle() on an idle prompt resolves at once');

  // Two clips, 440 Hz then 880 Hz, 100 ms of silence between (the first one's gap).
  const a = new Int16Array(800);
  const b = new Int16Array(800);
  new ToneGenerator(440, 8000, 8000).fill(a, 0, 800);
  new ToneGenerator(880, 8000, 8000).fill(b, 0, 800);
  const order: string[] = [];
  const start = mixer.position;
  void prompt.play(a, 100).then(() => order.push(`a@${mixer.position - start}`));
  void prompt.play(b).then(() => order.push(`b@${mixer.position - start}`));
  assert.is(prompt.clipsPlayed, 2);
  await ticks(100, () => order.length === 2);
  // Ends: a + gap at 1600 samples, b at 2400 (after the frame that started them, at `start`).
  assert.equal(order, ['a@1600', 'b@2400']);
  const mixed = out.pcm().subarray(start);
  assert.ok(toneFrames(mixed.subarray(0, 800), 8000, 440).ratio >= 0.95);
  assert.ok(rms(mixed, 800, 800) === 0, 'the gap is silent');
  assert.ok(toneFrames(mixed.subarray(1600, 2400), 8000, 880).ratio >= 0.95);
});

test('stop() drops what is queued, resolves the pending promises and silences the prompt from the next frame', async () => {
  const pcm = await loadAudioFile(WAV, 8000);
  const { mixer, prompt, out, ticks } = rig(8000);
  let resolved = false;
  let idle = false;
  void prompt.play(pcm).then(() => (resolved = true));
  void prompt.play(pcm).then(() => (resolved = true));
  void prompt.whenIdle().then(() => (idle = true));
  await ticks(25); // 60 ms playout delay, then 440 ms of the clip
  assert.not.ok(resolved);
  const stoppedAt = mixer.position;
  assert.ok(stoppedAt > 0 && stoppedAt < pcm.length);
  prompt.stop();
  await new Promise((r) => setImmediate(r));
  assert.ok(resolved && idle, 'stop() resolved play() and whenIdle()');
  assert.not.ok(prompt.busy);
  await ticks(30);
  const mixed = out.pcm();
  assert.ok(toneFrames(mixed.subarray(0, stoppedAt), 8000, 440).ratio >= 0.95, 'played until stop()');
  assert.is(rms(mixed, stoppedAt, mixed.length - stoppedAt), 0, 'nothing after stop()');
});

test('an MP3 (stereo) and a 44.1 kHz stereo WAV load as mono at the asked rate', async () => {
  const mp3 = join(dir, 'a440.mp3');
  execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', WAV, '-ac', '2', '-codec:a', 'libmp3lame', '-b:a', '64k', mp3]);
  const fromMp3 = await loadAudioFile(mp3, 8000);
  // ffmpeg drops the encoder delay and padding named in the LAME tag; allow 20 ms either way.
  assert.ok(Math.abs(fromMp3.length - 8000) <= 160, `mp3 gave ${fromMp3.length} samples`);
  assert.ok(toneFrames(fromMp3, 8000, 440, { skipMs: 20 }).ratio >= 0.95, '440 Hz in the MP3');

  const stereo = join(dir, 'a440-44k-stereo.wav');
  toneWav(stereo, 440, 44100, 500, 2);
  const pcm = await loadAudioFile(stereo, 48000);
  assert.ok(Math.abs(pcm.length - 24000) <= 5, `stereo WAV gave ${pcm.length} samples`);
  assert.ok(toneFrames(pcm, 48000, 440).ratio >= 0.95, '440 Hz in the stereo WAV');
  // Both channels hold the same tone, so the mono mix keeps its level (amplitude 8000, RMS 5657).
  assert.ok(Math.abs(rms(pcm, 4800, 9600) - 5657) < 200, `level ${rms(pcm, 4800, 9600)}`);
});

test('loadAudioFile failures carry stable codes', async () => {
  const garbage = join(dir, 'garbage.wav');
  writeFileSync(garbage, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) & 0xff)));
  const text = join(dir, 'notes.mp3');
  writeFileSync(text, 'this is not audio\n'.repeat(100));
  const empty = join(dir, 'empty.wav');
  writeFileSync(empty, '');
  const headerOnly = join(dir, 'header-only.wav');
  writeFileSync(headerOnly, wavBytes(new Int16Array(0), 16000, 1));
  const ogg = join(dir, 'a440.ogg');
  execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', WAV, '-codec:a', 'libvorbis', ogg]);
  const cases: { name: string; run: () => Promise<unknown>; code: string }[] = [
    { name: 'missing file', run: () => loadAudioFile(join(dir, 'nope.wav'), 8000), code: 'ERR_AUDIO_FILE_NOT_FOUND' },
    { name: 'under a file, not a folder', run: () => loadAudioFile(join(WAV, 'x.wav'), 8000), code: 'ERR_AUDIO_FILE_NOT_FOUND' },
    { name: 'a directory', run: () => loadAudioFile(dir, 8000), code: 'ERR_AUDIO_FILE_NOT_FOUND' },
    { name: 'random bytes', run: () => loadAudioFile(garbage, 8000), code: 'ERR_AUDIO_FILE_INVALID' },
    { name: 'text named .mp3', run: () => loadAudioFile(text, 8000), code: 'ERR_AUDIO_FILE_INVALID' },
    { name: 'empty file', run: () => loadAudioFile(empty, 8000), code: 'ERR_AUDIO_FILE_INVALID' },
    { name: 'WAV header without samples', run: () => loadAudioFile(headerOnly, 8000), code: 'ERR_AUDIO_FILE_INVALID' },
    { name: 'Ogg Vorbis (not WAV or MP3)', run: () => loadAudioFile(ogg, 8000), code: 'ERR_AUDIO_FILE_INVALID' },
    { name: 'longer than the cap', run: () => loadAudioFile(WAV, 8000, { maxDurationSec: 0.5 }), code: 'ERR_AUDIO_TOO_LONG' },
    { name: 'ffmpeg slower than the timeout', run: () => loadAudioFile(WAV, 8000, { timeoutMs: 1 }), code: 'ERR_AUDIO_TIMEOUT' },
    { name: 'rate 44100', run: () => loadAudioFile(WAV, 44100), code: 'ERR_INVALID_ARGUMENT' },
    { name: 'empty name', run: () => loadAudioFile('', 8000), code: 'ERR_INVALID_ARGUMENT' },
    { name: 'no ffmpeg', run: () => loadAudioFile(WAV, 8000, { ffmpegPath: join(dir, 'no-ffmpeg') }), code: 'ERR_AUDIO_DECODER_UNAVAILABLE' },
  ];
  for (const c of cases) assert.is(await codeOf(c.run()), c.code, c.name);
  // A name that looks like another ffmpeg protocol is still a local file.
  const odd = join(dir, 'concat:x.wav');
  toneWav(odd, 440, 8000, 100);
  assert.is((await loadAudioFile(odd, 8000)).length, 800);
});

test('resolveMediaPath keeps names inside <dataDir>/media', async () => {
  const data = join(dir, 'data');
  const media = join(data, 'media');
  mkdirSync(join(media, 'greetings'), { recursive: true });
  toneWav(join(media, 'hello.wav'), 440, 8000, 100);
  toneWav(join(media, 'greetings', 'morning.wav'), 440, 8000, 100);
  writeFileSync(join(data, 'secret.wav'), 'outside');
  symlinkSync(join(data, 'secret.wav'), join(media, 'escape.wav'));
  symlinkSync(data, join(media, 'updir'));
  symlinkSync(join(media, 'hello.wav'), join(media, 'alias.wav'));
  symlinkSync(join(media, 'gone.wav'), join(media, 'dangling.wav'));

  assert.is(resolveMediaPath(data, 'hello.wav'), join(media, 'hello.wav'));
  assert.is(resolveMediaPath(data, 'greetings/morning.wav'), join(media, 'greetings', 'morning.wav'));
  assert.is(resolveMediaPath(data, join(media, 'hello.wav')), join(media, 'hello.wav'), 'absolute inside');
  assert.is(resolveMediaPath(data, 'alias.wav'), join(media, 'hello.wav'), 'a symlink inside resolves to its target');
  assert.is((await loadAudioFile(resolveMediaPath(data, 'hello.wav'), 8000)).length, 800);

  const cases: { name: string; code: string }[] = [
    { name: '../secret.wav', code: 'ERR_AUDIO_FILE_FORBIDDEN' },
    { name: 'greetings/../../secret.wav', code: 'ERR_AUDIO_FILE_FORBIDDEN' },
    { name: 'greetings/../hello.wav', code: 'ERR_AUDIO_FILE_FORBIDDEN' }, // '..' is refused even when it stays inside
    { name: '..', code: 'ERR_AUDIO_FILE_FORBIDDEN' },
    { name: '/etc/passwd', code: 'ERR_AUDIO_FILE_FORBIDDEN' },
    { name: join(data, 'secret.wav'), code: 'ERR_AUDIO_FILE_FORBIDDEN' },
    { name: media, code: 'ERR_AUDIO_FILE_FORBIDDEN' }, // the folder itself
    { name: 'escape.wav', code: 'ERR_AUDIO_FILE_FORBIDDEN' }, // symlink to a file outside
    { name: 'updir/secret.wav', code: 'ERR_AUDIO_FILE_FORBIDDEN' }, // through a symlinked folder outside
    { name: 'missing.wav', code: 'ERR_AUDIO_FILE_NOT_FOUND' },
    { name: 'dangling.wav', code: 'ERR_AUDIO_FILE_NOT_FOUND' },
    { name: 'greetings', code: 'ERR_AUDIO_FILE_NOT_FOUND' }, // a folder, not a file
    { name: '', code: 'ERR_INVALID_ARGUMENT' },
    { name: 'a\0.wav', code: 'ERR_INVALID_ARGUMENT' },
  ];
  for (const c of cases) assert.is(await codeOf(Promise.resolve().then(() => resolveMediaPath(data, c.name))), c.code, JSON.stringify(c.name));
  assert.is(await codeOf(Promise.resolve().then(() => resolveMediaPath(join(dir, 'no-data'), 'hello.wav'))), 'ERR_AUDIO_FILE_NOT_FOUND', 'no media folder');
});

/** synthesize(), failing with a clear message when espeak-ng is missing (CI installs it). */
async function speak(text: string, rate: number, options: Parameters<typeof synthesize>[2] = {}): Promise<Int16Array> {
  try {
    return await synthesize(text, rate, options);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_TTS_UNAVAILABLE') {
      assert.unreachable(`espeak-ng is not installed: apt-get install espeak-ng (.ci/run installs it). ${String(err)}`);
    }
    throw err;
  }
}

test('synthesize speaks at 8 kHz: 0.8..4 s with speech energy, and it plays through a Prompt', async () => {
  const pcm = await speak('recording will start now', 8000);
  const sec = pcm.length / 8000;
  assert.ok(sec >= 0.8 && sec <= 4, `speech lasted ${sec} s`);
  const level = rms(pcm, 0, pcm.length);
  assert.ok(level > 500, `speech RMS ${level}`);
  // Speech energy sits in the voice band, not in a single tone.
  assert.ok(toneFrames(pcm, 8000, 440).ratio < 0.2);

  const { mixer, prompt, out, ticks } = rig(8000);
  let done = -1;
  void prompt.play(pcm).then(() => (done = mixer.position));
  await ticks(400, () => done !== -1);
  assert.ok(done >= pcm.length && done < pcm.length + 160, `resolved at ${done} for ${pcm.length} samples`);
  const mixed = out.pcm();
  assert.ok(Math.abs(rms(mixed, 0, pcm.length) - level) < 1, 'the mix is the speech');
});

test('synthesize options: speed changes the length, a text starting with "-" is spoken, not parsed as an option', async () => {
  const slow = await speak('recording will start now', 16000, { speedWpm: 100 });
  const fast = await speak('recording will start now', 16000, { speedWpm: 300 });
  assert.ok(fast.length < slow.length * 0.6, `fast ${fast.length} vs slow ${slow.length} samples`);
  const dash = await speak('--help me', 16000, { voice: 'en-us' });
  assert.ok(dash.length > 8000 && rms(dash, 0, dash.length) > 500, 'spoken');
  const cases: { name: string; run: () => Promise<unknown>; code: string }[] = [
    { name: 'empty', run: () => synthesize('', 8000), code: 'ERR_INVALID_ARGUMENT' },
    { name: 'blank', run: () => synthesize('  \n ', 8000), code: 'ERR_INVALID_ARGUMENT' },
    { name: `${MAX_TTS_CHARS + 1} characters`, run: () => synthesize('a'.repeat(MAX_TTS_CHARS + 1), 8000), code: 'ERR_INVALID_ARGUMENT' },
    { name: 'rate 22050', run: () => synthesize('hello', 22050), code: 'ERR_INVALID_ARGUMENT' },
    { name: 'voice with a slash', run: () => synthesize('hello', 8000, { voice: '../x' }), code: 'ERR_INVALID_ARGUMENT' },
    { name: 'speed 20 wpm', run: () => synthesize('hello', 8000, { speedWpm: 20 }), code: 'ERR_INVALID_ARGUMENT' },
    { name: 'unknown voice', run: () => synthesize('hello', 8000, { voice: 'zz-nope' }), code: 'ERR_TTS_FAILED' },
  ];
  for (const c of cases) assert.is(await codeOf(c.run()), c.code, c.name);
});

test('synthesize without espeak-ng: ERR_TTS_UNAVAILABLE telling to install it (empty PATH, or espeakPath)', async () => {
  const emptyBin = join(dir, 'empty-bin');
  mkdirSync(emptyBin);
  const path = process.env['PATH'];
  let err: unknown;
  process.env['PATH'] = emptyBin;
  try {
    await synthesize('recording will start now', 8000);
  } catch (e) {
    err = e;
  } finally {
    process.env['PATH'] = path;
  }
  assert.is((err as { code?: unknown }).code, 'ERR_TTS_UNAVAILABLE');
  assert.match(String(err), /install.*espeak-ng/);
  assert.is(await codeOf(synthesize('hello', 8000, { espeakPath: join(emptyBin, 'espeak-ng') })), 'ERR_TTS_UNAVAILABLE');
});

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test.run();
