/** DTMF in SIP INFO bodies: the formats trunks and softphones send, and garbage refused. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { dtmfRelayBody, parseDtmfInfo } from '../calls/index.js';

test('application/dtmf-relay: Signal and Duration, any case and line ending, numeric 10/11 as * and #', () => {
  assert.equal(parseDtmfInfo('application/dtmf-relay', 'Signal=5\r\nDuration=160\r\n'), { digit: '5', durationMs: 160 });
  assert.equal(parseDtmfInfo('Application/DTMF-Relay; charset=utf-8', 'signal = #\nduration=250'), { digit: '#', durationMs: 250 });
  assert.equal(parseDtmfInfo('application/dtmf-relay', 'Signal=10\r\n'), { digit: '*', durationMs: 0 });
  assert.equal(parseDtmfInfo('application/dtmf-relay', 'Signal=11\r\nDuration=-3\r\n'), { digit: '#', durationMs: 0 });
  assert.equal(parseDtmfInfo('application/dtmf-relay', 'Signal=d\r\n'), { digit: 'D', durationMs: 0 });
});

test('application/dtmf: the bare digit', () => {
  assert.equal(parseDtmfInfo('application/dtmf', '7\r\n'), { digit: '7', durationMs: 0 });
});

test('not DTMF: other content types, no Signal, several characters, empty body', () => {
  assert.is(parseDtmfInfo('application/sdp', 'Signal=5'), null);
  assert.is(parseDtmfInfo('application/dtmf-relay', 'Duration=160'), null);
  assert.is(parseDtmfInfo('application/dtmf-relay', 'Signal=55'), null);
  assert.is(parseDtmfInfo('application/dtmf-relay', 'Signal=E'), null);
  assert.is(parseDtmfInfo('application/dtmf', ''), null);
  assert.is(parseDtmfInfo('', ''), null);
});

test('the relay body round-trips, with a default duration', () => {
  for (const d of '0123456789*#ABCD') assert.equal(parseDtmfInfo('application/dtmf-relay', dtmfRelayBody(d, 0)), { digit: d, durationMs: 160 });
  assert.equal(parseDtmfInfo('application/dtmf-relay', dtmfRelayBody('3', 90)), { digit: '3', durationMs: 90 });
});

test('fuzz: 20000 random bodies never throw and yield only valid digits', () => {
  for (let i = 0; i < 20_000; i++) {
    const body = i % 2 === 0 ? randomBytes(i % 64).toString('latin1') : `Signal=${randomBytes(2).toString('latin1')}\nDuration=${randomBytes(3).toString('latin1')}`;
    const r = parseDtmfInfo(i % 3 === 0 ? 'application/dtmf' : 'application/dtmf-relay', body);
    if (r !== null) {
      assert.match(r.digit, /^[0-9A-D*#]$/);
      assert.ok(Number.isInteger(r.durationMs) && r.durationMs >= 0 && r.durationMs < 60_000);
    }
  }
});

test.run();
