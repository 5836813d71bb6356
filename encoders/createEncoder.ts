/**
 * The one way in: options are checked here, once, when the encoder is built (STYLE.md point 4),
 * so a bad recording request fails before any file exists.
 */
import { AUDIO_FORMATS, SAMPLE_RATES } from './Encoder.js';
import type { AudioFormat, ByteSink, ChannelCount, Encoder, EncoderOptions, SampleRate } from './Encoder.js';
import { InvalidArgumentError, OutOfRangeError } from '../common/index.js';
import { WavEncoder } from './WavEncoder.js';
import { Mp3Encoder, mp3BitratesKbps } from './Mp3Encoder.js';
import { OggOpusEncoder, OPUS_MAX_KBPS, OPUS_MIN_KBPS } from './OggOpusEncoder.js';

const KNOWN_KEYS: readonly string[] = ['format', 'inputRate', 'sampleRate', 'channels', 'bitrateKbps', 'complexity'];

/**
 * Checks untrusted options (e.g. parsed JSON) and returns a clean EncoderOptions.
 * Wrong type, unknown key or unknown format -> InvalidArgumentError (ERR_INVALID_ARGUMENT);
 * a number outside what the format supports -> OutOfRangeError (ERR_OUT_OF_RANGE).
 * Every message starts with the field name.
 */
export function validateEncoderOptions(input: unknown): EncoderOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidArgumentError('options: expected an object');
  }
  const o = input as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN_KEYS.includes(key)) throw new InvalidArgumentError(`${key}: unknown option (known: ${KNOWN_KEYS.join(', ')})`);
  }

  const format = o['format'];
  if (typeof format !== 'string' || !(AUDIO_FORMATS as readonly string[]).includes(format)) {
    throw new InvalidArgumentError(`format: expected one of ${AUDIO_FORMATS.join(', ')}, got ${describe(format)}`);
  }
  const inputRate = rateField(o, 'inputRate');
  const sampleRate = rateField(o, 'sampleRate');
  const channels = o['channels'];
  if (typeof channels !== 'number') throw new InvalidArgumentError(`channels: expected a number, got ${describe(channels)}`);
  if (channels !== 1 && channels !== 2) throw new OutOfRangeError(`channels: ${channels} is not 1 or 2`);

  const options: EncoderOptions = { format: format as AudioFormat, inputRate, sampleRate, channels: channels as ChannelCount };

  const bitrate = o['bitrateKbps'];
  if (bitrate !== undefined) {
    if (typeof bitrate !== 'number' || !Number.isFinite(bitrate)) {
      throw new InvalidArgumentError(`bitrateKbps: expected a number, got ${describe(bitrate)}`);
    }
    if (format === 'mp3') {
      const allowed = mp3BitratesKbps(sampleRate, channels);
      if (!allowed.includes(bitrate)) {
        throw new OutOfRangeError(
          `bitrateKbps: ${bitrate} is not an MP3 bit rate for ${channels} channel(s) at ${sampleRate} Hz (allowed: ${allowed.join(', ')})`,
        );
      }
    } else if (format === 'opus' && (bitrate < OPUS_MIN_KBPS || bitrate > OPUS_MAX_KBPS)) {
      throw new OutOfRangeError(`bitrateKbps: ${bitrate} is outside ${OPUS_MIN_KBPS}..${OPUS_MAX_KBPS} for Opus`);
    } else if (bitrate <= 0) {
      throw new OutOfRangeError(`bitrateKbps: ${bitrate} must be positive`);
    }
    options.bitrateKbps = bitrate;
  }

  const complexity = o['complexity'];
  if (complexity !== undefined) {
    if (typeof complexity !== 'number') throw new InvalidArgumentError(`complexity: expected a number, got ${describe(complexity)}`);
    if (!Number.isInteger(complexity) || complexity < 0 || complexity > 10) {
      throw new OutOfRangeError(`complexity: ${complexity} is not an integer 0..10`);
    }
    options.complexity = complexity;
  }
  return options;
}

/** Validates `options` and builds the encoder for its format; the encoder appends to `sink`. */
export function createEncoder(options: EncoderOptions, sink: ByteSink): Encoder {
  const o = validateEncoderOptions(options);
  switch (o.format) {
    case 'wav':
      return new WavEncoder(o, sink);
    case 'mp3':
      return new Mp3Encoder(o, sink);
    case 'opus':
      return new OggOpusEncoder(o, sink);
  }
}

function rateField(o: Record<string, unknown>, name: 'inputRate' | 'sampleRate'): SampleRate {
  const v = o[name];
  if (typeof v !== 'number') throw new InvalidArgumentError(`${name}: expected a number, got ${describe(v)}`);
  if (!(SAMPLE_RATES as readonly number[]).includes(v)) {
    throw new OutOfRangeError(`${name}: ${v} Hz is not one of ${SAMPLE_RATES.join(', ')}`);
  }
  return v as SampleRate;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'undefined') return String(v);
  return typeof v;
}
