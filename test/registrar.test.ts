/**
 * SIP users over WebSocket (RFC 7118) without a browser: the users API, REGISTER with digest
 * (SHA-256 preferred, MD5 accepted), several contacts, unregister, bindings that die with their
 * WebSocket, and bad input on the WebSocket (garbage, wrong credentials, broken SDP).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { createAuthorization, createRequest, generateBranch, generateTag, parseMessage, serializeMessage } from '../sip/index.js';
import type { SipResponse } from '../sip/index.js';
import { startApi, waitFor } from './helpers/api.js';
import type { TestApi } from './helpers/api.js';
import { parseIceServers } from '../calls/index.js';

let api: TestApi;
const ICE = [{ urls: 'stun:stun.example.net:3478' }, { urls: 'turns:turn.example.net:443', username: 'u', credential: 'c' }];
test.before(async () => {
  api = await startApi({ config: { iceServers: ICE, sipRealm: 'example.net' } });
});
test.after(async () => {
  await api.stop();
});

/** A minimal SIP-over-WebSocket client for one user. */
class WsPhone {
  readonly ws: WebSocket;
  readonly inbox: SipResponse[] = [];
  readonly requests: string[] = [];
  cseq = 1;
  readonly callId = `${generateTag()}@ws.test`;
  readonly tag = generateTag();
  constructor(readonly url: string, readonly user: string, readonly password: string) {
    // Self-signed certificate in the wss test.
    this.ws = new WebSocket(url, 'sip', { rejectUnauthorized: false });
    this.ws.on('message', (data) => {
      const r = parseMessage(Buffer.from(data as Buffer));
      if (r.ok && r.message.kind === 'response') this.inbox.push(r.message);
      else if (r.ok && r.message.kind === 'request') this.requests.push(r.message.method);
    });
  }
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }
  async send(method: string, headers: [string, string][], body = ''): Promise<SipResponse> {
    const req = createRequest(method, `sip:${method === 'REGISTER' ? '' : 'echo@'}127.0.0.1`, [
      ['Via', `SIP/2.0/WS abc.invalid;branch=${generateBranch()}`],
      ['From', `<sip:${this.user}@127.0.0.1>;tag=${this.tag}`],
      ['To', `<sip:${method === 'REGISTER' ? this.user : 'echo'}@127.0.0.1>`],
      ['Call-ID', this.callId],
      ['CSeq', `${this.cseq++} ${method}`],
      ...headers,
    ], body);
    const before = this.inbox.length;
    this.ws.send(serializeMessage(req).toString());
    // The final response (skip 100 Trying).
    return waitFor(() => this.inbox.slice(before).find((r) => r.status >= 200) ?? null, 3000, `${method} response`);
  }
  /** A request answered after a digest challenge. */
  async authed(method: string, headers: [string, string][], body = '', password = this.password): Promise<SipResponse> {
    const first = await this.send(method, headers, body);
    if (first.status !== 401) return first;
    const challenge = first.headers.getAll('WWW-Authenticate')[0]!;
    const uri = `sip:${method === 'REGISTER' ? '' : 'echo@'}127.0.0.1`;
    const auth = createAuthorization({ challenge, method, uri, username: this.user, password })!;
    return this.send(method, [...headers, ['Authorization', auth]], body);
  }
  close(): void {
    this.ws.close();
  }
}

test('users API: create (password kept only as HA1s), list, duplicate and bad input refused', async () => {
  const r = await api.request('POST', '/v1/accounts/default/users', { body: { username: 'alice', password: 'correct horse' } });
  assert.is(r.status, 201, JSON.stringify(r.json));
  assert.is(r.json.sip_uri, 'sip:alice@127.0.0.1');
  assert.not.ok('password' in r.json);
  assert.is((await api.request('POST', '/v1/accounts/default/users', { body: { username: 'alice', password: 'another one' } })).json.error.code, 'user_exists');
  for (const body of [{ username: 'bad name', password: '12345678' }, { username: 'bob', password: 'short' }, { username: 'bob' }, { username: 'bob', password: '12345678', admin: true }]) {
    const bad = await api.request('POST', '/v1/accounts/default/users', { body });
    assert.is(bad.status, 400, JSON.stringify(body));
    assert.is(bad.json.error.code, 'invalid_option');
  }
  assert.is((await api.request('POST', '/v1/accounts/default/users', { body: { username: 'bob', password: 'bobs password' } })).status, 201);
  const list = await api.request('GET', '/v1/accounts/default/users');
  assert.equal(list.json.result.map((u: { username: string }) => u.username), ['alice', 'bob']);
  assert.is((await api.request('GET', '/v1/accounts/nobody/users')).status, 404);
});

test('REGISTER over WebSocket: 401 with SHA-256 then MD5 challenges, 200 with the binding; two contacts; unregister', async () => {
  const url = `${api.base.replace('http', 'ws')}/sip`;
  const phone = new WsPhone(url, 'alice', 'correct horse');
  const tablet = new WsPhone(url, 'alice', 'correct horse');
  await Promise.all([phone.open(), tablet.open()]);
  try {
    const challenged = await phone.send('REGISTER', [['Contact', '<sip:alice@abc.invalid;transport=ws>'], ['Expires', '600']]);
    assert.is(challenged.status, 401);
    const challenges = challenged.headers.getAll('WWW-Authenticate');
    assert.match(challenges[0]!, /algorithm=SHA-256/);
    assert.match(challenges[1]!, /algorithm=MD5/);
    const ok = await phone.authed('REGISTER', [['Contact', '<sip:alice@abc.invalid;transport=ws>'], ['Expires', '600']]);
    assert.is(ok.status, 200);
    assert.match(ok.headers.get('Contact')!, /expires=(59\d|600)/);
    const ok2 = await tablet.authed('REGISTER', [['Contact', '<sip:alice@def.invalid;transport=ws>']]);
    assert.is(ok2.status, 200);
    assert.is(ok2.headers.getAll('Contact').length, 2, 'both contacts are bound');
    assert.is(api.gateway.registrar.lookup('alice').length, 2);
    // The tablet's WebSocket closes: its binding goes with it.
    tablet.close();
    await waitFor(() => api.gateway.registrar.lookup('alice').length === 1, 2000, 'binding dropped');
    // Unregister the phone (Expires: 0).
    const gone = await phone.authed('REGISTER', [['Contact', '<sip:alice@abc.invalid;transport=ws>'], ['Expires', '0']]);
    assert.is(gone.status, 200);
    assert.is(api.gateway.registrar.lookup('alice').length, 0);
    // Too short an interval: 423 with Min-Expires.
    const brief = await phone.authed('REGISTER', [['Contact', '<sip:alice@abc.invalid;transport=ws>'], ['Expires', '5']]);
    assert.is(brief.status, 423);
    assert.is(brief.headers.get('Min-Expires'), '60');
  } finally {
    phone.close();
    tablet.close();
  }
});

test('bad input on the WebSocket: garbage is answered or dropped, wrong credentials get 403, a broken SDP 488; still serving', async () => {
  const url = `${api.base.replace('http', 'ws')}/sip`;
  const phone = new WsPhone(url, 'bob', 'bobs password');
  await phone.open();
  try {
    const before = api.gateway.stats().sip;
    for (const junk of ['garbage', '\u0000\u0001\u0002', 'INVITE sip:x SIP/3.0\r\n\r\n', 'OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bKx\r\n\r\n']) phone.ws.send(junk);
    phone.ws.send(Buffer.from([0xff, 0xfe, 0x00, 0x13]));
    await new Promise((r) => setTimeout(r, 200));
    const after = api.gateway.stats().sip;
    const errors = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    assert.ok(errors(after.parseErrors) >= errors(before.parseErrors) + 4, 'garbage counted');
    const wrong = await phone.authed('REGISTER', [['Contact', '<sip:bob@x.invalid;transport=ws>']], '', 'wrong password');
    assert.is(wrong.status, 403);
    const ok = await phone.authed('REGISTER', [['Contact', '<sip:bob@x.invalid;transport=ws>']]);
    assert.is(ok.status, 200);
    const broken = await phone.authed('INVITE', [['Contact', '<sip:bob@x.invalid;transport=ws>'], ['Content-Type', 'application/sdp']], 'v=0\r\nthis is not sdp\r\n');
    assert.is(broken.status, 488);
    const webrtcJunk = await phone.authed(
      'INVITE',
      [['Contact', '<sip:bob@x.invalid;transport=ws>'], ['Content-Type', 'application/sdp']],
      'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n',
    );
    assert.is(webrtcJunk.status, 488, 'a WebRTC offer without ICE/DTLS is refused cleanly');
    const options = await phone.send('OPTIONS', []);
    assert.is(options.status, 200);
  } finally {
    phone.close();
  }
});

test('a WebSocket without the sip subprotocol, or on another path, is refused', async () => {
  const refused = (url: string, protocol?: string) =>
    new Promise<boolean>((resolve) => {
      const ws = protocol ? new WebSocket(url, protocol) : new WebSocket(url);
      ws.on('open', () => {
        ws.close();
        resolve(false);
      });
      ws.on('error', () => resolve(true));
      ws.on('unexpected-response', () => resolve(true));
    });
  const base = api.base.replace('http', 'ws');
  assert.ok(await refused(`${base}/sip`));
  assert.ok(await refused(`${base}/other`, 'sip'));
});

test('HTTPS beside HTTP: the pages and API over TLS, SIP over wss registers with a wss binding', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-wss-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    const port = await api.http.listenTls(0, '127.0.0.1', { cert: fs.readFileSync(cert), key: fs.readFileSync(key) });
    assert.ok(port > 0 && port !== Number(new URL(api.base).port));
    const body = await new Promise<string>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path: '/v1/webrtc', rejectUnauthorized: false }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    assert.is(JSON.parse(body).sip_ws_path, '/sip');
    const phone = new WsPhone(`wss://127.0.0.1:${port}/sip`, 'alice', 'correct horse');
    await phone.open();
    try {
      const ok = await phone.authed('REGISTER', [['Contact', '<sip:alice@tls.invalid;transport=wss>'], ['Expires', '600']]);
      assert.is(ok.status, 200);
      const bindings = api.gateway.registrar.lookup('alice');
      assert.is(bindings.length, 1);
      assert.is(bindings[0]!.peer.protocol, 'wss');
      // Our Via on requests to this browser names the wss port.
      assert.match(api.gateway.transport.via('wss', 'z9hG4bKx'), new RegExp(`^SIP/2\\.0/WSS [^;]+:${port};`));
      await phone.authed('REGISTER', [['Contact', '<sip:alice@tls.invalid;transport=wss>'], ['Expires', '0']]);
    } finally {
      phone.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('GET /v1/webrtc (no token): the WebSocket path, realm and ICE servers a softphone needs', async () => {
  const r = await api.request('GET', '/v1/webrtc', { token: null });
  assert.is(r.status, 200);
  assert.equal(r.json, { sip_ws_path: '/sip', realm: 'example.net', ice_servers: ICE });
});

test('RECGATE_ICE_SERVERS: URL lists and JSON, bad entries refused with the index', () => {
  assert.equal(parseIceServers(''), []);
  assert.equal(parseIceServers('stun:a.example:3478, turn:b.example'), [{ urls: 'stun:a.example:3478' }, { urls: 'turn:b.example' }]);
  assert.equal(parseIceServers(JSON.stringify(ICE)), ICE);
  for (const [bad, msg] of [
    ['http://x', /not a stun: or turn: URL/],
    ['[{"urls": "stun:a"}, {"urls": 5}]', /\[1\]\.urls/],
    ['[{', /not valid JSON/],
  ] as const) {
    assert.throws(() => parseIceServers(bad), msg);
  }
});

test.run();
