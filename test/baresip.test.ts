/**
 * The gateway against baresip, a real third-party SIP user agent (tier 3): baresip dials
 * sip:record@gateway and plays espeak-ng speech as PCMU; the recording, decoded by ffmpeg,
 * must be that speech (normalised cross-correlation >= 0.9 at a plausible lag) and cover it.
 * Fails, not skips, when baresip, espeak-ng, sox or ffmpeg is missing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BaresipProcess, freeUdpPort, requireTool, speechWav, writeBaresipConfig } from './helpers/baresip.js';
import type { BaresipExit } from './helpers/baresip.js';
import { decodeFile } from './helpers/ffmpeg.js';
import { startGateway } from './helpers/gateway.js';
import type { Call } from '../calls/index.js';
import { crossCorrelate } from './helpers/xcorr.js';

const SENTENCE = 'This is a recording test. One two three four five.';
const OTHER = 'The quick brown fox jumps over the lazy dog near the river bank.';
const RATE = 8000;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-baresip-'));
test.after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The speech as 8 kHz PCM, read back by ffmpeg (not by our own WAV code). */
async function speech(name: string, text: string): Promise<{ file: string; pcm: Int16Array; durationMs: number }> {
  const file = speechWav(dir, name, text);
  const audio = await decodeFile(file, { rate: RATE, channels: 1 });
  return { file, pcm: audio.pcm, durationMs: audio.durationMs };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

test('tools: baresip, espeak-ng, sox and ffmpeg are installed', () => {
  for (const tool of ['baresip', 'espeak-ng', 'sox', 'ffmpeg']) assert.ok(requireTool(tool).startsWith('/'), tool);
});

test('speech is deterministic; itself delayed 300 ms scores ~1 at 300 ms, a different sentence < 0.3', async () => {
  const a = await speech('speech', SENTENCE);
  const again = speechWav(dir, 'speech_again', SENTENCE);
  assert.ok(fs.readFileSync(again).equals(fs.readFileSync(a.file)), 'espeak-ng + sox -D give the same bytes twice');
  assert.ok(a.durationMs > 3000 && a.durationMs < 5000, `speech lasts ${a.durationMs} ms`);

  const late = new Int16Array(a.pcm.length + 0.3 * RATE + RATE);
  late.set(a.pcm, 0.3 * RATE);
  const self = crossCorrelate(a.pcm, late, RATE, 1000);
  assert.ok(self.score > 0.999, `self: ${self.score}`);
  assert.is(self.lagMs, 300);

  const b = await speech('other', OTHER);
  const other = crossCorrelate(a.pcm, b.pcm, RATE, 1000);
  assert.ok(other.score < 0.3, `different sentence: ${other.score}`);
  console.log(`  speech ${a.durationMs.toFixed(0)} ms; self+300 ms: ${self.score.toFixed(5)} at ${self.lagMs} ms; other sentence: ${other.score.toFixed(3)}`);
});

test('baresip calls sip:record over UDP with PCMU: the recording is the speech (xcorr >= 0.9, lag 0..1000 ms) and covers it', async () => {
  const src = await speech('call', SENTENCE);
  const gw = await startGateway();
  let baresip: BaresipProcess | null = null;
  try {
    const rtpBase = 20000 + 2 * Math.floor(Math.random() * 4900);
    const configDir = writeBaresipConfig(path.join(dir, 'cfg'), {
      audioFile: src.file,
      sipPort: await freeUdpPort(),
      rtpPorts: [rtpBase, rtpBase + 99],
    });
    // baresip hangs up when the file ends (~4 s); -t only bounds a stuck run.
    const timeoutSec = Math.ceil(src.durationMs / 1000) + 2;
    const ended = gw.nextEnded();
    baresip = BaresipProcess.start({ configDir, dial: `sip:record@127.0.0.1:${gw.sipPort}`, timeoutSec });
    const b = baresip;
    const call: Call = await withTimeout(ended, (timeoutSec + 3) * 1000, 'the call to end in the gateway').catch(
      async (err: unknown) => {
        const out = (await b.kill()).output;
        throw new Error(`${String(err)}\nbaresip output:\n${out.slice(-2000)}`);
      },
    );
    const exit: BaresipExit = await withTimeout(b.exited, (timeoutSec + 3) * 1000, 'baresip to exit');
    assert.is(exit.code, 0, `baresip exit ${exit.code}/${exit.signal}:\n${exit.output.slice(-2000)}`);
    assert.match(exit.output, 'Call established');

    // The call: answered PCMU, ended by baresip's BYE.
    assert.is(call.codec, 'PCMU');
    assert.is(call.endReason, 'caller:remote_bye', `end reason ${call.endReason}`);
    assert.ok(gw.logs.some((l) => l.event === 'call.start' && l.sip_call_id === call.sipCallId), 'call.start logged');
    assert.ok(gw.logs.some((l) => l.event === 'call.end' && l.sip_call_id === call.sipCallId), 'call.end logged');
    const stats = gw.gateway.stats();
    assert.is(stats.activeCalls, 0);
    assert.equal(stats.sip.parseErrors, {});

    // The recording, read back by ffmpeg.
    const rec = call.recordings[0]?.result;
    assert.ok(rec, 'a recording');
    assert.is(rec.state, 'ended');
    assert.is(rec.format, 'wav');
    assert.is(rec.sampleRate, RATE);
    assert.is(rec.channels, 1);
    const audio = await decodeFile(rec.path);
    assert.is(audio.rate, RATE);
    assert.is(audio.channels, 1);
    assert.ok(Math.abs(audio.durationMs - rec.durationMs) <= 20, `ffmpeg ${audio.durationMs} ms vs reported ${rec.durationMs} ms`);

    const x = crossCorrelate(src.pcm, audio.pcm, RATE, 1000);
    console.log(
      `  baresip call: speech ${src.durationMs.toFixed(0)} ms, recording ${audio.durationMs.toFixed(0)} ms, call ${call.durationMs()} ms; ` +
        `xcorr ${x.score.toFixed(5)} at ${x.lagMs.toFixed(3)} ms`,
    );
    assert.ok(x.score >= 0.9, `cross-correlation ${x.score} < 0.9`);
    assert.ok(x.lagMs >= 0 && x.lagMs <= 1000, `lag ${x.lagMs} ms`);
    // Covers the speech: baresip hung up at the end of its file, so the speech is all there
    // (or, had baresip hung up first, everything until the hangup).
    const expectMs = Math.min(src.durationMs, call.durationMs());
    assert.ok(audio.durationMs >= expectMs - 200, `recording ${audio.durationMs} ms < ${expectMs} - 200 ms`);
    assert.ok(x.lagMs + src.durationMs <= audio.durationMs + 200, `speech at ${x.lagMs} ms runs past the recording's end (${audio.durationMs} ms)`);
  } finally {
    if (baresip !== null) await baresip.kill();
    await gw.stop();
  }
});

test.run();
