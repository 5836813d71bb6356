/**
 * `npm run bench`: the hot path (packet -> jitter buffer -> mixer -> encoder -> disk), each
 * figure beside a reference measured in the same run (scalar C built here with
 * gcc -O3 -fno-tree-vectorize, a plain JS loop, rtp.js, ffmpeg's native encoders, bare Node
 * sockets), so the results are ratios rather than absolute times on a shared machine.
 *
 * Options: --quick (shorter UDP run), --calls N, --seconds S (UDP run).
 */
import os from 'node:os';
import { benchMixer } from './mixerBench.js';
import { benchG711, benchParse, benchPipelineVirtual } from './codecBench.js';
import { benchEncoders } from './encoderBench.js';
import { benchUdp } from './udpBench.js';
import { benchStore } from './storeBench.js';
import { benchWrites } from './writeBench.js';
import { buildC, table } from './util.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 && process.argv[i + 1] !== undefined ? Number(process.argv[i + 1]) : fallback;
}

const quick = process.argv.includes('--quick');
const calls = arg('calls', 100);
const seconds = arg('seconds', quick ? 4 : 8);

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`# recgate bench — ${new Date().toISOString()}`);
console.log(`${cpu}, ${os.cpus().length} cores, Node ${process.version}${(globalThis as { gc?: unknown }).gc ? '' : ' (run with --expose-gc for the GC figures)'}`);
const c = buildC();
if (c === null) console.log('gcc not found: the C reference columns are n/a');

table('Mixer: output sample frames per second (mono: all legs; stereo: half the legs each side)', benchMixer(c));
table('G.711 decode', benchG711(c));
table('RTP header parse', benchParse());
table('Receive path in virtual time: 2 PCMU legs, every 8th pair reordered; 10^6 ticks for heap and GC', await benchPipelineVirtual());
table('Encoders (8 kHz input, 60 s of tone + noise), x realtime = audio seconds per CPU second', benchEncoders());
table("Store writes on the event loop per recording (insert + 2 state changes, a commit each), SQLite's checkpoints in the commits vs on a worker thread", await benchStore(quick ? 1000 : 3000));
table(
  "Recordings' file writes: 800 sinks fed a 20 ms stereo frame every 20 ms, flushed at the 250 ms boundaries; an fs.write each vs one threadpool job per event-loop turn",
  await benchWrites(800, quick ? 3 : 6),
);
table(
  `Whole pipeline over UDP on 127.0.0.1: ${calls} calls x 2 legs PCMU 20 ms, load generator in another process, ${seconds} s`,
  await benchUdp(calls, seconds),
);
