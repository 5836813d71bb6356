import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  NonceManager,
  computeHa1,
  computeResponse,
  createAuthorization,
  createChallenge,
  parseAuthParams,
  parseChallenge,
  parseCredentials,
  verifyCredentials,
} from '../sip/message/index.js';
import type { DigestCredentials } from '../sip/message/index.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

function creds(value: string): DigestCredentials {
  const c = parseCredentials(value);
  assert.ok(c, value);
  return c as DigestCredentials;
}

// RFC 2617 §3.5: the worked example (MD5, qop=auth).
const RFC2617_AUTHORIZATION =
  'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
  'uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", ' +
  'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"';

test('RFC 2617 §3.5: the MD5 example response', () => {
  const response = computeResponse({
    algorithm: 'MD5',
    username: 'Mufasa',
    realm: 'testrealm@host.com',
    password: 'Circle Of Life',
    nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
    method: 'GET',
    uri: '/dir/index.html',
    qop: 'auth',
    nc: '00000001',
    cnonce: '0a4f113b',
  });
  assert.is(response, '6629fae49393a05397450978507c4ef1');
  const c = creds(RFC2617_AUTHORIZATION);
  assert.equal(c, {
    username: 'Mufasa',
    realm: 'testrealm@host.com',
    nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
    uri: '/dir/index.html',
    response: '6629fae49393a05397450978507c4ef1',
    algorithm: 'MD5',
    qop: 'auth',
    nc: '00000001',
    cnonce: '0a4f113b',
    opaque: '5ccc069c403ebaf9f0171e9517f40e41',
  });
  assert.ok(verifyCredentials({ credentials: c, method: 'GET', realm: 'testrealm@host.com', password: 'Circle Of Life' }));
  const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
  assert.ok(verifyCredentials({ credentials: c, method: 'GET', realm: 'testrealm@host.com', ha1 }));
});

// RFC 7616 §3.9.1: the same request with SHA-256 and MD5 (password "Circle of Life").
const RFC7616 = {
  username: 'Mufasa',
  realm: 'http-auth@example.org',
  password: 'Circle of Life',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  method: 'GET',
  uri: '/dir/index.html',
  qop: 'auth' as const,
  nc: '00000001',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
};

test('RFC 7616 §3.9.1: SHA-256 and MD5 example responses', () => {
  assert.is(computeResponse({ algorithm: 'SHA-256', ...RFC7616 }), '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  assert.is(computeResponse({ algorithm: 'MD5', ...RFC7616 }), '8ca523f5e9506fed4657c9700eebdbec');
  const header =
    'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, ' +
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", ' +
    'qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"';
  const c = creds(header);
  assert.is(c.algorithm, 'SHA-256');
  assert.ok(verifyCredentials({ credentials: c, method: 'GET', realm: 'http-auth@example.org', password: 'Circle of Life', algorithm: 'SHA-256' }));
  assert.not.ok(verifyCredentials({ credentials: c, method: 'GET', realm: 'http-auth@example.org', password: 'Circle of Life', algorithm: 'MD5' }));
});

test('SIP REGISTER: verify a response computed independently in the test (RFC 3261 §22.4)', () => {
  const realm = 'recgate.example.com';
  const nonce = 'ea9c8e88df84f1cec4341ae6cbe5a359';
  const cnonce = '0a4f113b';
  const uri = 'sip:recgate.example.com';
  // Independent computation with node:crypto, not the module under test.
  const ha1 = md5(`bob:${realm}:zanzibar`);
  const ha2 = md5(`REGISTER:${uri}`);
  const response = md5(`${ha1}:${nonce}:00000002:${cnonce}:auth:${ha2}`);
  const header = `Digest username="bob", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, cnonce="${cnonce}", qop=auth, nc=00000002`;
  const c = creds(header);
  assert.ok(verifyCredentials({ credentials: c, method: 'REGISTER', realm, password: 'zanzibar', uri }));
  // Wrong password, method, realm, uri, or a tampered field: false.
  assert.not.ok(verifyCredentials({ credentials: c, method: 'REGISTER', realm, password: 'zanzibaR' }));
  assert.not.ok(verifyCredentials({ credentials: c, method: 'INVITE', realm, password: 'zanzibar' }));
  assert.not.ok(verifyCredentials({ credentials: c, method: 'REGISTER', realm: 'other.example.com', password: 'zanzibar' }));
  assert.not.ok(verifyCredentials({ credentials: c, method: 'REGISTER', realm, password: 'zanzibar', uri: 'sip:elsewhere.example.com' }));
  assert.not.ok(verifyCredentials({ credentials: { ...c, nc: '00000003' }, method: 'REGISTER', realm, password: 'zanzibar' }));
  assert.not.ok(verifyCredentials({ credentials: { ...c, response: c.response.slice(0, 31) }, method: 'REGISTER', realm, password: 'zanzibar' }));
  assert.not.ok(verifyCredentials({ credentials: c, method: 'REGISTER', realm, ha1: ha1.slice(0, 31) }));
  // Upper-case hex from a sloppy client still verifies.
  assert.ok(verifyCredentials({ credentials: creds(header.replace(response, response.toUpperCase())), method: 'REGISTER', realm, password: 'zanzibar' }));
});

test('SHA-256 and -sess variants, and qop=auth-int with a body, against node:crypto', () => {
  const realm = 'r.example.com';
  const body = Buffer.from('v=0\r\n');
  const ha1 = sha256(`u:${realm}:pw`);
  const sessHa1 = sha256(`${ha1}:n1:c1`);
  const ha2 = sha256(`INVITE:sip:x@r.example.com:${sha256('v=0\r\n')}`);
  const expected = sha256(`${sessHa1}:n1:00000001:c1:auth-int:${ha2}`);
  const got = computeResponse({ algorithm: 'SHA-256-sess', username: 'u', realm, password: 'pw', nonce: 'n1', method: 'INVITE', uri: 'sip:x@r.example.com', qop: 'auth-int', nc: '00000001', cnonce: 'c1', body });
  assert.is(got, expected);
  const c = creds(`Digest username="u", realm="${realm}", nonce="n1", uri="sip:x@r.example.com", response="${got}", algorithm=SHA-256-sess, cnonce="c1", qop=auth-int, nc=00000001`);
  assert.ok(verifyCredentials({ credentials: c, method: 'INVITE', realm, password: 'pw', body }));
  assert.not.ok(verifyCredentials({ credentials: c, method: 'INVITE', realm, password: 'pw', body: Buffer.from('v=1\r\n') }));
  // SHA-512-256 (RFC 7616 §6.1) round-trips through client and server.
  const auth = createAuthorization({ challenge: createChallenge({ realm, algorithm: 'SHA-512-256', nonce: 'n2' }), method: 'BYE', uri: 'sip:x@r.example.com', username: 'u', password: 'pw' });
  assert.ok(auth);
  assert.ok(verifyCredentials({ credentials: creds(auth ?? ''), method: 'BYE', realm, password: 'pw' }));
});

test('RFC 2069 style (no qop) only when allowed', () => {
  const realm = 'r';
  const response = md5(`${md5(`u:${realm}:pw`)}:n:${md5('OPTIONS:sip:r')}`);
  const c = creds(`Digest username="u", realm="r", nonce="n", uri="sip:r", response="${response}"`);
  assert.is(c.qop, undefined);
  assert.not.ok(verifyCredentials({ credentials: c, method: 'OPTIONS', realm, password: 'pw' }));
  assert.ok(verifyCredentials({ credentials: c, method: 'OPTIONS', realm, password: 'pw', requireQop: false }));
  assert.is(computeResponse({ algorithm: 'MD5', username: 'u', realm, password: 'pw', nonce: 'n', method: 'OPTIONS', uri: 'sip:r' }), response);
});

test('createChallenge / parseChallenge', () => {
  const value = createChallenge({ realm: 'atlanta.com', algorithm: 'SHA-256', nonce: 'f84f1cec41e6cbe5aea9c8e88d359', opaque: '', stale: true });
  assert.is(value, 'Digest realm="atlanta.com", nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=TRUE, algorithm=SHA-256, qop="auth"');
  assert.equal(parseChallenge(value), { realm: 'atlanta.com', nonce: 'f84f1cec41e6cbe5aea9c8e88d359', algorithm: 'SHA-256', qop: ['auth'], stale: true, opaque: '' });
  const plain = parseAuthParams(createChallenge({ realm: 'r' }));
  assert.is(plain?.params.get('algorithm'), 'MD5');
  assert.match(plain?.params.get('nonce') ?? '', /^[A-Za-z0-9_-]{22}$/);
  assert.is(plain?.params.has('stale'), false);
  // RFC 3261 §20.44's example, as a trunk would send it.
  const trunk = parseChallenge('Digest realm="atlanta.com", domain="sip:boxesbybob.com", qop="auth", nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5');
  assert.equal(trunk, { realm: 'atlanta.com', nonce: 'f84f1cec41e6cbe5aea9c8e88d359', algorithm: 'MD5', qop: ['auth'], stale: false, opaque: '', domain: 'sip:boxesbybob.com' });
  for (const bad of ['', 'Basic realm="x"', 'Digest nonce="n"', 'Digest realm="r"', 'Digest realm="r", nonce="n", algorithm=SHA-1', 'Digest realm="r", realm="s", nonce="n"']) {
    assert.is(parseChallenge(bad), null, bad);
  }
});

test('parseCredentials: missing or malformed parameters give null', () => {
  const ok = 'Digest username="u", realm="r", nonce="n", uri="sip:r", response="0123456789abcdef0123456789abcdef", qop=auth, nc=00000001, cnonce="c"';
  assert.ok(parseCredentials(ok));
  const bad = [
    '',
    ok.replace('Digest', 'Basic'),
    ok.replace('username="u", ', ''),
    ok.replace('realm="r", ', ''),
    ok.replace('nonce="n", ', ''),
    ok.replace('uri="sip:r", ', ''),
    ok.replace('response="0123456789abcdef0123456789abcdef", ', ''),
    ok.replace('0123456789abcdef0123456789abcdef', 'not-hex'),
    ok.replace(', cnonce="c"', ''),
    ok.replace('nc=00000001, ', ''),
    ok.replace('nc=00000001', 'nc=1'),
    ok.replace('qop=auth', 'qop=auth-conf'),
    `${ok}, algorithm=SHA-1`,
    `${ok}, username="v"`,
    ok.replace('realm="r"', 'realm="r'),
  ];
  for (const b of bad) assert.is(parseCredentials(b), null, b);
});

test('client: createAuthorization answers a challenge the server side verifies', () => {
  const nonces = new NonceManager({ secret: Buffer.alloc(32, 7) });
  const challenge = nonces.challenge({ realm: 'trunk.example.net', opaque: 'op1' });
  const value = createAuthorization({ challenge, method: 'INVITE', uri: 'sip:+15551234@trunk.example.net', username: 'acct', password: 's3cret', cnonce: 'fixed', nc: 3 });
  assert.ok(value);
  const p = parseAuthParams(value ?? '');
  assert.is(p?.params.get('nc'), '00000003');
  assert.is(p?.params.get('qop'), 'auth');
  assert.is(p?.params.get('cnonce'), 'fixed');
  assert.is(p?.params.get('opaque'), 'op1');
  assert.match(value ?? '', /qop=auth, nc=00000003$/); // unquoted, as RFC 2617 §3.2.2 writes them
  const c = creds(value ?? '');
  assert.is(nonces.check(c.nonce), 'valid');
  assert.ok(verifyCredentials({ credentials: c, method: 'INVITE', realm: 'trunk.example.net', password: 's3cret' }));
  assert.not.ok(verifyCredentials({ credentials: c, method: 'INVITE', realm: 'trunk.example.net', password: 'wrong' }));
  // Independently recomputed.
  const expected = md5(`${md5('acct:trunk.example.net:s3cret')}:${c.nonce}:00000003:fixed:auth:${md5('INVITE:sip:+15551234@trunk.example.net')}`);
  assert.is(c.response, expected);
  // Unanswerable challenges: null, never a throw.
  for (const bad of ['garbage', 'Digest realm="r", nonce="n", qop="auth-conf"', 'Digest realm="r", nonce="n", algorithm=SHA-1']) {
    assert.is(createAuthorization({ challenge: bad, method: 'INVITE', uri: 'sip:x', username: 'u', password: 'p' }), null, bad);
  }
  // A challenge without qop gets an RFC 2069-style answer.
  const old = createAuthorization({ challenge: 'Digest realm="r", nonce="n"', method: 'BYE', uri: 'sip:x', username: 'u', password: 'p' });
  assert.is(old, `Digest username="u", realm="r", nonce="n", uri="sip:x", response="${md5(`${md5('u:r:p')}:n:${md5('BYE:sip:x')}`)}", algorithm=MD5`);
});

test('NonceManager: signed, stale after maxAgeSec, forged nonces invalid', () => {
  let now = 1_700_000_000_000;
  const m = new NonceManager({ secret: Buffer.alloc(32, 1), maxAgeSec: 300, now: () => now });
  const nonce = m.issue();
  assert.match(nonce, /^[A-Za-z0-9_-]{43}$/);
  assert.is.not(m.issue(), nonce);
  assert.is(m.check(nonce), 'valid');
  now += 299_000;
  assert.is(m.check(nonce), 'valid');
  now += 2_000;
  assert.is(m.check(nonce), 'stale');
  // Stale flag on the next challenge: the client retries with the same password (RFC 2617 §3.2.1).
  assert.equal(parseChallenge(m.challenge({ realm: 'r' }, true))?.stale, true);
  // Another key, a flipped character, the wrong length, junk: invalid.
  const other = new NonceManager({ secret: Buffer.alloc(32, 2), now: () => now });
  assert.is(other.check(m.issue()), 'invalid');
  const fresh = m.issue();
  const flipped = (fresh[5] === 'A' ? 'B' : 'A');
  assert.is(m.check(fresh.slice(0, 5) + flipped + fresh.slice(6)), 'invalid');
  for (const junk of ['', 'abc', `${fresh}x`, fresh.slice(1), '!'.repeat(43), 'dcd98b7102dd2f0e8b11d0f600bfb0c093']) assert.is(m.check(junk), 'invalid', junk);
  // A nonce from far in the future (clock went back): invalid.
  now -= 10_000_000;
  assert.is(m.check(fresh), 'invalid');
});

test('NonceManager: optional nc replay check', () => {
  let now = 0;
  const m = new NonceManager({ checkNc: true, maxTrackedNonces: 2, now: () => now });
  const a = m.issue();
  assert.is(m.check(a, '00000001'), 'valid');
  assert.is(m.check(a, '00000001'), 'replay');
  assert.is(m.check(a, '00000002'), 'valid');
  assert.is(m.check(a, 'zz'), 'invalid');
  assert.is(m.check(a), 'valid'); // no nc given (no qop): nothing to compare
  const b = m.issue();
  const c = m.issue();
  assert.is(m.check(b, '00000001'), 'valid');
  assert.is(m.check(c, '00000001'), 'valid');
  assert.ok(m.trackedNonces <= 2);
  now += 301_000;
  assert.is(m.check(a, '00000009'), 'stale');
  const off = new NonceManager();
  const n = off.issue();
  assert.is(off.check(n, '00000001'), 'valid');
  assert.is(off.check(n, '00000001'), 'valid'); // off by default: UDP retransmissions repeat nc
});

test('misuse throws with a code; bad network input never does', () => {
  const code = (c: string) => (e: Error & { code?: string }) => e.code === c;
  assert.throws(() => new NonceManager({ secret: Buffer.alloc(4) }), code('ERR_OUT_OF_RANGE'));
  assert.throws(() => new NonceManager({ maxAgeSec: 0 }), code('ERR_OUT_OF_RANGE'));
  assert.throws(() => verifyCredentials({ credentials: creds(RFC2617_AUTHORIZATION), method: 'GET', realm: 'x' }), code('ERR_INVALID_ARGUMENT'));
  assert.throws(() => computeResponse({ algorithm: 'MD5', username: 'u', realm: 'r', nonce: 'n', method: 'GET', uri: '/' }), code('ERR_INVALID_ARGUMENT'));
  assert.throws(() => createAuthorization({ challenge: 'Digest realm="r", nonce="n"', method: 'BYE', uri: 'sip:x', username: 'u', password: 'p', nc: 0 }), code('ERR_OUT_OF_RANGE'));
});

test.run();
