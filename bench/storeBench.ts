/**
 * The store's writes on the event loop: what one recording costs the gateway's thread in
 * SQLite (its row inserted, then the two state changes every recording goes through, each a
 * commit of its own as the recording service makes them), with SQLite's automatic checkpoint
 * inside the commits (the reference, SQLite's default) against checkpoints on a worker thread
 * (the gateway's setting, recorder/store/Checkpointer.ts). The tail is what matters: a commit
 * that checkpoints copies the WAL into the database file and fsyncs it, and every call and
 * packet on the event loop waits for it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../recorder/index.js';
import type { RecordingRow } from '../recorder/index.js';
import type { Row } from './util.js';
import { recordingRow } from '../test/helpers/rows.js';

/** A stereo WAV recording of its own call, as the gateway inserts it when a call is answered. */
function recording(id: string): RecordingRow {
  const now = new Date().toISOString();
  return recordingRow(id, { account_id: 'bench', reference_id: `call-${id}`, channels: 'stereo', options: { format: 'wav', channels: 'stereo' }, tm_start: now, tm_create: now, tm_update: now });
}

async function run(mode: 'auto' | 'worker', recordings: number): Promise<Row> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-store-bench-'));
  try {
    const store = SqliteStore.open(path.join(dir, 'recgate.db'), { checkpoint: mode });
    const now = new Date().toISOString();
    store.createAccount({ id: 'bench', name: 'bench', token_sha256: '', webhook_url: '', webhook_secret: '', admin: false, tm_create: now, tm_update: now });
    // The worker's first round (its thread starts) is not what is measured.
    if (mode === 'worker') await store.checkpointNow();
    const ms: number[] = [];
    for (let i = 0; i < recordings; i++) {
      const id = `r${i}`;
      const t0 = performance.now();
      store.insertRecording(recording(id));
      store.atomically(() => store.updateRecording(id, { status: 'stopping', tm_update: new Date().toISOString() }));
      store.atomically(() => store.updateRecording(id, { status: 'ended', duration_ms: 29_000, file_size: 464_044, checksum_sha256: 'ab'.repeat(32) }));
      ms.push(performance.now() - t0);
      // Let the worker's rounds land between recordings, as they do between calls.
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    const stats = store.checkpointStats();
    store.close();
    ms.sort((a, b) => a - b);
    const at = (q: number): number => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!;
    return {
      checkpoints: mode === 'auto' ? 'in the commits (SQLite default)' : `worker thread (${stats?.rounds ?? 0} rounds)`,
      recordings,
      'mean ms': ms.reduce((s, v) => s + v, 0) / ms.length,
      'p50 ms': at(0.5),
      'p99 ms': at(0.99),
      'max ms': ms[ms.length - 1]!,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchStore(recordings = 3000): Promise<Row[]> {
  const auto = await run('auto', recordings);
  const worker = await run('worker', recordings);
  const ratio = (k: string): string => `${((worker[k] as number) / (auto[k] as number)).toFixed(2)}x`;
  return [auto, worker, { checkpoints: 'worker / in the commits', recordings: '', 'mean ms': ratio('mean ms'), 'p50 ms': ratio('p50 ms'), 'p99 ms': ratio('p99 ms'), 'max ms': ratio('max ms') }];
}
