/**
 * Recording options, the same wherever a recording starts (a route, later the API and flows).
 * Names follow the REST API (snake_case). Validation names the offending field.
 */
import { InvalidArgumentError } from '../common/index.js';
import type { AudioFormat, ChannelCount, SampleRate } from '../encoders/index.js';
import type { PauseBehavior } from '../recorder/index.js';

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
  pause_behavior: PauseBehavior;
  label?: string;
}

export const RECORDING_DEFAULTS: RecordingSpec = {
  format: 'wav',
  channels: 'mono',
  participant: 'all',
  sample_rate: 8000,
  time_limit: 3600,
  pause_behavior: 'skip',
};

const KEYS = new Set(['format', 'channels', 'participant', 'sample_rate', 'bitrate', 'time_limit', 'pause_behavior', 'label']);

/**
 * Checks and completes recording options. `where` prefixes error messages
 * ("routes[1].recording").
 * @throws InvalidArgumentError naming the field
 */
export function parseRecordingSpec(input: unknown, where: string): RecordingSpec {
  if (input === undefined || input === null) return { ...RECORDING_DEFAULTS };
  if (typeof input !== 'object' || Array.isArray(input)) throw new InvalidArgumentError(`${where} must be an object or false`);
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.has(k)) throw new InvalidArgumentError(`${where}.${k} is not a recording option`);
  const spec: RecordingSpec = { ...RECORDING_DEFAULTS };
  const oneOf = <T extends string | number>(k: string, values: readonly T[]): T | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (!values.includes(v as T)) throw new InvalidArgumentError(`${where}.${k} must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  };
  spec.format = oneOf('format', ['wav', 'mp3', 'opus'] as const) ?? spec.format;
  spec.channels = oneOf('channels', ['mono', 'stereo'] as const) ?? spec.channels;
  spec.participant = oneOf('participant', ['all', 'caller', 'callee'] as const) ?? spec.participant;
  spec.sample_rate = oneOf('sample_rate', [8000, 16000, 48000] as const) ?? spec.sample_rate;
  spec.pause_behavior = oneOf('pause_behavior', ['skip', 'silence'] as const) ?? spec.pause_behavior;
  if (o.bitrate !== undefined) {
    if (!Number.isInteger(o.bitrate) || (o.bitrate as number) < 6 || (o.bitrate as number) > 510) {
      throw new InvalidArgumentError(`${where}.bitrate must be an integer 6..510 (kbit/s), got ${JSON.stringify(o.bitrate)}`);
    }
    spec.bitrate = o.bitrate as number;
  }
  if (o.time_limit !== undefined) {
    const t = o.time_limit;
    if (typeof t !== 'number' || !(t > 0 && t <= 86400)) {
      throw new InvalidArgumentError(`${where}.time_limit must be seconds in (0, 86400], got ${JSON.stringify(t)}`);
    }
    spec.time_limit = t;
  }
  if (o.label !== undefined) {
    if (typeof o.label !== 'string' || o.label.length > 256) throw new InvalidArgumentError(`${where}.label must be a string of at most 256 characters`);
    spec.label = o.label;
  }
  if (spec.channels === 'stereo' && spec.participant !== 'all') {
    throw new InvalidArgumentError(`${where}: stereo records both parties; participant must be all, got ${spec.participant}`);
  }
  return spec;
}

export function channelCount(spec: RecordingSpec): ChannelCount {
  return spec.channels === 'stereo' ? 2 : 1;
}
