/** Shared vocabulary: errors with stable codes and a typed, listener-safe emitter. */
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
export type { RateLimitOptions } from './rateLimit.js';
