/**
 * Running the gateway: `npm start`'s entry with flags and env, --help, a bad routes file,
 * graceful SIGTERM (BYE, finalised recording, exit 0), the IP allow-list, unknown routes,
 * maximum call duration, SIP over TLS, and a codec change mid-call.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { loadConfig, parseRoutes, matchRoute } from '../calls/index.js';
import { toneFrames } from '../dsp/index.js';
import { decodeFile } from './helpers/ffmpeg.js';
import { startGateway } from './helpers/gateway.js';
import { runSipp, uacScenario, writeScenario, writeToneFile } from './helpers/sipp.js';
import { codecChangeScenario, optionsScenario, waitForByeScenario } from './helpers/sippScenarios.js';
import { randomPortRange } from './helpers/udpPeer.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-run-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
const root = path.resolve(import.meta.dirname, '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
let port = 37000 + 2 * Math.floor(Math.random() * 2000);
const sippArgs = (): string[] => {
  port += 10;
  return ['-i', '127.0.0.1', '-mi', '127.0.0.1', '-m', '1', '-p', String(port), '-mp', String(port + 2)];
};
const code = (e: unknown): string => (e as { code: string }).code;

test('config: flags override env, env overrides defaults; bad values name the variable', () => {
  const c = loadConfig(['--sip-port', '5070', '--rtp-ports=30000-30999'], { RECGATE_SIP_PORT: '5080', RECGATE_HTTP_PORT: '9000', RECGATE_BIND_ADDRESS: '127.0.0.1' });
  assert.is(c.sipPort, 5070);
  assert.is(c.httpPort, 9000);
  assert.equal(c.rtpPorts, { min: 30000, max: 30999 });
  assert.is(c.publicAddress, '127.0.0.1');
  assert.is(c.rtpTimeoutSec, 60);
  const d = loadConfig([], {});
  assert.is(d.sipPort, 5060);
  assert.is(d.httpPort, 8080);
  assert.is(d.bindAddress, '0.0.0.0');
  assert.equal(d.rtpPorts, { min: 20000, max: 29999 });
  assert.ok(d.dataDir.endsWith('data'));
  assert.is(d.opusComplexity, 5);
  assert.is(loadConfig(['--opus-complexity', '0'], { RECGATE_OPUS_COMPLEXITY: '9' }).opusComplexity, 0);
  assert.is(loadConfig([], { RECGATE_OPUS_COMPLEXITY: '10' }).opusComplexity, 10);
  assert.is(d.encoderThreads, Math.max(0, os.availableParallelism() - 1));
  assert.is(loadConfig(['--encoder-threads', '0'], {}).encoderThreads, 0);
  for (const [argv, env, name] of [
    [['--sip-port', 'x'], {}, 'RECGATE_SIP_PORT'],
    [[], { RECGATE_RTP_PORTS: '3000-2000' }, 'RECGATE_RTP_PORTS'],
    [['--nope', '1'], {}, '--nope'],
    [[], { RECGATE_TLS_CERT: 'a.pem' }, 'RECGATE_TLS_KEY'],
    [[], { RECGATE_OPUS_COMPLEXITY: '11' }, 'RECGATE_OPUS_COMPLEXITY'],
    [[], { RECGATE_ENCODER_THREADS: '-1' }, 'RECGATE_ENCODER_THREADS'],
  ] as const) {
    assert.throws(() => loadConfig(argv, env), (e: Error) => code(e) === 'ERR_INVALID_ARGUMENT' && e.message.includes(name));
  }
});

test('routes: validation names the route and field; first match wins; globs, from and source CIDR', () => {
  const bad: [unknown, string][] = [
    [{ routes: [] }, 'routes'],
    [{ routes: [{ match: { user: '*' }, action: 'dance' }] }, 'routes[0].action'],
    [{ routes: [{ match: { user: '*' }, action: 'record' }, { match: {}, action: 'record' }] }, 'routes[1].match.user'],
    [{ routes: [{ match: { user: '*' }, action: 'connect' }] }, 'routes[0].target'],
    [{ routes: [{ match: { user: '*' }, action: 'reject', status: 200 }] }, 'routes[0].status'],
    [{ routes: [{ match: { user: '*' }, action: 'record', recording: { format: 'flac' } }] }, 'routes[0].recording.format'],
    [{ routes: [{ match: { user: '*' }, action: 'record', recording: { sample_rate: 44100 } }] }, 'routes[0].recording.sample_rate'],
    [{ routes: [{ match: { user: '*', source: '10.0.0.0/40' }, action: 'record' }] }, 'routes[0].match.source'],
    [{ routes: [{ match: { user: '*' }, action: 'record', auth: true }] }, 'routes[0].auth'],
    [{ routes: [{ match: { user: '*' }, action: 'record', colour: 'red' }] }, 'routes[0].colour'],
  ];
  for (const [json, field] of bad) {
    assert.throws(() => parseRoutes(json), (e: Error) => code(e) === 'ERR_INVALID_ARGUMENT' && e.message.includes(field), field);
  }
  const table = parseRoutes({
    routes: [
      { match: { user: 'record*' }, action: 'record', recording: { format: 'wav', channels: 'mono' } },
      { match: { user: '+1*', source: ['192.0.2.0/24'] }, action: 'connect', target: 'sip:{user}@192.0.2.10:5060', recording: { format: 'mp3', channels: 'stereo' } },
      { match: { user: '*', from: 'sip:vip@*' }, action: 'record', recording: false },
      { match: { user: '*' }, action: 'reject', status: 404 },
    ],
  });
  const m = (user: string, from = 'sip:a@b', source = '127.0.0.1') => matchRoute(table, { user, from, source })?.index;
  assert.is(m('recording-1'), 0);
  assert.is(m('+15551234', 'sip:a@b', '192.0.2.7'), 1);
  assert.is(m('+15551234', 'sip:a@b', '198.51.100.1'), 3); // source not allowed on route 1
  assert.is(m('other', 'sip:vip@example.com'), 2);
  assert.is(m('other'), 3);
});

/** Runs bin/recgate.ts; resolves when it printed its listeners. */
function startProcess(args: string[], env: Record<string, string> = {}) {
  // node itself, not the tsx CLI: tsx runs the script in a second process, which a SIGKILL of
  // tsx on a failed test left running (and holding our pipes).
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bin', 'recgate.ts'), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const ready = new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      // The RTP line is the last one every start-up prints (the admin token line follows it in the same turn).
      if (out.includes('recgate: RTP')) {
        clearInterval(t);
        resolve();
      }
    }, 50);
    void exited.then((c) => {
      clearInterval(t);
      reject(new Error(`exited ${c}: ${err}`));
    });
  });
  return { child, ready, exited, out: () => out, err: () => err };
}

test('--help lists every setting; a bad routes file stops start-up naming the route and field', () => {
  const help = execFileSync(tsx, [path.join(root, 'bin', 'recgate.ts'), '--help'], { encoding: 'utf8' });
  for (const s of ['RECGATE_SIP_PORT', 'RECGATE_HTTP_PORT', 'RECGATE_BIND_ADDRESS', 'RECGATE_PUBLIC_ADDRESS', 'RECGATE_RTP_PORTS', 'RECGATE_DATA_DIR', 'RECGATE_ROUTES']) {
    assert.ok(help.includes(s), s);
  }
  const routes = path.join(dir, 'bad-routes.json');
  fs.writeFileSync(routes, JSON.stringify({ routes: [{ match: { user: '*' }, action: 'record' }, { match: { user: '*' }, action: 'teleport' }] }));
  try {
    execFileSync(tsx, [path.join(root, 'bin', 'recgate.ts'), '--routes', routes], { encoding: 'utf8', stdio: 'pipe' });
    assert.unreachable('must not start');
  } catch (e) {
    const err = e as { status: number; stderr: string };
    assert.is(err.status, 2);
    assert.match(err.stderr, /routes\[1\]\.action/);
  }
});

test('npm start entry: prints its listeners; SIGTERM sends BYE, finalises the recording and exits 0', async () => {
  const [min, max] = randomPortRange();
  const sip = 38000 + 2 * Math.floor(Math.random() * 1000);
  const data = path.join(dir, 'proc-data');
  const p = startProcess([], {
    RECGATE_SIP_PORT: String(sip),
    RECGATE_HTTP_PORT: '0',
    RECGATE_BIND_ADDRESS: '127.0.0.1',
    RECGATE_RTP_PORTS: `${min}-${max}`,
    RECGATE_DATA_DIR: data,
  });
  try {
    await p.ready;
    assert.match(p.out(), new RegExp(`SIP udp 127.0.0.1:${sip}`));
    assert.match(p.out(), new RegExp(`SIP tcp 127.0.0.1:${sip}`));
    // No RECGATE_API_TOKEN: one is generated, printed once and kept in the data dir.
    const token = /admin API token \(shown once, kept in (.+)\): (\S+)/.exec(p.out());
    assert.ok(token, p.out());
    assert.is(fs.readFileSync(token[1]!, 'utf8').trim(), token[2]);
    assert.is((fs.statSync(token[1]!).mode & 0o777).toString(8), '600');
    const tone = path.join(dir, 'tone.ul');
    writeToneFile(tone, 1000, 5);
    // A caller that streams, then waits for the gateway's BYE.
    const scenario = writeScenario(dir, 'term.xml', waitForByeScenario(15000).replace('<recv request="BYE"', `<nop><action><exec rtp_stream="${tone},-1,0"/></action></nop>\n  <recv request="BYE"`));
    const sipp = runSipp(['-sf', scenario, '-s', 'record', ...sippArgs(), `127.0.0.1:${sip}`]);
    await new Promise((r) => setTimeout(r, 2000));
    p.child.kill('SIGTERM');
    assert.is(await p.exited, 0);
    const r = await sipp;
    assert.is(r.code, 0, `the caller got its BYE: ${r.stderr.slice(-500)}`);
    const files = fs.readdirSync(path.join(data, 'recordings'));
    assert.is(files.length, 1);
    const audio = await decodeFile(path.join(data, 'recordings', files[0]!));
    assert.ok(audio.durationMs > 1500 && audio.durationMs < 3000, `${audio.durationMs} ms`);
    assert.ok(toneFrames(audio.pcm, 8000, 1000).ratio > 0.95);
    // The header was patched: the RIFF data size matches the file (not 0 as during the call).
    const bytes = fs.readFileSync(path.join(data, 'recordings', files[0]!));
    assert.is(bytes.readUInt32LE(40), bytes.length - 44);
  } finally {
    p.child.kill('SIGKILL');
    await p.exited;
  }
});

test('IP allow-list (403) and unknown route (404)', async () => {
  const gw = await startGateway({
    routes: { trunks: { allow: ['10.0.0.0/8'] }, routes: [{ match: { user: '*' }, action: 'record' }] },
  });
  const gw2 = await startGateway({ routes: { routes: [{ match: { user: 'known' }, action: 'record' }] } });
  try {
    const s403 = writeScenario(dir, 'u403.xml', uacScenario({ holdMs: 0, expect: 403 }));
    const r1 = await runSipp(['-sf', s403, '-s', 'record', ...sippArgs(), `127.0.0.1:${gw.sipPort}`]);
    assert.is(r1.code, 0, r1.stderr.slice(-500));
    const s404 = writeScenario(dir, 'u404.xml', uacScenario({ holdMs: 0, expect: 404 }));
    const r2 = await runSipp(['-sf', s404, '-s', 'unknown', ...sippArgs(), `127.0.0.1:${gw2.sipPort}`]);
    assert.is(r2.code, 0, r2.stderr.slice(-500));
  } finally {
    await gw.stop();
    await gw2.stop();
  }
});

test('maximum call duration: BYE from the gateway', async () => {
  const gw = await startGateway({ config: { maxCallSec: 1 } });
  try {
    const t0 = Date.now();
    const r = await runSipp(['-sf', writeScenario(dir, 'max.xml', waitForByeScenario(8000)), '-s', 'x', ...sippArgs(), `127.0.0.1:${gw.sipPort}`]);
    assert.is(r.code, 0, r.stderr.slice(-500));
    assert.ok(Date.now() - t0 < 4000);
    for (let i = 0; i < 20 && gw.ended.length === 0; i++) await new Promise((res) => setTimeout(res, 50));
    assert.is(gw.ended[0]!.endReason, 'max_duration');
  } finally {
    await gw.stop();
  }
});

test('codec change by re-INVITE (PCMU -> PCMA): the recording keeps the tone across it', async () => {
  const gw = await startGateway();
  try {
    const ul = path.join(dir, 'cc.ul');
    const al = path.join(dir, 'cc.al');
    writeToneFile(ul, 1000, 5, 'ulaw');
    writeToneFile(al, 1000, 5, 'alaw');
    const r = await runSipp(['-sf', writeScenario(dir, 'cc.xml', codecChangeScenario(ul, al, 1500)), '-s', 'x', ...sippArgs(), `127.0.0.1:${gw.sipPort}`]);
    assert.is(r.code, 0, r.stderr.slice(-800));
    for (let i = 0; i < 20 && gw.ended.length === 0; i++) await new Promise((res) => setTimeout(res, 50));
    const rec = gw.ended[0]!.recordings[0]!.result!;
    const audio = await decodeFile(rec.path);
    assert.ok(audio.durationMs >= 2900, `${audio.durationMs} ms`);
    const tone = toneFrames(audio.pcm, 8000, 1000);
    assert.ok(tone.ratio >= 0.9, `tone in ${tone.toneFrames}/${tone.frames} frames`);
    assert.is(gw.ended[0]!.callerLeg.media?.codec.name, 'PCMA');
  } finally {
    await gw.stop();
  }
});

test('a recording that cannot be created: the caller gets 500 and nothing leaks (RTP ports, calls)', async () => {
  const gw = await startGateway();
  try {
    // The recordings directory turned into a file: creating a recording fails with ENOTDIR.
    fs.rmSync(gw.gateway.recordingsDir, { recursive: true });
    fs.writeFileSync(gw.gateway.recordingsDir, 'not a directory');
    const r = await runSipp(['-sf', writeScenario(dir, 'u500.xml', uacScenario({ holdMs: 0, expect: 500 })), '-s', 'x', ...sippArgs(), `127.0.0.1:${gw.sipPort}`]);
    assert.is(r.code, 0, r.stderr.slice(-500));
    for (let i = 0; i < 20 && gw.gateway.calls.size > 0; i++) await new Promise((res) => setTimeout(res, 50));
    assert.is(gw.gateway.calls.size, 0);
    assert.is(gw.gateway.stats().rtpPortsInUse, 0);
    assert.ok(gw.logs.some((l) => l.event === 'call.error'));
  } finally {
    await gw.stop();
  }
});

test('SIP over TLS: OPTIONS on the TLS port gets 200', async () => {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  const gw = await startGateway({ config: { tls: { port: 0, certFile: cert, keyFile: key, httpsPort: 0 } } });
  try {
    const tlsPort = gw.gateway.transport.tlsPort;
    assert.ok(tlsPort > 0);
    const socket = tls.connect({ host: '127.0.0.1', port: tlsPort, rejectUnauthorized: false });
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    const lp = socket.localPort ?? 0;
    socket.write(
      [
        `OPTIONS sip:ping@127.0.0.1:${tlsPort};transport=tls SIP/2.0`,
        `Via: SIP/2.0/TLS 127.0.0.1:${lp};branch=z9hG4bKtls1;rport`,
        'Max-Forwards: 70',
        'From: <sip:probe@127.0.0.1>;tag=t1',
        `To: <sip:ping@127.0.0.1>`,
        'Call-ID: tls-options-1',
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
    const reply = await new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
    socket.destroy();
    assert.match(reply, /^SIP\/2\.0 200 OK/);
    assert.match(reply, /Allow: .*INVITE/);
    void optionsScenario;
  } finally {
    await gw.stop();
  }
});

test.run();
