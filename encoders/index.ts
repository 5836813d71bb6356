/** Pluggable encoders: WAV, MP3 and Ogg Opus behind one small contract. */
export { AUDIO_FORMATS, SAMPLE_RATES, contentTypeOf, extensionOf } from './Encoder.js';
export type { AudioFormat, SampleRate, ChannelCount, ByteSink, EncoderOptions, Encoder } from './Encoder.js';
export { createEncoder, validateEncoderOptions } from './createEncoder.js';
export { WavEncoder, WAV_HEADER_BYTES } from './WavEncoder.js';
export {
  Mp3Encoder,
  mp3BitratesKbps,
  defaultMp3BitrateKbps,
  readMp3FrameHeader,
  newMp3FrameHeader,
  LAME_ENCODER_DELAY,
} from './Mp3Encoder.js';
export type { Mp3FrameHeader } from './Mp3Encoder.js';
export {
  OggOpusEncoder,
  OPUS_MIN_KBPS,
  OPUS_MAX_KBPS,
  OPUS_DEFAULT_KBPS_PER_CHANNEL,
  OPUS_DEFAULT_COMPLEXITY,
  OPUS_PRE_SKIP,
  OPUS_PACKETS_PER_PAGE,
} from './OggOpusEncoder.js';
export { OggWriter, oggCrc32, OGG_MAX_PAGE_BYTES, OGG_FLAG_BOS, OGG_FLAG_CONTINUED, OGG_FLAG_EOS } from './OggWriter.js';
export { repairRecording, repairWav, repairMp3, repairOgg } from './repair.js';
export type { RepairResult } from './repair.js';
export { EncoderPool, OffloadEncoder, OFFLOAD_BATCH_MS } from './OffloadEncoder.js';
