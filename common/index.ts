/** Shared vocabulary: errors with stable codes, a typed listener-safe emitter, byte copy, rate limits, thread CPU times. */
export {
  RecgateError,
  InvalidArgumentError,
  OutOfRangeError,
  InvalidStateError,
  UnsupportedError,
  NoPortError,
  QueueFullError,
  NoSpaceError,
  IoError,
  errnoCode,
} from './errors.js';
export type { ErrorCode } from './errors.js';
export { SafeEmitter } from './SafeEmitter.js';
export type { EventMap, Listener } from './SafeEmitter.js';
export { copyBytes } from './bytes.js';
export { KeyedRateLimiter } from './rateLimit.js';
export { threadTimes } from './threads.js';
export type { ThreadTimes } from './threads.js';
export type { RateLimitOptions } from './rateLimit.js';
