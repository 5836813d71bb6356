/** Request helpers shared by the route modules: the account a request acts for, and paging. */
import { DEFAULT_ACCOUNT } from './auth.js';
import { ApiError } from './errors.js';
import { RecordingOptionError, parseRecordingSpec } from '../recorder/index.js';
import type { RecordingSpec } from '../recorder/index.js';
import type { RequestContext } from './router.js';

/** The account whose objects a request sees: the admin token acts for `default`. */
export function scopeOf(ctx: RequestContext): string {
  const a = ctx.account!;
  return a.admin ? DEFAULT_ACCOUNT : a.id;
}

/** `page_size` of a list request: 1..100, default 25. */
export function pageSize(url: URL): number {
  const v = url.searchParams.get('page_size');
  if (v === null) return 25;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 100) throw new ApiError('invalid_parameter', 'page_size must be an integer 1..100', { field: 'page_size' });
  return n;
}

/** `recording_id` of a stop/pause/resume body: one recording, or undefined for all. */
export function recordingIdOf(body: unknown): string | undefined {
  const id = (body as Record<string, unknown> | null)?.recording_id;
  if (id === undefined || id === null || id === '') return undefined;
  if (typeof id !== 'string') throw new ApiError('invalid_option', 'recording_id must be a string', { field: 'recording_id' });
  return id;
}

/** Recording options from a body (`where` prefixes field names); a bad option is 400 invalid_option naming it. */
export function recordingSpecOf(body: unknown, where = ''): RecordingSpec {
  try {
    return parseRecordingSpec(body ?? {}, where);
  } catch (err) {
    if (err instanceof RecordingOptionError) throw new ApiError('invalid_option', err.message, { field: err.field });
    throw err;
  }
}
