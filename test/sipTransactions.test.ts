/**
 * Tier 1 of the SIP tests (STYLE.md point 15): the four RFC 3261 §17 transaction state
 * machines and the layer that matches messages to them, on FakeTimers, over a fake transport
 * that records every message with the fake time it was sent at. Timer values are RFC 3261's
 * defaults (T1 = 500 ms, T2 = 4 s, T4 = 5 s), so the expected times read like Table 4.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createResponse, parseCSeq, parseMessage, parseNameAddr, parseVia } from '../sip/message/index.js';
import type { SipMessage, SipRequest, SipResponse } from '../sip/message/index.js';
import { FakeTimers, TransactionLayer, serverKey } from '../sip/transaction/index.js';
import type { ClientTransaction, ServerTransaction, TransactionUser } from '../sip/transaction/index.js';
import type { Peer } from '../sip/transport/index.js';

// ---------------------------------------------------------------------------------------------
// Fixtures: messages as on the wire, one string per line.

function parse(lines: string[]): SipMessage {
  const r = parseMessage(Buffer.from(lines.join('\r\n'), 'utf8'));
  if (!r.ok) throw new Error(`fixture does not parse: ${r.error.code} ${r.error.message}`);
  return r.message;
}

function request(lines: string[]): SipRequest {
  const m = parse(lines);
  assert.is(m.kind, 'request');
  return m as SipRequest;
}

const CALL_ID = 'a84b4c76e66710@pc33.atlanta.example.com';

/** An INVITE from Alice through two loose routers (RFC 3665 style), CSeq 314159. */
function invite(branch = 'z9hG4bKnashds8', via = 'SIP/2.0/UDP pc33.atlanta.example.com:5060'): SipRequest {
  return request([
    'INVITE sip:bob@biloxi.example.com SIP/2.0',
    `Via: ${via};branch=${branch}`,
    'Max-Forwards: 70',
    'Route: <sip:p1.example.com;lr>',
    'Route: <sip:p2.example.com;lr>',
    'To: Bob <sip:bob@biloxi.example.com>',
    'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
    `Call-ID: ${CALL_ID}`,
    'CSeq: 314159 INVITE',
    'Contact: <sip:alice@pc33.atlanta.example.com>',
    'Content-Type: application/sdp',
    'User-Agent: fixture',
    'Content-Length: 0',
    '',
    '',
  ]);
}

/** A non-INVITE request (OPTIONS, BYE, CANCEL, INFO). */
function nonInvite(method: string, branch = 'z9hG4bK776asdhds', seq = 63104, via = 'SIP/2.0/UDP pc33.atlanta.example.com:5060'): SipRequest {
  return request([
    `${method} sip:bob@biloxi.example.com SIP/2.0`,
    `Via: ${via};branch=${branch}`,
    'Max-Forwards: 70',
    'To: Bob <sip:bob@biloxi.example.com>',
    'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
    `Call-ID: ${CALL_ID}`,
    `CSeq: ${seq} ${method}`,
    'Content-Length: 0',
    '',
    '',
  ]);
}

/** The ACK a UAC sends for a 2xx (§13.2.2.4): its own new branch, the INVITE's CSeq number. */
function ackFor2xx(branch = 'z9hG4bK-ack-2xx', via = 'SIP/2.0/UDP pc33.atlanta.example.com:5060'): SipRequest {
  return request([
    'ACK sip:bob@192.0.2.4 SIP/2.0',
    `Via: ${via};branch=${branch}`,
    'Max-Forwards: 70',
    'To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf',
    'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
    `Call-ID: ${CALL_ID}`,
    'CSeq: 314159 ACK',
    'Content-Length: 0',
    '',
    '',
  ]);
}

/** The ACK a client transaction sends for a non-2xx (§17.1.1.3): the INVITE's branch. */
function ackForNon2xx(branch = 'z9hG4bKnashds8', via = 'SIP/2.0/UDP pc33.atlanta.example.com:5060'): SipRequest {
  return request([
    'ACK sip:bob@biloxi.example.com SIP/2.0',
    `Via: ${via};branch=${branch}`,
    'Max-Forwards: 70',
    'To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf',
    'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
    `Call-ID: ${CALL_ID}`,
    'CSeq: 314159 ACK',
    'Content-Length: 0',
    '',
    '',
  ]);
}

function respond(req: SipRequest, status: number, toTag: string | undefined = status > 100 ? 'a6c85cf' : undefined): SipResponse {
  return createResponse(req, status, undefined, { toTag });
}

const UDP: Peer = { protocol: 'udp', address: '192.0.2.4', port: 5060 };
const TCP: Peer = { protocol: 'tcp', address: '192.0.2.4', port: 5060 };
const FROM_UDP: Peer = { protocol: 'udp', address: '192.0.2.101', port: 5060 };
const FROM_TCP: Peer = { protocol: 'tcp', address: '192.0.2.101', port: 49152 };

// ---------------------------------------------------------------------------------------------
// Harness: a fake transport that logs every message with the fake time, and a recording TU.

interface Sent {
  t: number;
  msg: SipMessage;
  to: Peer;
}

interface Harness {
  timers: FakeTimers;
  layer: TransactionLayer;
  log: Sent[];
  requests: ServerTransaction[];
  acks: SipRequest[];
  strays: SipResponse[];
}

function harness(): Harness {
  const timers = new FakeTimers();
  const log: Sent[] = [];
  const transport = {
    send(msg: SipMessage, to: Peer) {
      log.push({ t: timers.now, msg, to });
      return Promise.resolve(true);
    },
    sendResponse(res: SipResponse, src: Peer) {
      log.push({ t: timers.now, msg: res, to: src });
      return Promise.resolve(true);
    },
  };
  const layer = new TransactionLayer(transport, { timers });
  const h: Harness = { timers, layer, log, requests: [], acks: [], strays: [] };
  const tu: TransactionUser = {
    onRequest: (tx) => h.requests.push(tx),
    onAck: (req) => h.acks.push(req),
    onStrayResponse: (res) => h.strays.push(res),
  };
  layer.tu = tu;
  return h;
}

/** Fake times of the logged messages that match. */
function times(log: Sent[], match: (m: SipMessage) => boolean = () => true): number[] {
  return log.filter((s) => match(s.msg)).map((s) => s.t);
}

const isStatus = (status: number) => (m: SipMessage) => m.kind === 'response' && m.status === status;
const isMethod = (method: string) => (m: SipMessage) => m.kind === 'request' && m.method === method;

function events(tx: ClientTransaction): { responses: number[]; timeouts: number } {
  const out = { responses: [] as number[], timeouts: 0 };
  tx.on('response', (r) => out.responses.push(r.status));
  tx.on('timeout', () => out.timeouts++);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Non-INVITE client transaction (§17.1.2)

test('non-INVITE client, UDP: Timer E at 500, 1500, 3500, 7500, 11500 then every T2; Timer F times out at 32 s', () => {
  const h = harness();
  const tx = h.layer.request(nonInvite('OPTIONS'), UDP);
  const ev = events(tx);
  assert.is(tx.state, 'trying');
  h.timers.advance(31_999);
  assert.equal(times(h.log), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  assert.is(ev.timeouts, 0);
  h.timers.advance(1);
  assert.is(ev.timeouts, 1, 'Timer F = 64*T1');
  assert.is(tx.state, 'terminated');
  assert.is(h.layer.stats().clientTransactions, 0);
  h.timers.advance(60_000);
  assert.is(h.log.length, 11, 'nothing after termination');
  assert.is(h.timers.size, 0, 'no timer left behind');
});

test('non-INVITE client, UDP: after a provisional, retransmissions continue every T2 until Timer F', () => {
  const h = harness();
  const req = nonInvite('BYE');
  const tx = h.layer.request(req, UDP);
  const ev = events(tx);
  h.timers.advance(600);
  h.layer.receive({ message: respond(req, 100), source: UDP });
  assert.is(tx.state, 'proceeding');
  assert.equal(ev.responses, [100]);
  h.timers.advance(32_000 - 600);
  // Timer E still fires at 1500 (set before the 1xx), then is reset to T2 each time (§17.1.2.2).
  assert.equal(times(h.log), [0, 500, 1500, 5500, 9500, 13500, 17500, 21500, 25500, 29500]);
  assert.is(ev.timeouts, 1, 'Timer F fires in Proceeding too');
  assert.is(tx.state, 'terminated');
});

test('non-INVITE client, UDP: a final response stops Timer E; Timer K = T4; retransmitted finals are absorbed', () => {
  const h = harness();
  const req = nonInvite('OPTIONS');
  const tx = h.layer.request(req, UDP);
  const ev = events(tx);
  h.timers.advance(700);
  h.layer.receive({ message: respond(req, 200), source: UDP });
  assert.is(tx.state, 'completed');
  h.timers.advance(1000);
  h.layer.receive({ message: respond(req, 200), source: UDP }); // retransmitted by the server
  assert.equal(ev.responses, [200], 'the TU sees the final once');
  assert.is(tx.state, 'completed');
  h.timers.advance(700 + 5000 - 1701);
  assert.is(tx.state, 'completed', 'Timer K has not fired at 5699');
  h.timers.advance(1);
  assert.is(tx.state, 'terminated', 'Timer K = T4 after the final (700 + 5000)');
  assert.equal(times(h.log), [0, 500], 'no retransmission after the final, nothing sent for the retransmitted final');
  assert.is(h.strays.length, 0);
  assert.is(h.timers.size, 0);
});

test('non-INVITE client, TCP: no retransmissions, Timer F still 64*T1, Timer K = 0', () => {
  const h = harness();
  const req = nonInvite('OPTIONS');
  const tx = h.layer.request(req, TCP);
  const ev = events(tx);
  h.timers.advance(31_999);
  assert.equal(times(h.log), [0], 'sent once');
  h.timers.advance(1);
  assert.is(ev.timeouts, 1);

  const h2 = harness();
  const req2 = nonInvite('OPTIONS', 'z9hG4bK-tcp-2');
  const tx2 = h2.layer.request(req2, TCP);
  h2.timers.advance(100);
  h2.layer.receive({ message: respond(req2, 200), source: TCP });
  assert.is(tx2.state, 'completed');
  h2.timers.advance(0);
  assert.is(tx2.state, 'terminated', 'Timer K = 0 over TCP');
  assert.is(h2.timers.size, 0);
});

test('non-INVITE client: a transport that cannot send ends the transaction with transportError', async () => {
  const timers = new FakeTimers();
  const layer = new TransactionLayer(
    { send: () => Promise.resolve(false), sendResponse: () => Promise.resolve(false) },
    { timers },
  );
  const tx = layer.request(nonInvite('OPTIONS'), UDP);
  let errors = 0;
  tx.on('transportError', () => errors++);
  await Promise.resolve();
  await Promise.resolve();
  assert.is(errors, 1);
  assert.is(tx.state, 'terminated');
  assert.is(timers.size, 0);
});

// ---------------------------------------------------------------------------------------------
// INVITE client transaction (§17.1.1, RFC 6026 §7.2)

test('INVITE client, UDP: Timer A doubles (500, 1000, 2000, ...) without the T2 cap until Timer B at 32 s', () => {
  const h = harness();
  const tx = h.layer.request(invite(), UDP);
  const ev = events(tx);
  assert.is(tx.state, 'calling');
  h.timers.advance(31_999);
  assert.equal(times(h.log), [0, 500, 1500, 3500, 7500, 15500, 31500]);
  assert.is(ev.timeouts, 0);
  h.timers.advance(1);
  assert.is(ev.timeouts, 1, 'Timer B = 64*T1');
  assert.is(tx.state, 'terminated');
  assert.is(h.timers.size, 0);
});

test('INVITE client, UDP: a 1xx stops retransmissions and Timer B no longer times out', () => {
  const h = harness();
  const req = invite();
  const tx = h.layer.request(req, UDP);
  const ev = events(tx);
  h.timers.advance(1000);
  h.layer.receive({ message: respond(req, 100), source: UDP });
  h.layer.receive({ message: respond(req, 180), source: UDP });
  assert.is(tx.state, 'proceeding');
  h.timers.advance(60_000);
  assert.equal(times(h.log), [0, 500]);
  assert.equal(ev.responses, [100, 180]);
  assert.is(ev.timeouts, 0, 'no timer in Proceeding: the TU decides (CANCEL)');
  assert.is(tx.state, 'proceeding');
  h.layer.close();
  assert.is(h.timers.size, 0);
});

test('INVITE client, UDP: a non-2xx final is ACKed per §17.1.1.3, re-ACKed per retransmission; Timer D 32 s', () => {
  const h = harness();
  const req = invite();
  const tx = h.layer.request(req, UDP);
  const ev = events(tx);
  h.timers.advance(100);
  h.layer.receive({ message: respond(req, 180), source: UDP });
  h.timers.advance(900);
  const busy = respond(req, 486);
  h.layer.receive({ message: busy, source: UDP });
  assert.is(tx.state, 'completed');
  assert.equal(ev.responses, [180, 486]);
  const acks = h.log.filter((s) => isMethod('ACK')(s.msg));
  assert.is(acks.length, 1, 'one ACK');
  const ack = acks[0]!.msg as SipRequest;
  assert.is(acks[0]!.t, 1000);
  assert.equal(acks[0]!.to, UDP, 'to where the INVITE went');
  assert.is(ack.uri, req.uri, 'Request-URI of the INVITE');
  assert.equal(ack.headers.getAll('Via'), req.headers.getAll('Via'), 'the INVITE top Via: same branch');
  assert.is(parseVia(ack.headers.get('Via')!)!.branch, 'z9hG4bKnashds8');
  assert.is(ack.headers.get('From'), req.headers.get('From'));
  assert.is(ack.headers.get('Call-ID'), CALL_ID);
  assert.is(parseNameAddr(ack.headers.get('To')!)!.params.get('tag'), 'a6c85cf', 'To tag from the response');
  assert.equal(parseCSeq(ack.headers.get('CSeq')!), { seq: 314159, method: 'ACK' });
  assert.equal(ack.headers.getAll('Route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>'], 'Route copied');
  assert.is(ack.headers.get('Max-Forwards'), '70');
  assert.not.ok(ack.headers.has('Contact'));
  assert.not.ok(ack.headers.has('Content-Type'));
  assert.is(ack.body.length, 0);

  h.timers.advance(1000);
  h.layer.receive({ message: respond(req, 486), source: UDP });
  h.timers.advance(3000);
  h.layer.receive({ message: respond(req, 486), source: UDP });
  assert.equal(times(h.log, isMethod('ACK')), [1000, 2000, 5000], 'the ACK again for each retransmitted final');
  assert.equal(ev.responses, [180, 486], 'retransmitted finals are not passed up');
  assert.is(h.log.filter((s) => isMethod('INVITE')(s.msg)).length, 1, 'the 180 at 100 ms stopped Timer A');
  h.timers.advance(1000 + 32_000 - 5001);
  assert.is(tx.state, 'completed', 'Timer D has not fired at 32999');
  h.timers.advance(1);
  assert.is(tx.state, 'terminated', 'Timer D = 32 s after the final');
  assert.is(h.timers.size, 0);
});

test('INVITE client, TCP: sent once, ACK for the non-2xx, Timer D = 0', () => {
  const h = harness();
  const req = invite('z9hG4bK-tcp-inv', 'SIP/2.0/TCP pc33.atlanta.example.com:5060');
  const tx = h.layer.request(req, TCP);
  h.timers.advance(20_000);
  assert.equal(times(h.log), [0], 'no Timer A over TCP');
  h.layer.receive({ message: respond(req, 603), source: TCP });
  assert.equal(times(h.log, isMethod('ACK')), [20_000]);
  h.timers.advance(0);
  assert.is(tx.state, 'terminated');
  assert.is(h.timers.size, 0);
});

test('INVITE client: a 2xx -> Accepted, passed up with its retransmissions, no ACK from the transaction; Timer M 32 s', () => {
  const h = harness();
  const req = invite();
  const tx = h.layer.request(req, UDP);
  const ev = events(tx);
  h.timers.advance(200);
  h.layer.receive({ message: respond(req, 180), source: UDP });
  h.timers.advance(800);
  h.layer.receive({ message: respond(req, 200), source: UDP });
  assert.is(tx.state, 'accepted');
  h.timers.advance(500);
  h.layer.receive({ message: respond(req, 200), source: UDP });
  h.layer.receive({ message: respond(req, 486), source: UDP }); // a non-2xx in Accepted: dropped
  assert.equal(ev.responses, [180, 200, 200], 'each 2xx goes up: the TU (re)sends the ACK');
  assert.equal(times(h.log), [0], 'the transaction sends no ACK for a 2xx (§13.2.2.4: the TU does)');
  h.timers.advance(32_000 - 501);
  assert.is(tx.state, 'accepted');
  h.timers.advance(1);
  assert.is(tx.state, 'terminated', 'Timer M = 64*T1 after the first 2xx');
  h.layer.receive({ message: respond(req, 200), source: UDP });
  assert.is(h.strays.length, 1, 'a 2xx after Timer M is stray');
  assert.is(h.layer.stats().strayResponses, 1);
  assert.is(h.timers.size, 0);
});

// ---------------------------------------------------------------------------------------------
// INVITE server transaction (§17.2.1, RFC 6026 §7.1)

test('INVITE server: a retransmitted INVITE re-sends the last provisional; before any response it is absorbed', () => {
  const h = harness();
  h.layer.receive({ message: invite(), source: FROM_UDP });
  assert.is(h.requests.length, 1);
  const tx = h.requests[0]!;
  assert.is(tx.state, 'proceeding');
  h.timers.advance(500);
  h.layer.receive({ message: invite(), source: FROM_UDP });
  assert.is(h.log.length, 0, 'nothing to re-send yet');
  tx.respond(100);
  tx.respond(180);
  h.timers.advance(500);
  h.layer.receive({ message: invite(), source: FROM_UDP });
  assert.is(h.requests.length, 1, 'retransmissions never reach the TU');
  assert.equal(
    h.log.map((s) => [s.t, (s.msg as SipResponse).status]),
    [
      [500, 100],
      [500, 180],
      [1000, 180],
    ],
  );
  assert.equal(h.log[2]!.to, FROM_UDP);
  assert.is(h.layer.stats().absorbed, 2);
  h.layer.close();
});

test('INVITE server, UDP: Timer G re-sends a non-2xx at 500, 1000, 2000, 4000, 4000 ms intervals until the ACK; Timer I = T4', () => {
  const h = harness();
  h.layer.receive({ message: invite(), source: FROM_UDP });
  const tx = h.requests[0]!;
  let acks = 0;
  tx.on('ack', () => acks++);
  tx.respond(486);
  assert.is(tx.state, 'completed');
  h.timers.advance(14_000);
  assert.equal(times(h.log, isStatus(486)), [0, 500, 1500, 3500, 7500, 11500]);
  h.layer.receive({ message: ackForNon2xx(), source: FROM_UDP });
  assert.is(acks, 1);
  assert.is(tx.state, 'confirmed');
  assert.is(h.acks.length, 0, 'the ACK of a non-2xx stays in the transaction');
  h.timers.advance(1000);
  h.layer.receive({ message: ackForNon2xx(), source: FROM_UDP }); // retransmitted ACK: absorbed
  h.layer.receive({ message: invite(), source: FROM_UDP }); // late INVITE retransmission: absorbed
  assert.is(acks, 1);
  assert.is(h.acks.length, 0);
  h.timers.advance(5000 - 1001);
  assert.is(tx.state, 'confirmed');
  h.timers.advance(1);
  assert.is(tx.state, 'terminated', 'Timer I = T4 after the ACK');
  assert.equal(times(h.log, isStatus(486)), [0, 500, 1500, 3500, 7500, 11500], 'nothing re-sent once Confirmed');
  assert.is(h.timers.size, 0);
});

test('regression (Confirmed re-sent the final): a late INVITE copy after the ACK is absorbed, not answered again', () => {
  const h = harness();
  h.layer.receive({ message: invite(), source: FROM_UDP });
  const tx = h.requests[0]!;
  tx.respond(603);
  h.layer.receive({ message: ackForNon2xx(), source: FROM_UDP });
  assert.is(tx.state, 'confirmed');
  h.layer.receive({ message: invite(), source: FROM_UDP });
  assert.equal(times(h.log), [0], 'the 603 once, nothing for the copy');
  h.layer.close();
});

test('INVITE server, UDP: no ACK -> Timer H at 64*T1 fires ackTimeout and terminates', () => {
  const h = harness();
  h.layer.receive({ message: invite(), source: FROM_UDP });
  const tx = h.requests[0]!;
  let timeouts = 0;
  tx.on('ackTimeout', () => timeouts++);
  tx.respond(480);
  h.timers.advance(31_999);
  assert.equal(times(h.log), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  assert.is(timeouts, 0);
  h.timers.advance(1);
  assert.is(timeouts, 1);
  assert.is(tx.state, 'terminated');
  assert.is(h.layer.stats().serverTransactions, 0);
  assert.is(h.timers.size, 0);
});

test('INVITE server, TCP: no Timer G; Timer H still runs; Timer I = 0', () => {
  const h = harness();
  const via = 'SIP/2.0/TCP pc33.atlanta.example.com:5060';
  h.layer.receive({ message: invite('z9hG4bK-tcp', via), source: FROM_TCP });
  const tx = h.requests[0]!;
  tx.respond(486);
  h.timers.advance(10_000);
  assert.equal(times(h.log), [0], 'no retransmission over TCP');
  h.layer.receive({ message: ackForNon2xx('z9hG4bK-tcp', via), source: FROM_TCP });
  assert.is(tx.state, 'confirmed');
  h.timers.advance(0);
  assert.is(tx.state, 'terminated');
  assert.is(h.timers.size, 0);
});

test('INVITE server: a 2xx -> Accepted (RFC 6026); retransmitted INVITEs absorbed; the 2xx ACK goes to the TU; Timer L', () => {
  const h = harness();
  h.layer.receive({ message: invite(), source: FROM_UDP });
  const tx = h.requests[0]!;
  tx.respond(180);
  tx.respond(200);
  assert.is(tx.state, 'accepted');
  tx.respond(486); // too late: ignored
  h.timers.advance(1000);
  h.layer.receive({ message: invite(), source: FROM_UDP });
  assert.equal(times(h.log), [0, 0], 'the transaction neither retransmits the 2xx nor answers the retransmission');
  tx.respond(respond(tx.request, 200)); // the TU's own 2xx retransmission passes through
  assert.is(h.log.length, 3);
  h.layer.receive({ message: ackFor2xx(), source: FROM_UDP });
  assert.is(h.acks.length, 1, 'ACK of a 2xx: the dialog\'s, not the transaction\'s');
  assert.is(tx.state, 'accepted');
  h.timers.advance(32_000 - 1001);
  assert.is(tx.state, 'accepted');
  h.timers.advance(1);
  assert.is(tx.state, 'terminated', 'Timer L = 64*T1');
  assert.is(h.timers.size, 0);
});

// ---------------------------------------------------------------------------------------------
// Non-INVITE server transaction (§17.2.2)

test('non-INVITE server, UDP: absorbed before a response, final re-sent for retransmissions, Timer J 32 s', () => {
  const h = harness();
  h.layer.receive({ message: nonInvite('OPTIONS'), source: FROM_UDP });
  const tx = h.requests[0]!;
  assert.is(tx.state, 'trying');
  h.layer.receive({ message: nonInvite('OPTIONS'), source: FROM_UDP });
  assert.is(h.log.length, 0, 'a retransmission in Trying is absorbed');
  h.timers.advance(100);
  tx.respond(200);
  assert.is(tx.state, 'completed');
  h.timers.advance(400);
  h.layer.receive({ message: nonInvite('OPTIONS'), source: FROM_UDP });
  assert.equal(times(h.log, isStatus(200)), [100, 500]);
  assert.is(h.requests.length, 1);
  h.timers.advance(32_000 - 401);
  assert.is(tx.state, 'completed');
  h.timers.advance(1);
  assert.is(tx.state, 'terminated', 'Timer J = 64*T1 after the final');
  h.layer.receive({ message: nonInvite('OPTIONS'), source: FROM_UDP });
  assert.is(h.requests.length, 2, 'after Timer J the same request is new to the layer');
  h.layer.close();
});

test('non-INVITE server: a provisional moves Trying -> Proceeding and is re-sent for retransmissions', () => {
  const h = harness();
  h.layer.receive({ message: nonInvite('BYE'), source: FROM_UDP });
  const tx = h.requests[0]!;
  tx.respond(100);
  assert.is(tx.state, 'proceeding');
  h.layer.receive({ message: nonInvite('BYE'), source: FROM_UDP });
  assert.equal(times(h.log, isStatus(100)), [0, 0]);
  tx.respond(200);
  tx.respond(500); // a second final: ignored
  assert.equal(
    h.log.map((s) => (s.msg as SipResponse).status),
    [100, 100, 200],
  );
  h.layer.close();
});

test('non-INVITE server, TCP: Timer J = 0', () => {
  const h = harness();
  h.layer.receive({ message: nonInvite('OPTIONS', 'z9hG4bK-tcp-o', 1, 'SIP/2.0/TCP pc33.atlanta.example.com:5060'), source: FROM_TCP });
  const tx = h.requests[0]!;
  tx.respond(200);
  assert.is(tx.state, 'completed');
  h.timers.advance(0);
  assert.is(tx.state, 'terminated');
  assert.is(h.timers.size, 0);
});

// ---------------------------------------------------------------------------------------------
// The layer: matching (§17.1.3, §17.2.3)

test('layer: a CANCEL gets its own transaction and finds its INVITE (inviteFor)', () => {
  const h = harness();
  h.layer.receive({ message: invite(), source: FROM_UDP });
  const inv = h.requests[0]!;
  const cancel = nonInvite('CANCEL', 'z9hG4bKnashds8', 314159);
  h.layer.receive({ message: cancel, source: FROM_UDP });
  assert.is(h.requests.length, 2);
  const ctx = h.requests[1]!;
  assert.is(ctx.request.method, 'CANCEL');
  assert.is(h.layer.inviteFor(ctx.request), inv);
  assert.is(h.layer.inviteFor(nonInvite('CANCEL', 'z9hG4bK-other', 314159)), undefined);
  h.layer.close();
});

test('layer: ACK of a non-2xx to the INVITE server transaction, ACK of a 2xx (new branch) to tu.onAck', () => {
  const h = harness();
  h.layer.receive({ message: invite(), source: FROM_UDP });
  const tx = h.requests[0]!;
  tx.respond(404);
  h.layer.receive({ message: ackForNon2xx(), source: FROM_UDP });
  assert.is(tx.state, 'confirmed');
  assert.is(h.acks.length, 0);
  h.layer.receive({ message: ackFor2xx('z9hG4bK-unrelated'), source: FROM_UDP });
  assert.is(h.acks.length, 1);
  assert.is(h.requests.length, 1, 'an ACK never creates a transaction');
  assert.is(h.layer.stats().serverTransactions, 1);
  h.layer.close();
});

test('layer: a response without a client transaction goes to tu.onStrayResponse', () => {
  const h = harness();
  h.layer.request(nonInvite('OPTIONS', 'z9hG4bK-mine'), UDP);
  h.layer.receive({ message: respond(nonInvite('OPTIONS', 'z9hG4bK-other'), 200), source: UDP });
  // Same branch, other method: no match either (§17.1.3 matches the CSeq method).
  h.layer.receive({ message: respond(nonInvite('INFO', 'z9hG4bK-mine'), 200), source: UDP });
  assert.is(h.strays.length, 2);
  assert.is(h.layer.stats().strayResponses, 2);
  h.layer.close();
});

test('layer: requests without a usable Via or CSeq are counted unmatchable, never handed up', () => {
  const h = harness();
  const noVia = nonInvite('OPTIONS');
  noVia.headers.delete('Via');
  const noCSeq = nonInvite('OPTIONS');
  noCSeq.headers.delete('CSeq');
  const badVia = nonInvite('OPTIONS');
  badVia.headers.set('Via', 'garbage');
  for (const message of [noVia, noCSeq, badVia]) h.layer.receive({ message, source: FROM_UDP });
  assert.is(h.layer.stats().unmatchable, 3);
  assert.is(h.requests.length, 0);
  assert.is(h.log.length, 0);
});

test('layer: RFC 2543 requests (no magic cookie) match their retransmissions, CANCEL and ACK', () => {
  const h = harness();
  const old = (): SipRequest => invite('1', 'SIP/2.0/UDP pc33.atlanta.example.com');
  h.layer.receive({ message: old(), source: FROM_UDP });
  const tx = h.requests[0]!;
  tx.respond(180);
  h.layer.receive({ message: old(), source: FROM_UDP });
  assert.is(h.requests.length, 1);
  assert.is(h.log.length, 2, 'the retransmission got the 180 again');
  const cancel = nonInvite('CANCEL', '1', 314159, 'SIP/2.0/UDP pc33.atlanta.example.com');
  assert.is(h.layer.inviteFor(cancel), tx);
  tx.respond(486);
  const ack = ackForNon2xx('1', 'SIP/2.0/UDP pc33.atlanta.example.com');
  h.layer.receive({ message: ack, source: FROM_UDP });
  assert.is(tx.state, 'confirmed');
  // Without a branch at all.
  const bare = invite('x', 'SIP/2.0/UDP 192.0.2.7:5060');
  bare.headers.set('Via', 'SIP/2.0/UDP 192.0.2.7:5060');
  h.layer.receive({ message: bare, source: FROM_UDP });
  h.layer.receive({ message: bare, source: FROM_UDP });
  assert.is(h.requests.length, 2);
  h.layer.close();
});

test('layer: an RFC 2543 ACK for a 2xx (same Via as the INVITE) reaches the TU while the INVITE is Accepted', () => {
  const h = harness();
  const via = 'SIP/2.0/UDP pc33.atlanta.example.com';
  h.layer.receive({ message: invite('1', via), source: FROM_UDP });
  h.requests[0]!.respond(200);
  h.layer.receive({ message: ackForNon2xx('1', via), source: FROM_UDP });
  assert.is(h.acks.length, 1);
  h.layer.close();
});

test('regression (2543 key too loose): requests from two UACs with the same Call-ID/CSeq/sent-by but other From tags are two transactions', () => {
  const h = harness();
  const via = 'SIP/2.0/UDP 192.0.2.7:5060';
  const a = invite('1', via);
  const b = invite('1', via);
  b.headers.set('From', 'Carol <sip:carol@chicago.example.com>;tag=99');
  h.layer.receive({ message: a, source: FROM_UDP });
  h.layer.receive({ message: b, source: FROM_UDP });
  assert.is(h.requests.length, 2);
  assert.is.not(serverKey(a), serverKey(b));
  h.layer.close();
});

test('layer: close() stops every transaction and its timers', () => {
  const h = harness();
  h.layer.request(invite('z9hG4bK-a'), UDP);
  h.layer.request(nonInvite('OPTIONS', 'z9hG4bK-b'), UDP);
  h.layer.receive({ message: invite('z9hG4bK-c'), source: FROM_UDP });
  h.requests[0]!.respond(486);
  assert.ok(h.timers.size > 0);
  h.layer.close();
  assert.is(h.timers.size, 0);
  assert.equal(h.layer.stats(), { serverTransactions: 0, clientTransactions: 0, absorbed: 0, unmatchable: 0, strayResponses: 0 });
});

test.run();
