import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  SipHeaders,
  createRequest,
  createResponse,
  formatAuthHeader,
  formatNameAddr,
  formatUri,
  formatVia,
  generateBranch,
  generateCallId,
  generateTag,
  isToken,
  parseAuthParams,
  parseCSeq,
  parseMessage,
  parseNameAddr,
  parseParams,
  parseUri,
  parseVia,
  reasonPhrase,
  serializeMessage,
  splitList,
} from '../sip/message/index.js';
import type { NameAddr, ParseError, SipLimits, SipMessage, SipRequest, SipResponse, SipUri, Via } from '../sip/message/index.js';

// ---------------------------------------------------------------------------------------------
// Fixtures: real messages, one string per line, joined with CRLF as on the wire.

function wire(lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

/** SIPp's built-in uac scenario, first INVITE (sipp -sn uac 127.0.0.1). */
const SIPP_INVITE = wire([
  'INVITE sip:service@127.0.0.1:5060 SIP/2.0',
  'Via: SIP/2.0/UDP 127.0.1.1:5061;branch=z9hG4bK-12345-1-0',
  'From: sipp <sip:sipp@127.0.1.1:5061>;tag=12345SIPpTag001',
  'To: service <sip:service@127.0.0.1:5060>',
  'Call-ID: 1-12345@127.0.1.1',
  'CSeq: 1 INVITE',
  'Contact: sip:sipp@127.0.1.1:5061',
  'Max-Forwards: 70',
  'Subject: Performance Test',
  'Content-Type: application/sdp',
  'Content-Length:   129', // SIPp pads [len] with spaces
  '',
  'v=0',
  'o=user1 53655765 2353687637 IN IP4 127.0.1.1',
  's=-',
  'c=IN IP4 127.0.1.1',
  't=0 0',
  'm=audio 6000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  '',
]);

/** SIPp's uas scenario answering it, after our transport stamped received/rport. */
const SIPP_200 = wire([
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP 127.0.1.1:5061;branch=z9hG4bK-12345-1-0;received=127.0.0.1;rport=5061',
  'From: sipp <sip:sipp@127.0.1.1:5061>;tag=12345SIPpTag001',
  'To: service <sip:service@127.0.0.1:5060>;tag=67890SIPpTag011',
  'Call-ID: 1-12345@127.0.1.1',
  'CSeq: 1 INVITE',
  'Contact: <sip:127.0.0.1:5060;transport=UDP>',
  'Content-Type: application/sdp',
  'Content-Length: 129',
  '',
  'v=0',
  'o=user1 53655765 2353687637 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 6002 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  '',
]);

const SDP_150 = [
  'v=0',
  'o=mhandley 29739 7272939 IN IP4 192.0.2.3',
  's=-',
  'c=IN IP4 192.0.2.4',
  't=0 0',
  'm=audio 49217 RTP/AVP 0 12',
  'm=video 3227 RTP/AVP 31',
  'a=rtpmap:31 LPC',
  '',
];

/** RFC 4475 §3.1.1.1 wsinv: folding, LWS around colons, compact and long forms mixed, odd case. */
const WSINV = wire([
  'INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0',
  'TO :',
  ' sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n',
  'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>',
  '  ;',
  '  tag = 98asjd8',
  'MaX-fOrWaRdS: 0068',
  'Call-ID: wsinv.ndaksdj@192.0.2.1',
  'Content-Length   : 150',
  'cseq: 0009',
  '  INVITE',
  'Via  : SIP  /   2.0',
  ' /UDP',
  '    192.0.2.2;branch=390skdjuw',
  's :',
  'NewFangledHeader:   newfangled value',
  ' continued newfangled value',
  'UnknownHeaderWithUnusualValue: ;;,,;;,;',
  'Content-Type: application/sdp',
  'Route:',
  ' <sip:services.example.com;lr;unknownwith=value;unknown-no-value>',
  'v:  SIP  / 2.0  / TCP     spindle.example.com   ;',
  '  branch  =   z9hG4bK9ikj8  ,',
  ' SIP  /    2.0   / UDP  192.168.255.111   ; branch=',
  ' z9hG4bK30239',
  'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =',
  '      newvalue ;',
  '  secondparam ; q = 0.33',
  '',
  ...SDP_150,
]);

const INTMETH_METHOD = "!interesting-Method0123456789_*+`.%indeed'~";
const INTMETH_USER = "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*";
/** RFC 4475 §3.1.1.2 intmeth: every token character, quoted BEL/NUL/DEL, UTF-8 values. */
const INTMETH = wire([
  `${INTMETH_METHOD} sip:${INTMETH_USER}:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0`,
  "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~",
  `To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7F" <sip:${INTMETH_USER}@example.com>`,
  "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"работающий\";tag=_token~1'+`*%!-.",
  "Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{",
  `CSeq: 139122385 ${INTMETH_METHOD}`,
  'Max-Forwards: 255',
  "extensionHeader-!.%*+_`'~:\uFEFF大停電",
  'Content-Length: 0',
  '',
  '',
]);

/** RFC 4475 §3.1.1.3 esc01: %-escapes in user parts and URI parameters; compact i and C. */
const ESC01 = wire([
  'INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0',
  'To: sip:%75se%72@example.com',
  'From: <sip:I%20have%20spaces@example.net>;tag=938',
  'Max-Forwards: 87',
  'i: esc01.239409asdfakjkn23onasd0-3234',
  'CSeq: 234234 INVITE',
  'Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw',
  'C: application/sdp',
  'Contact:',
  '  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>',
  'Content-Length: 150',
  '',
  'v=0',
  'o=mhandley 29739 7272939 IN IP4 192.0.2.1',
  's=-',
  'c=IN IP4 192.0.2.1',
  't=0 0',
  'm=audio 49217 RTP/AVP 0 12',
  'm=video 3227 RTP/AVP 31',
  'a=rtpmap:31 LPC',
  '',
]);

/** RFC 4475 §3.1.1.4 escnull: escaped NULs in URIs, two Contact rows, "L:0". */
const ESCNULL = wire([
  'REGISTER sip:example.com SIP/2.0',
  'To: sip:null-%00-null@example.com',
  'From: sip:null-%00-null@example.com;tag=839923423',
  'Max-Forwards: 70',
  'Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd',
  'CSeq: 14398234 REGISTER',
  'Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw',
  'Contact: <sip:%00@host5.example.com>',
  'Contact: <sip:%00%00@host5.example.com>',
  'L:0',
  '',
  '',
]);

/** RFC 4475 §3.1.1.5 esc02: % that is not an escape (method, display name, an unknown header's name). */
const ESC02 = wire([
  'RE%47IST%45R sip:registrar.example.com SIP/2.0',
  'To: "%Z%45" <sip:resource@example.com>',
  'From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23',
  'Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf',
  'Via: SIP/2.0/TCP host.example.com;rport;branch=z9hG4bK209%fzsnel234',
  'CSeq: 29344 RE%47IST%45R',
  'Max-Forwards: 70',
  'Contact: <sip:alias1@host1.example.com>',
  'C%6Fntact: <sip:alias2@host2.example.com>',
  'Contact: <sip:alias3@host3.example.com>',
  'l: 0',
  '',
  '',
]);

/** RFC 4475 §3.1.1.6 lwsdisp: no LWS between the display name and "<". */
const LWSDISP = wire([
  'OPTIONS sip:user@example.com SIP/2.0',
  'To: sip:user@example.com',
  'From: caller<sip:caller@example.com>;tag=323',
  'Max-Forwards: 70',
  'Call-ID: lwsdisp.1234abcd@funky.example.com',
  'CSeq: 60 OPTIONS',
  'Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw',
  'l: 0',
  '',
  '',
]);

/** RFC 4475 §3.1.1.7 longreq, rebuilt with the same shapes: long names, values, params and 34 Vias. */
const LONG_DISPLAY = `I have a user name of ${'extreme'.repeat(50)} proportion`;
const LONG_CALL_ID = `longreq.one${'really'.repeat(60)}longcallid`;
const LONG_HEADER = `Unknown-${'Long'.repeat(20)}-Name`;
const LONGREQ = wire([
  'INVITE sip:user@example.com SIP/2.0',
  `To: "${LONG_DISPLAY}" <sip:user@example.com:6000;unknownparam1=very${'lonngvalue'.repeat(8)};longparam${'name'.repeat(20)}=shortvalue;very${'longParameterName'.repeat(4)}>`,
  `From: sip:${'amazinglylongcallername'.repeat(5)}@example.net;tag=12982424;unknownheaderparam${'name'.repeat(20)}=unknowheaderparam${'value'.repeat(15)};unknownValueless${'paramname'.repeat(10)}`,
  `Call-ID: ${LONG_CALL_ID}`,
  'CSeq: 3882340 INVITE',
  `${LONG_HEADER}: unknown-${'long'.repeat(15)}-value; unknown-${'long'.repeat(20)}-parameter-name = unknown-${'long'.repeat(15)}-parameter-value`,
  ...Array.from({ length: 33 }, (_, i) => `${['Via', 'v', 'V'][i % 3]}: SIP/2.0/TCP sip${33 - i}.example.com`),
  `Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=${'verylonglonglongbranchvalue'.repeat(5)}`,
  'Max-Forwards: 70',
  `Contact: <sip:${'amazinglylongcallername'.repeat(5)}@host5.example.net>`,
  'Content-Type: application/sdp',
  'l: 150',
  '',
  ...SDP_150,
]);

/** RFC 4475 §3.1.1.8 dblreq: a second message in the same datagram is ignored (§18.3). */
const DBLREQ = wire([
  'REGISTER sip:example.com SIP/2.0',
  'To: sip:j.user@example.com',
  'From: sip:j.user@example.com;tag=43251j3j324',
  'Max-Forwards: 8',
  'I: dblreq.0ha0isndaksdj99sdfafnl3lk233412',
  'Contact: sip:j.user@host.example.com',
  'CSeq: 8 REGISTER',
  'Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492',
  'Content-Length: 0',
  '',
  '',
  'INVITE sip:joe@example.com SIP/2.0',
  't: sip:joe@example.com',
  'From: sip:caller@example.net;tag=141334',
  'Max-Forwards: 8',
  'Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15',
  'CSeq: 8 INVITE',
  'Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234',
  'Content-Type: application/sdp',
  'Content-Length: 150',
  '',
  ...SDP_150,
]);

/** RFC 4475 §3.1.1.9 semiuri: ';' in the user part; a folded, comma-separated Accept. */
const SEMIURI = wire([
  'OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0',
  'To: sip:j_user@example.com',
  'From: sip:caller@example.org;tag=33242',
  'Max-Forwards: 3',
  'Call-ID: semiuri.0ha0isndaksdj',
  'CSeq: 8 OPTIONS',
  'Accept: application/sdp, application/pkcs7-mime,',
  '        multipart/mixed, multipart/signed,',
  '        message/sip, message/sipfrag',
  'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw',
  'l: 0',
  '',
  '',
]);

/** RFC 4475 §3.1.1.10 transports: known and unknown Via transports. */
const TRANSPORTS = wire([
  'OPTIONS sip:user@example.com SIP/2.0',
  'To: sip:user@example.com',
  'From: <sip:caller@example.com>;tag=323',
  'Max-Forwards: 70',
  'Call-ID:  transports.kijh4akdnaqjkwendsasfdj',
  'Accept: application/sdp',
  'CSeq: 60 OPTIONS',
  'Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw',
  'Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf',
  'Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj',
  'Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en',
  'Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee',
  'l: 0',
  '',
  '',
]);

const UNREASON_PHRASE = '= 2**3 * 5**2 но сто девяносто девять - простое';
/** RFC 4475 §3.1.1.12 unreason: a UTF-8 reason phrase. */
const UNREASON = wire([
  `SIP/2.0 200 ${UNREASON_PHRASE}`,
  'Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923',
  'Call-ID: unreason.1234ksdfak3j2erwedfsASdf',
  'CSeq: 35 INVITE',
  'From: sip:user@example.com;tag=11141343',
  'To: sip:user@example.edu;tag=2229',
  'Content-Length: 154',
  'Content-Type: application/sdp',
  'Contact: <sip:user@host198.example.com>',
  '',
  'v=0',
  'o=mhandley 29739 7272939 IN IP4 192.0.2.198',
  's=-',
  'c=IN IP4 192.0.2.198',
  't=0 0',
  'm=audio 49217 RTP/AVP 0 12',
  'm=video 3227 RTP/AVP 31',
  'a=rtpmap:31 LPC',
  '',
]);

/** RFC 4475 §3.1.1.13 noreason: an empty reason phrase (the SP after the code is there). */
const NOREASON = wire([
  'SIP/2.0 100 ',
  'Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe',
  'Call-ID: noreason.asndj203insdf99223ndf',
  'CSeq: 35 INVITE',
  'From: <sip:user@example.com>;tag=39ansfi3',
  'To: <sip:user@example.edu>;tag=902jndnke3',
  'Content-Length: 0',
  'Contact: <sip:user@host105.example.com>',
  '',
  '',
]);

const VALID: [string, Buffer][] = [
  ['sipp INVITE', SIPP_INVITE],
  ['sipp 200 OK', SIPP_200],
  ['wsinv', WSINV],
  ['intmeth', INTMETH],
  ['esc01', ESC01],
  ['escnull', ESCNULL],
  ['esc02', ESC02],
  ['lwsdisp', LWSDISP],
  ['longreq', LONGREQ],
  ['dblreq', DBLREQ],
  ['semiuri', SEMIURI],
  ['transports', TRANSPORTS],
  ['unreason', UNREASON],
  ['noreason', NOREASON],
];

function parseOk(bytes: Uint8Array, limits?: Partial<SipLimits>): SipMessage {
  const r = parseMessage(bytes, limits);
  if (!r.ok) throw new Error(`expected a message, got ${r.error.code}: ${r.error.message}`);
  return r.message;
}

function request(bytes: Uint8Array): SipRequest {
  const m = parseOk(bytes);
  assert.is(m.kind, 'request');
  return m as SipRequest;
}

function response(bytes: Uint8Array): SipResponse {
  const m = parseOk(bytes);
  assert.is(m.kind, 'response');
  return m as SipResponse;
}

function nameAddr(value: string | undefined): NameAddr {
  const n = parseNameAddr(value ?? '');
  assert.ok(n, `name-addr: ${value}`);
  return n as NameAddr;
}

function via(value: string | undefined): Via {
  const v = parseVia(value ?? '');
  assert.ok(v, `via: ${value}`);
  return v as Via;
}

function uri(value: string): SipUri {
  const u = parseUri(value);
  assert.ok(u, `uri: ${value}`);
  return u as SipUri;
}

// ---------------------------------------------------------------------------------------------
// Valid messages, every field

test('sipp INVITE: start line, every header, SDP body', () => {
  const m = request(SIPP_INVITE);
  assert.is(m.method, 'INVITE');
  assert.is(m.uri, 'sip:service@127.0.0.1:5060');
  assert.equal(m.headers.entries(), [
    ['Via', 'SIP/2.0/UDP 127.0.1.1:5061;branch=z9hG4bK-12345-1-0'],
    ['From', 'sipp <sip:sipp@127.0.1.1:5061>;tag=12345SIPpTag001'],
    ['To', 'service <sip:service@127.0.0.1:5060>'],
    ['Call-ID', '1-12345@127.0.1.1'],
    ['CSeq', '1 INVITE'],
    ['Contact', 'sip:sipp@127.0.1.1:5061'],
    ['Max-Forwards', '70'],
    ['Subject', 'Performance Test'],
    ['Content-Type', 'application/sdp'],
    ['Content-Length', '129'],
  ]);
  assert.is(m.body.length, 129);
  assert.ok(m.body.toString().startsWith('v=0\r\no=user1 53655765'));
  assert.ok(m.body.toString().endsWith('a=rtpmap:0 PCMU/8000\r\n'));
  const v = via(m.headers.get('Via'));
  assert.equal([v.transport, v.host, v.port, v.branch], ['UDP', '127.0.1.1', 5061, 'z9hG4bK-12345-1-0']);
  const from = nameAddr(m.headers.get('From'));
  assert.is(from.displayName, 'sipp');
  assert.is(from.params.get('tag'), '12345SIPpTag001');
  assert.equal([from.uri.user, from.uri.host, from.uri.port], ['sipp', '127.0.1.1', 5061]);
  const to = nameAddr(m.headers.get('To'));
  assert.is(to.params.has('tag'), false);
  assert.equal(parseCSeq(m.headers.get('CSeq') ?? ''), { seq: 1, method: 'INVITE' });
  const contact = nameAddr(m.headers.get('Contact'));
  assert.is(contact.displayName, undefined);
  assert.equal([contact.uri.user, contact.uri.host, contact.uri.port], ['sipp', '127.0.1.1', 5061]);
});

test('sipp 200 OK: status line, received/rport, To tag, Contact params', () => {
  const m = response(SIPP_200);
  assert.is(m.status, 200);
  assert.is(m.reason, 'OK');
  assert.is(m.headers.entries().length, 8);
  const v = via(m.headers.get('Via'));
  assert.is(v.received, '127.0.0.1');
  assert.is(v.rport, 5061);
  assert.equal([...v.params.keys()], ['branch', 'received', 'rport']);
  assert.is(nameAddr(m.headers.get('To')).params.get('tag'), '67890SIPpTag011');
  const c = nameAddr(m.headers.get('Contact'));
  assert.is(c.uri.user, '');
  assert.is(c.uri.host, '127.0.0.1');
  assert.is(c.uri.params.get('transport'), 'UDP');
  assert.is(m.body.length, 129);
});

test('RFC 4475 wsinv: folding, LWS, compact forms, header order, unknown headers', () => {
  const m = request(WSINV);
  assert.is(m.method, 'INVITE');
  assert.is(m.uri, 'sip:vivekg@chair-dnrc.example.com;unknownparam');
  assert.equal(m.headers.entries(), [
    ['To', 'sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n'],
    ['From', '"J Rosenberg \\\\\\""       <sip:jdrosen@example.com> ; tag = 98asjd8'],
    ['Max-Forwards', '0068'],
    ['Call-ID', 'wsinv.ndaksdj@192.0.2.1'],
    ['Content-Length', '150'],
    ['CSeq', '0009 INVITE'],
    ['Via', 'SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw'],
    ['Subject', ''],
    ['NewFangledHeader', 'newfangled value continued newfangled value'],
    ['UnknownHeaderWithUnusualValue', ';;,,;;,;'],
    ['Content-Type', 'application/sdp'],
    ['Route', '<sip:services.example.com;lr;unknownwith=value;unknown-no-value>'],
    ['Via', 'SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8'],
    ['Via', 'SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239'],
    ['Contact', '"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33'],
  ]);
  assert.is(m.body.length, 150);
  const r = uri(m.uri);
  assert.equal([r.user, r.host, [...r.params]], ['vivekg', 'chair-dnrc.example.com', [['unknownparam', null]]]);
  const to = nameAddr(m.headers.get('To'));
  assert.equal([to.displayName, to.uri.user, to.uri.host, to.params.get('tag')], [undefined, 'vivekg', 'chair-dnrc.example.com', '1918181833n']);
  assert.is(to.uri.params.size, 0); // §20.10: without <>, ;tag belongs to the header
  const from = nameAddr(m.headers.get('From'));
  assert.is(from.displayName, 'J Rosenberg \\"');
  assert.is(from.params.get('tag'), '98asjd8');
  assert.equal(parseCSeq(m.headers.get('CSeq') ?? ''), { seq: 9, method: 'INVITE' });
  const vias = m.headers.getAll('Via').map((v) => via(v));
  assert.equal(
    vias.map((v) => [v.transport, v.host, v.port, v.branch]),
    [
      ['UDP', '192.0.2.2', undefined, '390skdjuw'],
      ['TCP', 'spindle.example.com', undefined, 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', undefined, 'z9hG4bK30239'],
    ],
  );
  const route = nameAddr(m.headers.get('Route'));
  assert.equal([...route.uri.params], [['lr', null], ['unknownwith', 'value'], ['unknown-no-value', null]]);
  const contact = nameAddr(m.headers.get('Contact'));
  assert.is(contact.displayName, 'Quoted string ""');
  assert.equal([...contact.params], [['newparam', 'newvalue'], ['secondparam', null], ['q', '0.33']]);
});

test('RFC 4475 intmeth: token characters everywhere, quoted controls, UTF-8', () => {
  const m = request(INTMETH);
  assert.is(m.method, INTMETH_METHOD);
  const r = uri(m.uri);
  assert.is(r.user, INTMETH_USER);
  assert.is(r.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
  assert.is(r.host, 'example.com');
  assert.is(via(m.headers.get('Via')).branch, "z9hG4bK-.!%66*_+`'~");
  const to = nameAddr(m.headers.get('To'));
  assert.is(to.displayName, 'BEL:\x07 NUL:\x00 DEL:\x7F');
  assert.is(to.uri.user, INTMETH_USER);
  const from = nameAddr(m.headers.get('From'));
  assert.is(from.displayName, "token1~` token2'+_ token3*%!.-");
  assert.is(from.params.get("fromparam''~+*_!.-%"), '"работающий"');
  assert.is(from.params.get('tag'), "_token~1'+`*%!-.");
  assert.is(m.headers.get('Call-ID'), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
  assert.equal(parseCSeq(m.headers.get('CSeq') ?? ''), { seq: 139122385, method: INTMETH_METHOD });
  assert.is(m.headers.get('Max-Forwards'), '255');
  assert.is(m.headers.get("extensionHeader-!.%*+_`'~"), '\uFEFF大停電'); // the BOM is kept: only SP/HTAB are LWS
  assert.is(m.body.length, 0);
});

test('RFC 4475 esc01: escapes decoded in user parts, kept in params; compact i and C', () => {
  const m = request(ESC01);
  assert.is(uri(m.uri).user, 'sips:user@example.com');
  assert.is(uri(m.uri).host, 'example.net');
  assert.is(nameAddr(m.headers.get('To')).uri.user, 'user');
  assert.is(nameAddr(m.headers.get('From')).uri.user, 'I have spaces');
  assert.is(m.headers.get('Call-ID'), 'esc01.239409asdfakjkn23onasd0-3234');
  assert.is(m.headers.get('Content-Type'), 'application/sdp');
  const contact = nameAddr(m.headers.get('Contact'));
  assert.is(contact.uri.user, 'caller');
  assert.equal([...contact.uri.params], [['%6c%72', null], ['n%61me', 'v%61lue%25%34%31']]);
  assert.is(formatUri(uri(m.uri)), 'sip:sips%3Auser%40example.com@example.net');
  assert.is(m.body.length, 150);
});

test('RFC 4475 escnull: %00 in user parts, two Contact rows, L:0', () => {
  const m = request(ESCNULL);
  assert.is(nameAddr(m.headers.get('To')).uri.user, 'null-\0-null');
  assert.equal(
    m.headers.getAll('Contact').map((c) => nameAddr(c).uri.user),
    ['\0', '\0\0'],
  );
  assert.is(m.headers.get('Content-Length'), '0');
  assert.is(formatUri(nameAddr(m.headers.get('To')).uri), 'sip:null-%00-null@example.com');
});

test('RFC 4475 esc02: % that is not an escape', () => {
  const m = request(ESC02);
  assert.is(m.method, 'RE%47IST%45R');
  assert.is(nameAddr(m.headers.get('To')).displayName, '%Z%45');
  assert.equal(
    m.headers.getAll('Contact').map((c) => nameAddr(c).uri.host),
    ['host1.example.com', 'host3.example.com'],
  );
  assert.is(m.headers.get('C%6Fntact'), '<sip:alias2@host2.example.com>'); // an unknown header, not Contact
  const v = via(m.headers.get('Via'));
  assert.is(v.rport, null);
  assert.is(v.branch, 'z9hG4bK209%fzsnel234');
});

test('RFC 4475 lwsdisp: display name glued to <', () => {
  const from = nameAddr(request(LWSDISP).headers.get('From'));
  assert.is(from.displayName, 'caller');
  assert.is(from.uri.user, 'caller');
  assert.is(from.params.get('tag'), '323');
});

test('RFC 4475 longreq: long values, 34 Via rows in three spellings', () => {
  const m = request(LONGREQ);
  const to = nameAddr(m.headers.get('To'));
  assert.is(to.displayName, LONG_DISPLAY);
  assert.is(to.uri.port, 6000);
  assert.is(to.uri.params.size, 3);
  const from = nameAddr(m.headers.get('From'));
  assert.is(from.uri.user, 'amazinglylongcallername'.repeat(5));
  assert.is(from.params.size, 3);
  assert.is(m.headers.get('Call-ID'), LONG_CALL_ID);
  assert.ok((m.headers.get(LONG_HEADER) ?? '').startsWith('unknown-longlong'));
  const vias = m.headers.getAll('Via');
  assert.is(vias.length, 34);
  assert.is(via(vias[0]).host, 'sip33.example.com');
  assert.is(via(vias[32]).host, 'sip1.example.com');
  assert.is(via(vias[33]).branch, 'verylonglonglongbranchvalue'.repeat(5));
  assert.is(m.body.length, 150);
});

test('RFC 4475 dblreq: bytes after Content-Length are ignored (§18.3)', () => {
  const m = request(DBLREQ);
  assert.is(m.method, 'REGISTER');
  assert.is(m.body.length, 0);
  assert.is(m.headers.get('Call-ID'), 'dblreq.0ha0isndaksdj99sdfafnl3lk233412');
});

test('RFC 4475 semiuri: ";" in the user part, folded Accept list', () => {
  const m = request(SEMIURI);
  const r = uri(m.uri);
  assert.equal([r.user, r.host, r.params.size], ['user;par=u@example.net', 'example.com', 0]);
  assert.equal(m.headers.getAll('Accept'), [
    'application/sdp',
    'application/pkcs7-mime',
    'multipart/mixed',
    'multipart/signed',
    'message/sip',
    'message/sipfrag',
  ]);
});

test('RFC 4475 transports: any transport token', () => {
  const m = request(TRANSPORTS);
  assert.equal(m.headers.getAll('Via').map((v) => via(v).transport), ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
  assert.is(m.headers.get('Call-ID'), 'transports.kijh4akdnaqjkwendsasfdj');
});

test('RFC 4475 unreason and noreason: UTF-8 and empty reason phrases', () => {
  const a = response(UNREASON);
  assert.is(a.status, 200);
  assert.is(a.reason, UNREASON_PHRASE);
  assert.is(a.body.length, 154);
  const b = response(NOREASON);
  assert.is(b.status, 100);
  assert.is(b.reason, '');
  assert.is(b.headers.get('Contact'), '<sip:user@host105.example.com>');
});

test('leading CRLFs are skipped, bare LF line endings tolerated, Uint8Array input', () => {
  const text = SIPP_INVITE.toString();
  const split = text.indexOf('\r\n\r\n');
  const head = text.slice(0, split).replaceAll('\r\n', '\n');
  const lf = Buffer.from(`\r\n\r\n\n${head}\n\n${text.slice(split + 4)}`);
  const m = request(new Uint8Array(lf));
  assert.is(m.method, 'INVITE');
  assert.is(m.headers.get('Subject'), 'Performance Test');
  assert.is(m.headers.get('Content-Length'), '129');
  assert.is(m.body.toString(), text.slice(split + 4));
});

test('no Content-Length on a datagram: the rest of it is the body', () => {
  const text = SIPP_INVITE.toString().replace('Content-Length:   129\r\n', '');
  const m = request(Buffer.from(text));
  assert.is(m.body.length, 129);
  assert.is(m.headers.has('Content-Length'), false);
});

test('compact forms are expanded to canonical long names', () => {
  const names = (b: Buffer): string[] => parseOk(b).headers.entries().map(([n]) => n);
  assert.ok(names(ESC01).includes('Call-ID') && names(ESC01).includes('Content-Type'));
  assert.ok(!names(ESC01).includes('i') && !names(ESC01).includes('C'));
  assert.ok(names(DBLREQ).includes('Call-ID'));
  assert.ok(names(WSINV).includes('Subject') && names(WSINV).includes('Contact'));
  const text = wire([
    'MESSAGE sip:a@example.com SIP/2.0',
    'v: SIP/2.0/UDP h.example.com;branch=z9hG4bK1',
    'f: <sip:b@example.com>;tag=1',
    't: <sip:a@example.com>',
    'i: c1',
    'CSeq: 1 MESSAGE',
    'k: timer, 100rel',
    'o: refer',
    'u: refer, presence',
    'r: <sip:c@example.com>',
    'b: <sip:d@example.com>',
    'x: 1800;refresher=uac',
    'a: *;audio',
    'j: *;video',
    'd: proxy',
    'y: abc',
    'n: <https://x.example.com/cert>',
    'e: gzip',
    's: hello',
    'm: <sip:b@192.0.2.1>',
    'c: text/plain',
    'l: 2',
    '',
    'hi',
  ]);
  assert.equal(names(text), [
    'Via', 'From', 'To', 'Call-ID', 'CSeq', 'Supported', 'Supported', 'Event', 'Allow-Events', 'Allow-Events',
    'Refer-To', 'Referred-By', 'Session-Expires', 'Accept-Contact', 'Reject-Contact', 'Request-Disposition',
    'Identity', 'Identity-Info', 'Content-Encoding', 'Subject', 'Contact', 'Content-Type', 'Content-Length',
  ]);
});

test('multi-value headers split on commas outside quotes and <>; others kept whole', () => {
  const m = request(
    wire([
      'INVITE sip:a@example.com SIP/2.0',
      'Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bK2',
      'From: "Doe, John" <sip:john@example.com>;tag=7',
      'To: <sip:a@example.com>',
      'Call-ID: x',
      'CSeq: 2 INVITE',
      'Contact: "A, B" <sip:a@h1.example.com;x=1>, <sip:b@h2.example.com>;q=0.5',
      'Record-Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>',
      'Route: <sip:p3.example.com;lr>',
      'Allow: INVITE, ACK, BYE , CANCEL,OPTIONS',
      'Supported:',
      'WWW-Authenticate: Digest realm="a, b", nonce="n", qop="auth,auth-int"',
      'Date: Sat, 13 Nov 2010 23:29:00 GMT',
      'X-Custom: a, b, c',
      'Content-Length: 0',
      '',
      '',
    ]),
  );
  assert.equal(m.headers.getAll('Via'), ['SIP/2.0/UDP a.example.com;branch=z9hG4bK1', 'SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bK2']);
  assert.is(m.headers.get('From'), '"Doe, John" <sip:john@example.com>;tag=7');
  assert.equal(m.headers.getAll('Contact'), ['"A, B" <sip:a@h1.example.com;x=1>', '<sip:b@h2.example.com>;q=0.5']);
  assert.equal(m.headers.getAll('Record-Route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
  assert.equal(m.headers.getAll('Allow'), ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS']);
  assert.equal(m.headers.getAll('Supported'), ['']);
  assert.equal(m.headers.getAll('WWW-Authenticate'), ['Digest realm="a, b", nonce="n", qop="auth,auth-int"']);
  assert.equal(m.headers.getAll('Date'), ['Sat, 13 Nov 2010 23:29:00 GMT']);
  assert.equal(m.headers.getAll('X-Custom'), ['a, b, c']);
  assert.equal(splitList('Contact: *'), ['Contact: *']);
  assert.equal(splitList(' , a ,, "x,\\"y" ,'), ['a', '"x,\\"y"']);
  assert.equal(splitList(','), ['']);
});

test('round trip: parse -> serialize -> parse keeps every field; serialize is stable', () => {
  for (const [name, bytes] of VALID) {
    const a = parseOk(bytes);
    const wireA = serializeMessage(a);
    const b = parseOk(wireA);
    assert.is(b.kind, a.kind, name);
    if (a.kind === 'request' && b.kind === 'request') assert.equal([b.method, b.uri], [a.method, a.uri], name);
    if (a.kind === 'response' && b.kind === 'response') assert.equal([b.status, b.reason], [a.status, a.reason], name);
    const withoutLength = (m: SipMessage): [string, string][] => m.headers.entries().filter(([n]) => n !== 'Content-Length');
    assert.equal(withoutLength(b), withoutLength(a), name);
    assert.is(b.headers.get('Content-Length'), String(a.body.length), name);
    assert.ok(b.body.equals(a.body), name);
    assert.ok(serializeMessage(b).equals(wireA), `${name}: serialize(parse(serialize(x))) == serialize(x)`);
  }
});

// ---------------------------------------------------------------------------------------------
// Malformed messages: each named, with its error code and status (STYLE 14)

const GOOD_HEADERS = [
  'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbad1',
  'From: <sip:alice@example.com>;tag=a1',
  'To: <sip:bob@example.com>',
  'Call-ID: bad-1@192.0.2.1',
  'CSeq: 1 INVITE',
  'Max-Forwards: 70',
];

function invite(headers: string[], extra: string[] = [], startLine = 'INVITE sip:bob@example.com SIP/2.0'): Buffer {
  return wire([startLine, ...headers, ...extra, '', '']);
}

function without(name: string): string[] {
  return GOOD_HEADERS.filter((h) => !h.startsWith(`${name}:`));
}

interface Malformed {
  name: string;
  bytes: Buffer;
  code: ParseError['code'];
  status: number;
  /** Method expected in `partial` (requests); undefined: no partial. */
  partialMethod?: string;
  /** The partial has no Via (the message had none, or it came after the limit). */
  noVia?: true;
  limits?: Partial<SipLimits>;
}

const MALFORMED: Malformed[] = [
  { name: 'empty input', bytes: Buffer.alloc(0), code: 'ERR_SIP_START_LINE', status: 0 },
  { name: 'only CRLFs', bytes: Buffer.from('\r\n\r\n\r\n\n'), code: 'ERR_SIP_START_LINE', status: 0 },
  { name: 'binary garbage', bytes: Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0xff]), code: 'ERR_SIP_START_LINE', status: 0 },
  { name: 'TLS ClientHello on the UDP port', bytes: Buffer.from('\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03', 'latin1'), code: 'ERR_SIP_START_LINE', status: 0 },
  { name: 'non-UTF-8 in the method', bytes: invite(GOOD_HEADERS, [], 'INV\xc3\x28ITE sip:bob@example.com SIP/2.0'), code: 'ERR_SIP_START_LINE', status: 0 },
  { name: 'NUL byte in the method', bytes: invite(GOOD_HEADERS, [], 'INV\0ITE sip:bob@example.com SIP/2.0'), code: 'ERR_SIP_START_LINE', status: 0 },
  { name: 'NUL byte in the Request-URI', bytes: invite(GOOD_HEADERS, [], 'INVITE sip:bob\0@example.com SIP/2.0'), code: 'ERR_SIP_START_LINE', status: 400, partialMethod: 'INVITE' },
  { name: 'NUL byte in a header name', bytes: invite(GOOD_HEADERS, ['X-Bad\0Name: 1']), code: 'ERR_SIP_HEADER', status: 400, partialMethod: 'INVITE' },
  { name: 'bad start line: no version', bytes: invite(GOOD_HEADERS, [], 'INVITE sip:bob@example.com'), code: 'ERR_SIP_START_LINE', status: 400, partialMethod: 'INVITE' },
  { name: 'bad start line: method only', bytes: invite(GOOD_HEADERS, [], 'INVITE'), code: 'ERR_SIP_START_LINE', status: 400, partialMethod: 'INVITE' },
  { name: 'RFC 4475 lwsstart: several SP between elements', bytes: invite(GOOD_HEADERS, [], 'INVITE  sip:bob@example.com  SIP/2.0'), code: 'ERR_SIP_START_LINE', status: 400, partialMethod: 'INVITE' },
  { name: 'RFC 4475 lwsruri: LWS inside the Request-URI', bytes: invite(GOOD_HEADERS, [], 'INVITE sip:bob@example.com; lr SIP/2.0'), code: 'ERR_SIP_START_LINE', status: 400, partialMethod: 'INVITE' },
  { name: 'RFC 4475 ltgtruri: Request-URI in <>', bytes: invite(GOOD_HEADERS, [], 'INVITE <sip:bob@example.com> SIP/2.0'), code: 'ERR_SIP_START_LINE', status: 400, partialMethod: 'INVITE' },
  { name: 'bad SIP Request-URI (port 0)', bytes: invite(GOOD_HEADERS, [], 'INVITE sip:bob@example.com:0 SIP/2.0'), code: 'ERR_SIP_START_LINE', status: 400, partialMethod: 'INVITE' },
  { name: 'RFC 4475 badvers: SIP/7.0', bytes: invite(GOOD_HEADERS, [], 'INVITE sip:bob@example.com SIP/7.0'), code: 'ERR_SIP_VERSION', status: 505, partialMethod: 'INVITE' },
  { name: 'HTTP request', bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), code: 'ERR_SIP_VERSION', status: 505, partialMethod: 'GET', noVia: true },
  { name: 'missing Via', bytes: invite(without('Via')), code: 'ERR_SIP_MISSING_HEADER', status: 400, partialMethod: 'INVITE', noVia: true },
  { name: 'missing From', bytes: invite(without('From')), code: 'ERR_SIP_MISSING_HEADER', status: 400, partialMethod: 'INVITE' },
  { name: 'missing To', bytes: invite(without('To')), code: 'ERR_SIP_MISSING_HEADER', status: 400, partialMethod: 'INVITE' },
  { name: 'missing Call-ID', bytes: invite(without('Call-ID')), code: 'ERR_SIP_MISSING_HEADER', status: 400, partialMethod: 'INVITE' },
  { name: 'missing CSeq', bytes: invite(without('CSeq')), code: 'ERR_SIP_MISSING_HEADER', status: 400, partialMethod: 'INVITE' },
  { name: 'empty Call-ID', bytes: invite(without('Call-ID'), ['Call-ID:']), code: 'ERR_SIP_MISSING_HEADER', status: 400, partialMethod: 'INVITE' },
  { name: 'RFC 4475 mismatch01: CSeq method differs', bytes: invite(GOOD_HEADERS, [], 'OPTIONS sip:bob@example.com SIP/2.0'), code: 'ERR_SIP_HEADER', status: 400, partialMethod: 'OPTIONS' },
  { name: 'RFC 4475 mismatch02: unknown method, CSeq differs', bytes: invite(without('CSeq'), ['CSeq: 1 BOGUS'], 'NEWMETHOD sip:bob@example.com SIP/2.0'), code: 'ERR_SIP_HEADER', status: 400, partialMethod: 'NEWMETHOD' },
  { name: 'CSeq without a method', bytes: invite(without('CSeq'), ['CSeq: 1']), code: 'ERR_SIP_HEADER', status: 400, partialMethod: 'INVITE' },
  { name: 'RFC 4475 scalar02: CSeq over 2**31', bytes: invite(without('CSeq'), ['CSeq: 36893488147419103232 INVITE']), code: 'ERR_SIP_HEADER', status: 400, partialMethod: 'INVITE' },
  { name: 'RFC 4475 scalar02: Max-Forwards 300', bytes: invite(without('Max-Forwards'), ['Max-Forwards: 300']), code: 'ERR_SIP_HEADER', status: 400, partialMethod: 'INVITE' },
  { name: 'RFC 4475 multi01: two From', bytes: invite(GOOD_HEADERS, ['From: <sip:eve@example.com>;tag=e']), code: 'ERR_SIP_HEADER', status: 400, partialMethod: 'INVITE' },
  { name: 'two Call-IDs', bytes: invite(GOOD_HEADERS, ['i: other']), code: 'ERR_SIP_HEADER', status: 400, partialMethod: 'INVITE' },
  { name: 'RFC 4475 clerr: Content-Length larger than the body', bytes: invite(GOOD_HEADERS, ['Content-Length: 9999']), code: 'ERR_SIP_CONTENT_LENGTH', status: 400, partialMethod: 'INVITE' },
  { name: 'RFC 4475 ncl: negative Content-Length', bytes: invite(GOOD_HEADERS, ['Content-Length: -999']), code: 'ERR_SIP_CONTENT_LENGTH', status: 400, partialMethod: 'INVITE' },
  { name: 'non-numeric Content-Length', bytes: invite(GOOD_HEADERS, ['Content-Length: ten']), code: 'ERR_SIP_CONTENT_LENGTH', status: 400, partialMethod: 'INVITE' },
  { name: 'RFC 4475 mcl01: conflicting Content-Length values', bytes: invite(GOOD_HEADERS, ['Content-Length: 0', 'l: 2']), code: 'ERR_SIP_CONTENT_LENGTH', status: 400, partialMethod: 'INVITE' },
  { name: 'header without colon', bytes: invite(GOOD_HEADERS, ['This is not a header']), code: 'ERR_SIP_HEADER', status: 400, partialMethod: 'INVITE' },
  { name: 'empty header name', bytes: invite(GOOD_HEADERS, [': value']), code: 'ERR_SIP_HEADER', status: 400, partialMethod: 'INVITE' },
  { name: 'header name with a space', bytes: invite(GOOD_HEADERS, ['Bad Name: value']), code: 'ERR_SIP_HEADER', status: 400, partialMethod: 'INVITE' },
  { name: 'continuation line before any header', bytes: wire(['INVITE sip:bob@example.com SIP/2.0', ' folded', ...GOOD_HEADERS, '', '']), code: 'ERR_SIP_HEADER', status: 400, partialMethod: 'INVITE' },
  { name: 'bare CR inside a header value', bytes: invite(GOOD_HEADERS, ['Subject: a\rInjected: b']), code: 'ERR_SIP_HEADER', status: 400, partialMethod: 'INVITE' },
  {
    name: 'oversized header section (413)',
    bytes: invite(GOOD_HEADERS, [`X-Big: ${'a'.repeat(20000)}`]),
    code: 'ERR_SIP_TOO_LARGE',
    status: 413,
    partialMethod: 'INVITE',
  },
  {
    name: 'oversized start line (413)',
    bytes: invite(GOOD_HEADERS, [], `INVITE sip:${'b'.repeat(17000)}@example.com SIP/2.0`),
    code: 'ERR_SIP_TOO_LARGE',
    status: 413,
    partialMethod: 'INVITE',
    noVia: true,
  },
  {
    name: 'message over maxMessageBytes (413)',
    bytes: Buffer.concat([invite(GOOD_HEADERS), Buffer.alloc(70000, 0x61)]),
    code: 'ERR_SIP_TOO_LARGE',
    status: 413,
    partialMethod: 'INVITE',
  },
  {
    name: 'too many headers (413)',
    bytes: invite(GOOD_HEADERS, Array.from({ length: 300 }, (_, i) => `X-H${i}: ${i}`)),
    code: 'ERR_SIP_TOO_LARGE',
    status: 413,
    partialMethod: 'INVITE',
  },
  {
    name: 'over a custom maxHeaders',
    bytes: invite(GOOD_HEADERS),
    limits: { maxHeaders: 5 },
    code: 'ERR_SIP_TOO_LARGE',
    status: 413,
    partialMethod: 'INVITE',
  },
  // Responses: never answered, always dropped (status 0), no partial.
  { name: 'response: RFC 4475 bigcode 4294967301', bytes: wire(['SIP/2.0 4294967301 better not break the receiver', ...GOOD_HEADERS, '', '']), code: 'ERR_SIP_START_LINE', status: 0 },
  { name: 'response: status 99', bytes: wire(['SIP/2.0 099 Low', ...GOOD_HEADERS, '', '']), code: 'ERR_SIP_START_LINE', status: 0 },
  { name: 'response: status 700', bytes: wire(['SIP/2.0 700 High', ...GOOD_HEADERS, '', '']), code: 'ERR_SIP_START_LINE', status: 0 },
  { name: 'response: no status code', bytes: wire(['SIP/2.0', ...GOOD_HEADERS, '', '']), code: 'ERR_SIP_START_LINE', status: 0 },
  { name: 'response: SIP/3.0', bytes: wire(['SIP/3.0 200 OK', ...GOOD_HEADERS, '', '']), code: 'ERR_SIP_VERSION', status: 0 },
  { name: 'response: missing Call-ID', bytes: wire(['SIP/2.0 200 OK', ...without('Call-ID'), '', '']), code: 'ERR_SIP_MISSING_HEADER', status: 0 },
  { name: 'response: bad CSeq', bytes: wire(['SIP/2.0 200 OK', ...without('CSeq'), 'CSeq: x INVITE', '', '']), code: 'ERR_SIP_HEADER', status: 0 },
  { name: 'response: Content-Length larger than body', bytes: wire(['SIP/2.0 200 OK', ...GOOD_HEADERS, 'Content-Length: 10', '', 'short']), code: 'ERR_SIP_CONTENT_LENGTH', status: 0 },
  { name: 'response: oversized headers', bytes: wire(['SIP/2.0 200 OK', ...GOOD_HEADERS, `X-Big: ${'a'.repeat(20000)}`, '', '']), code: 'ERR_SIP_TOO_LARGE', status: 0 },
];

test('malformed messages: code, status and partial, table-driven', () => {
  for (const c of MALFORMED) {
    const r = parseMessage(c.bytes, c.limits);
    assert.is(r.ok, false, c.name);
    if (r.ok) continue;
    assert.is(r.error.code, c.code, `${c.name}: ${r.error.message}`);
    assert.is(r.error.status, c.status, c.name);
    assert.type(r.error.message, 'string');
    assert.not.match(r.error.message, /[\x00-\x1f]/, `${c.name}: printable message`);
    if (c.partialMethod === undefined) {
      assert.is(r.error.partial, undefined, `${c.name}: no partial`);
      continue;
    }
    const p = r.error.partial;
    assert.ok(p, `${c.name}: partial`);
    if (p === undefined) continue;
    assert.is(p.method, c.partialMethod, c.name);
    // Every answerable header that was present and readable is in the partial, and nothing else.
    for (const [n] of p.headers.entries()) assert.ok(['Via', 'From', 'To', 'Call-ID', 'CSeq'].includes(n), `${c.name}: ${n}`);
    if (c.noVia !== true) {
      assert.is(p.headers.get('Via'), 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbad1', `${c.name}: partial Via`);
    }
  }
});

test('partial carries all five headers so the transport can answer 400 (§8.2.6.1)', () => {
  const r = parseMessage(invite(without('CSeq'), ['CSeq: 5 BYE']));
  assert.is(r.ok, false);
  if (r.ok) return;
  assert.is(r.error.status, 400);
  const p = r.error.partial;
  assert.ok(p);
  if (p === undefined) return;
  assert.equal(p.headers.entries(), [
    ['Via', 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbad1'],
    ['From', '<sip:alice@example.com>;tag=a1'],
    ['To', '<sip:bob@example.com>'],
    ['Call-ID', 'bad-1@192.0.2.1'],
    ['CSeq', '5 BYE'],
  ]);
  const answer = createResponse({ kind: 'request', method: p.method, uri: 'sip:invalid', headers: p.headers, body: Buffer.alloc(0) }, 400, undefined, { toTag: 'x1' });
  assert.is(answer.headers.get('To'), '<sip:bob@example.com>;tag=x1');
  assert.ok(parseMessage(serializeMessage(answer)).ok);
});

test('trailing LWS on the Request-Line is tolerated (RFC 4475 trws)', () => {
  assert.ok(parseMessage(invite(GOOD_HEADERS, [], 'INVITE sip:bob@example.com SIP/2.0  ')).ok);
  assert.ok(parseMessage(invite(GOOD_HEADERS, [], 'INVITE sip:bob@example.com sip/2.0')).ok); // §7.1: case-insensitive
});

test('custom limits: a message at the limit passes, one byte over fails', () => {
  const bytes = invite(GOOD_HEADERS);
  assert.ok(parseMessage(bytes, { maxMessageBytes: bytes.length }).ok);
  const r = parseMessage(bytes, { maxMessageBytes: bytes.length - 1 });
  assert.is(r.ok ? '' : r.error.code, 'ERR_SIP_TOO_LARGE');
  assert.throws(() => parseMessage(bytes, { maxHeaders: 0 }), (e: Error & { code?: string }) => e.code === 'ERR_OUT_OF_RANGE');
});

// ---------------------------------------------------------------------------------------------
// Serializer and builders

test('serializeMessage: canonical names, one line per value, Content-Length replaced', () => {
  const headers = new SipHeaders([
    ['v', 'SIP/2.0/UDP a.example.com;branch=z9hG4bK1'],
    ['v', 'SIP/2.0/UDP b.example.com;branch=z9hG4bK2'],
    ['content-length', '999'],
    ['call-id', 'c'],
    ['x-Mixed-Case', 'kept'],
  ]);
  const bytes = serializeMessage({ kind: 'response', status: 180, reason: 'Ringing', headers, body: Buffer.from('héllo') });
  assert.is(
    bytes.toString(),
    'SIP/2.0 180 Ringing\r\n' +
      'Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n' +
      'Via: SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n' +
      'Content-Length: 6\r\n' +
      'Call-ID: c\r\n' +
      'x-Mixed-Case: kept\r\n' +
      '\r\n' +
      'héllo',
  );
  const req = createRequest('OPTIONS', 'sip:a@example.com');
  assert.match(serializeMessage(req).toString(), /^OPTIONS sip:a@example\.com SIP\/2\.0\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n$/);
});

test('serializeMessage refuses what would not read back (header injection, bad tokens)', () => {
  const code = (e: Error & { code?: string }): boolean => e.code === 'ERR_INVALID_ARGUMENT';
  const base = (): SipRequest => createRequest('INFO', 'sip:a@example.com');
  const injected = base();
  injected.headers.set('Subject', 'a\r\nVia: evil');
  assert.throws(() => serializeMessage(injected), code);
  const badName = base();
  badName.headers.set('Bad Name', 'x');
  assert.throws(() => serializeMessage(badName), code);
  assert.throws(() => serializeMessage({ ...base(), method: 'IN VITE' }), code);
  assert.throws(() => serializeMessage({ ...base(), uri: 'sip:a b' }), code);
  assert.throws(() => serializeMessage({ kind: 'response', status: 200, reason: 'OK\r\nX: y', headers: new SipHeaders(), body: Buffer.alloc(0) }), code);
  assert.throws(() => serializeMessage({ kind: 'response', status: 99, reason: 'x', headers: new SipHeaders(), body: Buffer.alloc(0) }), (e: Error & { code?: string }) => e.code === 'ERR_OUT_OF_RANGE');
  assert.throws(() => createRequest('BAD METHOD', 'sip:a@example.com'), code);
});

test('createRequest: headers in order, canonical names, Max-Forwards kept when given, body', () => {
  const req = createRequest(
    'MESSAGE',
    'sip:bob@example.com',
    [
      ['v', 'SIP/2.0/UDP h;branch=z9hG4bKx'],
      ['Max-Forwards', '10'],
      ['c', 'text/plain'],
    ],
    'hello',
  );
  assert.equal(req.headers.entries(), [
    ['Via', 'SIP/2.0/UDP h;branch=z9hG4bKx'],
    ['Max-Forwards', '10'],
    ['Content-Type', 'text/plain'],
  ]);
  assert.is(req.body.toString(), 'hello');
});

test('createResponse copies Via (all, in order), From, To, Call-ID, CSeq (§8.2.6.2)', () => {
  const req = request(WSINV);
  const res = createResponse(req, 486);
  assert.is(res.reason, 'Busy Here');
  assert.equal(res.headers.entries(), [
    ['Via', 'SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw'],
    ['Via', 'SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8'],
    ['Via', 'SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239'],
    ['From', '"J Rosenberg \\\\\\""       <sip:jdrosen@example.com> ; tag = 98asjd8'],
    ['To', 'sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n'],
    ['Call-ID', 'wsinv.ndaksdj@192.0.2.1'],
    ['CSeq', '0009 INVITE'],
  ]);
  // To already has a tag: copied unchanged even when a tag is offered.
  assert.is(createResponse(req, 200, 'OK', { toTag: 'new' }).headers.get('To'), 'sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n');
});

test('createResponse: To tag only when asked, Record-Route for 18x/2xx when asked, Timestamp on 100', () => {
  const req = createRequest('INVITE', 'sip:bob@example.com', [
    ['Via', 'SIP/2.0/UDP a.example.com;branch=z9hG4bK1'],
    ['From', '<sip:alice@example.com>;tag=a'],
    ['To', 'Bob <sip:bob@example.com>'],
    ['Call-ID', 'c1'],
    ['CSeq', '1 INVITE'],
    ['Record-Route', '<sip:p1.example.com;lr>'],
    ['Record-Route', '<sip:p2.example.com;lr>'],
    ['Timestamp', '54'],
  ]);
  const trying = createResponse(req, 100);
  assert.is(trying.reason, 'Trying');
  assert.is(trying.headers.get('To'), 'Bob <sip:bob@example.com>');
  assert.is(trying.headers.get('Timestamp'), '54');
  assert.is(trying.headers.has('Record-Route'), false);
  const ringing = createResponse(req, 180, undefined, { toTag: 'b1', copyRecordRoute: true });
  assert.is(ringing.headers.get('To'), 'Bob <sip:bob@example.com>;tag=b1');
  assert.equal(ringing.headers.getAll('Record-Route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
  assert.is(ringing.headers.has('Timestamp'), false);
  const busy = createResponse(req, 486, 'Busy', { toTag: 'b1', copyRecordRoute: true, headers: [['Retry-After', '60']], body: 'x' });
  assert.is(busy.headers.has('Record-Route'), false);
  assert.is(busy.headers.get('Retry-After'), '60');
  assert.is(busy.body.toString(), 'x');
  const extra = createResponse(req, 200, 'OK', [['Contact', '<sip:gw@192.0.2.9>']]);
  assert.is(extra.headers.get('Contact'), '<sip:gw@192.0.2.9>');
  assert.is(extra.headers.get('To'), 'Bob <sip:bob@example.com>');
  assert.is(nameAddr(createResponse(req, 200, 'OK', { toTag: 'z' }).headers.get('To')).params.get('tag'), 'z');
  assert.throws(() => createResponse(req, 99), (e: Error & { code?: string }) => e.code === 'ERR_OUT_OF_RANGE');
});

test('reasonPhrase: table and class defaults', () => {
  const table: [number, string][] = [
    [100, 'Trying'], [180, 'Ringing'], [183, 'Session Progress'], [200, 'OK'], [202, 'Accepted'],
    [302, 'Moved Temporarily'], [400, 'Bad Request'], [401, 'Unauthorized'], [403, 'Forbidden'],
    [404, 'Not Found'], [407, 'Proxy Authentication Required'], [408, 'Request Timeout'],
    [413, 'Request Entity Too Large'], [415, 'Unsupported Media Type'], [420, 'Bad Extension'],
    [422, 'Session Interval Too Small'], [480, 'Temporarily Unavailable'], [481, 'Call/Transaction Does Not Exist'],
    [486, 'Busy Here'], [487, 'Request Terminated'], [488, 'Not Acceptable Here'], [491, 'Request Pending'],
    [500, 'Server Internal Error'], [501, 'Not Implemented'], [503, 'Service Unavailable'],
    [505, 'Version Not Supported'], [603, 'Decline'], [199, 'Early Dialog Terminated'],
    [299, 'Success'], [499, 'Client Error'], [699, 'Global Failure'],
  ];
  for (const [code, phrase] of table) assert.is(reasonPhrase(code), phrase, String(code));
});

// ---------------------------------------------------------------------------------------------
// SipHeaders

test('SipHeaders: canonical names, case-insensitive lookup, order-preserving edits', () => {
  assert.is(SipHeaders.canonicalName('call-id'), 'Call-ID');
  assert.is(SipHeaders.canonicalName('CSEQ'), 'CSeq');
  assert.is(SipHeaders.canonicalName('www-authenticate'), 'WWW-Authenticate');
  assert.is(SipHeaders.canonicalName('rack'), 'RAck');
  assert.is(SipHeaders.canonicalName('min-se'), 'Min-SE');
  assert.is(SipHeaders.canonicalName('p-asserted-identity'), 'P-Asserted-Identity');
  assert.is(SipHeaders.canonicalName('I'), 'Call-ID');
  assert.is(SipHeaders.canonicalName('q'), 'q'); // not a compact form
  assert.is(SipHeaders.canonicalName('X-MyHeader'), 'X-MyHeader');
  assert.is(SipHeaders.canonicalName('constructor'), 'constructor');
  const h = new SipHeaders([
    ['Via', 'v1'],
    ['From', 'f'],
    ['via', 'v2'],
    ['X-A', 'a'],
  ]);
  assert.is(h.get('V'), 'v1');
  assert.equal(h.getAll('VIA'), ['v1', 'v2']);
  assert.is(h.has('x-a'), true);
  assert.is(h.get('X-Missing'), undefined);
  assert.equal(h.getAll('X-Missing'), []);
  h.prepend('v', 'v0');
  assert.equal(h.getAll('Via'), ['v0', 'v1', 'v2']);
  h.set('Via', ['n1', 'n2']);
  assert.equal(h.entries(), [['Via', 'n1'], ['Via', 'n2'], ['From', 'f'], ['X-A', 'a']]);
  h.set('To', 't');
  h.append('x-a', 'b');
  assert.equal(h.entries().map(([n]) => n), ['Via', 'Via', 'From', 'X-A', 'To', 'x-a']); // unknown names keep their case
  const copy = h.clone();
  h.delete('x-A');
  assert.is(h.has('X-A'), false);
  assert.equal(copy.getAll('X-A'), ['a', 'b']);
  assert.is(copy.size, 6);
  h.set('From', []);
  assert.is(h.has('From'), false);
  const fresh = new SipHeaders();
  fresh.prepend('Route', 'r');
  fresh.prepend('Via', 'v');
  assert.equal([...fresh], [['Via', 'v'], ['Route', 'r']]);
});

// ---------------------------------------------------------------------------------------------
// Header value grammar tables

/** Expected fields; scheme defaults to sip, params and headers to empty, password and port to absent. */
const URI_CASES: [string, Partial<SipUri> & { user: string; host: string }][] = [
  ['sip:alice@atlanta.com', { scheme: 'sip', user: 'alice', host: 'atlanta.com' }],
  ['SIP:Alice@AtLanTa.CoM', { scheme: 'sip', user: 'Alice', host: 'AtLanTa.CoM' }],
  ['sip:alice:secretword@atlanta.com;transport=tcp', { user: 'alice', host: 'atlanta.com', password: 'secretword', params: new Map([['transport', 'tcp']]) }],
  ['sips:alice@atlanta.com?subject=project%20x&priority=urgent', { scheme: 'sips', user: 'alice', host: 'atlanta.com', headers: new Map([['subject', 'project%20x'], ['priority', 'urgent']]) }],
  ['sip:+1-212-555-1212:1234@gateway.com;user=phone', { user: '+1-212-555-1212', host: 'gateway.com', password: '1234', params: new Map([['user', 'phone']]) }],
  ['sips:1212@gateway.com', { scheme: 'sips', user: '1212', host: 'gateway.com' }],
  ['sip:alice@192.0.2.4', { user: 'alice', host: '192.0.2.4' }],
  ['sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com', { user: '', host: 'atlanta.com', params: new Map([['method', 'REGISTER']]), headers: new Map([['to', 'alice%40atlanta.com']]) }],
  ['sip:alice;day=tuesday@atlanta.com', { user: 'alice;day=tuesday', host: 'atlanta.com' }],
  ['sip:[2001:db8::10]:5070;transport=tls', { user: '', host: '[2001:db8::10]', port: 5070, params: new Map([['transport', 'tls']]) }],
  ['sip:user@[::1]', { user: 'user', host: '[::1]' }],
  ['sip:host.example.com:05060;lr;maddr=239.255.255.1;ttl=15', { user: '', host: 'host.example.com', port: 5060, params: new Map([['lr', null], ['maddr', '239.255.255.1'], ['ttl', '15']]) }],
  ['sip:%61lice@example.com', { user: 'alice', host: 'example.com' }],
  ['sip:J%C3%BCrgen@example.com', { user: 'Jürgen', host: 'example.com' }],
  ['sip:*98#@pbx.example.com', { user: '*98#', host: 'pbx.example.com' }], // '#' unescaped: tolerated
  ['sip:u@example.com:65535', { user: 'u', host: 'example.com', port: 65535 }],
  ['sip:u@example.com.', { user: 'u', host: 'example.com.' }],
  ['sip:u@my_host.example.com', { user: 'u', host: 'my_host.example.com' }],
  ['tel:+1-201-555-0123', { scheme: 'tel', user: '+1-201-555-0123', host: '' }],
  ['tel:7042;phone-context=example.com', { scheme: 'tel', user: '7042', host: '', params: new Map([['phone-context', 'example.com']]) }],
  ['tel:*67#', { scheme: 'tel', user: '*67#', host: '' }],
];

const BAD_URIS = [
  '',
  'sip:',
  'sip:@example.com',
  'alice@example.com',
  'http://example.com/',
  'urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
  'mailto:a@example.com',
  'sip:alice@',
  'sip:alice@example.com:0',
  'sip:alice@example.com:65536',
  'sip:alice@example.com:50a',
  'sip:alice@example.com:',
  'sip:alice@[2001:db8::1',
  'sip:alice@[zz::1]',
  'sip:alice@2001:db8::1',
  'sip:alice@999.1.1.1',
  'sip:alice@1.2.3',
  'sip:alice@-bad.example.com',
  'sip:alice@exa mple.com',
  'sip:al ice@example.com',
  'sip:al<ice@example.com',
  'sip:a%zzb@example.com',
  'sip:a%4@example.com',
  'sip:a%FF@example.com', // not UTF-8
  'sip:alice@example.com;',
  'sip:alice@example.com;=x',
  'sip:alice@example.com;a"b',
  'sip:alice@example.com?',
  'sip:alice@example.com?=x',
  'sip:alice@example.com?a=<b>',
  'sip:alice@example.123',
  'tel:',
  'tel:+1 555',
  'tel:555?x=1',
  'tel:()',
];

test('parseUri: valid URIs, every field', () => {
  for (const [text, expected] of URI_CASES) {
    const u = uri(text);
    const want = { scheme: 'sip', params: new Map(), headers: new Map(), ...expected };
    assert.is(u.scheme, want.scheme, text);
    assert.is(u.user, want.user, text);
    assert.is(u.password, want.password, text);
    assert.is(u.host, want.host, text);
    assert.is(u.port, want.port, text);
    assert.equal([...u.params], [...want.params], text);
    assert.equal([...u.headers], [...want.headers], text);
    // Round trip through formatUri keeps every field.
    assert.equal(parseUri(formatUri(u)), u, `${text} -> ${formatUri(u)}`);
  }
});

test('parseUri: bad URIs give null', () => {
  for (const text of BAD_URIS) assert.is(parseUri(text), null, JSON.stringify(text));
});

test('formatUri escapes what the user part cannot hold', () => {
  assert.is(formatUri({ scheme: 'sip', user: 'a b@c:d', password: 'p@ss', host: 'example.com', port: 5060, params: new Map([['lr', null]]), headers: new Map() }), 'sip:a%20b%40c%3Ad:p%40ss@example.com:5060;lr');
  assert.is(formatUri({ scheme: 'sip', user: 'Jürgen', host: 'h', params: new Map(), headers: new Map([['subject', 'x']]) }), 'sip:J%C3%BCrgen@h?subject=x');
  assert.is(formatUri({ scheme: 'tel', user: '+15551234', host: '', params: new Map([['phone-context', 'x']]), headers: new Map() }), 'tel:+15551234;phone-context=x');
});

const NAME_ADDR_CASES: [string, { displayName?: string; uri: string; params: [string, string | null][] }][] = [
  ['"Bob" <sips:bob@biloxi.com> ;tag=a48s', { displayName: 'Bob', uri: 'sips:bob@biloxi.com', params: [['tag', 'a48s']] }],
  ['sip:+12125551212@phone2net.com;tag=887s', { uri: 'sip:+12125551212@phone2net.com', params: [['tag', '887s']] }],
  ['Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8', { displayName: 'Anonymous', uri: 'sip:c8oqz84zk7z@privacy.org', params: [['tag', 'hyh8']] }],
  ['<sip:alice@atlanta.com;transport=tcp>;expires=3600;q=0.7', { uri: 'sip:alice@atlanta.com;transport=tcp', params: [['expires', '3600'], ['q', '0.7']] }],
  ['"Mr. Watson" <mailto:watson@bell-telephone.com>'.replace('mailto:', 'sip:'), { displayName: 'Mr. Watson', uri: 'sip:watson@bell-telephone.com', params: [] }],
  ['"" <sip:a@b.example.com>', { displayName: '', uri: 'sip:a@b.example.com', params: [] }],
  ['"a \\"quoted\\" \\\\ name" <sip:a@example.com>', { displayName: 'a "quoted" \\ name', uri: 'sip:a@example.com', params: [] }],
  ['  John   Doe   <sip:j@example.com>  ', { displayName: 'John   Doe', uri: 'sip:j@example.com', params: [] }],
  ['Jürgen <sip:j@example.com>', { displayName: 'Jürgen', uri: 'sip:j@example.com', params: [] }],
  ['<sip:a@example.com>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1', { uri: 'sip:a@example.com', params: [['+sip.instance', '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'], ['reg-id', '1']] }],
  ['<tel:+15551234;phone-context=x>', { uri: 'tel:+15551234;phone-context=x', params: [] }],
  ['sip:a@example.com ; TAG = x ; Lr', { uri: 'sip:a@example.com', params: [['tag', 'x'], ['lr', null]] }],
];

const BAD_NAME_ADDRS = [
  '',
  '   ',
  '*',
  '<sip:a@example.com',
  '"unterminated <sip:a@example.com>',
  '"Bob" sip:bob@example.com',
  'Bell, Alexander <sip:a.g.bell@bell-tel.com>;tag=43', // RFC 4475 baddn
  '<sip:a@example.com> junk',
  '<sip:a@example.com>;',
  '<sip:a@example.com>;tag="x',
  '<http://example.com/>',
  'sip:a@example.com;;tag=1',
  '<sip:user@example.com> ;tag=1 ;tag=2 x',
  'Bob <>',
  '<sip:exa mple.com>',
];

test('parseNameAddr: display names, bare addr-specs, header params (§20.10)', () => {
  for (const [text, want] of NAME_ADDR_CASES) {
    const n = nameAddr(text);
    assert.is(n.displayName, want.displayName, text);
    assert.is(formatUri(n.uri), want.uri, text);
    assert.equal([...n.params], want.params, text);
    assert.equal(parseNameAddr(formatNameAddr(n)), n, `${text} round trip via ${formatNameAddr(n)}`);
  }
  assert.is(formatNameAddr(nameAddr('"a\\"b" <sip:x@example.com>;tag=1')), '"a\\"b" <sip:x@example.com>;tag=1');
  assert.is(formatNameAddr({ uri: uri('sip:x@example.com;lr'), params: new Map() }), '<sip:x@example.com;lr>');
  assert.is(formatNameAddr({ displayName: 'two\r\nlines', uri: uri('sip:x@e.com'), params: new Map() }), '"two  lines" <sip:x@e.com>');
});

test('parseNameAddr: bad values give null', () => {
  for (const text of BAD_NAME_ADDRS) assert.is(parseNameAddr(text), null, JSON.stringify(text));
});

const VIA_CASES: [string, Omit<Partial<Via>, 'params'> & { params: [string, string | null][] }][] = [
  ['SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds', { transport: 'UDP', host: 'pc33.atlanta.com', branch: 'z9hG4bK776asdhds', params: [['branch', 'z9hG4bK776asdhds']] }],
  ['SIP/2.0/UDP 192.0.2.1:5060;received=192.0.2.207;branch=z9hG4bK77asjd', { host: '192.0.2.1', port: 5060, received: '192.0.2.207', branch: 'z9hG4bK77asjd', params: [['received', '192.0.2.207'], ['branch', 'z9hG4bK77asjd']] }],
  ['SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bK1', { rport: null, params: [['rport', null], ['branch', 'z9hG4bK1']] }],
  ['SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988;branch=z9hG4bK1', { rport: 9988, received: '192.0.2.1', params: [['received', '192.0.2.1'], ['rport', '9988'], ['branch', 'z9hG4bK1']] }],
  ['SIP/2.0/TCP [2001:db8::9:1]:5061;branch=z9hG4bKas3-111;received=2001:db8::9:255', { transport: 'TCP', host: '[2001:db8::9:1]', port: 5061, received: '2001:db8::9:255', params: [['branch', 'z9hG4bKas3-111'], ['received', '2001:db8::9:255']] }],
  ['sip / 2.0 / tls   host.example.com : 5061 ; BRANCH = z9hG4bKx ; maddr=224.2.0.1;ttl=16', { transport: 'TLS', port: 5061, branch: 'z9hG4bKx', params: [['branch', 'z9hG4bKx'], ['maddr', '224.2.0.1'], ['ttl', '16']] }],
  ['SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKasudf', { transport: 'WSS', host: 'df7jal23ls0d.invalid', params: [['branch', 'z9hG4bKasudf']] }],
  ['SIP/2.0/UDP host', { host: 'host', params: [] }],
];

const BAD_VIAS = [
  '',
  'SIP/2.0/UDP',
  'SIP/2.0/UDP ',
  'SIP/2.0 UDP host',
  'SIP/3.0/UDP host',
  'HTTP/2.0/UDP host',
  'SIP/2.0/UDP host:0',
  'SIP/2.0/UDP host:99999',
  'SIP/2.0/UDP host:',
  'SIP/2.0/UDP host;branch',
  'SIP/2.0/UDP host;branch=',
  'SIP/2.0/UDP host;received',
  'SIP/2.0/UDP host;rport=abc',
  'SIP/2.0/UDP host;rport=0',
  'SIP/2.0/UDP 192.0.2.15;;,;,,', // RFC 4475 badinv01
  'SIP/2.0/UDP [2001:db8::1;branch=x',
  'SIP/2.0/UDP 2001:db8::1;branch=x',
  'SIP/2.0/UDP host junk',
  'SIP/2.0/UDP 999.1.2.3',
];

test('parseVia: sent-protocol with LWS, IPv6 sent-by, branch/received/rport', () => {
  for (const [text, want] of VIA_CASES) {
    const v = via(text);
    const { params, ...fields } = want;
    for (const [k, val] of Object.entries(fields)) assert.equal((v as unknown as Record<string, unknown>)[k], val, `${text}: ${k}`);
    assert.equal([...v.params], params, text);
    assert.equal(parseVia(formatVia(v)), v, `${text} round trip via ${formatVia(v)}`);
  }
});

test('parseVia: bad values give null', () => {
  for (const text of BAD_VIAS) assert.is(parseVia(text), null, JSON.stringify(text));
});

test('formatVia: branch/received/rport fields win over params (RFC 3581 stamping)', () => {
  const v = via('SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKa;x=1');
  v.received = '203.0.113.5';
  v.rport = 40000;
  assert.is(formatVia(v), 'SIP/2.0/UDP 10.0.0.1:5060;rport=40000;branch=z9hG4bKa;x=1;received=203.0.113.5');
  delete v.branch;
  assert.is(formatVia(v), 'SIP/2.0/UDP 10.0.0.1:5060;rport=40000;x=1;received=203.0.113.5');
  assert.is(
    formatVia({ transport: 'tcp', host: '192.0.2.1', port: 5060, branch: 'z9hG4bKb', rport: null, params: new Map() }),
    'SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKb;rport',
  );
});

test('parseCSeq: table', () => {
  const good: [string, number, string][] = [
    ['1 INVITE', 1, 'INVITE'],
    ['0009  INVITE', 9, 'INVITE'],
    ['  4711\tBYE ', 4711, 'BYE'],
    ['2147483647 ACK', 2147483647, 'ACK'],
    ['0 REGISTER', 0, 'REGISTER'],
    ["139122385 !interesting-Method0123456789_*+`.%indeed'~", 139122385, "!interesting-Method0123456789_*+`.%indeed'~"],
  ];
  for (const [text, seq, method] of good) assert.equal(parseCSeq(text), { seq, method }, text);
  const bad = ['', 'INVITE', '1', '1INVITE', '-1 INVITE', '2147483648 INVITE', '36893488147419103232 REGISTER', '1 INV ITE', '1 INVITE;x', 'x INVITE', '1.5 INVITE'];
  for (const text of bad) assert.is(parseCSeq(text), null, JSON.stringify(text));
});

test('parseParams: generic params with LWS, flags, quoted values, bad syntax', () => {
  assert.equal([...(parseParams(';tag=1;lr ; q = 0.5;x="a;b"') ?? [])], [['tag', '1'], ['lr', null], ['q', '0.5'], ['x', '"a;b"']]);
  assert.equal([...(parseParams('expires=60') ?? [])], [['expires', '60']]);
  assert.equal([...(parseParams('') ?? [])], []);
  assert.equal([...(parseParams(';a=1;A=2') ?? [])], [['a', '1']]); // first one wins
  for (const bad of [';', ';;', ';=1', ';a=1 b', ';a="x', ';a b', 'a=1,b=2', ';a=<x>']) assert.is(parseParams(bad), null, bad);
});

test('parseAuthParams / formatAuthHeader: RFC 2617 §3.5 challenge and credentials', () => {
  const challenge = parseAuthParams(
    'Digest\r\n realm="testrealm@host.com",\r\n qop="auth,auth-int",\r\n nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",\r\n opaque="5ccc069c403ebaf9f0171e9517f40e41"'.replaceAll('\r\n', ''),
  );
  assert.ok(challenge);
  assert.is(challenge?.scheme, 'Digest');
  assert.equal([...(challenge?.params ?? [])], [
    ['realm', 'testrealm@host.com'],
    ['qop', 'auth,auth-int'],
    ['nonce', 'dcd98b7102dd2f0e8b11d0f600bfb0c093'],
    ['opaque', '5ccc069c403ebaf9f0171e9517f40e41'],
  ]);
  const creds = parseAuthParams('Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"');
  assert.is(creds?.params.get('nc'), '00000001');
  assert.is(creds?.params.get('qop'), 'auth');
  assert.is(creds?.params.get('response'), '6629fae49393a05397450978507c4ef1');
  assert.equal([...(parseAuthParams('Digest realm = "a\\"b" ,, NONCE=x') ?? { params: [] }).params], [['realm', 'a"b'], ['nonce', 'x']]);
  assert.equal(parseAuthParams('Digest'), { scheme: 'Digest', params: new Map() });
  const bad = ['', '"Digest"', 'Digest,realm=x', 'Digest realm', 'Digest realm="x', 'Digest realm=x realm2=y', 'Digest realm=x, realm=y', 'Digest realm=', 'Digest =x', 'Bearer abc.def'];
  for (const text of bad) assert.is(parseAuthParams(text), null, JSON.stringify(text));
  const written = formatAuthHeader('Digest', new Map([['realm', 'a "b"'], ['algorithm', 'MD5'], ['nonce', 'n'], ['odd', 'has space']]), new Set(['realm', 'NONCE']));
  assert.is(written, 'Digest realm="a \\"b\\"", algorithm=MD5, nonce="n", odd="has space"');
  assert.equal([...(parseAuthParams(written)?.params ?? [])], [['realm', 'a "b"'], ['algorithm', 'MD5'], ['nonce', 'n'], ['odd', 'has space']]);
});

test('generateTag / generateBranch / generateCallId: tokens, magic cookie, unique', () => {
  const branches = new Set<string>();
  const tags = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    // 1,000 of each take 20 KB of random bytes: the 4 KiB pool they come from is refilled five times.
    const b = generateBranch();
    assert.ok(b.startsWith('z9hG4bK'), b);
    assert.is(b.length, 7 + 16, '96 random bits after the cookie');
    assert.ok(isToken(b), b);
    branches.add(b);
    const t = generateTag();
    assert.ok(isToken(t) && t.length === 11, t);
    tags.add(t);
  }
  assert.is(branches.size, 1000);
  assert.is(tags.size, 1000);
  const id = generateCallId('192.0.2.1');
  assert.match(id, /^[A-Za-z0-9_-]{20}@192\.0\.2\.1$/);
  assert.match(generateCallId(), /^[A-Za-z0-9_-]{20}$/);
  assert.is.not(generateCallId('h'), generateCallId('h'));
});

test.run();
