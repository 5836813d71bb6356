import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  eventToDigit,
  parseTelephoneEvent,
  TelephoneEventReceiver,
  writeTelephoneEvent,
} from '../rtp/index.js';
import type { DtmfEvent, TelephoneEventFields } from '../rtp/index.js';

function fields(): TelephoneEventFields {
  return { event: -1, end: false, volume: -1, duration: -1 };
}

// ---------------------------------------------------------------------------------------------
// Payload (RFC 4733 §2.3)

test('parseTelephoneEvent: every field of an end packet for digit 5', () => {
  const bytes = new Uint8Array([
    0x05, //       event 5 ('5')
    0x8a, //       E=1, R=0, volume 10 (-10 dBm0)
    0x03, 0x20, // duration 800 (100 ms at 8 kHz)
  ]);
  const f = fields();
  assert.is(parseTelephoneEvent(bytes, 0, 4, f), true);
  assert.equal(f, { event: 5, end: true, volume: 10, duration: 800 });
});

test('parseTelephoneEvent: R bit ignored, maxima, offset inside a larger buffer, extra bytes ignored', () => {
  const bytes = new Uint8Array([
    0xee, 0xee, 0xee, // 3 bytes before the payload
    0xff, //             event 255
    0x7f, //             E=0, R=1 (must be ignored), volume 63
    0xff, 0xff, //       duration 65535
    0x0b, 0x80, //       2 trailing bytes, not ours
  ]);
  const f = fields();
  assert.is(parseTelephoneEvent(bytes, 3, 6, f), true);
  assert.equal(f, { event: 255, end: false, volume: 63, duration: 65535 });
});

test('parseTelephoneEvent: fewer than 4 bytes -> false, out untouched', () => {
  const bytes = new Uint8Array([0x05, 0x8a, 0x03, 0x20]);
  for (let length = 0; length < 4; length++) {
    const f = fields();
    assert.is(parseTelephoneEvent(bytes, 0, length, f), false, `length ${length}`);
    assert.equal(f, fields(), `length ${length}: untouched`);
  }
});

test('writeTelephoneEvent: bytes on the wire, read back by the parser', () => {
  const out = new Uint8Array(8).fill(0x99);
  assert.is(writeTelephoneEvent(out, 2, 11, true, 7, 0x1234), 4);
  assert.equal(Array.from(out), [0x99, 0x99, 0x0b, 0x87, 0x12, 0x34, 0x99, 0x99]);
  const f = fields();
  parseTelephoneEvent(out, 2, 4, f);
  assert.equal(f, { event: 11, end: true, volume: 7, duration: 0x1234 });
  writeTelephoneEvent(out, 0, 0, false, 0, 0);
  assert.equal(Array.from(out.subarray(0, 4)), [0, 0, 0, 0]);
});

test('writeTelephoneEvent: misuse throws with stable codes', () => {
  const out = new Uint8Array(4);
  const cases: [string, () => void, string][] = [
    ['event 256', () => writeTelephoneEvent(out, 0, 256, false, 10, 0), 'ERR_OUT_OF_RANGE'],
    ['volume 64', () => writeTelephoneEvent(out, 0, 1, false, 64, 0), 'ERR_OUT_OF_RANGE'],
    ['duration 65536', () => writeTelephoneEvent(out, 0, 1, false, 10, 65536), 'ERR_OUT_OF_RANGE'],
    ['duration 1.5', () => writeTelephoneEvent(out, 0, 1, false, 10, 1.5), 'ERR_INVALID_ARGUMENT'],
    ['no room', () => writeTelephoneEvent(out, 1, 1, false, 10, 0), 'ERR_OUT_OF_RANGE'],
    ['receiver clockRate 0', () => new TelephoneEventReceiver(0, () => {}), 'ERR_OUT_OF_RANGE'],
  ];
  for (const [name, fn, code] of cases) {
    try {
      fn();
      assert.unreachable(name);
    } catch (err) {
      assert.is((err as { code?: string }).code, code, name);
    }
  }
});

test('eventToDigit table (RFC 4733 §3.2)', () => {
  const table: [number, string][] = [
    [0, '0'], [1, '1'], [2, '2'], [3, '3'], [4, '4'], [5, '5'], [6, '6'], [7, '7'], [8, '8'], [9, '9'],
    [10, '*'], [11, '#'], [12, 'A'], [13, 'B'], [14, 'C'], [15, 'D'],
    [16, ''], [32, ''], [255, ''], [-1, ''], [256, ''], [1.5, ''],
  ];
  for (const [event, digit] of table) assert.is(eventToDigit(event), digit, `event ${event}`);
});

// ---------------------------------------------------------------------------------------------
// Receiver

interface Pkt {
  ts: number;
  marker: boolean;
  payload: Uint8Array;
}

function pkt(ts: number, marker: boolean, event: number, end: boolean, volume: number, duration: number): Pkt {
  const payload = new Uint8Array(4);
  writeTelephoneEvent(payload, 0, event, end, volume, duration);
  return { ts, marker, payload };
}

/**
 * What a sender emits for one key press (RFC 4733 §2.5.1.2, §2.5.1.4): a packet every `step`
 * timestamp units with the growing duration (the first with the marker), then the final
 * duration with E set, three times.
 */
function press(ts: number, event: number, totalDuration: number, step = 400, volume = 10): Pkt[] {
  const out: Pkt[] = [];
  for (let d = step; d < totalDuration; d += step) out.push(pkt(ts, d === step, event, false, volume, d));
  for (let i = 0; i < 3; i++) out.push(pkt(ts, out.length === 0, event, true, volume, totalDuration));
  return out;
}

function receiver(clockRate = 8000): { rx: TelephoneEventReceiver; events: DtmfEvent[]; feed: (p: Pkt[]) => void } {
  const events: DtmfEvent[] = [];
  const rx = new TelephoneEventReceiver(clockRate, (e) => events.push(e));
  const feed = (packets: Pkt[]): void => {
    for (const p of packets) rx.push(p.ts, p.marker, p.payload, 0, p.payload.length);
  };
  return { rx, events, feed };
}

test('one press with 3 end retransmits: exactly one start and one end', () => {
  const { rx, events, feed } = receiver();
  feed(press(16000, 5, 800));
  assert.equal(events, [
    { type: 'start', digit: '5', event: 5, timestamp: 16000 },
    { type: 'end', digit: '5', event: 5, timestamp: 16000, durationMs: (800 / 8000) * 1000, volume: 10 },
  ]);
  assert.is(rx.packets, 4);
  assert.is(rx.endedEventPackets, 2, 'two E retransmissions ignored');
  assert.is(rx.inferredEnds, 0);
  rx.flush();
  assert.is(events.length, 2, 'flush after an ended event reports nothing');
});

test('durationMs = duration / clockRate * 1000, at 8 kHz and 48 kHz', () => {
  for (const [clockRate, duration] of [[8000, 1000], [8000, 1234], [48000, 4800], [48000, 7777]] as const) {
    const { events, feed } = receiver(clockRate);
    feed(press(0, 1, duration, 160));
    const end = events[1];
    assert.ok(end !== undefined && end.type === 'end');
    assert.is(end.durationMs, (duration / clockRate) * 1000, `${duration} at ${clockRate}`);
  }
});

test('lost first packet (the one with the marker): the event still starts, once', () => {
  const { events, feed } = receiver();
  const packets = press(8000, 11, 1200);
  assert.is(packets[0]!.marker, true);
  feed(packets.slice(1));
  assert.equal(events, [
    { type: 'start', digit: '#', event: 11, timestamp: 8000 },
    { type: 'end', digit: '#', event: 11, timestamp: 8000, durationMs: 150, volume: 10 },
  ]);
});

test('only the E packets arrive: start and end together', () => {
  const { events, feed } = receiver();
  feed(press(8000, 0, 1200).filter((p) => p.payload[1]! & 0x80));
  assert.equal(events.map((e) => e.type), ['start', 'end']);
  assert.is(events[1]!.type === 'end' && events[1]!.durationMs, 150);
});

test('all end packets lost, then the next event: the first ends with its last duration seen', () => {
  const { rx, events, feed } = receiver();
  const first = press(1000, 1, 1200).slice(0, -3); // durations 400, 800; E packets lost
  feed(first);
  feed(press(4000, 2, 800));
  assert.equal(events, [
    { type: 'start', digit: '1', event: 1, timestamp: 1000 },
    { type: 'end', digit: '1', event: 1, timestamp: 1000, durationMs: 100, volume: 10 },
    { type: 'start', digit: '2', event: 2, timestamp: 4000 },
    { type: 'end', digit: '2', event: 2, timestamp: 4000, durationMs: 100, volume: 10 },
  ]);
  assert.is(rx.inferredEnds, 1);
});

test('the same key twice, the first end lost: the marker makes the second a new event', () => {
  const { events, feed } = receiver();
  feed(press(1000, 7, 1200).slice(0, -3));
  feed(press(3000, 7, 1200)); // 250 ms later, within 65535 units, same code, marker set
  assert.equal(
    events.map((e) => [e.type, e.digit, e.timestamp]),
    [['start', '7', 1000], ['end', '7', 1000], ['start', '7', 3000], ['end', '7', 3000]],
  );
});

test('reordered packets within an event: a shorter duration arriving late does not shrink it', () => {
  const { events, feed } = receiver();
  const p = press(5000, 9, 1600); // durations 400, 800, 1200, then E 1600 ×3
  feed([p[1]!, p[0]!, p[3]!, p[2]!, p[4]!, p[5]!]);
  assert.equal(events, [
    { type: 'start', digit: '9', event: 9, timestamp: 5000 },
    { type: 'end', digit: '9', event: 9, timestamp: 5000, durationMs: 200, volume: 10 },
  ]);
});

test('reordered: a non-E packet after the E packet does not restart the event', () => {
  const { rx, events, feed } = receiver();
  const p = press(5000, 9, 1600);
  feed([p[0]!, p[1]!, p[3]!, p[2]!, p[4]!, p[5]!]);
  assert.equal(events.map((e) => e.type), ['start', 'end']);
  assert.is(events[1]!.type === 'end' && events[1]!.durationMs, 200);
  assert.is(rx.endedEventPackets, 3, 'the late 1200 packet and two E retransmissions');
});

test('reordered: the next event overtakes the last packets of the previous one', () => {
  const { rx, events, feed } = receiver();
  const a = press(1000, 3, 1200); // 400, 800, E 1200 ×3
  const b = press(9000, 4, 800);
  feed([a[0]!, a[1]!, b[0]!, a[2]!, b[1]!, a[3]!, a[4]!, b[2]!, b[3]!]);
  assert.equal(events, [
    { type: 'start', digit: '3', event: 3, timestamp: 1000 },
    { type: 'end', digit: '3', event: 3, timestamp: 1000, durationMs: 100, volume: 10 },
    { type: 'start', digit: '4', event: 4, timestamp: 9000 },
    { type: 'end', digit: '4', event: 4, timestamp: 9000, durationMs: 100, volume: 10 },
  ]);
  assert.is(rx.latePackets, 3, "a's three E packets came after b had started");
});

test('RTP timestamp wrap between two events: the later one is still newer', () => {
  const { events, feed } = receiver();
  feed(press(0xffffff00, 1, 800));
  feed(press(0x00000200, 2, 800));
  assert.equal(
    events.map((e) => [e.type, e.digit, e.timestamp]),
    [['start', '1', 0xffffff00], ['end', '1', 0xffffff00], ['start', '2', 0x200], ['end', '2', 0x200]],
  );
});

/**
 * A long event in segments (RFC 4733 §2.5.1.3): each segment's timestamp is the previous one
 * plus its duration (65535 at most), same event code, no marker after the first; only the last
 * segment carries the E bit.
 */
function longPress(ts: number, event: number, totalDuration: number, step: number): Pkt[] {
  const out: Pkt[] = [];
  let segTs = ts;
  let left = totalDuration;
  let first = true;
  while (left > 0xffff) {
    for (let d = step; d < 0xffff; d += step) {
      out.push(pkt(segTs >>> 0, first, event, false, 10, d));
      first = false;
    }
    out.push(pkt(segTs >>> 0, false, event, false, 10, 0xffff));
    segTs += 0xffff;
    left -= 0xffff;
  }
  for (let d = step; d < left; d += step) out.push(pkt(segTs >>> 0, false, event, false, 10, d));
  for (let i = 0; i < 3; i++) out.push(pkt(segTs >>> 0, false, event, true, 10, left));
  return out;
}

test('long event at 48 kHz (3 s, three segments, timestamp wrapping): one start, one end of 3000 ms', () => {
  const { rx, events, feed } = receiver(48000);
  const start = 0xffff0000;
  feed(longPress(start, 12, 144000, 2400)); // 3 s; segments 65535 + 65535 + 12930; packets every 50 ms
  assert.equal(events, [
    { type: 'start', digit: 'A', event: 12, timestamp: start },
    { type: 'end', digit: 'A', event: 12, timestamp: start, durationMs: 3000, volume: 10 },
  ]);
  assert.is(rx.inferredEnds, 0);
});

test('long event at 8 kHz with the last packets of the first segment lost: the segment gap still counts', () => {
  const { events, feed } = receiver(8000);
  const packets = longPress(800, 14, 80000, 400); // 10 s: segments 65535 + 14465
  const secondSegment = packets.findIndex((p) => p.ts === 800 + 0xffff);
  feed([...packets.slice(0, secondSegment - 5), ...packets.slice(secondSegment)]);
  assert.equal(events, [
    { type: 'start', digit: 'C', event: 14, timestamp: 800 },
    { type: 'end', digit: 'C', event: 14, timestamp: 800, durationMs: 10000, volume: 10 },
  ]);
});

test('an event that never gets its E bit is ended by flush(), once; its late packets stay ignored', () => {
  const { rx, events, feed } = receiver();
  const p = press(2000, 6, 2000); // 400, 800, 1200, 1600, then E 2000 ×3
  feed(p.slice(0, 3));
  assert.equal(events.map((e) => e.type), ['start']);
  rx.flush();
  rx.flush();
  assert.equal(events[1], { type: 'end', digit: '6', event: 6, timestamp: 2000, durationMs: 150, volume: 10 });
  assert.is(events.length, 2);
  assert.is(rx.inferredEnds, 1);
  feed(p.slice(3)); // the rest of the same event arrives after all
  assert.is(events.length, 2, 'no second start or end');
});

test('reset(): ends the current event, then a new stream may reuse any timestamp', () => {
  const { rx, events, feed } = receiver();
  feed(press(50000, 1, 800).slice(0, 1));
  rx.reset();
  feed(press(100, 2, 800)); // older than 50000, but a new SSRC after reset()
  assert.equal(
    events.map((e) => [e.type, e.digit]),
    [['start', '1'], ['end', '1'], ['start', '2'], ['end', '2']],
  );
});

test('malformed packets are counted and change nothing', () => {
  const { rx, events } = receiver();
  rx.push(100, true, new Uint8Array([0x05, 0x8a, 0x03]), 0, 3);
  rx.push(100, true, new Uint8Array(0), 0, 0);
  assert.is(rx.malformedPackets, 2);
  assert.is(events.length, 0);
});

test('a throwing listener is counted and the receiver keeps going', () => {
  const seen: string[] = [];
  const errors: unknown[] = [];
  const rx = new TelephoneEventReceiver(8000, (e) => {
    seen.push(e.type);
    if (e.type === 'start') throw new Error('listener bug');
  });
  rx.onListenerError = (err) => errors.push(err);
  for (const p of [...press(100, 1, 800), ...press(2000, 2, 800)]) rx.push(p.ts, p.marker, p.payload, 0, 4);
  assert.equal(seen, ['start', 'end', 'start', 'end']);
  assert.is(rx.listenerErrors, 2);
  assert.is(errors.length, 2);
});

test.run();
