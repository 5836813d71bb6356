/**
 * What holds the ArrayBuffers of a heap snapshot (bench:soak --heap-snapshot, or one saved from
 * Chrome DevTools):
 *
 *   node --max-old-space-size=4096 --import tsx bench/load/heapRetainers.ts FILE [--top N] [--name CLASS]
 *
 * With --name, the objects of that class (e.g. Call) instead of ArrayBuffers: what keeps them.
 *
 * Each ArrayBuffer's backing store is followed to the GC roots along its shortest retainer path
 * (as DevTools' Retainers view does), and the bytes are summed per path, written as the chain
 * of object names from the buffer out (property and closure-context names between). The few
 * paths holding most bytes say which object keeps audio alive that should have let go.
 */
import fs from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

function main(): void {
  const file = process.argv[2];
  if (file === undefined) {
    console.error('usage: node --max-old-space-size=4096 --import tsx bench/load/heapRetainers.ts FILE [--top N] [--name CLASS]');
    process.exit(2);
  }
  const topArg = process.argv.indexOf('--top');
  const top = topArg === -1 ? 12 : Number(process.argv[topArg + 1]);
  const nameArg = process.argv.indexOf('--name');
  const wanted = nameArg === -1 ? 'system / JSArrayBufferData' : process.argv[nameArg + 1]!;
  const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as Snapshot;
  const meta = snap.snapshot.meta;
  const NF = meta.node_fields.length;
  const EF = meta.edge_fields.length;
  const nType = meta.node_fields.indexOf('type');
  const nName = meta.node_fields.indexOf('name');
  const nSize = meta.node_fields.indexOf('self_size');
  const nEdges = meta.node_fields.indexOf('edge_count');
  const eType = meta.edge_fields.indexOf('type');
  const eName = meta.edge_fields.indexOf('name_or_index');
  const eTo = meta.edge_fields.indexOf('to_node');
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const weak = edgeTypes.indexOf('weak');
  const nodes = snap.nodes;
  const edges = snap.edges;
  const count = nodes.length / NF;

  // Reverse edges (retainers) and the first edge of each node.
  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0, e = 0; i < count; i++) {
    firstEdge[i] = e;
    e += nodes[i * NF + nEdges]! * EF;
    firstEdge[i + 1] = e;
  }
  const retainerCount = new Uint32Array(count + 1);
  for (let e = 0; e < edges.length; e += EF) if (edges[e + eType] !== weak) retainerCount[edges[e + eTo]! / NF]!++;
  const retainerStart = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) retainerStart[i + 1] = retainerStart[i]! + retainerCount[i]!;
  const retainers = new Uint32Array(retainerStart[count]!); // edge index of each retaining edge
  const fill = retainerStart.slice();
  const edgeOwner = new Uint32Array(edges.length / EF);
  for (let i = 0; i < count; i++) {
    for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += EF) {
      edgeOwner[e / EF] = i;
      if (edges[e + eType] !== weak) retainers[fill[edges[e + eTo]! / NF]!++] = e;
    }
  }
  // Distance from the root (node 0), over strong edges: the shortest path goes the nearest way.
  const dist = new Int32Array(count).fill(-1);
  dist[0] = 0;
  let queue = [0];
  while (queue.length > 0) {
    const next: number[] = [];
    for (const i of queue) {
      for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += EF) {
        if (edges[e + eType] === weak) continue;
        const t = edges[e + eTo]! / NF;
        if (dist[t] === -1) {
          dist[t] = dist[i]! + 1;
          next.push(t);
        }
      }
    }
    queue = next;
  }

  const name = (i: number): string => {
    const type = nodeTypes[nodes[i * NF + nType]!]!;
    const n = snap.strings[nodes[i * NF + nName]!]!;
    return type === 'closure' ? `${n || '(anonymous)'}()` : type === 'object' || type === 'native' ? n : `(${type})`;
  };
  const edgeLabel = (e: number): string => {
    const t = edgeTypes[edges[e + eType]!]!;
    const v = edges[e + eName]!;
    return t === 'element' || t === 'hidden' ? `[${v}]` : t === 'context' ? `ctx.${snap.strings[v]}` : `.${snap.strings[v] ?? v}`;
  };

  const byPath = new Map<string, { bytes: number; buffers: number }>();
  let total = 0;
  let buffers = 0;
  for (let i = 0; i < count; i++) {
    const n = snap.strings[nodes[i * NF + nName]!]!;
    if (n !== wanted || (nameArg !== -1 && nodeTypes[nodes[i * NF + nType]!] !== 'object')) continue;
    const bytes = nodes[i * NF + nSize]!;
    total += bytes;
    buffers++;
    const parts: string[] = [];
    let at = i;
    for (let hop = 0; hop < 14 && at !== 0; hop++) {
      let best = -1;
      for (let r = retainerStart[at]!; r < retainerStart[at + 1]!; r++) {
        const from = edgeOwner[retainers[r]! / EF]!;
        if (dist[from]! >= 0 && (best === -1 || dist[from]! < dist[edgeOwner[retainers[best]! / EF]!]!)) best = r;
      }
      if (best === -1) {
        parts.push('(unreachable)');
        break;
      }
      const e = retainers[best]!;
      const from = edgeOwner[e / EF]!;
      parts.push(`${edgeLabel(e)} ${name(from)}`);
      at = from;
    }
    const key = parts.join(' <- ');
    const entry = byPath.get(key) ?? { bytes: 0, buffers: 0 };
    entry.bytes += bytes;
    entry.buffers++;
    byPath.set(key, entry);
  }
  console.log(`${buffers} ${nameArg === -1 ? 'ArrayBuffers' : `${wanted} objects`}, ${(total / 2 ** 20).toFixed(1)} MiB (self); the paths holding the most:`);
  for (const [path, e] of [...byPath.entries()].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, top)) {
    console.log(`\n${(e.bytes / 2 ** 20).toFixed(1)} MiB in ${e.buffers}: ${nameArg === -1 ? 'buffer' : wanted} ${path}`);
  }
}

main();
