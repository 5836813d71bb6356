/**
 * `--profile`: a V8 CPU profile of the gateway child over the steady-state window only, taken
 * through its inspector (started with --inspect=127.0.0.1:0; the Profiler domain of the
 * DevTools protocol over WebSocket), and summarised as the functions with the most self time.
 * Profiling costs CPU, so a profiled run's figures are marked as such.
 */
import fs from 'node:fs';
import WebSocket from 'ws';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  startTime: number;
  endTime: number;
}

/** V8's sampling heap profile (HeapProfiler.stopSampling): allocations still live or not. */
export interface HeapProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  /** Bytes sampled as allocated by this frame itself. */
  selfSize: number;
  children: HeapProfileNode[];
}

export interface ProfileSession {
  stop(): Promise<CpuProfile>;
  /** The allocations sampled since the start (every ~`allocIntervalBytes`), garbage included. */
  stopAllocations(): Promise<HeapProfileNode>;
  close(): void;
}

/** A DevTools protocol session with a process's inspector (the ws:// URL it printed). */
export interface InspectorSession {
  call(method: string, params?: Record<string, unknown>): Promise<unknown>;
  /** Protocol events (no id): method and params. */
  onEvent: ((method: string, params: unknown) => void) | null;
  close(): void;
}

export async function connectInspector(wsUrl: string): Promise<InspectorSession> {
  const ws = new WebSocket(wsUrl);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let nextId = 1;
  const pending = new Map<number, (r: { result?: unknown; error?: { message: string } }) => void>();
  const session: InspectorSession = { call: () => Promise.resolve(undefined), onEvent: null, close: () => ws.close() };
  ws.on('message', (data: Buffer) => {
    const msg = JSON.parse(data.toString()) as { id?: number; method?: string; params?: unknown; result?: unknown; error?: { message: string } };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg);
    else if (msg.method !== undefined) session.onEvent?.(msg.method, msg.params);
  });
  const call = (method: string, params: Record<string, unknown> = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, (r) => {
        pending.delete(id);
        if (r.error) reject(new Error(`${method}: ${r.error.message}`));
        else resolve(r.result);
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  session.call = call;
  return session;
}

/** Writes a heap snapshot of the inspected process to `file` (HeapProfiler chunks, streamed). */
export async function writeHeapSnapshot(session: InspectorSession, file: string): Promise<void> {
  const out = fs.createWriteStream(file);
  session.onEvent = (method, params) => {
    if (method === 'HeapProfiler.addHeapSnapshotChunk') out.write((params as { chunk: string }).chunk);
  };
  await session.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  session.onEvent = null;
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

/** Connects to the inspector URL the child printed and starts sampling (every `intervalUs`). */
export async function startProfile(wsUrl: string, intervalUs = 500, allocIntervalBytes = 16384): Promise<ProfileSession> {
  const session = await connectInspector(wsUrl);
  const call = session.call;
  await call('Profiler.enable');
  await call('Profiler.setSamplingInterval', { interval: intervalUs });
  await call('Profiler.start');
  // Garbage included: what the collector has to clean up is what costs (GC threads and pauses).
  await call('HeapProfiler.enable');
  await call('HeapProfiler.startSampling', { samplingInterval: allocIntervalBytes, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return {
    async stop() {
      const r = (await call('Profiler.stop')) as { profile: CpuProfile };
      return r.profile;
    },
    async stopAllocations() {
      const r = (await call('HeapProfiler.stopSampling')) as { profile: { head: HeapProfileNode } };
      return r.profile.head;
    },
    close: () => session.close(),
  };
}

export interface ProfileLine {
  function: string;
  where: string;
  /** Share of the non-idle samples, in %. */
  selfPercent: number;
}

/** Self time per function (by name and source position), largest first. */
export function summariseProfile(p: CpuProfile, repoRoot: string, top = 20): { lines: ProfileLine[]; idlePercent: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, ProfileNode>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const hits = new Map<number, number>();
  if (p.samples && p.samples.length > 0) for (const s of p.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
  else for (const n of p.nodes) hits.set(n.id, n.hitCount ?? 0);
  let total = 0;
  let idle = 0;
  const self = new Map<string, { function: string; where: string; hits: number }>();
  for (const [id, h] of hits) {
    const n = byId.get(id);
    if (n === undefined) continue;
    total += h;
    // A frame without name or source is native code (an addon or binding function such as the
    // native UDP path's sendto): named after its caller, or every such frame sums into one line.
    const caller = parent.get(id)?.callFrame.functionName;
    const name = n.callFrame.functionName || (n.callFrame.url === '' && caller ? `(native, called by ${caller})` : '(anonymous)');
    if (name === '(idle)') {
      idle += h;
      continue;
    }
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(`${repoRoot}/`, '');
    // tsx-compiled files report line 0 (no source map in the profile): the file only.
    const where = url === '' ? '' : n.callFrame.lineNumber > 0 ? `${url}:${n.callFrame.lineNumber + 1}` : url;
    const key = `${name}@${where}`;
    const e = self.get(key) ?? { function: name, where, hits: 0 };
    e.hits += h;
    self.set(key, e);
  }
  const busy = Math.max(1, total - idle);
  const lines = [...self.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, top)
    .map((e) => ({ function: e.function, where: e.where, selfPercent: (e.hits / busy) * 100 }));
  return { lines, idlePercent: total === 0 ? 0 : (idle / total) * 100 };
}

export interface AllocationLine {
  function: string;
  where: string;
  /** Sampled bytes allocated per second of the window (MB/s). */
  mbPerSecond: number;
  percent: number;
}

/** Allocated bytes per function (self), largest first, as MB/s over `seconds`. */
export function summariseAllocations(head: HeapProfileNode, repoRoot: string, seconds: number, top = 15): { lines: AllocationLine[]; totalMbPerSecond: number } {
  const self = new Map<string, { function: string; where: string; bytes: number }>();
  let total = 0;
  const stack: HeapProfileNode[] = [head];
  while (stack.length > 0) {
    const n = stack.pop()!;
    stack.push(...n.children);
    if (n.selfSize === 0) continue;
    total += n.selfSize;
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(`${repoRoot}/`, '');
    const where = url === '' ? '' : n.callFrame.lineNumber > 0 ? `${url}:${n.callFrame.lineNumber + 1}` : url;
    const name = n.callFrame.functionName || '(anonymous)';
    const key = `${name}@${where}`;
    const e = self.get(key) ?? { function: name, where, bytes: 0 };
    e.bytes += n.selfSize;
    self.set(key, e);
  }
  const lines = [...self.values()]
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, top)
    .map((e) => ({ function: e.function, where: e.where, mbPerSecond: e.bytes / 1e6 / seconds, percent: total === 0 ? 0 : (e.bytes / total) * 100 }));
  return { lines, totalMbPerSecond: total / 1e6 / seconds };
}
