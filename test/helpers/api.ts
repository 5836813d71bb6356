/**
 * A gateway with its HTTP API on 127.0.0.1 for tests, and a small client.
 */
import { HttpServer, ensureAdmin } from '../../api/index.js';
import type { HttpServerOptions } from '../../api/index.js';
import type { GatewayConfig } from '../../calls/index.js';
import { startGateway } from './gateway.js';
import type { TestGateway } from './gateway.js';

export interface ApiResponse {
  status: number;
  headers: Headers;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  bytes: Buffer;
}

export interface TestApi extends TestGateway {
  http: HttpServer;
  base: string;
  admin: string;
  request(method: string, path: string, opts?: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<ApiResponse>;
}

export async function startApi(
  opts: { routes?: unknown; http?: HttpServerOptions; config?: Partial<GatewayConfig>; dir?: string; keepDir?: boolean; webhookDelayMs?: number } = {},
): Promise<TestApi> {
  const { http: httpOptions, ...gatewayOptions } = opts;
  const gw = await startGateway(gatewayOptions);
  const admin = 'admin-test-token';
  ensureAdmin(gw.gateway.store, gw.dir, admin);
  const http = new HttpServer(gw.gateway, httpOptions);
  const port = await http.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${port}`;
  gw.gateway.recordings.publicUrl = base;
  const request: TestApi['request'] = async (method, path, o = {}) => {
    const token = o.token === undefined ? admin : o.token;
    const headers: Record<string, string> = { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...o.headers };
    let body: string | undefined;
    if (o.raw !== undefined) body = o.raw;
    else if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const bytes = Buffer.from(await res.arrayBuffer());
    let json: unknown = null;
    if ((res.headers.get('content-type') ?? '').includes('json')) json = JSON.parse(bytes.toString('utf8'));
    return { status: res.status, headers: res.headers, json, bytes };
  };
  const stopGateway = gw.stop;
  return {
    ...gw,
    http,
    base,
    admin,
    request,
    async stop() {
      await http.close();
      await stopGateway();
    },
  };
}

/** Polls `fn` until it returns a truthy value (or throws after `ms`). */
export async function waitFor<T>(fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, ms = 10_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
