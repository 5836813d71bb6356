/**
 * The gateway as bench/load runs it: `node --import tsx bin/recgate.ts` in a child process,
 * configured only through RECGATE_* variables (calls/config.ts), on 127.0.0.1 with ports the
 * kernel picks (SIP and HTTP port 0, read back from its start-up lines), a scratch data dir and
 * a routes file; plus a small client for its API, /metrics and /healthz.
 */
import fs from 'node:fs';
import path from 'node:path';
import { benchDir } from '../util.js';
import { startChild, stopChild, waitForOutput } from './processes.js';
import type { Child } from './processes.js';

export interface GatewayChildOptions {
  dataDir: string;
  routes: unknown;
  rtpPorts: { min: number; max: number };
  apiToken: string;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeFlags?: string[];
}

export interface GatewayChild {
  child: Child;
  pid: number;
  sipPort: number;
  httpPort: number;
  dataDir: string;
  /** GET an API path with the admin token; parsed JSON. */
  api<T>(pathAndQuery: string): Promise<T>;
  /** /metrics as name -> value (unlabelled samples only). Scraping resets the loop-delay p99. */
  metrics(): Promise<Record<string, number>>;
  healthz(): Promise<{
    activeCalls: number;
    callsTotal: number;
    rtpPortsInUse: number;
    sip: Record<string, unknown>;
    rejected: Record<string, number>;
    /** The overload guard: the last period's median event-loop delay and utilization, and periods at or over its threshold so far. */
    admission: { delayP50Ms: number; utilization: number; encoderLagMs: number; overloadedPeriods: number };
  }>;
  /** SIGTERM (calls get BYE, recordings are finalised, a --cpu-prof profile is written). */
  stop(): Promise<void>;
}

export const repoRoot = path.resolve(benchDir, '..');

export async function startGatewayChild(o: GatewayChildOptions): Promise<GatewayChild> {
  fs.mkdirSync(o.dataDir, { recursive: true });
  const routesFile = path.join(o.dataDir, 'routes.json');
  fs.writeFileSync(routesFile, JSON.stringify(o.routes));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RECGATE_SIP_PORT: '0',
    RECGATE_HTTP_PORT: '0',
    RECGATE_BIND_ADDRESS: '127.0.0.1',
    RECGATE_PUBLIC_ADDRESS: '127.0.0.1',
    RECGATE_RTP_PORTS: `${o.rtpPorts.min}-${o.rtpPorts.max}`,
    RECGATE_DATA_DIR: o.dataDir,
    RECGATE_ROUTES: routesFile,
    RECGATE_LOG: 'off',
    RECGATE_API_TOKEN: o.apiToken,
    // Calls are held for the whole run; neither limit may end one early.
    RECGATE_RTP_TIMEOUT: '60',
    RECGATE_MAX_CALL_DURATION: '0',
  };
  const child = startChild(process.execPath, [...(o.nodeFlags ?? []), '--import', 'tsx', path.join(repoRoot, 'bin', 'recgate.ts')], { cwd: repoRoot, env }, 'gateway');
  const sip = await waitForOutput(child, /SIP udp 127\.0\.0\.1:(\d+)/, 60_000);
  const http = await waitForOutput(child, /HTTP 127\.0\.0\.1:(\d+)/, 60_000);
  const httpPort = Number(http[1]);
  const base = `http://127.0.0.1:${httpPort}`;
  const get = async (p: string, auth: boolean): Promise<Response> => {
    // Bounded: a request that never completes once left the whole bench waiting with every call over.
    const res = await fetch(`${base}${p}`, { signal: AbortSignal.timeout(30_000), ...(auth ? { headers: { authorization: `Bearer ${o.apiToken}` } } : {}) });
    if (!res.ok) throw new Error(`GET ${p}: HTTP ${res.status} ${await res.text()}`);
    return res;
  };
  return {
    child,
    pid: child.pid,
    sipPort: Number(sip[1]),
    httpPort,
    dataDir: o.dataDir,
    async api<T>(p: string): Promise<T> {
      return (await (await get(p, true)).json()) as T;
    },
    async metrics() {
      const text = await (await get('/metrics', false)).text();
      const out: Record<string, number> = {};
      for (const line of text.split('\n')) {
        const m = /^([a-z_:][a-z0-9_:]*) (\S+)$/i.exec(line);
        if (m) out[m[1]!] = Number(m[2]);
      }
      return out;
    },
    async healthz() {
      return (await (await get('/healthz', false)).json()) as Awaited<ReturnType<GatewayChild['healthz']>>;
    },
    stop: () => stopChild(child, 'SIGTERM', 20_000),
  };
}
