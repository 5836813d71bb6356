/**
 * bench:load's reading of sipp's reports: why sipp's calls failed. The texts are sipp 3.6.1's
 * own (an -error_file of a run the gateway refused calls in, and a final scenario screen), with
 * counters changed where a fault had to show.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errorFile, sippErrors, sippStepTrouble } from '../bench/load/sippLoad.js';

const entry = (n: number, status: string): string =>
  `2026-12-07\t18:23:48.3288${n}\t1796667828.3288${n}: Aborting call on unexpected message for Call-Id '${n}-12908@127.0.0.1': while expecting '180' (index 2), received '${status}\r\n` +
  `Via: SIP/2.0/UDP 127.0.0.1:9740;branch=z9hG4bK-12908-${n}-0\r\nCall-ID: ${n}-12908@127.0.0.1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n'`;

test('sipp -error_file: entries counted by message (CRLF lines, one entry right after the last one\'s quote), status codes kept', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-sipp-report-'));
  try {
    const text = `The following events occurred:\n${entry(51, 'SIP/2.0 503 Service Unavailable')}${entry(52, 'SIP/2.0 503 Service Unavailable')}${entry(53, 'SIP/2.0 480 Temporarily Unavailable')}\n`;
    fs.writeFileSync(errorFile(dir, 'uac'), text);
    assert.equal(sippErrors(dir, 'uac'), [
      "2x Aborting call on unexpected message for Call-Id '…': while expecting '180' (index 2), received 'SIP/2.0 503 Service Unavailable",
      "1x Aborting call on unexpected message for Call-Id '…': while expecting '180' (index 2), received 'SIP/2.0 480 Temporarily Unavailable",
    ]);
    assert.equal(sippErrors(dir, 'uas'), [], 'no file: nothing');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const screen = (invite: string, ok: string, pause: string): string => `------------------------------ Scenario Screen -------- [1-9]: Change Screen --
  Call rate (length)   Port   Total-time  Total-calls  Remote-host
  2.0(0 ms)/1.000s   19091      1.00 s            2  127.0.0.1:19090(UDP)

                                 Messages  Retrans   Timeout   Unexpected-Msg
      INVITE ---------->         ${invite}
         100 <----------         0         0         0         0               
         180 <----------         2         0         0         0               
         200 <----------  E-RTD1 ${ok}
         ACK ---------->         2         0                                   
       Pause [      0ms]         ${pause}
         BYE ---------->         2         0         0                         
         200 <----------         2         0         0         0               

------------------------------ Test Terminated --------------------------------
`;

test("sipp's scenario screen: the steps with retransmissions, timeouts or unexpected messages, by column", () => {
  const clean = screen('2         0         0                         ', '2         0         0         0               ', '2                             0        ');
  assert.equal(sippStepTrouble(clean), []);
  const faulty = screen('9         7         0                         ', '5         3         1         2               ', '2                             4        ');
  assert.equal(sippStepTrouble(`${clean}\n${faulty}`), [
    'INVITE ->: 9 messages, 7 retransmitted, 0 timed out, 0 unexpected',
    '200 <-: 5 messages, 3 retransmitted, 1 timed out, 2 unexpected',
  ]);
  assert.equal(sippStepTrouble('no screen'), []);
});

test.run();
