/**
 * Admission control in virtual time: the call cap, and the overload guard that refuses new
 * calls while the media thread's event-loop delay stays at its threshold (and not for one stall).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Admission } from '../calls/index.js';

function guard(o: { maxCalls?: number; overloadDelayMs?: number } = {}) {
  let t = 0;
  const a = new Admission({ maxCalls: o.maxCalls ?? 0, overloadDelayMs: o.overloadDelayMs ?? 40, holdMs: 5000, now: () => t });
  return { a, advance: (ms: number) => void (t += ms) };
}

test('the cap: calls up to maxCalls are taken, the next is refused (max_calls, Retry-After 5)', () => {
  const { a } = guard({ maxCalls: 3 });
  assert.is(a.check(0), null);
  assert.is(a.check(2), null);
  assert.is(a.check(3), 'max_calls');
  assert.is(a.check(10), 'max_calls');
  assert.is(a.retryAfterSec('max_calls'), 5);
  assert.is(guard({ maxCalls: 0 }).a.check(100000), null, '0: no cap');
});

test('overload: two periods in a row at the delay refuse new calls until 5 s after the last; one does not', () => {
  const { a, advance } = guard();
  a.observe(90);
  assert.is(a.check(0), null, 'one period over the delay is not overload');
  advance(1000);
  a.observe(12); // the run is broken
  advance(1000);
  a.observe(60);
  assert.is(a.check(0), null);
  advance(1000);
  a.observe(40); // at the threshold: the second period in a row
  assert.is(a.check(0), 'overload');
  assert.ok(a.overloaded);
  assert.is(a.retryAfterSec('overload'), 5);
  advance(2000);
  assert.is(a.retryAfterSec('overload'), 3, 'Retry-After: what is left of the hold');
  a.observe(70); // still overloaded: the hold runs from this period
  advance(4999);
  assert.is(a.check(0), 'overload');
  advance(1);
  assert.is(a.check(0), null, 'taken again 5 s after the last overloaded period');
  const s = a.stats();
  assert.equal([s.overloadedPeriods, s.delayP50Ms, s.overloaded], [4, 70, false]);
  // The cap is checked first: a full gateway says so even when it is also overloaded.
  const both = guard({ maxCalls: 1 });
  both.a.observe(50);
  both.a.observe(50);
  assert.is(both.a.check(1), 'max_calls');
  assert.is(both.a.check(0), 'overload');
});

test('overloadDelayMs 0 turns the guard off, and start() then watches nothing', () => {
  const { a } = guard({ overloadDelayMs: 0 });
  for (let i = 0; i < 5; i++) a.observe(10_000);
  assert.is(a.check(0), null);
  assert.is(a.stats().overloadedPeriods, 0);
  a.start();
  a.close();
});

test('start() samples the real event loop: a loop late all the time is overload, one long stall is not', async () => {
  const a = new Admission({ maxCalls: 0, overloadDelayMs: 40, periodMs: 500 });
  a.start();
  try {
    const block = (ms: number): void => {
      const end = performance.now() + ms;
      while (performance.now() < end) {
        // busy: what a saturated media thread looks like from its timers
      }
    };
    // One long stall, then a loop that keeps time: the median does not move.
    block(900);
    await new Promise((r) => setTimeout(r, 1200));
    assert.not.ok(a.overloaded, JSON.stringify(a.stats()));
    // Late all the time: 100 ms of work per turn, other callbacks let through between turns.
    const until = performance.now() + 3000;
    while (performance.now() < until && !a.overloaded) {
      block(100);
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(a.overloaded, JSON.stringify(a.stats()));
    assert.ok(a.stats().delayP50Ms >= 40, JSON.stringify(a.stats()));
  } finally {
    a.close();
  }
});

test('utilization: two periods in a row at overloadUtilizationPercent refuse new calls, with the delay still low; one does not; 0 is off', () => {
  let t = 0;
  const a = new Admission({ maxCalls: 0, overloadDelayMs: 60, overloadUtilizationPercent: 90, holdMs: 5000, now: () => t });
  a.observe(11, 0.97);
  assert.is(a.check(0), null, 'one busy period is not overload');
  t += 1000;
  a.observe(11, 0.89); // under: the run is broken
  t += 1000;
  a.observe(12, 0.9);
  assert.is(a.check(0), null);
  t += 1000;
  a.observe(14, 0.95); // the second period in a row at 90 %, the median still 14 ms
  assert.is(a.check(0), 'overload');
  assert.equal([a.stats().utilization, a.stats().delayP50Ms, a.stats().overloadUtilizationPercent], [0.95, 14, 90]);
  t += 5000;
  a.observe(10, 0.5);
  assert.is(a.check(0), null, 'taken again 5 s after the last busy period');
  // Either rule makes a period count: a late period then a busy one are two in a row.
  a.observe(80, 0.5);
  a.observe(10, 0.99);
  assert.is(a.check(0), 'overload');

  const off = new Admission({ maxCalls: 0, overloadDelayMs: 60, overloadUtilizationPercent: 0, now: () => t });
  for (let i = 0; i < 5; i++) off.observe(10, 1);
  assert.is(off.check(0), null, 'utilization guard off');
  assert.ok(off.guarding, 'the delay guard still on');
  const none = new Admission({ maxCalls: 0, overloadDelayMs: 0, overloadUtilizationPercent: 0 });
  assert.not.ok(none.guarding);
  assert.ok(new Admission({ maxCalls: 0, overloadDelayMs: 0, overloadUtilizationPercent: 90 }).guarding, 'utilization alone');
});

test('encoder lag: two periods in a row with the encoder workers overloadEncoderLagMs behind refuse new calls, whatever the loop; 0 is off', async () => {
  let t = 0;
  let lag = 0;
  const a = new Admission({ maxCalls: 0, overloadDelayMs: 60, overloadUtilizationPercent: 90, overloadEncoderLagMs: 1000, holdMs: 5000, now: () => t });
  assert.ok(a.guarding);
  a.observe(10, 0.3, 1500);
  assert.is(a.check(0), null, 'one period behind is not overload');
  t += 1000;
  a.observe(10, 0.3, 2500); // a loop with room, the workers 2.5 s behind
  assert.is(a.check(0), 'overload');
  assert.equal([a.stats().encoderLagMs, a.stats().overloadEncoderLagMs], [2500, 1000]);
  t += 5000;
  a.observe(10, 0.3, 900);
  assert.is(a.check(0), null, 'caught up to within the limit');
  assert.ok(new Admission({ maxCalls: 0, overloadDelayMs: 0, overloadEncoderLagMs: 1000 }).guarding, 'the encoder lag alone');
  const off = new Admission({ maxCalls: 0, overloadDelayMs: 60, overloadEncoderLagMs: 0, now: () => t });
  off.observe(10, 0.3, 60_000);
  off.observe(10, 0.3, 60_000);
  assert.is(off.check(0), null, 'not watched');
  // A busy encoder worker counts against the utilization threshold like the loop.
  const worker = new Admission({ maxCalls: 0, overloadDelayMs: 60, overloadUtilizationPercent: 90, now: () => t });
  worker.observe(10, 0.3, 0, 0.95);
  worker.observe(10, 0.3, 0, 0.97);
  assert.is(worker.check(0), 'overload', 'the busiest worker at 95-97 %, the loop at 30 %');
  assert.is(worker.stats().encoderUtilization, 0.97);
  // start() reads the probe each period.
  const real = new Admission({ maxCalls: 0, overloadDelayMs: 0, overloadEncoderLagMs: 1000, encoders: () => ({ lagMs: lag, utilization: 0.1 }), periodMs: 100 });
  lag = 3000;
  real.start();
  try {
    await new Promise((r) => setTimeout(r, 350));
    assert.ok(real.overloaded, JSON.stringify(real.stats()));
    assert.is(real.stats().encoderLagMs, 3000);
  } finally {
    real.close();
  }
});

test('start() samples the real loop\'s utilization: busy 80 % of every 10 ms is overload at 70 % while its median delay stays under 60 ms', async () => {
  const a = new Admission({ maxCalls: 0, overloadDelayMs: 60, overloadUtilizationPercent: 70, periodMs: 500 });
  a.start();
  try {
    const busy = (ms: number): void => {
      const end = performance.now() + ms;
      while (performance.now() < end) {
        // busy: a media thread with a fifth of its time left
      }
    };
    // An idle loop first: not overloaded, utilization near 0.
    await new Promise((r) => setTimeout(r, 1100));
    assert.not.ok(a.overloaded, JSON.stringify(a.stats()));
    assert.ok(a.stats().utilization < 0.3, JSON.stringify(a.stats()));
    const until = performance.now() + 4000;
    while (performance.now() < until && !a.overloaded) {
      busy(8);
      await new Promise((r) => setTimeout(r, 2));
    }
    const s = a.stats();
    assert.ok(a.overloaded, JSON.stringify(s));
    assert.ok(s.utilization >= 0.7, JSON.stringify(s));
    assert.ok(s.delayP50Ms < 60, `the delay guard alone would not have fired: ${JSON.stringify(s)}`);
  } finally {
    a.close();
  }
});

test.run();
