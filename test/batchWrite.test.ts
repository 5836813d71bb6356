/**
 * The recordings' file writes of one event-loop turn reach the threadpool as one job
 * (recorder/batchWrite.ts, native/fileio.c): many sinks' bytes in few jobs, each file's bytes
 * in order, a failing file failing alone, and fs.write per write without the addon.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileSink, batchWriteStats } from '../recorder/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-batchwrite-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Byte k of sink i's file. */
const byte = (i: number, k: number): number => (i * 7 + k) & 0xff;

function pattern(i: number, from: number, length: number): Uint8Array {
  const b = new Uint8Array(length);
  for (let k = 0; k < length; k++) b[k] = byte(i, from + k);
  return b;
}

async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(done(), what);
}

/** Waits until no other file of this process is being written (an earlier test's recordings closing). */
async function quiet(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const jobs = batchWriteStats().jobs;
    await new Promise((r) => setTimeout(r, 50));
    if (batchWriteStats().jobs === jobs && batchWriteStats().inFlight === 0) return;
  }
  assert.unreachable('the process kept writing files for 5 s');
}

test('300 sinks flushing in one turn: 2 threadpool jobs, not 300 writes each its own; every file whole and in order', async () => {
  assert.match(batchWriteStats().path, /^batched/);
  const n = 300;
  const sinks = await Promise.all(Array.from({ length: n }, (_, i) => FileSink.create(path.join(dir, `s${i}.bin`), { chunkBytes: 1024, flushIntervalMs: 0 })));
  await quiet();
  const s0 = batchWriteStats();
  // One turn: 1,000 bytes each, flushed.
  sinks.forEach((s, i) => s.append(pattern(i, 0, 1000), 0, 1000));
  for (const s of sinks) s.flush();
  await until(() => sinks.every((s) => s.writes === 1), 'every sink wrote its first 1,000 bytes');
  const s1 = batchWriteStats();
  assert.is(s1.writes - s0.writes, n);
  assert.is(s1.jobs - s0.jobs, 2, '256 + 44');
  assert.is(s1.largestJob, 256);
  // Three writes queued per sink (two full chunks and the rest), then a header patched over
  // bytes already queued: each sink has one write in flight, so its writes take a turn (a
  // job) each, and the patch lands after the bytes it overwrites.
  sinks.forEach((s, i) => {
    s.append(pattern(i, 1000, 3000), 0, 3000);
    s.flush();
    s.patch(0, Uint8Array.of(0xde, 0xad, 0xbe, 0xef));
  });
  await Promise.all(sinks.map((s) => s.close()));
  const s2 = batchWriteStats();
  assert.is(s2.writes - s1.writes, n * 4);
  // Four rounds of 300 writes: two jobs each as a rule (256 + 44). A sink's next write waits
  // for its last, so rounds cannot share a job, but a completion that lands in another turn
  // than its round's other job (or a close's last write after its await) can split a round:
  // one full-suite run counted 9. What the batching guarantees is far fewer jobs than writes.
  const jobs = s2.jobs - s1.jobs;
  assert.ok(jobs >= 4 && jobs <= 12, `four rounds of 300 writes in ${jobs} jobs (8 as a rule)`);
  assert.ok(s2.largestJob <= 256, `at most 256 writes a job: ${s2.largestJob}`);
  assert.is(s2.inFlight, 0);
  for (let i = 0; i < n; i++) {
    const bytes = fs.readFileSync(path.join(dir, `s${i}.bin`));
    assert.is(bytes.length, 4000);
    assert.equal([...bytes.subarray(0, 4)], [0xde, 0xad, 0xbe, 0xef], `sink ${i}: the patch after the bytes it overwrites`);
    for (let k = 4; k < 4000; k++) if (bytes[k] !== byte(i, k)) assert.unreachable(`sink ${i} byte ${k}: ${bytes[k]} != ${byte(i, k)}`);
  }
});

test('a full disk in the same job as a healthy file: only that sink fails, with ENOSPC; the other is written', async () => {
  const full = await FileSink.create('/dev/full', { overwrite: true, flushIntervalMs: 0 });
  const ok = await FileSink.create(path.join(dir, 'beside-full.bin'), { flushIntervalMs: 0 });
  const errors: string[] = [];
  full.onError = (e) => errors.push(e.message);
  await quiet();
  const s0 = batchWriteStats();
  full.append(pattern(1, 0, 500), 0, 500);
  ok.append(pattern(2, 0, 500), 0, 500);
  full.flush();
  ok.flush();
  await until(() => errors.length > 0 && ok.writes === 1, 'both writes done');
  assert.is(batchWriteStats().jobs - s0.jobs, 1, 'one job for both');
  assert.match(errors[0]!, /ENOSPC/);
  assert.is(full.error?.code, 'ERR_IO');
  await full.close().then(
    () => assert.unreachable('close reports the failure'),
    (e: { code: string }) => assert.is(e.code, 'ERR_IO'),
  );
  await ok.close();
  assert.equal([...fs.readFileSync(path.join(dir, 'beside-full.bin'))], [...pattern(2, 0, 500)]);
});

test('without the addon (RECGATE_NATIVE_WRITES=0) every write is an fs.write, with the same result', () => {
  const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
  const file = path.join(dir, 'fallback.bin');
  const script = `
    import { FileSink, batchWriteStats } from ${JSON.stringify(path.join(root, 'recorder/index.ts'))};
    const sink = await FileSink.create(${JSON.stringify(file)}, { chunkBytes: 1024, flushIntervalMs: 0 });
    const b = new Uint8Array(3000).map((_, k) => k & 0xff);
    sink.append(b, 0, 3000);
    sink.patch(0, Uint8Array.of(9, 9));
    await sink.close();
    console.log(JSON.stringify({ stats: batchWriteStats(), writes: sink.writes }));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    env: { ...process.env, RECGATE_NATIVE_WRITES: '0' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { stats: ReturnType<typeof batchWriteStats>; writes: number };
  assert.match(out.stats.path, /^fs\.write per write \(RECGATE_NATIVE_WRITES=0\)/);
  assert.is(out.stats.jobs, 0);
  assert.is(out.writes, 4, 'two full chunks, the rest, the patch');
  const bytes = fs.readFileSync(file);
  assert.is(bytes.length, 3000);
  assert.equal([...bytes.subarray(0, 4)], [9, 9, 2, 3]);
  for (let k = 2; k < 3000; k++) if (bytes[k] !== (k & 0xff)) assert.unreachable(`byte ${k}`);
});

test.run();
