/**
 * The small error vocabulary of recgate (see ../shared/STYLE.md, point 6).
 *
 * Callers branch on `code`, never on message text. Bad bytes from the network are
 * never thrown: they are counted and dropped by the parser that met them. These
 * errors are for callers that misuse an API (bad options, use after close).
 */

/** Stable error codes. Tests assert these, not messages. */
export type ErrorCode =
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_INVALID_STATE'
  | 'ERR_UNSUPPORTED'
  | 'ERR_NO_PORT'
  | 'ERR_QUEUE_FULL'
  | 'ERR_NO_SPACE'
  | 'ERR_IO';

/** Base class: every recgate error carries a stable `code`. */
export class RecgateError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A bad argument or option (wrong type, unknown value). */
export class InvalidArgumentError extends RecgateError {
  constructor(message: string) {
    super('ERR_INVALID_ARGUMENT', message);
  }
}

/** A size, rate or count outside what is supported. */
export class OutOfRangeError extends RecgateError {
  constructor(message: string) {
    super('ERR_OUT_OF_RANGE', message);
  }
}

/** Use of an object in a state that does not allow it (after close, before open). */
export class InvalidStateError extends RecgateError {
  constructor(message: string) {
    super('ERR_INVALID_STATE', message);
  }
}

/** A codec, format or feature recgate does not have. */
export class UnsupportedError extends RecgateError {
  constructor(message: string) {
    super('ERR_UNSUPPORTED', message);
  }
}

/** No free port in the configured range. */
export class NoPortError extends RecgateError {
  constructor(message: string) {
    super('ERR_NO_PORT', message);
  }
}

/** A bounded queue is full; the producer must be told, data is never dropped silently. */
export class QueueFullError extends RecgateError {
  constructor(message: string) {
    super('ERR_QUEUE_FULL', message);
  }
}

/** The disk holding recordings is full (or below its reserve): no new recording starts. */
export class NoSpaceError extends RecgateError {
  constructor(message: string) {
    super('ERR_NO_SPACE', message);
  }
}

/** A disk or socket operation failed; `cause` holds the system error (errno code). */
export class IoError extends RecgateError {
  constructor(message: string, cause?: unknown) {
    super('ERR_IO', message, { cause });
  }
}

/** The errno code of a Node system error (`ENOSPC`, `EADDRINUSE`, ...), or undefined. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
