/**
 * Recording options, the same wherever a recording starts (a route, the API, later a flow).
 * Names follow the REST API (snake_case). Validation names the offending field.
 */
import { InvalidArgumentError } from '../common/index.js';
import type { AudioFormat, ChannelCount, SampleRate } from '../encoders/index.js';
import type { PauseBehavior } from './Recording.js';

export type Participant = 'all' | 'caller' | 'callee';

export interface RecordingSpec {
  format: AudioFormat;
  channels: 'mono' | 'stereo';
  participant: Participant;
  sample_rate: SampleRate;
  /** kbit/s for mp3/opus (encoder default when absent). */
  bitrate?: number;
  /** Seconds; default 3600, at most 86400. */
  time_limit: number;
  /** Recordings shorter than this (seconds) are deleted when they end, and reported so; 0 keeps all. */
  record_min_sec: number;
  pause_behavior: PauseBehavior;
  label: string;
  /** Events of this recording also go here. */
  callback_url?: string;
  callback_method: 'GET' | 'POST';
  /** The finished file is sent here (with retries). */
  upload_url?: string;
  upload_method: 'PUT' | 'POST';
  /** Play a short tone to the call when recording starts. */
  beep: boolean;
  /**
   * PCI pause: the recording pauses when a party keys `pause_digits` (DTMF, any transport) and
   * resumes on `resume_digits` (or the API), each pause kept in `pauses` with by = 'dtmf'.
   */
  pci_pause?: { pause_digits: string; resume_digits: string };
  /** Conferences only: one file per participant beside the mix, listed in the recording's tracks. */
  tracks?: boolean;
}

export const RECORDING_DEFAULTS: RecordingSpec = {
  format: 'wav',
  channels: 'mono',
  participant: 'all',
  sample_rate: 8000,
  time_limit: 3600,
  record_min_sec: 0,
  pause_behavior: 'skip',
  label: '',
  callback_method: 'POST',
  upload_method: 'PUT',
  beep: false,
};

export const RECORDING_OPTION_KEYS: readonly string[] = [
  'format',
  'channels',
  'participant',
  'sample_rate',
  'bitrate',
  'time_limit',
  'record_min_sec',
  'pause_behavior',
  'label',
  'callback_url',
  'callback_method',
  'upload_url',
  'upload_method',
  'beep',
  'pci_pause',
  'tracks',
];

/** A validation error that names the field ("recording.format"). */
export class RecordingOptionError extends InvalidArgumentError {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field} ${message}`);
    this.field = field;
  }
}

/**
 * A value as an error message quotes it: its JSON. A body value nested thousands deep makes
 * JSON.stringify overflow the stack; that RangeError must not escape as a 500 (found by fuzz/).
 */
function quote(v: unknown): string {
  try {
    return String(JSON.stringify(v));
  } catch {
    return Array.isArray(v) ? 'an array nested too deep to show' : 'an object nested too deep to show';
  }
}

/**
 * Checks and completes recording options. `where` prefixes field names
 * ("routes[1].recording", or "" for an API body).
 * @throws RecordingOptionError naming the field
 */
export function parseRecordingSpec(input: unknown, where = ''): RecordingSpec {
  const f = (k: string): string => (where ? `${where}.${k}` : k);
  if (input === undefined || input === null) return { ...RECORDING_DEFAULTS };
  if (typeof input !== 'object' || Array.isArray(input)) throw new RecordingOptionError(where || 'body', 'must be an object');
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!RECORDING_OPTION_KEYS.includes(k)) throw new RecordingOptionError(f(k), 'is not a recording option');
  const spec: RecordingSpec = { ...RECORDING_DEFAULTS };
  const oneOf = <T extends string | number>(k: string, values: readonly T[]): T | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    const norm = typeof v === 'string' && typeof values[0] === 'string' && values.includes(v.toUpperCase() as T) ? v.toUpperCase() : v;
    if (!values.includes(norm as T)) throw new RecordingOptionError(f(k), `must be one of ${values.join(', ')}, got ${quote(v)}`);
    return norm as T;
  };
  spec.format = oneOf('format', ['wav', 'mp3', 'opus'] as const) ?? spec.format;
  spec.channels = oneOf('channels', ['mono', 'stereo'] as const) ?? spec.channels;
  spec.participant = oneOf('participant', ['all', 'caller', 'callee'] as const) ?? spec.participant;
  spec.sample_rate = oneOf('sample_rate', [8000, 16000, 48000] as const) ?? spec.sample_rate;
  spec.pause_behavior = oneOf('pause_behavior', ['skip', 'silence'] as const) ?? spec.pause_behavior;
  spec.callback_method = oneOf('callback_method', ['GET', 'POST'] as const) ?? spec.callback_method;
  spec.upload_method = oneOf('upload_method', ['PUT', 'POST'] as const) ?? spec.upload_method;
  if (o.bitrate !== undefined) {
    if (!Number.isInteger(o.bitrate) || (o.bitrate as number) < 6 || (o.bitrate as number) > 510) {
      throw new RecordingOptionError(f('bitrate'), `must be an integer 6..510 (kbit/s), got ${quote(o.bitrate)}`);
    }
    if (spec.format === 'wav') throw new RecordingOptionError(f('bitrate'), 'applies to mp3 and opus only');
    spec.bitrate = o.bitrate as number;
  }
  if (o.time_limit !== undefined) {
    const t = o.time_limit;
    if (typeof t !== 'number' || !(t > 0 && t <= 86400)) throw new RecordingOptionError(f('time_limit'), `must be seconds in (0, 86400], got ${quote(t)}`);
    spec.time_limit = t;
  }
  if (o.record_min_sec !== undefined) {
    const t = o.record_min_sec;
    if (typeof t !== 'number' || !(t >= 0 && t <= 86400)) throw new RecordingOptionError(f('record_min_sec'), `must be seconds in [0, 86400], got ${quote(t)}`);
    spec.record_min_sec = t;
  }
  if (o.label !== undefined) {
    if (typeof o.label !== 'string' || o.label.length > 256) throw new RecordingOptionError(f('label'), 'must be a string of at most 256 characters');
    spec.label = o.label;
  }
  for (const k of ['callback_url', 'upload_url'] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'string' || !/^https?:\/\/[^\s]+$/.test(v) || v.length > 2048) throw new RecordingOptionError(f(k), 'must be an http(s) URL');
    spec[k] = v;
  }
  if (o.beep !== undefined) {
    if (typeof o.beep !== 'boolean') throw new RecordingOptionError(f('beep'), 'must be true or false');
    spec.beep = o.beep;
  }
  if (o.pci_pause !== undefined) {
    const p = o.pci_pause as Record<string, unknown> | null;
    const digits = /^[0-9A-D*#]{1,8}$/;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new RecordingOptionError(f('pci_pause'), 'must be an object {pause_digits, resume_digits}');
    for (const k of Object.keys(p)) if (k !== 'pause_digits' && k !== 'resume_digits') throw new RecordingOptionError(f(`pci_pause.${k}`), 'is not a pci_pause option');
    for (const k of ['pause_digits', 'resume_digits'] as const) {
      if (typeof p[k] !== 'string' || !digits.test(p[k] as string)) throw new RecordingOptionError(f(`pci_pause.${k}`), 'must be 1..8 DTMF characters (0-9, *, #, A-D)');
    }
    if (p.pause_digits === p.resume_digits) throw new RecordingOptionError(f('pci_pause.resume_digits'), 'must differ from pause_digits');
    spec.pci_pause = { pause_digits: p.pause_digits as string, resume_digits: p.resume_digits as string };
  }
  if (o.tracks !== undefined) {
    if (typeof o.tracks !== 'boolean') throw new RecordingOptionError(f('tracks'), 'must be true or false');
    spec.tracks = o.tracks;
  }
  if (spec.channels === 'stereo' && spec.participant !== 'all') {
    throw new RecordingOptionError(f('participant'), `must be all for a stereo recording (both parties), got ${spec.participant}`);
  }
  return spec;
}

export function channelCount(spec: RecordingSpec): ChannelCount {
  return spec.channels === 'stereo' ? 2 : 1;
}
