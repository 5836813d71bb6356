import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SafeEmitter, InvalidArgumentError, RecgateError, errnoCode } from '../common/index.js';

test('SafeEmitter: a throwing listener is counted and the next listener still runs', () => {
  const e = new SafeEmitter<{ tick: [number] }>();
  const seen: number[] = [];
  const reported: string[] = [];
  e.onListenerError = (event) => reported.push(event);
  e.on('tick', () => {
    throw new Error('boom');
  });
  e.on('tick', (n) => seen.push(n));
  assert.is(e.emit('tick', 7), true);
  assert.equal(seen, [7]);
  assert.is(e.listenerErrors, 1);
  assert.equal(reported, ['tick']);
});

test('SafeEmitter: once listeners run once, even when removing themselves mid-emit', () => {
  const e = new SafeEmitter<{ x: [] }>();
  let a = 0;
  let b = 0;
  e.once('x', () => a++);
  e.on('x', () => b++);
  e.emit('x');
  e.emit('x');
  assert.is(a, 1);
  assert.is(b, 2);
  assert.is(e.listenerCount('x'), 1);
  assert.is(new SafeEmitter<{ y: [] }>().emit('y'), false);
});

test('errors carry stable codes', () => {
  const err = new InvalidArgumentError('bad');
  assert.instance(err, RecgateError);
  assert.is(err.code, 'ERR_INVALID_ARGUMENT');
  assert.is(err.name, 'InvalidArgumentError');
  assert.is(errnoCode(Object.assign(new Error('x'), { code: 'ENOSPC' })), 'ENOSPC');
  assert.is(errnoCode('nope'), undefined);
});

test.run();
