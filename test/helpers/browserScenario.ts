/// <reference lib="dom" />
/**
 * The gateway and real headless Chromium softphones (JsSIP) together, run inside a network
 * namespace with only loopback (`unshare -n`, see ../shared/RECIPES.md), so ICE candidates are
 * 127.0.0.1. Started by test/browser.test.ts; prints one JSON line with what it observed and
 * leaves the recordings and screenshots in the output directory for the test to check.
 *
 *   unshare -n sh -c 'ip link set lo up; node --import tsx test/helpers/browserScenario.ts <outdir>'
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { buildJssip } from '../../web/build.js';
import { startApi, waitFor } from './api.js';
import { runSipp, uacScenario, writeScenario, writeToneFile } from './sipp.js';
import { uasDtmfScenario } from './sippScenarios.js';

declare global {
  interface Window {
    recgatePhone: {
      state: string;
      registered: boolean;
      lastCause: string;
      call(target: string): string;
      hangup(): boolean;
      sendDTMF(tones: string): void;
      analyserFrequency(hz: number): number;
      analyserMean(): number;
    };
  }
}

const out = process.argv[2]!;
fs.mkdirSync(out, { recursive: true });
const result: Record<string, unknown> = { ok: false, problems: [] as string[] };
const problems = result.problems as string[];

function toneWav(seconds: number, hz: number, rate: number): Buffer {
  const n = Math.round(seconds * rate);
  const buf = Buffer.alloc(44 + n * 2);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + n * 2, 4);
  buf.write('WAVEfmt ', 8, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) buf.writeInt16LE(Math.round(12000 * Math.sin((2 * Math.PI * hz * i) / rate)), 44 + i * 2);
  return buf;
}

async function launch(wav: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(fs.mkdtempSync(path.join(out, 'chromium-')), {
    executablePath: '/usr/lib/chromium/chromium',
    headless: true,
    viewport: { width: 1100, height: 850 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

function watch(page: Page, who: string): void {
  page.on('pageerror', (err) => problems.push(`${who} pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`${who} console: ${msg.text()}`);
  });
}

async function phone(context: BrowserContext, base: string, user: string, extra = ''): Promise<Page> {
  const page = await context.newPage();
  watch(page, user);
  // rawaudio: no echo cancellation / noise suppression, which would treat the steady test tone as noise.
  await page.goto(`${base}/softphone.html?user=${user}&password=${user}-password&rawaudio=1${extra}`);
  await page.click('#register');
  await page.waitForFunction(() => window.recgatePhone.registered === true, undefined, { timeout: 10000 });
  return page;
}

async function main(): Promise<void> {
  await buildJssip();
  const trunkPort = 45000 + 2 * Math.floor(Math.random() * 1000);
  const api = await startApi({
    dir: path.join(out, 'data'),
    keepDir: true,
    routes: {
      routes: [
        { match: { user: 'record' }, action: 'record', recording: { format: 'wav' } },
        { match: { user: 'alice' }, action: 'connect', target: 'user:alice', recording: { format: 'wav', channels: 'stereo' } },
        { match: { user: 'room*' }, action: 'conference', conference: '{user}', recording: { format: 'wav' } },
        { match: { user: '+1*' }, action: 'connect', target: `sip:{user}@127.0.0.1:${trunkPort}`, recording: { format: 'wav', channels: 'stereo' } },
      ],
    },
  });
  result.base = api.base;
  const contexts: BrowserContext[] = [];
  try {
    for (const user of ['alice', 'bob']) {
      const r = await api.request('POST', '/v1/accounts/default/users', { body: { username: user, password: `${user}-password` } });
      if (r.status !== 201) throw new Error(`user ${user}: ${JSON.stringify(r.json)}`);
    }
    const mic1k = path.join(out, 'mic-1000.wav');
    fs.writeFileSync(mic1k, toneWav(30, 1000, 48000));

    // 1. bob (browser, 1000 Hz microphone) calls the record route.
    const bobContext = await launch(mic1k);
    contexts.push(bobContext);
    const bob = await phone(bobContext, api.base, 'bob');
    await bob.screenshot({ path: path.join(out, 'softphone-registered.png') });
    const t0 = Date.now();
    await bob.evaluate(() => window.recgatePhone.call('record'));
    await bob.waitForFunction(() => window.recgatePhone.state === 'in_call', undefined, { timeout: 15000 });
    result.bobConnectMs = Date.now() - t0;
    await bob.screenshot({ path: path.join(out, 'softphone-in-call.png') });
    const ended1 = api.nextEnded();
    await new Promise((r) => setTimeout(r, 5000));
    await bob.evaluate(() => window.recgatePhone.hangup());
    const call1 = await ended1;
    result.bobCall = {
      codec: call1.codec,
      endReason: call1.endReason,
      recording: call1.recordings[0]?.result ?? null,
      receiver: call1.legs[0]?.receiver?.stats(),
      input: call1.legs[0]?.input.stats(),
    };

    // 1b. bob calls a trunk (a sipp UAS streaming 1500 Hz) through a connect route, sends "4" by
    // SIP INFO and "7" by RFC 4733; the trunk must receive both relayed as INFO.
    const tone = path.join(out, 'tone1500.ul');
    writeToneFile(tone, 1500, 20);
    const trunk = runSipp(
      ['-sf', writeScenario(out, 'trunk.xml', uasDtmfScenario(['4', '7'], null, tone)), '-i', '127.0.0.1', '-mi', '127.0.0.1', '-m', '1', '-p', String(trunkPort), '-mp', String(trunkPort + 2)],
      40000,
    );
    await new Promise((r) => setTimeout(r, 300));
    const endedTrunk = api.nextEnded();
    await bob.evaluate(() => window.recgatePhone.call('+15550100'));
    await bob.waitForFunction(() => window.recgatePhone.state === 'in_call', undefined, { timeout: 15000 });
    await new Promise((r) => setTimeout(r, 1500));
    await bob.evaluate(() => {
      (document.getElementById('dtmf-info') as HTMLInputElement).checked = true;
      window.recgatePhone.sendDTMF('4');
    });
    await new Promise((r) => setTimeout(r, 1000));
    await bob.evaluate(() => {
      (document.getElementById('dtmf-info') as HTMLInputElement).checked = false;
      window.recgatePhone.sendDTMF('7');
    });
    await new Promise((r) => setTimeout(r, 1500));
    result.bobHearsTrunk = await bob.evaluate(() => ({
      f1500: window.recgatePhone.analyserFrequency(1500),
      f1000: window.recgatePhone.analyserFrequency(1000),
      mean: window.recgatePhone.analyserMean(),
    }));
    await bob.evaluate(() => window.recgatePhone.hangup());
    const trunkResult = await trunk;
    result.trunkCode = trunkResult.code;
    if (trunkResult.code !== 0) problems.push(`trunk sipp: ${trunkResult.stderr.slice(-600)}`);
    const callTrunk = await endedTrunk;
    result.trunkCall = {
      codec: callTrunk.codec,
      endReason: callTrunk.endReason,
      dtmf: callTrunk.dtmf,
      media: callTrunk.legs[0]?.media,
      receiver: callTrunk.legs[0]?.receiver?.stats(),
      recording: callTrunk.recordings[0]?.result ?? null,
    };

    // 2. sipp (1500 Hz) calls alice, a registered browser that answers at once (1000 Hz microphone).
    const aliceContext = await launch(mic1k);
    contexts.push(aliceContext);
    const alice = await phone(aliceContext, api.base, 'alice', '&autoanswer=1');
    // A second device of alice's that only rings: the first to answer wins, this one gets CANCEL.
    const aliceTablet = await phone(aliceContext, api.base, 'alice');
    const sipPort = 47000 + 2 * Math.floor(Math.random() * 1000);
    const ended2 = api.nextEnded();
    const sipp = runSipp([
      '-sf',
      writeScenario(out, 'uac.xml', uacScenario({ toneFile: tone, holdMs: 6000 })),
      '-s',
      'alice',
      '-i',
      '127.0.0.1',
      '-mi',
      '127.0.0.1',
      '-m',
      '1',
      '-p',
      String(sipPort),
      '-mp',
      String(sipPort + 2),
      `127.0.0.1:${api.sipPort}`,
    ]);
    await alice.waitForFunction(() => window.recgatePhone.state === 'in_call', undefined, { timeout: 15000 });
    await new Promise((r) => setTimeout(r, 3000));
    result.aliceHears = await alice.evaluate(() => ({
      f1500: window.recgatePhone.analyserFrequency(1500),
      f1000: window.recgatePhone.analyserFrequency(1000),
      mean: window.recgatePhone.analyserMean(),
    }));
    await alice.screenshot({ path: path.join(out, 'softphone-alice.png') });
    const sippResult = await sipp;
    result.sippCode = sippResult.code;
    if (sippResult.code !== 0) problems.push(`sipp: ${sippResult.stderr.slice(-600)}`);
    const call2 = await ended2;
    result.aliceCall = { codec: call2.codec, endReason: call2.endReason, recording: call2.recordings[0]?.result ?? null };
    result.aliceTablet = await aliceTablet.evaluate(() => ({ history: (window.recgatePhone as unknown as { history: string[] }).history, lastCause: window.recgatePhone.lastCause }));
    await waitFor(() => alice.evaluate(() => window.recgatePhone.state === 'ended'), 5000, 'alice hung up');

    // 2b. A conference: bob (browser, 1000 Hz) and two sipp callers (800 and 1200 Hz) in "room7";
    // bob hears the other two and not himself; the conference's mix records all three.
    const conferenceTones = [800, 1200];
    const sipps = conferenceTones.map((hz, i) => {
      const f = path.join(out, `conf${hz}.ul`);
      writeToneFile(f, hz, 15);
      const p = sipPort + 20 + i * 10;
      return runSipp(['-sf', writeScenario(out, `conf${hz}.xml`, uacScenario({ toneFile: f, holdMs: 8000 })), '-s', 'room7', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-m', '1', '-p', String(p), '-mp', String(p + 2), `127.0.0.1:${api.sipPort}`], 30000);
    });
    await bob.evaluate(() => window.recgatePhone.call('room7'));
    await bob.waitForFunction(() => window.recgatePhone.state === 'in_call', undefined, { timeout: 15000 });
    const room = await waitFor(() => {
      for (const c of api.gateway.conferences.live) if (c.name === 'room7' && c.participants.size === 3) return c;
      return null;
    }, 10000, 'three in room7');
    await new Promise((r) => setTimeout(r, 2500));
    result.bobHearsConference = await bob.evaluate(() => ({
      f800: window.recgatePhone.analyserFrequency(800),
      f1000: window.recgatePhone.analyserFrequency(1000),
      f1200: window.recgatePhone.analyserFrequency(1200),
      mean: window.recgatePhone.analyserMean(),
    }));
    await bob.evaluate(() => window.recgatePhone.hangup());
    const confSipp = await Promise.all(sipps);
    result.conferenceSippCodes = confSipp.map((r) => r.code);
    await waitFor(() => !room.active, 10000, 'room7 ended');
    const mixRows = await waitFor(() => {
      const rows = api.gateway.store.listRecordings({ account_id: 'default', page_size: 10, reference_id: room.id }).result;
      return rows.length > 0 && rows.every((r) => r.status === 'ended') ? rows : null;
    }, 10000, 'room7 recording final');
    result.conference = { participants: room.history.length, recordings: mixRows.map((r) => ({ status: r.status, path: api.gateway.recordings.fileOf(r) })) };

    // 3. The recordings page lists the recordings and plays one.
    const page = await bobContext.newPage();
    watch(page, 'recordings');
    await page.goto(`${api.base}/`);
    await page.screenshot({ path: path.join(out, 'signin.png') });
    await page.fill('#token', api.admin);
    await page.click('#signin');
    await page.waitForSelector('#signed-in:not([hidden])');
    await Promise.all([page.waitForURL(/recordings\.html$/), page.click('#go-recordings')]);
    await page.waitForSelector('#rows tr[data-id]');
    result.rows = await page.$$eval('#rows tr[data-id]', (rows) => rows.map((r) => r.getAttribute('data-id')));
    const first = (result.rows as string[])[0]!;
    await page.click(`button[aria-label="Play recording ${first}"]`);
    await page.waitForFunction(() => (document.querySelector('tr.player-row audio') as HTMLAudioElement | null)?.currentTime! > 0.5, undefined, { timeout: 10000 });
    result.playedSeconds = await page.evaluate(() => (document.querySelector('tr.player-row audio') as HTMLAudioElement).currentTime);
    await page.waitForSelector('tr.player-row canvas[data-state="drawn"]', { timeout: 10000 });
    await page.screenshot({ path: path.join(out, 'recordings.png'), fullPage: true });
    result.ok = true;
  } catch (err) {
    problems.push(`error: ${(err as Error).stack ?? String(err)}`);
  } finally {
    for (const c of contexts) await c.close().catch(() => undefined);
    await api.stop();
    result.gatewayStats = api.gateway.stats();
  }
}

main()
  .catch((err: unknown) => problems.push(String(err)))
  .finally(() => {
    process.stdout.write(`\nRESULT ${JSON.stringify(result)}\n`);
    process.exit(0);
  });
