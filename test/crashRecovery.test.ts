/**
 * kill -9 during calls (WAV, MP3 and Opus recordings): after a restart every recording is
 * ended and recovered, plays, and holds the audio sent up to within 1 s of the kill.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toneFrames } from '../dsp/index.js';
import { decodeFile } from './helpers/ffmpeg.js';
import { runSipp, uacScenario, writeScenario, writeToneFile } from './helpers/sipp.js';
import { startGatewayProcess } from './helpers/gatewayProcess.js';
import { randomPortRange } from './helpers/udpPeer.js';



test('kill -9 during three recorded calls; after restart all are ended, recovered, playable, missing at most the last second', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-crash-'));
  const [min, max] = randomPortRange();
  const sip = 44000 + 2 * Math.floor(Math.random() * 1000);
  const routes = path.join(dir, 'routes.json');
  fs.writeFileSync(
    routes,
    JSON.stringify({
      routes: [
        { match: { user: 'wav' }, action: 'record', recording: { format: 'wav' } },
        { match: { user: 'mp3' }, action: 'record', recording: { format: 'mp3' } },
        { match: { user: 'opus' }, action: 'record', recording: { format: 'opus', sample_rate: 16000 } },
      ],
    }),
  );
  const env = {
    RECGATE_SIP_PORT: String(sip),
    RECGATE_HTTP_PORT: '0',
    RECGATE_BIND_ADDRESS: '127.0.0.1',
    RECGATE_RTP_PORTS: `${min}-${max}`,
    RECGATE_DATA_DIR: path.join(dir, 'data'),
    RECGATE_ROUTES: routes,
    RECGATE_API_TOKEN: 'crash-admin',
    RECGATE_LOG: 'off',
  };
  const tone = path.join(dir, 'tone.ul');
  writeToneFile(tone, 1000, 20);
  const first = startGatewayProcess(env);
  const sipps: ReturnType<typeof runSipp>[] = [];
  let second: ReturnType<typeof startGatewayProcess> | null = null;
  try {
    await first.ready;
    const t0 = Date.now();
    ['wav', 'mp3', 'opus'].forEach((user, i) => {
      const p = sip + 100 + i * 10;
      sipps.push(
        runSipp(['-sf', writeScenario(dir, `${user}.xml`, uacScenario({ toneFile: tone, holdMs: 6000 })), '-s', user, '-i', '127.0.0.1', '-mi', '127.0.0.1', '-m', '1', '-p', String(p), '-mp', String(p + 2), `127.0.0.1:${sip}`], 8000),
      );
    });
    await new Promise((r) => setTimeout(r, 3500));
    first.child.kill('SIGKILL');
    const killedAfterMs = Date.now() - t0;
    await first.exited;
    second = startGatewayProcess(env);
    const http = await second.ready;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const get = async (p: string): Promise<any> => (await fetch(`http://127.0.0.1:${http}${p}`, { headers: { authorization: 'Bearer crash-admin' } })).json();
    const list = await get('/v1/recordings?page_size=10');
    assert.is(list.result.length, 3, JSON.stringify(list));
    for (const rec of list.result) {
      assert.is(rec.status, 'ended', JSON.stringify(rec));
      assert.is(rec.recovered, true);
      assert.ok(rec.checksum_sha256.length === 64 && rec.file_size > 0);
      // Audio sent: from the call's answer (t0 + setup) to the kill. At most 1 s may be missing.
      const file = path.join(dir, 'data', 'recordings', `${rec.id}.${rec.format === 'opus' ? 'ogg' : rec.format}`);
      const audio = await decodeFile(file);
      assert.ok(audio.durationMs >= killedAfterMs - 300 - 1000, `${rec.format}: ${audio.durationMs.toFixed(0)} ms recovered, killed after ${killedAfterMs} ms`);
      assert.ok(Math.abs(audio.durationMs - rec.duration_ms) < 100, `${rec.format}: row says ${rec.duration_ms} ms`);
      assert.ok(toneFrames(audio.pcm, audio.rate, 1000, { skipMs: 100 }).ratio > 0.9, `${rec.format}: tone`);
    }
    // The calls the crash cut are ended too.
    const calls = await get('/v1/calls');
    assert.ok(calls.result.length === 3 && calls.result.every((c: { status: string }) => c.status === 'ended'));
  } finally {
    first.child.kill('SIGKILL');
    second?.child.kill('SIGKILL');
    await Promise.all(sipps);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
