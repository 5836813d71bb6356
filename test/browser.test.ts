/**
 * Real headless Chromium softphones (JsSIP) against the gateway, inside a network namespace
 * with only loopback (test/helpers/browserScenario.ts): a browser call recorded with its tone,
 * a trunk (sipp) call to a registered browser with stereo recording and the browser hearing
 * the trunk, and the recordings page listing and playing the recording, with screenshots.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toneFrames } from '../dsp/index.js';
import { decodeFile } from './helpers/ffmpeg.js';

const root = path.resolve(import.meta.dirname, '..');

test('browser softphones through the gateway: recorded call, trunk to browser, recordings page', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-browser-'));
  try {
    const script = path.join(root, 'test', 'helpers', 'browserScenario.ts');
    const child = spawn('unshare', ['-n', 'sh', '-c', `ip link set lo up && exec "${process.execPath}" --import tsx "${script}" "${out}"`], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    await new Promise<void>((resolve) => child.on('exit', () => resolve()));
    clearTimeout(timer);
    const line = /RESULT (.*)$/m.exec(stdout);
    assert.ok(line, `no result from the scenario:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const r = JSON.parse(line[1]!) as any;
    assert.ok(r.ok, `scenario failed: ${r.problems.join('\n')}`);

    // 1. The browser's 1000 Hz microphone, recorded (Opus in, WAV out): tone in >= 90% of frames after 500 ms.
    assert.is(r.bobCall.codec, 'opus');
    const bob = await decodeFile(r.bobCall.recording.path);
    const bobTone = toneFrames(bob.pcm, bob.rate, 1000, { skipMs: 500 });
    assert.ok(bobTone.ratio >= 0.9, `browser call: tone in ${(bobTone.ratio * 100).toFixed(1)}% of frames; receiver ${JSON.stringify(r.bobCall.receiver)} input ${JSON.stringify(r.bobCall.input)}`);
    assert.ok(bob.durationMs > 4000, `${bob.durationMs} ms`);

    // 1b. Browser bob (1000 Hz) -> connect route -> sipp trunk (1500 Hz): stereo, browser left,
    // trunk right; bob hears the trunk; DTMF by INFO and RFC 4733 kept and relayed (sipp checks).
    assert.is(r.trunkCode, 0);
    assert.match(r.trunkCall.codec, /^opus\/PCMU$/);
    const trunk = await decodeFile(r.trunkCall.recording.path);
    assert.is(trunk.channels, 2);
    const tLeft = toneFrames(trunk.pcm, trunk.rate, 1000, { channels: 2, channel: 0, skipMs: 500 });
    const tRight = toneFrames(trunk.pcm, trunk.rate, 1500, { channels: 2, channel: 1, skipMs: 500 });
    assert.ok(tLeft.ratio >= 0.9, `browser 1000 Hz on the left in ${(tLeft.ratio * 100).toFixed(1)}%`);
    assert.ok(tRight.ratio >= 0.9, `trunk 1500 Hz on the right in ${(tRight.ratio * 100).toFixed(1)}%`);
    const bobHears = r.bobHearsTrunk as { f1500: number; mean: number };
    assert.ok(bobHears.f1500 > 50 * bobHears.mean, `analyser: 1500 Hz ${bobHears.f1500} vs mean ${bobHears.mean}`);
    assert.equal(
      (r.trunkCall.dtmf as { leg: string; digit: string; via: string }[]).map((d) => `${d.leg}:${d.digit}:${d.via}`),
      ['caller:4:info', 'caller:7:rfc4733'],
    );

    // 2. sipp (1500 Hz) -> gateway -> browser alice (1000 Hz): stereo, trunk left, browser right.
    assert.is(r.sippCode, 0);
    assert.match(r.aliceCall.codec, /^PCMU\/opus$/);
    const alice = await decodeFile(r.aliceCall.recording.path);
    assert.is(alice.channels, 2);
    const left = toneFrames(alice.pcm, alice.rate, 1500, { channels: 2, channel: 0, skipMs: 500 });
    const right = toneFrames(alice.pcm, alice.rate, 1000, { channels: 2, channel: 1, skipMs: 500 });
    assert.ok(left.ratio >= 0.9, `trunk 1500 Hz on the left in ${(left.ratio * 100).toFixed(1)}%`);
    assert.ok(right.ratio >= 0.9, `browser 1000 Hz on the right in ${(right.ratio * 100).toFixed(1)}%`);
    // alice's second device rang too (forked INVITE) and was cancelled when the first answered.
    assert.ok(r.aliceTablet.history.includes('incoming'), JSON.stringify(r.aliceTablet));
    assert.not.ok(r.aliceTablet.history.includes('in_call'), JSON.stringify(r.aliceTablet));
    assert.match(r.aliceTablet.lastCause, /Canceled/i);
    // The browser hears the trunk's 1500 Hz (WebAudio analyser on the remote stream).
    const hears = r.aliceHears as { f1500: number; f1000: number; mean: number };
    assert.ok(hears.f1500 > 50 * hears.mean, `analyser: 1500 Hz ${hears.f1500} vs mean ${hears.mean}`);

    // 2b. Conference: the browser hears the two sipp callers and not itself; the mix holds all three.
    assert.equal(r.conferenceSippCodes, [0, 0]);
    const conf = r.bobHearsConference as { f800: number; f1000: number; f1200: number; mean: number };
    assert.ok(conf.f800 > 50 * conf.mean && conf.f1200 > 50 * conf.mean, `analyser in the conference: ${JSON.stringify(conf)}`);
    assert.ok(conf.f1000 < conf.f800 / 20, `the browser hears itself: ${JSON.stringify(conf)}`);
    assert.is(r.conference.participants, 3);
    assert.is(r.conference.recordings.length, 1);
    const mix = await decodeFile(r.conference.recordings[0].path);
    for (const hz of [800, 1000, 1200]) {
      const f = toneFrames(mix.pcm, mix.rate, hz, { minFraction: 0.15, skipMs: 1000 });
      assert.ok(f.toneFrames >= 50, `${hz} Hz in the conference mix: ${JSON.stringify(f)}`);
    }

    // 3. The recordings page listed both and played one; screenshots of every page.
    assert.ok(r.rows.length >= 2);
    assert.ok(r.playedSeconds > 0.5);
    for (const shot of ['signin.png', 'softphone-registered.png', 'softphone-in-call.png', 'softphone-alice.png', 'recordings.png']) {
      const png = fs.readFileSync(path.join(out, shot));
      assert.ok(png.subarray(1, 4).toString() === 'PNG' && png.length > 10_000, shot);
    }
    assert.equal(r.problems, []);
  } finally {
    if (process.env.RECGATE_KEEP_BROWSER_RUN) console.log(`kept ${out}`);
    else fs.rmSync(out, { recursive: true, force: true });
  }
});

test.run();
