/**
 * The encoder contract (after pion's media.Writer): open with validated options, write PCM
 * frames, close once (a second close is a no-op), report bytes and duration.
 *
 * Encoders know nothing of files, SIP or HTTP: they hand bytes to a ByteSink. The recorder's
 * file sink queues them to disk; tests use a memory sink.
 */

export type AudioFormat = 'wav' | 'mp3' | 'opus';
/** File sample rates a recording may ask for, in Hz. */
export type SampleRate = 8000 | 16000 | 48000;
export type ChannelCount = 1 | 2;

export const AUDIO_FORMATS: readonly AudioFormat[] = ['wav', 'mp3', 'opus'];
export const SAMPLE_RATES: readonly SampleRate[] = [8000, 16000, 48000];

/** Where an encoder puts its bytes. */
export interface ByteSink {
  /**
   * Appends `length` bytes of `bytes` from `offset` at the end of the output. The sink copies
   * them before returning: the encoder reuses its buffers.
   */
  append(bytes: Uint8Array, offset: number, length: number): void;
  /**
   * Overwrites bytes at absolute byte `position` (already appended), e.g. the WAV sizes on close.
   * The sink copies them before returning.
   */
  patch(position: number, bytes: Uint8Array): void;
}

export interface EncoderOptions {
  format: AudioFormat;
  /** Rate of the PCM passed to write(), in Hz (the mixer's rate: 8000, 16000 or 48000). */
  inputRate: SampleRate;
  /** Rate of the file, in Hz; resampled with a low-pass FIR when it differs from inputRate. */
  sampleRate: SampleRate;
  /** 1 = mono, 2 = interleaved stereo (left, right). */
  channels: ChannelCount;
  /** Bit rate in kbit/s for mp3 and opus; ignored for wav. Defaults: mp3 32 per channel, opus 24 per channel. */
  bitrateKbps?: number;
  /** Opus encoder complexity 0..10 (CPU versus quality); default 5. Ignored for other formats. */
  complexity?: number;
}

export interface Encoder {
  readonly format: AudioFormat;
  readonly inputRate: SampleRate;
  readonly sampleRate: SampleRate;
  readonly channels: ChannelCount;
  /**
   * Encodes interleaved 16-bit PCM at inputRate. Any number of sample frames
   * (frame.length / channels) is accepted; the encoder buffers partial codec frames.
   * Steady state allocates nothing in our code (lamejs and libopus bindings return fresh buffers).
   * @throws InvalidStateError after close()
   */
  write(frame: Int16Array): void;
  /** Flushes codec delay and partial frames, writes trailers, patches headers. Idempotent. */
  close(): void;
  readonly closed: boolean;
  /** Bytes handed to the sink so far (equals the file size after close). */
  readonly bytesWritten: number;
  /** Sample frames (per channel) of audio in the file, at sampleRate. */
  readonly samplesWritten: number;
  /** samplesWritten in milliseconds. */
  readonly durationMs: number;
}

/** MIME type of each format, for HTTP downloads. */
export function contentTypeOf(format: AudioFormat): string {
  switch (format) {
    case 'wav':
      return 'audio/wav';
    case 'mp3':
      return 'audio/mpeg';
    case 'opus':
      return 'audio/ogg';
  }
}

/** File extension (without dot) of each format. */
export function extensionOf(format: AudioFormat): string {
  switch (format) {
    case 'wav':
      return 'wav';
    case 'mp3':
      return 'mp3';
    case 'opus':
      return 'ogg';
  }
}
