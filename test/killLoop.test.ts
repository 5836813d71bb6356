/**
 * kill -9 loop: 20 cycles, each with 20 calls recording at once (sipp streaming a tone), the
 * gateway SIGKILLed mid-call and restarted on the same data. After every restart all the
 * recordings the kill cut are ended and recovered, playable, each missing at most the last
 * 1 s; at the end every recording's webhooks (started, stopped, completed) arrived, each
 * logical event under one event id, in order per recording.
 * RECGATE_KILL_CYCLES / RECGATE_KILL_CALLS shrink it while developing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { toneFrames } from '../dsp/index.js';
import { decodeFile } from './helpers/ffmpeg.js';
import { uacScenario, writeScenario, writeToneFile } from './helpers/sipp.js';
import { startGatewayProcess } from './helpers/gatewayProcess.js';
import { randomPortRange } from './helpers/udpPeer.js';

const CYCLES = Number(process.env.RECGATE_KILL_CYCLES ?? 20);
const CALLS = Number(process.env.RECGATE_KILL_CALLS ?? 20);


interface Delivered {
  event_id: string;
  type: string;
  recording_id: string;
}

test(`kill -9 loop: ${CYCLES} cycles x ${CALLS} recordings: every one recovered, playable, at most 1 s short; webhooks complete, one id per event`, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-kill-'));
  const got: Delivered[] = [];
  const rx = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      try {
        const e = JSON.parse(body) as Delivered;
        got.push({ event_id: e.event_id, type: e.type, recording_id: e.recording_id });
      } catch {
        // not ours
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => rx.listen(0, '127.0.0.1', () => r()));
  const [min, max] = randomPortRange();
  const sip = 21000 + 2 * Math.floor(Math.random() * 2000);
  const routes = path.join(dir, 'routes.json');
  fs.writeFileSync(routes, JSON.stringify({ routes: [{ match: { user: '*' }, action: 'record', recording: { format: 'wav' } }] }));
  const env = {
    RECGATE_SIP_PORT: String(sip),
    RECGATE_HTTP_PORT: '0',
    RECGATE_BIND_ADDRESS: '127.0.0.1',
    RECGATE_RTP_PORTS: `${min}-${max}`,
    RECGATE_DATA_DIR: path.join(dir, 'data'),
    RECGATE_ROUTES: routes,
    RECGATE_API_TOKEN: 'kill-admin',
    RECGATE_LOG: 'off',
  };
  const tone = path.join(dir, 'tone.ul');
  writeToneFile(tone, 1000, 20);
  const scenario = writeScenario(dir, 'uac.xml', uacScenario({ toneFile: tone, holdMs: 8000 }));
  let gw = startGatewayProcess(env);
  const killedAt = new Map<string, number>(); // recording id -> kill time (ms since epoch)
  let sipp: ChildProcess | null = null;
  try {
    let httpPort = await gw.ready;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const api = async (method: string, p: string, body?: unknown): Promise<any> =>
      (await fetch(`http://127.0.0.1:${httpPort}${p}`, { method, headers: { authorization: 'Bearer kill-admin', 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) })).json();
    await api('PATCH', '/v1/accounts/default', { webhook_url: `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook` });
    const all: string[] = [];
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const before = new Set(all);
      // The callers are killed with the gateway (a phone that lost its call), so each cycle is short.
      sipp = spawn('sipp', ['-sf', scenario, '-s', `c${cycle}`, '-i', '127.0.0.1', '-mi', '127.0.0.1', '-m', String(CALLS), '-l', String(CALLS), '-r', '100', '-p', String(sip + 100), '-mp', String(sip + 102), '-nostdin', `127.0.0.1:${sip}`], { stdio: 'ignore' });
      const sippExited = new Promise<void>((r) => sipp!.once('exit', () => r()));
      // All CALLS recording, then about a second more of audio.
      let active: { id: string }[] = [];
      for (let i = 0; i < 100 && active.length < CALLS; i++) {
        await new Promise((r) => setTimeout(r, 50));
        active = (await api('GET', `/v1/recordings?status=recording&page_size=100`)).result;
      }
      assert.is(active.length, CALLS, `cycle ${cycle}: ${active.length} recording`);
      await new Promise((r) => setTimeout(r, 1000));
      gw.child.kill('SIGKILL');
      const killTime = Date.now();
      sipp.kill('SIGKILL');
      await Promise.all([gw.exited, sippExited]);
      for (const r of active) {
        killedAt.set(r.id, killTime);
        all.push(r.id);
      }
      gw = startGatewayProcess(env);
      httpPort = await gw.ready;
      // Recovery runs before the gateway listens: the cut recordings are final now.
      for (const r of active) {
        assert.ok(!before.has(r.id));
        const row = await api('GET', `/v1/recordings/${r.id}`);
        assert.is(row.status, 'ended', `cycle ${cycle} ${r.id}: ${JSON.stringify(row)}`);
        assert.is(row.recovered, true);
        const expected = killTime - Date.parse(row.tm_start);
        assert.ok(row.duration_ms >= expected - 1000, `cycle ${cycle}: ${row.duration_ms} ms recovered of ${expected} ms`);
      }
    }
    // Every file plays (ffmpeg decodes it) with the tone, its length as the row says.
    for (let i = 0; i < all.length; i += 8) {
      await Promise.all(
        all.slice(i, i + 8).map(async (id) => {
          const row = await api('GET', `/v1/recordings/${id}`);
          const audio = await decodeFile(path.join(dir, 'data', 'recordings', `${id}.wav`));
          assert.ok(Math.abs(audio.durationMs - row.duration_ms) < 100, `${id}: file ${audio.durationMs} ms, row ${row.duration_ms} ms`);
          // The file starts at the answer and sipp sends its audio after its ACK: under the
          // load of a restart that is up to a few hundred ms later (one run of 400 files had
          // 200 ms of silence first, and a 1 s file then fell under the 90 % bound). The
          // audio must start within 500 ms, then fill the file.
          const head = toneFrames(audio.pcm, audio.rate, 1000, { skipMs: 100 });
          const startMs = 100 + head.firstToneFrame * 20;
          assert.ok(head.firstToneFrame >= 0 && startMs <= 500, `${id}: the tone starts at ${head.firstToneFrame < 0 ? 'no' : startMs} ms, file ${audio.durationMs} ms`);
          const t = toneFrames(audio.pcm, audio.rate, 1000, { skipMs: startMs });
          assert.ok(t.ratio > 0.9, `${id}: tone in ${t.toneFrames} of ${t.frames} frames after its start at ${startMs} ms, file ${audio.durationMs} ms`);
        }),
      );
    }
    // The webhooks of every recording arrive: started, stopped, completed, once each by id, in order.
    const want = all.length * 3;
    for (let i = 0; i < 400 && new Set(got.map((g) => g.event_id)).size < want; i++) await new Promise((r) => setTimeout(r, 50));
    const byRecording = new Map<string, Delivered[]>();
    const seen = new Set<string>();
    for (const g of got) {
      if (seen.has(g.event_id)) continue; // a redelivery (the kill came between send and mark)
      seen.add(g.event_id);
      byRecording.set(g.recording_id, [...(byRecording.get(g.recording_id) ?? []), g]);
    }
    for (const id of all) {
      assert.equal(byRecording.get(id)?.map((e) => e.type), ['recording.started', 'recording.stopped', 'recording.completed'], `events of ${id}`);
    }
    const redelivered = got.length - seen.size;
    console.log(`  kill loop: ${CYCLES} cycles, ${all.length} recordings recovered, ${seen.size} events, ${redelivered} redelivered after a kill`);
  } finally {
    gw.child.kill('SIGKILL');
    await gw.exited;
    sipp?.kill('SIGKILL');
    await new Promise<void>((r) => rx.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
