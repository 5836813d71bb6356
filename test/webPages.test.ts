/**
 * The web pages: api/static.ts over a real HTTP server (content types, 404 for missing files,
 * traversal refused raw and encoded, ETag/304, HEAD), web/build.ts (a JsSIP bundle that defines
 * the JsSIP global in a bare `vm` context, and is skipped when up to date), and the pages in
 * headless Chromium against a small fake API: sign-in, the recordings table, live-call controls,
 * Play (the audio advances, the waveform is drawn), Delete errors shown; the softphone
 * registering with digest auth over SIP-over-WebSocket (subprotocol "sip") to a fake registrar;
 * and two softphones (fake microphones at 1000 and 1500 Hz) calling each other through a relay,
 * each hearing the other's tone through window.recgatePhone.analyserFrequency.
 * Screenshots go to a temporary folder (kept in $RECGATE_WEB_SCREENSHOTS when set).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { serveFile } from '../api/files.js';
import { PUBLIC_DIR, contentTypeFor, resolveStatic, serveStatic } from '../api/static.js';
import { JSSIP_BUNDLE, buildJssip } from '../web/build.js';

// Page functions run in Chromium; the project compiles without the DOM library, so the few
// browser globals they touch are declared (loosely) here.
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: { querySelector(selector: string): any; querySelectorAll(selector: string): ArrayLike<any> };
declare const window: { recgatePhone?: any; JsSIP?: any };
declare const location: { search: string };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-web-'));
const shotsDir = process.env.RECGATE_WEB_SCREENSHOTS ? path.resolve(process.env.RECGATE_WEB_SCREENSHOTS) : path.join(dir, 'screenshots');
fs.mkdirSync(shotsDir, { recursive: true });

test.after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A GET (or other method) with the path sent exactly as written: no client-side normalisation. */
function raw(port: number, rawPath: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------- (a) api/static.ts

test('static: content types, index and clean URLs, 404 for missing files and other methods', async () => {
  const root = path.join(dir, 'site');
  fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
  const files: Record<string, string> = {
    'index.html': '<!doctype html><title>home</title>',
    'page.html': '<!doctype html><title>page</title>',
    'app.js': 'export const x = 1;\n',
    'style.css': 'body{color:red}\n',
    'data.json': '{"a":1}\n',
    'logo.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>',
    'blob.bin': 'abc',
    'two words.txt': 'spaced\n',
    'sub/index.html': '<!doctype html><title>sub</title>',
  };
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(root, name), text);
  const server = http.createServer((req, res) => {
    if (!serveStatic(req, res, req.url ?? '/', { root })) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no file');
    }
  });
  const port = await listen(server);
  try {
    const expect: [string, string, string][] = [
      ['/', 'text/html; charset=utf-8', files['index.html']!],
      ['/index.html', 'text/html; charset=utf-8', files['index.html']!],
      ['/page', 'text/html; charset=utf-8', files['page.html']!],
      ['/app.js', 'text/javascript; charset=utf-8', files['app.js']!],
      ['/app.js?v=2', 'text/javascript; charset=utf-8', files['app.js']!],
      ['/style.css', 'text/css; charset=utf-8', files['style.css']!],
      ['/data.json', 'application/json; charset=utf-8', files['data.json']!],
      ['/logo.svg', 'image/svg+xml', files['logo.svg']!],
      ['/blob.bin', 'application/octet-stream', files['blob.bin']!],
      ['/two%20words.txt', 'text/plain; charset=utf-8', files['two words.txt']!],
      ['/sub/', 'text/html; charset=utf-8', files['sub/index.html']!],
    ];
    for (const [p, type, body] of expect) {
      const r = await raw(port, p);
      assert.is(r.status, 200, p);
      assert.is(r.headers['content-type'], type, p);
      assert.is(r.body.toString('utf8'), body, p);
      assert.is(r.headers['content-length'], String(Buffer.byteLength(body)), p);
      assert.is(r.headers['x-content-type-options'], 'nosniff', p);
    }
    const html = await raw(port, '/');
    assert.match(String(html.headers['content-security-policy']), /script-src 'self'/);
    assert.is((await raw(port, '/app.js')).headers['content-security-policy'], undefined);

    for (const p of ['/missing.js', '/sub', '/sub/missing', '/index.html/x', '/page.html.bak']) {
      const r = await raw(port, p);
      assert.is(r.status, 404, p);
      assert.is(r.body.toString(), 'no file', p);
    }
    for (const method of ['POST', 'PUT', 'DELETE']) assert.is((await raw(port, '/index.html', { method })).status, 404, method);

    const head = await raw(port, '/app.js', { method: 'HEAD' });
    assert.is(head.status, 200);
    assert.is(head.headers['content-length'], String(files['app.js']!.length));
    assert.is(head.body.length, 0);

    assert.is(contentTypeFor('x/y.MJS'), 'text/javascript; charset=utf-8');
    assert.is(contentTypeFor('song.wav'), 'audio/wav');
  } finally {
    await close(server);
  }
});

test('static: traversal refused, raw and encoded; dot-files and symlinks out of the root refused', async () => {
  const root = path.join(dir, 'site2');
  fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(root, 'ok.txt'), 'ok\n');
  fs.writeFileSync(path.join(root, '.env'), 'SECRET=1\n');
  fs.writeFileSync(path.join(dir, 'secret.txt'), 'top secret\n');
  fs.symlinkSync(path.join(dir, 'secret.txt'), path.join(root, 'link.txt'));
  fs.writeFileSync(path.join(dir, 'package.json'), '{"secret":true}\n');
  let seen = 0;
  const server = http.createServer((req, res) => {
    seen++;
    if (!serveStatic(req, res, req.url ?? '/', { root })) {
      res.writeHead(404);
      res.end('no file');
    }
  });
  const port = await listen(server);
  try {
    const attacks = [
      '/../package.json',
      '/../secret.txt',
      '/sub/../../secret.txt',
      '/%2e%2e/package.json',
      '/%2E%2E/package.json',
      '/..%2fpackage.json',
      '/..%2Fsecret.txt',
      '/%2e%2e%2fpackage.json',
      '/sub/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/..%5cpackage.json',
      '/%5c..%5csecret.txt',
      '/%252e%252e/package.json',
      '/.env',
      '/sub/../.env',
      '/%2eenv',
      '/link.txt',
      '/ok.txt%00.html',
      '/%E0%A4%A',
      '//secret.txt',
      `/${encodeURIComponent(path.join(dir, 'secret.txt'))}`,
      '/../../../../../../etc/passwd',
    ];
    for (const p of attacks) {
      const r = await raw(port, p);
      assert.is(r.status, 404, p);
      assert.not.match(r.body.toString(), /secret/i, p);
      assert.is(resolveStatic(p, root), null, p);
    }
    assert.is(seen, attacks.length, 'each attack reached the server unnormalised');
    assert.is((await raw(port, '/ok.txt')).status, 200);
    // The real public/ folder: never the project's package.json.
    for (const p of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/%2e%2e%2fpackage.json']) assert.is(resolveStatic(p), null, p);
    assert.is(resolveStatic('/')?.path, fs.realpathSync(path.join(PUBLIC_DIR, 'index.html')));
    assert.is(resolveStatic('/signin')?.path, fs.realpathSync(path.join(PUBLIC_DIR, 'index.html')));
    assert.is(resolveStatic('/softphone')?.path, fs.realpathSync(path.join(PUBLIC_DIR, 'softphone.html')));
    assert.is(resolveStatic('/recordings.html')?.path, fs.realpathSync(path.join(PUBLIC_DIR, 'recordings.html')));
  } finally {
    await close(server);
  }
});

test('static: ETag and Last-Modified; If-None-Match (strong, weak, list, *) answers 304, a changed file 200', async () => {
  const root = path.join(dir, 'site3');
  fs.mkdirSync(root, { recursive: true });
  const file = path.join(root, 'app.js');
  fs.writeFileSync(file, 'let a = 1;\n');
  const server = http.createServer((req, res) => {
    if (!serveStatic(req, res, req.url ?? '/', { root })) {
      res.writeHead(404);
      res.end();
    }
  });
  const port = await listen(server);
  try {
    const first = await raw(port, '/app.js');
    const etag = String(first.headers.etag);
    assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.ok(first.headers['last-modified']);
    assert.is(first.headers['cache-control'], 'no-cache');
    for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const r = await raw(port, '/app.js', { headers: { 'if-none-match': inm } });
      assert.is(r.status, 304, inm);
      assert.is(r.body.length, 0, inm);
      assert.is(r.headers.etag, etag, inm);
    }
    assert.is((await raw(port, '/app.js', { headers: { 'if-none-match': '"other"' } })).status, 200);
    fs.writeFileSync(file, 'let a = 22;\n');
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const changed = await raw(port, '/app.js', { headers: { 'if-none-match': etag } });
    assert.is(changed.status, 200);
    assert.is.not(changed.headers.etag, etag);
    assert.is(changed.body.toString(), 'let a = 22;\n');
  } finally {
    await close(server);
  }
});

// ---------------------------------------------------------------- (b) web/build.ts

test('build: a JsSIP bundle that defines the JsSIP global, rebuilt only when out of date', async () => {
  const outfile = path.join(dir, 'vendor', 'jssip.js');
  const first = await buildJssip({ outfile });
  assert.ok(first.built);
  assert.is(first.version, '3.13.8');
  assert.ok(first.bytes > 100_000, `${first.bytes} bytes`);
  const again = await buildJssip({ outfile });
  assert.not.ok(again.built, 'up to date: skipped');
  assert.ok(again.ms < 500, `skip took ${again.ms} ms`);
  const code = fs.readFileSync(outfile, 'utf8');
  const sandbox: Record<string, unknown> = { console, setTimeout, clearTimeout, setInterval, clearInterval, navigator: { userAgent: 'node-vm' } };
  sandbox.window = sandbox;
  sandbox.self = sandbox;
  vm.createContext(sandbox);
  vm.runInContext(code, sandbox, { filename: 'jssip.js' });
  const JsSIP = sandbox.JsSIP as { UA: unknown; WebSocketInterface: unknown; RTCSession: unknown; version: string; URI: { parse(s: string): { user: string; host: string } | undefined } };
  assert.type(JsSIP, 'object');
  assert.type(JsSIP.UA, 'function');
  assert.type(JsSIP.WebSocketInterface, 'function');
  assert.type(JsSIP.RTCSession, 'function');
  assert.is(JsSIP.version, '3.13.8');
  const uri = JsSIP.URI.parse('sip:alice@127.0.0.1');
  assert.is(uri?.user, 'alice');
  assert.is(uri?.host, '127.0.0.1');
  // The bundle the pages load.
  const main = await buildJssip();
  assert.is(main.outfile, JSSIP_BUNDLE);
  assert.ok(fs.statSync(JSSIP_BUNDLE).size > 100_000);
});

// ---------------------------------------------------------------- (c) the pages in Chromium

const TOKEN = 'web-test-token';
const LIVE_CALL = 'call-live-2222';

/** 8 kHz mono 16-bit PCM WAV holding a 440 Hz tone. */
function toneWav(seconds: number, hz = 440, rate = 8000): Buffer {
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
  for (let i = 0; i < n; i++) buf.writeInt16LE(Math.round(16000 * Math.sin((2 * Math.PI * hz * i) / rate)), 44 + i * 2);
  return buf;
}

interface FakeApi {
  server: http.Server;
  base: string;
  port: number;
  requests: { method: string; path: string; body: unknown }[];
  sip: SipLog;
}

interface SipLog {
  protocols: string[];
  messages: string[];
  /** Registered user -> its WebSocket. */
  users: Map<string, WebSocket>;
  /** Call-ID -> the two sockets of a relayed call. */
  calls: Map<string, [WebSocket, WebSocket]>;
  lastAuthOk: boolean | null;
}

function header(msg: string, name: string): string {
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(msg);
  return m ? m[1]!.trim() : '';
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/**
 * A registrar that challenges (MD5 digest, qop=auth) and accepts any user with password
 * "secret", and relays everything else between registered users: an initial request goes to the
 * socket of its Request-URI user, the rest of the call follows its Call-ID.
 */
function fakeSipHub(ws: WebSocket, log: SipLog, realm: string): void {
  const nonce = 'n0nce-' + Math.random().toString(36).slice(2);
  ws.on('message', (data) => {
    const msg = data.toString();
    log.messages.push(msg);
    const first = msg.slice(0, msg.indexOf('\r\n'));
    const callId = header(msg, 'Call-ID');
    const pair = log.calls.get(callId);
    const other = pair ? (pair[0] === ws ? pair[1] : pair[0]) : undefined;
    if (first.startsWith('SIP/2.0 ')) {
      other?.send(msg);
      return;
    }
    const method = first.split(' ')[0]!;
    const base = [`Via: ${header(msg, 'Via')}`, `From: ${header(msg, 'From')}`, `To: ${header(msg, 'To')};tag=hub1`, `Call-ID: ${callId}`, `CSeq: ${header(msg, 'CSeq')}`];
    if (method !== 'REGISTER') {
      if (other !== undefined) return other.send(msg);
      const user = /^\w+ sips?:([^@;>\s]+)@/.exec(first)?.[1] ?? '';
      const target = log.users.get(user);
      if (target === undefined) {
        if (method !== 'ACK') ws.send([`SIP/2.0 404 Not Found`, ...base, 'Content-Length: 0', '', ''].join('\r\n'));
        return;
      }
      log.calls.set(callId, [ws, target]);
      target.send(msg);
      return;
    }
    const auth = header(msg, 'Authorization');
    if (auth === '') {
      ws.send(['SIP/2.0 401 Unauthorized', ...base, `WWW-Authenticate: Digest realm="${realm}", nonce="${nonce}", algorithm=MD5, qop="auth"`, 'Content-Length: 0', '', ''].join('\r\n'));
      return;
    }
    const p: Record<string, string> = {};
    for (const m of auth.replace(/^Digest\s+/i, '').matchAll(/(\w+)=("([^"]*)"|[^,\s]+)/g)) p[m[1]!] = m[3] ?? m[2]!;
    const ha1 = md5(`${p.username}:${realm}:secret`);
    const ha2 = md5(`REGISTER:${p.uri}`);
    const expected = md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`);
    log.lastAuthOk = p.nonce === nonce && p.response === expected;
    if (!log.lastAuthOk) {
      ws.send(['SIP/2.0 403 Forbidden', ...base, 'Content-Length: 0', '', ''].join('\r\n'));
      return;
    }
    const contact = header(msg, 'Contact');
    const bound = !/expires=0\b/.test(contact) && header(msg, 'Expires') !== '0';
    if (bound) log.users.set(p.username!, ws);
    else log.users.delete(p.username!);
    ws.send(['SIP/2.0 200 OK', ...base, `Contact: ${contact}`, 'Content-Length: 0', '', ''].join('\r\n'));
  });
}

async function startFakeApi(): Promise<FakeApi> {
  const wav = toneWav(3);
  const wavPath = path.join(dir, 'tone440.wav');
  fs.writeFileSync(wavPath, wav);
  const now = Date.now();
  const rec = (id: string, callId: string, status: string, minutesAgo: number, extra: Record<string, unknown> = {}) => ({
    id,
    account_id: 'default',
    reference_type: 'call',
    reference_id: callId,
    status,
    format: 'wav',
    channels: 'mono',
    sample_rate: 8000,
    bitrate: null,
    participant: 'all',
    label: '',
    duration_ms: 0,
    file_size: 0,
    checksum_sha256: '',
    pauses: [],
    recovered: false,
    reason: '',
    tm_start: new Date(now - minutesAgo * 60_000).toISOString(),
    tm_end: '',
    tm_create: new Date(now - minutesAgo * 60_000).toISOString(),
    tm_update: new Date(now - minutesAgo * 60_000).toISOString(),
    tm_delete: '',
    time_limit: 3600,
    record_min_sec: 0,
    pause_behavior: 'skip',
    download_url: '',
    ...extra,
  });
  const recordings: Record<string, unknown>[] = [
    rec('rec-bbbb2222', LIVE_CALL, 'recording', 1, { label: 'live' }),
    rec('rec-aaaa1111', 'call-old-1111', 'ended', 60, { label: 'support', duration_ms: 3000, file_size: wav.length, checksum_sha256: createHash('sha256').update(wav).digest('hex') }),
  ];
  const requests: FakeApi['requests'] = [];
  const sip: SipLog = { protocols: [], messages: [], users: new Map(), calls: new Map(), lastAuthOk: null };
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const error = (res: http.ServerResponse, status: number, code: string, message: string) => json(res, status, { error: { code, message } });
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!url.pathname.startsWith('/v1/')) {
      if (!serveStatic(req, res, url.pathname)) error(res, 404, 'not_found', `no route ${req.method} ${url.pathname}`);
      return;
    }
    if (url.pathname === '/v1/webrtc') return json(res, 200, { sip_ws_path: '/sip', realm: 'recgate', ice_servers: [] });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as unknown) : null;
    requests.push({ method: req.method ?? '', path: `${url.pathname}${url.search}`, body });
    const auth = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? url.searchParams.get('token');
    if (auth !== TOKEN) return error(res, 401, 'unauthorized', auth ? 'unknown token' : 'a token is needed');
    const m = /^\/v1\/(calls|recordings)(?:\/([^/]+))?(?:\/([a-z_]+))?$/.exec(url.pathname);
    if (m === null) return error(res, 404, 'not_found', `no route ${req.method} ${url.pathname}`);
    const [, kind, id, action] = m;
    if (kind === 'recordings' && id === undefined && req.method === 'GET') {
      const callId = url.searchParams.get('call_id');
      const size = Number(url.searchParams.get('page_size') ?? '25');
      const rows = recordings.filter((r) => callId === null || r.reference_id === callId).slice(0, size);
      return json(res, 200, { result: rows, next_page_token: '' });
    }
    if (kind === 'recordings' && id !== undefined) {
      const row = recordings.find((r) => r.id === id);
      if (row === undefined) return error(res, 404, 'not_found', `no recording ${id}`);
      if (action === 'file' && req.method === 'GET') {
        if (row.status !== 'ended') return error(res, 409, 'recording_not_ready', `recording ${id} is ${String(row.status)}`);
        await serveFile(req, res, { path: wavPath, size: wav.length, contentType: 'audio/wav', etag: String(row.checksum_sha256), filename: `${id}.wav`, inline: url.searchParams.get('inline') === 'true' });
        return;
      }
      if (action === undefined && req.method === 'DELETE') {
        if (row.status !== 'ended') return error(res, 409, 'recording_active', `recording ${id} is ${String(row.status)}: stop it first`);
        Object.assign(row, { status: 'deleted', tm_delete: new Date().toISOString() });
        return json(res, 200, row);
      }
    }
    if (kind === 'calls' && id === undefined && req.method === 'GET') {
      const live = {
        id: LIVE_CALL,
        account_id: 'default',
        sip_call_id: 'abc@127.0.0.1',
        direction: 'inbound',
        from: 'sip:alice@127.0.0.1',
        to: 'sip:record@127.0.0.1',
        status: 'progressing',
        end_reason: '',
        tm_create: new Date(now - 90_000).toISOString(),
        tm_answer: new Date(now - 89_000).toISOString(),
        tm_end: '',
        recording_id: 'rec-bbbb2222',
        recording_ids: ['rec-bbbb2222'],
      };
      return json(res, 200, { result: url.searchParams.get('status') === 'ended' ? [] : [live], next_page_token: '' });
    }
    if (kind === 'calls' && id === LIVE_CALL && req.method === 'POST' && action?.startsWith('recording_')) {
      const target = recordings.find((r) => r.id === (body as { recording_id?: string } | null)?.recording_id) ?? recordings[0]!;
      const next = { recording_pause: 'paused', recording_resume: 'recording', recording_stop: 'ended' }[action as string];
      if (next === undefined) return error(res, 404, 'not_found', `no route ${url.pathname}`);
      target.status = next;
      return json(res, 200, { result: [target] });
    }
    return error(res, 404, 'not_found', `no route ${req.method} ${url.pathname}`);
  });
  const wss = new WebSocketServer({
    server,
    path: '/sip',
    handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
  });
  wss.on('connection', (ws) => {
    sip.protocols.push(ws.protocol);
    fakeSipHub(ws, sip, '127.0.0.1');
  });
  const port = await listen(server);
  const origClose = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    return origClose(cb);
  }) as typeof server.close;
  return { server, port, base: `http://127.0.0.1:${port}`, requests, sip };
}

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function launch(extraArgs: string[] = []): Promise<BrowserContext> {
  const userData = fs.mkdtempSync(path.join(dir, 'chromium-'));
  return chromium.launchPersistentContext(userData, {
    executablePath: '/usr/lib/chromium/chromium',
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
    viewport: { width: 1200, height: 900 },
  });
}

async function withBrowser(fn: (context: BrowserContext) => Promise<void>): Promise<void> {
  let context: BrowserContext | null = null;
  try {
    context = await launch();
    await fn(context);
  } finally {
    await context?.close();
  }
}

/** Fails the test on any console error or uncaught exception in the page. */
function watchPage(page: Page, problems: string[]): void {
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
}

async function screenshot(page: Page, name: string): Promise<string> {
  const file = path.join(shotsDir, name);
  await page.screenshot({ path: file, fullPage: true });
  const png = fs.readFileSync(file);
  assert.ok(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), `${name} is a PNG`);
  assert.ok(png.length > 10_000, `${name}: ${png.length} bytes`);
  return file;
}

test('browser: sign in, recordings and live calls, Play with waveform, errors shown', async () => {
  await buildJssip();
  const api = await startFakeApi();
  const problems: string[] = [];
  try {
    await withBrowser(async (context) => {
      const page = await context.newPage();
      watchPage(page, problems);

      // Sign in: a wrong token is refused with the API's message, the right one shows the way on.
      await page.goto(`${api.base}/`);
      await page.fill('#token', 'wrong');
      await page.click('#signin');
      await page.waitForFunction(() => /unknown token/.test(document.querySelector('#alert').textContent));
      assert.match(await page.textContent('#alert') ?? '', /unauthorized, HTTP 401/);
      await page.fill('#token', TOKEN);
      await page.click('#signin');
      await page.waitForSelector('#signed-in:not([hidden])');
      assert.is(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string } }).sessionStorage.getItem('recgate.token')), TOKEN);
      assert.ok(api.requests.some((r) => r.path === '/v1/recordings?page_size=1'), 'checked with GET /v1/recordings?page_size=1');
      await screenshot(page, 'signin.png');
      await Promise.all([page.waitForURL(/recordings\.html$/), page.click('#go-recordings')]);

      // The table: two rows, newest first.
      await page.waitForSelector('#rows tr[data-id="rec-aaaa1111"]');
      const ids = await page.$$eval('#rows tr[data-id]', (rows) => rows.map((r) => r.getAttribute('data-id')));
      assert.equal(ids, ['rec-bbbb2222', 'rec-aaaa1111']);
      const rowText = await page.textContent('#rows tr[data-id="rec-aaaa1111"]');
      assert.match(rowText ?? '', /0:03/);
      assert.match(rowText ?? '', /WAV · mono · 8 kHz/);
      assert.match(rowText ?? '', /ended/);
      assert.ok(await page.isDisabled('#rows tr[data-id="rec-bbbb2222"] button.play'), 'a running recording cannot be played yet');

      // Live calls: the call with its active recording; Pause calls the API and the card follows.
      await page.waitForSelector(`li[data-call-id="${LIVE_CALL}"] li[data-recording-id="rec-bbbb2222"]`);
      await page.click('button[aria-label="Pause recording rec-bbbb2222"]');
      await page.waitForSelector('button[aria-label="Resume recording rec-bbbb2222"]:visible');
      assert.not.ok(await page.isVisible('button[aria-label="Pause recording rec-bbbb2222"]'), 'Pause is hidden while paused');
      assert.match(await page.textContent(`li[data-call-id="${LIVE_CALL}"] li[data-recording-id="rec-bbbb2222"]`) ?? '', /paused/);
      const pause = api.requests.find((r) => r.method === 'POST' && r.path === `/v1/calls/${LIVE_CALL}/recording_pause`);
      assert.equal(pause?.body, { recording_id: 'rec-bbbb2222' });

      // Play: the audio element advances and the waveform is drawn.
      await page.click('button[aria-label="Play recording rec-aaaa1111"]');
      await page.waitForSelector('tr.player-row canvas[data-state="drawn"]', { timeout: 5000 });
      await page.waitForFunction(() => document.querySelector('tr.player-row audio').currentTime > 0.3, undefined, { timeout: 5000 });
      const src = await page.getAttribute('tr.player-row audio', 'src');
      assert.match(src ?? '', /\/v1\/recordings\/rec-aaaa1111\/file\?inline=true&token=web-test-token$/);
      const ink = await page.evaluate(() => {
        const c = document.querySelector('tr.player-row canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data as Uint8ClampedArray;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
        return { n, total: c.width * c.height };
      });
      assert.ok(ink.total > 10_000, `canvas ${ink.total} pixels`);
      assert.ok(ink.n / ink.total > 0.2, `waveform covers ${((100 * ink.n) / ink.total).toFixed(1)}% of the canvas`);
      // A live-call action reloads the table; the open player keeps playing.
      const before = await page.evaluate(() => document.querySelector('tr.player-row audio').currentTime);
      await page.click('button[aria-label="Resume recording rec-bbbb2222"]');
      await page.waitForSelector('button[aria-label="Pause recording rec-bbbb2222"]:visible');
      await page.waitForFunction(() => document.querySelector('#rows tr[data-id="rec-bbbb2222"]').dataset.status === 'recording');
      await page.waitForFunction((t) => document.querySelector('tr.player-row audio').currentTime > t, before);
      assert.is(await page.getAttribute('tr[data-id="rec-aaaa1111"] button.play', 'aria-expanded'), 'true');
      assert.is(await page.evaluate(() => document.querySelector('tr[data-id="rec-aaaa1111"]').nextElementSibling.className), 'player-row');
      const download = await page.getAttribute('tr[data-id="rec-aaaa1111"] a.download', 'href');
      assert.match(download ?? '', /\/v1\/recordings\/rec-aaaa1111\/file\?token=web-test-token$/);
      await screenshot(page, 'recordings.png');

      // Delete of a running recording: confirmed, refused by the API, the error is shown.
      page.once('dialog', (d) => void d.accept());
      await page.click('button[aria-label="Delete recording rec-bbbb2222"]');
      await page.waitForFunction(() => /recording_active/.test(document.querySelector('#alert').textContent));
      assert.match(await page.textContent('#alert') ?? '', /Deleting rec-bbbb2222: recording rec-bbbb2222 is \w+: stop it first \(recording_active, HTTP 409\)/);
      assert.ok(api.requests.some((r) => r.method === 'DELETE' && r.path === '/v1/recordings/rec-bbbb2222'));
      // Deleting the ended one works and the row says so.
      page.once('dialog', (d) => void d.accept());
      await page.click('button[aria-label="Delete recording rec-aaaa1111"]');
      await page.waitForSelector('tr[data-id="rec-aaaa1111"][data-status="deleted"]');

      // Filters go to the API as query parameters.
      await page.selectOption('#f-status', 'ended');
      await page.fill('#f-label', 'support');
      await page.click('#filters button[type="submit"]');
      await page.waitForFunction(() => /status=ended/.test(location.search));
      assert.ok(api.requests.some((r) => r.path.startsWith('/v1/recordings?') && r.path.includes('status=ended') && r.path.includes('label=support')));

      // Signed out: the recordings page sends us to sign in, and sign-in sends us back.
      await page.click('#signout');
      await page.waitForURL(/index\.html$/);
      await page.goto(`${api.base}/recordings.html`);
      await page.waitForURL(/index\.html\?next=recordings\.html$/);
      await page.fill('#token', TOKEN);
      await Promise.all([page.waitForURL(/recordings\.html$/), page.click('#signin')]);
      await page.waitForSelector('#rows tr[data-id]');
    });
  } finally {
    await close(api.server);
  }
  assert.equal(problems.filter((p) => !/401 \(Unauthorized\)|409 \(Conflict\)/.test(p)), []);
});

test('browser: the softphone loads JsSIP, exposes window.recgatePhone, registers with digest auth over WebSocket', async () => {
  await buildJssip();
  const api = await startFakeApi();
  const problems: string[] = [];
  try {
    await withBrowser(async (context) => {
      const page = await context.newPage();
      watchPage(page, problems);
      await page.goto(`${api.base}/softphone.html?user=alice&password=secret&autoanswer=1`);
      await page.waitForFunction(() => window.recgatePhone !== undefined);
      const info = await page.evaluate(() => {
        const p = window.recgatePhone;
        return {
          jssip: typeof window.JsSIP,
          version: window.JsSIP?.version,
          state: p.state,
          registered: p.registered,
          lastCause: p.lastCause,
          fns: ['answer', 'hangup', 'call', 'analyserFrequency', 'register', 'unregister', 'reject', 'sendDTMF', 'analyserMean'].filter((k) => typeof p[k] === 'function'),
          level: p.analyserFrequency(1500),
          user: document.querySelector('#sip-user').value,
          password: document.querySelector('#sip-password').value,
          autoanswer: document.querySelector('#autoanswer').checked,
        };
      });
      assert.equal(info, {
        jssip: 'object',
        version: '3.13.8',
        state: 'idle',
        registered: false,
        lastCause: '',
        fns: ['answer', 'hangup', 'call', 'analyserFrequency', 'register', 'unregister', 'reject', 'sendDTMF', 'analyserMean'],
        level: 0,
        user: 'alice',
        password: 'secret',
        autoanswer: true,
      });
      // Nothing to answer or hang up yet; calling before registering is an error, not a silent no-op.
      assert.is(await page.evaluate(() => window.recgatePhone.answer()), false);
      assert.is(await page.evaluate(() => window.recgatePhone.hangup()), false);
      const err = await page.evaluate(() => {
        try {
          window.recgatePhone.call('record');
          return '';
        } catch (e) {
          return String((e as Error).message);
        }
      });
      assert.match(err, /register first/);
      await screenshot(page, 'softphone.png');

      // The ICE servers (RECGATE_ICE_SERVERS) come from GET /v1/webrtc into every call's RTCPeerConnection.
      const ice = [{ urls: 'stun:stun.example.net:3478' }, { urls: 'turn:turn.example.net', username: 'u', credential: 'c' }];
      const other = await context.newPage();
      await other.route('**/v1/webrtc', (r) => r.fulfill({ contentType: 'application/json', body: JSON.stringify({ sip_ws_path: '/sip', realm: 'recgate', ice_servers: ice }) }));
      await other.goto(`${api.base}/softphone.html`);
      assert.equal(await other.evaluate(() => window.recgatePhone.iceServers()), ice);
      await other.close();

      // A wrong password: the registrar's 403 is shown, state registration_failed.
      await page.fill('#sip-password', 'wrong');
      await page.click('#register');
      await page.waitForFunction(() => window.recgatePhone.state === 'registration_failed', undefined, { timeout: 5000 });
      assert.is(await page.evaluate(() => window.recgatePhone.lastStatusCode), 403);
      assert.is(api.sip.lastAuthOk, false);
      assert.match(await page.textContent('#alert') ?? '', /Registration failed: .*403 Forbidden/);

      // Register: REGISTER over ws://host/sip with subprotocol "sip", challenged, then accepted.
      api.sip.messages.length = 0;
      await page.fill('#sip-password', 'secret');
      await page.click('#register');
      await page.waitForFunction(() => window.recgatePhone.registered === true, undefined, { timeout: 5000 });
      assert.is(await page.evaluate(() => window.recgatePhone.state), 'registered');
      assert.equal(api.sip.protocols, ['sip', 'sip']);
      assert.is(api.sip.lastAuthOk, true);
      const register = api.sip.messages[0] ?? '';
      assert.match(register, /^REGISTER sip:127\.0\.0\.1 SIP\/2\.0\r\n/);
      assert.match(header(register, 'From'), /<sip:alice@127\.0\.0\.1>/);
      assert.match(await page.textContent('#reg-status') ?? '', /Registered as sip:alice@127\.0\.0\.1/);
      assert.not.ok(await page.isDisabled('#call'));
      assert.ok(await page.isDisabled('#hangup'));
      await screenshot(page, 'softphone-registered.png');

      // Unregister: REGISTER with expires 0.
      await page.click('#unregister');
      await page.waitForFunction(() => window.recgatePhone.state === 'unregistered' && window.recgatePhone.registered === false);
      const deadline = Date.now() + 3000;
      while (api.sip.users.has('alice') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.not.ok(api.sip.users.has('alice'), 'un-REGISTER reached the registrar');
    });
  } finally {
    await close(api.server);
  }
  assert.equal(problems, []);
});

test('browser: two softphones call each other through the relay: each hears the other\'s tone, DTMF by SIP INFO, hang-up causes', async () => {
  await buildJssip();
  const api = await startFakeApi();
  const problems: string[] = [];
  const tones: Record<string, number> = { alice: 1000, bob: 1500 };
  const contexts: BrowserContext[] = [];
  try {
    const pages: Record<string, Page> = {};
    for (const [user, hz] of Object.entries(tones)) {
      const wav = path.join(dir, `mic-${user}.wav`);
      fs.writeFileSync(wav, toneWav(10, hz, 48000));
      const context = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`]);
      contexts.push(context);
      const page = await context.newPage();
      watchPage(page, problems);
      await page.goto(`${api.base}/softphone.html?user=${user}&password=secret${user === 'bob' ? '&autoanswer=1' : ''}`);
      // alice clicks Register; bob's test code calls window.recgatePhone.register().
      if (user === 'alice') await page.click('#register');
      else await page.evaluate(() => window.recgatePhone.register());
      await page.waitForFunction(() => window.recgatePhone.registered === true, undefined, { timeout: 5000 });
      pages[user] = page;
    }
    const alice = pages.alice!;
    const bob = pages.bob!;
    assert.is(await alice.evaluate(() => window.recgatePhone.call('bob')), 'sip:bob@127.0.0.1');
    await bob.waitForFunction(() => window.recgatePhone.state === 'in_call', undefined, { timeout: 8000 });
    await alice.waitForFunction(() => window.recgatePhone.state === 'in_call', undefined, { timeout: 8000 });
    const heard = (page: Page, hz: number, other: number) =>
      page.waitForFunction(
        ([f, g]) => {
          const p = window.recgatePhone;
          const mean = p.analyserMean();
          return mean > 0 && p.analyserFrequency(f) / mean > 50 && p.analyserFrequency(f) > 100 * p.analyserFrequency(g);
        },
        [hz, other] as const,
        { timeout: 8000, polling: 100 },
      );
    await heard(bob, tones.alice!, tones.bob!);
    await heard(alice, tones.bob!, tones.alice!);
    // The meter samples the analyser every 100 ms: under load its first tick after the audio
    // starts can come after the analyser already shows the tone, so wait for it (bounded).
    const meterUp = await bob
      .waitForFunction(() => Number(document.querySelector('.meter').getAttribute('aria-valuenow')) > 0, undefined, { timeout: 3000, polling: 100 })
      .then(() => true, () => false);
    const levels = await bob.evaluate(() => {
      const p = window.recgatePhone;
      return { hz1000: p.analyserFrequency(1000), hz1500: p.analyserFrequency(1500), mean: p.analyserMean(), meter: document.querySelector('.meter').getAttribute('aria-valuenow') };
    });
    assert.ok(levels.hz1000 / levels.mean > 50, JSON.stringify(levels));
    assert.ok(meterUp && Number(levels.meter) > 0, `level meter ${levels.meter}`);
    assert.is(await bob.evaluate(() => document.querySelector('#remote-audio').paused), false, 'the remote audio element plays');

    // DTMF: SIP INFO reaches the other phone; RFC 4733 goes into the media without an error.
    await alice.check('#dtmf-info');
    await alice.click('#keypad button[data-key="1"]');
    await alice.evaluate(() => window.recgatePhone.sendDTMF('2#'));
    await bob.waitForFunction(() => window.recgatePhone.dtmfReceived === '12#', undefined, { timeout: 5000 });
    await alice.uncheck('#dtmf-info');
    await alice.evaluate(() => window.recgatePhone.sendDTMF('5'));
    assert.is(await alice.evaluate(() => window.recgatePhone.dtmfSent), '12#5');
    assert.ok(api.sip.messages.some((m) => m.startsWith('INFO ') && /Signal=#/.test(m)), 'INFO carried the tones');
    assert.not.ok(api.sip.messages.some((m) => m.startsWith('INFO ') && /Signal=5/.test(m)), '5 went as RFC 4733, not INFO');
    await screenshot(alice, 'softphone-in-call.png');

    assert.is(await alice.evaluate(() => window.recgatePhone.hangup()), true);
    await bob.waitForFunction(() => window.recgatePhone.state === 'ended', undefined, { timeout: 5000 });
    await alice.waitForFunction(() => window.recgatePhone.state === 'ended');
    const ends = await Promise.all([alice, bob].map((p) => p.evaluate(() => ({ cause: window.recgatePhone.lastCause, by: window.recgatePhone.lastOriginator, history: window.recgatePhone.history }))));
    assert.equal(ends[0]!.cause, 'Terminated');
    assert.is(ends[0]!.by, 'local');
    assert.is(ends[1]!.cause, 'Terminated');
    assert.is(ends[1]!.by, 'remote');
    assert.equal(ends[0]!.history.slice(-5), ['registered', 'calling', 'ringing', 'in_call', 'ended']);
    assert.ok(ends[1]!.history.includes('incoming'), ends[1]!.history.join(' '));
    assert.is(await bob.evaluate(() => window.recgatePhone.analyserFrequency(1000)), 0, 'no remote audio after the call');
    // Rejecting: bob turns auto-answer off and rejects, alice sees Busy.
    await bob.uncheck('#autoanswer');
    await alice.evaluate(() => window.recgatePhone.call('sip:bob@127.0.0.1'));
    await bob.waitForSelector('#incoming:not([hidden])', { timeout: 5000 });
    assert.match(await bob.textContent('#incoming-text') ?? '', /alice@127\.0\.0\.1/);
    await bob.click('#reject');
    await alice.waitForFunction(() => window.recgatePhone.state === 'ended', undefined, { timeout: 5000 });
    assert.equal(await alice.evaluate(() => [window.recgatePhone.lastCause, window.recgatePhone.lastStatusCode]), ['Busy', 486]);
  } finally {
    for (const c of contexts) await c.close();
    await close(api.server);
  }
  assert.equal(problems, []);
});

test.run();
