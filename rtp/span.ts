/**
 * Argument checks shared by the rtp/ readers and writers (internal: not exported by index.ts).
 *
 * A span that does not fit its buffer is a caller bug (the socket said how many bytes it
 * received), so it throws; bad bytes inside a valid span never throw (STYLE.md point 7).
 */
import { InvalidArgumentError, OutOfRangeError } from '../common/index.js';

/** Throws unless `offset` and `length` are integers with 0 <= offset, 0 <= length, offset + length <= capacity. */
export function checkSpan(capacity: number, offset: number, length: number, what: string): void {
  if (!Number.isInteger(offset) || !Number.isInteger(length)) {
    throw new InvalidArgumentError(`${what}: offset and length must be integers, got ${offset} and ${length}`);
  }
  if (offset < 0 || length < 0 || offset + length > capacity) {
    throw new OutOfRangeError(
      `${what}: span [${offset}, ${offset + length}) does not fit a buffer of ${capacity} elements`,
    );
  }
}

/** Throws unless `value` is an integer in [min, max]; `what` names it in the message. */
export function checkInteger(value: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(value)) {
    throw new InvalidArgumentError(`${what} must be an integer, got ${value}`);
  }
  if (value < min || value > max) {
    throw new OutOfRangeError(`${what} must be in [${min}, ${max}], got ${value}`);
  }
}
