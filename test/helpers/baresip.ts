/**
 * baresip as a real third-party caller (tier 3, RECIPES "baresip as caller (headless)"): a
 * scratch config dir whose audio source is a WAV file, the process run with stdin from
 * /dev/null, its output kept for failure messages, and a kill that never leaves it running.
 * Also the deterministic speech it sends (espeak-ng, then sox without dither).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';

/** Debian packages that provide each tool the interop tests need. */
const PACKAGES: Record<string, string> = {
  baresip: 'baresip-core',
  'espeak-ng': 'espeak-ng',
  sox: 'sox',
  ffmpeg: 'ffmpeg',
};

/**
 * The absolute path of an installed tool. Throws (so the test fails, not skips) with the
 * package to install when `which` does not find it.
 */
export function requireTool(name: string): string {
  const r = spawnSync('which', [name], { encoding: 'utf8' });
  const found = r.status === 0 ? r.stdout.trim() : '';
  if (found === '') {
    const pkg = PACKAGES[name] ?? name;
    throw new Error(`${name} is not installed ("which ${name}" failed): apt-get install -y --no-install-recommends ${pkg}`);
  }
  return found;
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  if (r.error) throw new Error(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(-500)}`);
}

/**
 * Speaks `text` into `<dir>/<name>.wav`: 8 kHz mono 16-bit PCM (what baresip's aufile source
 * reads). The same text gives the same bytes on every run (espeak-ng is deterministic and
 * `sox -D` turns dither off). Returns the file's path.
 */
export function speechWav(dir: string, name: string, text: string): string {
  requireTool('espeak-ng');
  requireTool('sox');
  const raw = path.join(dir, `${name}_raw.wav`);
  const out = path.join(dir, `${name}.wav`);
  run('espeak-ng', ['-v', 'en-us', '-s', '150', '-w', raw, text]);
  run('sox', ['-D', raw, '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', out]);
  fs.rmSync(raw, { force: true });
  return out;
}

/** A UDP port free on 127.0.0.1 right now (the kernel's pick; released before returning). */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => resolve());
  });
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface BaresipConfigOptions {
  /** Absolute path of an 8 kHz mono 16-bit WAV: what baresip sends. */
  audioFile: string;
  /** baresip's SIP UDP port on 127.0.0.1. */
  sipPort: number;
  /** baresip's RTP port range, inclusive. */
  rtpPorts: [number, number];
  /** Codec list for the account (baresip names); default PCMU. */
  audioCodecs?: string;
}

/** Writes config, accounts and an empty contacts file into `dir` (created if needed); returns `dir`. */
export function writeBaresipConfig(dir: string, opts: BaresipConfigOptions): string {
  if (!path.isAbsolute(opts.audioFile)) throw new TypeError(`audioFile must be absolute: ${opts.audioFile}`);
  fs.mkdirSync(dir, { recursive: true });
  const config = [
    'poll_method epoll',
    `sip_listen 127.0.0.1:${opts.sipPort}`,
    'sip_transports udp',
    `audio_source aufile,${opts.audioFile}`,
    'audio_alert aufile,/dev/null',
    'audio_player aufile,/dev/null',
    'ausrc_srate 8000',
    'ausrc_channels 1',
    `rtp_ports ${opts.rtpPorts[0]}-${opts.rtpPorts[1]}`,
    // The IP, not "lo" (RECIPES pitfall).
    'net_interface 127.0.0.1',
    'module_path /usr/lib/baresip/modules',
    'module g711.so',
    'module aufile.so',
    'module_app account.so',
    // No stdio.so: stdin is /dev/null.
    'module_app menu.so',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'config'), config);
  fs.writeFileSync(path.join(dir, 'accounts'), `<sip:baresip@127.0.0.1>;regint=0;audio_codecs=${opts.audioCodecs ?? 'PCMU'}\n`);
  fs.writeFileSync(path.join(dir, 'contacts'), '');
  return dir;
}

export interface BaresipExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr interleaved as received. */
  output: string;
}

/** A running baresip. Always call kill() in a finally (it is a no-op once the process exited). */
export class BaresipProcess {
  readonly child: ChildProcess;
  /** Resolves when the process has exited (never rejects; a spawn failure is code null). */
  readonly exited: Promise<BaresipExit>;
  #output = '';
  #done = false;

  private constructor(child: ChildProcess) {
    this.child = child;
    const add = (d: Buffer): void => {
      // Keep the tail only: baresip prints a status line many times a second.
      this.#output = (this.#output + d.toString('utf8')).slice(-64 * 1024);
    };
    child.stdout?.on('data', add);
    child.stderr?.on('data', add);
    this.exited = new Promise<BaresipExit>((resolve) => {
      child.once('error', (err) => {
        this.#done = true;
        this.#output += `\nspawn error: ${err.message}`;
        resolve({ code: null, signal: null, output: this.#output });
      });
      child.once('close', (code, signal) => {
        this.#done = true;
        resolve({ code, signal, output: this.#output });
      });
    });
  }

  /**
   * Starts `baresip -f cfgDir -e '/dial <uri>' -t <timeoutSec>` with stdin from /dev/null.
   * baresip hangs up by itself when its audio file ends, and quits after timeoutSec.
   */
  static start(opts: { configDir: string; dial: string; timeoutSec: number }): BaresipProcess {
    const bin = requireTool('baresip');
    if (!Number.isSafeInteger(opts.timeoutSec) || opts.timeoutSec <= 0) throw new RangeError(`timeoutSec must be a positive integer, got ${opts.timeoutSec}`);
    const child = spawn(bin, ['-f', opts.configDir, '-e', `/dial ${opts.dial}`, '-t', String(opts.timeoutSec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new BaresipProcess(child);
  }

  get output(): string {
    return this.#output;
  }

  get running(): boolean {
    return !this.#done;
  }

  /** Waits up to `ms` for the process to exit on its own; true when it did. */
  async waitExit(ms: number): Promise<boolean> {
    if (this.#done) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const done = await Promise.race([this.exited.then(() => true as const), timeout]);
    clearTimeout(timer);
    return done;
  }

  /** SIGTERM (baresip hangs up and quits), SIGKILL after `graceMs`; resolves once it exited. */
  async kill(graceMs = 2000): Promise<BaresipExit> {
    if (!this.#done) {
      this.child.kill('SIGTERM');
      if (!(await this.waitExit(graceMs)) && !this.#done) this.child.kill('SIGKILL');
    }
    return this.exited;
  }
}
