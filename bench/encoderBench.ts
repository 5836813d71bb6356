/**
 * Encoders in x realtime (seconds of audio per CPU second), beside ffmpeg's native encoders
 * (pcm_s16le, libmp3lame, libopus) on the same PCM in the same run. x realtime is also how many
 * recordings of that kind one core could encode, with nothing else to do. The Opus rows at
 * complexity 0, 5 (the default) and 10 rank the RECGATE_OPUS_COMPLEXITY setting on the encoder
 * alone, which the whole-gateway load bench (shared with sipp) cannot.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEncoder } from '../encoders/index.js';
import type { AudioFormat, ByteSink, SampleRate } from '../encoders/index.js';
import { ToneGenerator } from '../dsp/index.js';
import { noise } from './util.js';
import type { Row } from './util.js';

class NullSink implements ByteSink {
  bytes = 0;
  append(_b: Uint8Array, _o: number, length: number): void {
    this.bytes += length;
  }
  patch(): void {}
}

/** Speech-like test signal: a tone plus noise, 8 kHz. */
function signal(seconds: number, channels: 1 | 2): Int16Array {
  const n = 8000 * seconds;
  const out = new Int16Array(n * channels);
  const g = new ToneGenerator(440, 8000, 6000);
  const nz = noise(n * channels, 7);
  for (let c = 0; c < channels; c++) g.fill(out, c, n, channels);
  for (let i = 0; i < out.length; i++) out[i] = out[i]! + (nz[i]! >> 2);
  return out;
}

function ffmpegCpuSeconds(input: string, channels: number, codecArgs: string[]): number {
  const out = execFileSyncStderr([
    '-hide_banner',
    '-benchmark',
    '-f',
    's16le',
    '-ar',
    '8000',
    '-ac',
    String(channels),
    '-i',
    input,
    ...codecArgs,
    '-f',
    'null',
    '-',
  ]);
  const m = /utime=([\d.]+)s\s+stime=([\d.]+)s/.exec(out);
  return m ? Number(m[1]) + Number(m[2]) : NaN;
}

function execFileSyncStderr(args: string[]): string {
  const r = spawnSync('ffmpeg', args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  return r.stderr ?? '';
}

export function benchEncoders(): Row[] {
  const seconds = 60;
  const rows: Row[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-bench-'));
  try {
    const cases: [AudioFormat, 1 | 2, SampleRate, string[], number?][] = [
      ['wav', 1, 8000, ['-c:a', 'pcm_s16le']],
      ['wav', 2, 8000, ['-c:a', 'pcm_s16le']],
      ['mp3', 1, 8000, ['-c:a', 'libmp3lame', '-b:a', '32k']],
      ['mp3', 2, 8000, ['-c:a', 'libmp3lame', '-b:a', '64k']],
      ['opus', 1, 8000, ['-c:a', 'libopus', '-b:a', '24k', '-compression_level', '5']],
      ['opus', 2, 8000, ['-c:a', 'libopus', '-b:a', '48k', '-compression_level', '0'], 0],
      ['opus', 2, 8000, ['-c:a', 'libopus', '-b:a', '48k', '-compression_level', '5']],
      ['opus', 2, 8000, ['-c:a', 'libopus', '-b:a', '48k', '-compression_level', '10'], 10],
      ['opus', 1, 48000, ['-ar', '48000', '-c:a', 'libopus', '-b:a', '24k', '-compression_level', '5']],
    ];
    for (const [format, channels, rate, ffArgs, complexity] of cases) {
      const pcm = signal(seconds, channels);
      const raw = path.join(dir, `in${channels}.raw`);
      fs.writeFileSync(raw, Buffer.from(pcm.buffer));
      const frame = 160 * channels;
      const run = (): number => {
        const enc = createEncoder({ format, inputRate: 8000, sampleRate: rate, channels, ...(complexity !== undefined ? { complexity } : {}) }, new NullSink());
        const c0 = process.cpuUsage();
        for (let i = 0; i + frame <= pcm.length; i += frame) enc.write(pcm.subarray(i, i + frame));
        enc.close();
        const c = process.cpuUsage(c0);
        return (c.user + c.system) / 1e6;
      };
      run(); // warm-up
      const cpu = Math.min(run(), run());
      const ff = ffmpegCpuSeconds(raw, channels, ffArgs);
      rows.push({
        encoder: `${format} ${channels === 1 ? 'mono' : 'stereo'} ${rate / 1000} kHz${format === 'opus' ? `, complexity ${complexity ?? 5}` : ''}`,
        'recgate x realtime': seconds / cpu,
        // ffmpeg's CPU time includes its start-up and reading the raw input (~30 ms).
        'ffmpeg (native) x realtime': seconds / ff,
        'recgate / ffmpeg': ff / cpu,
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
