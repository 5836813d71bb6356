/** Pluggable encoders: WAV, MP3 and Ogg Opus behind one small contract. */
export { AUDIO_FORMATS, SAMPLE_RATES, contentTypeOf, extensionOf } from './Encoder.js';
export type { AudioFormat, SampleRate, ChannelCount, ByteSink, EncoderOptions, Encoder } from './Encoder.js';
