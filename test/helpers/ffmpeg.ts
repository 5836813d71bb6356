/**
 * Decoding our output with an independent decoder (ffmpeg via fluent-ffmpeg), so a test
 * checks what a player would hear, not what our own code believes it wrote.
 */
import ffmpeg from 'fluent-ffmpeg';
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

export interface DecodedAudio {
  /** Interleaved 16-bit PCM. */
  pcm: Int16Array;
  rate: number;
  channels: number;
  /** Sample frames per channel. */
  frames: number;
  /** frames / rate * 1000 */
  durationMs: number;
}

/**
 * Decodes any file ffmpeg can read to s16le PCM at `rate` Hz with `channels` channels
 * (defaults: the file's own, via a probe). Rejects with ffmpeg's message when it cannot decode.
 */
export async function decodeFile(path: string, opts: { rate?: number; channels?: number } = {}): Promise<DecodedAudio> {
  const probe = await probeFile(path);
  const rate = opts.rate ?? probe.rate;
  const channels = opts.channels ?? probe.channels;
  // Decoded to a temporary file, not a pipe: fluent-ffmpeg's piped output can report
  // "Output stream closed" when ffmpeg ends while the pipe closes under load.
  const tmp = fs.mkdtempSync(join(os.tmpdir(), 'recgate-decode-'));
  const out = join(tmp, 'pcm.raw');
  let buf: Buffer;
  try {
    await new Promise<void>((resolve, reject) => {
      ffmpeg(path)
        .audioCodec('pcm_s16le')
        .audioFrequency(rate)
        .audioChannels(channels)
        .format('s16le')
        .on('error', (err: Error) => reject(err))
        .on('end', () => resolve())
        .save(out);
    });
    buf = fs.readFileSync(out);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const pcm = new Int16Array(buf.buffer, buf.byteOffset, buf.byteLength >> 1).slice();
  const frames = pcm.length / channels;
  return { pcm, rate, channels, frames, durationMs: (frames / rate) * 1000 };
}

export interface ProbeInfo {
  codec: string;
  rate: number;
  channels: number;
  /** Container duration in ms as ffprobe reports it (NaN when unknown). */
  durationMs: number;
  formatName: string;
  bitRate: number;
}

/** ffprobe's view of the first audio stream. */
export function probeFile(path: string): Promise<ProbeInfo> {
  return new Promise((resolve, reject) => {
    ffmpeg.ffprobe(path, (err: unknown, data: ffmpeg.FfprobeData) => {
      if (err) return reject(err instanceof Error ? err : new Error(String(err)));
      const s = data.streams.find((x) => x.codec_type === 'audio');
      if (!s) return reject(new Error(`no audio stream in ${path}`));
      resolve({
        codec: String(s.codec_name),
        rate: Number(s.sample_rate),
        channels: Number(s.channels),
        durationMs: Number(data.format.duration) * 1000,
        formatName: String(data.format.format_name),
        bitRate: Number(data.format.bit_rate),
      });
    });
  });
}
