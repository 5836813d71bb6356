/**
 * The HTTP API (JSON under /v1) and operator endpoints (/healthz, /metrics), on
 * RECGATE_HTTP_PORT. Requests are authenticated by token (api/auth.ts), rate-limited per
 * token, bodies capped at 1 MiB; every failure answers the one error shape (api/errors.ts).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Gateway } from '../calls/index.js';
import { RateLimiter, accountFor, tokenOf } from './auth.js';
import { ApiError } from './errors.js';
import { registerConferenceRoutes } from './conferences.js';
import { registerRoutes } from './handlers.js';
import { Metrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { serveStatic } from './static.js';
import { Router } from './router.js';
import type { RequestContext } from './router.js';

const MAX_BODY = 1024 * 1024;
export const API_VERSION = '1.0.0';

export interface HttpServerOptions {
  /** Requests per second per token, and burst; defaults 100 and 200. */
  rate?: number;
  burst?: number;
  log?: (entry: Record<string, unknown>) => void;
}

export class HttpServer {
  readonly gateway: Gateway;
  readonly router = new Router();
  readonly metrics: Metrics;
  readonly #server: http.Server;
  /** HTTPS (and wss for SIP) beside the plain port, when listenTls() was called. */
  #tlsServer: https.Server | null = null;
  readonly #limiter: RateLimiter;
  readonly #log: (entry: Record<string, unknown>) => void;
  /** SIP over WebSocket (RFC 7118) on /sip: upgrades only, no HTTP server of its own. */
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false) });

  constructor(gateway: Gateway, options: HttpServerOptions = {}) {
    this.gateway = gateway;
    this.metrics = new Metrics(gateway);
    this.#limiter = new RateLimiter(options.rate ?? 100, options.burst ?? 200);
    this.#log = options.log ?? gateway.log;
    this.#server = http.createServer((req, res) => void this.#handle(req, res));
    this.#prepare(this.#server, false);
    this.router.add({
      method: 'GET',
      path: '/healthz',
      auth: 'none',
      openapi: { summary: 'Liveness and the gateway counters', responses: { '200': 'ok' } },
      handler: () => ({ status: 200, body: { status: 'ok', ...gateway.stats() } }),
    });
    this.router.add({
      method: 'GET',
      path: '/metrics',
      auth: 'none',
      openapi: { summary: 'Prometheus metrics', responses: { '200': 'text/plain exposition format' } },
      handler: async (ctx) => {
        const text = await this.metrics.text();
        ctx.res.writeHead(200, { 'content-type': this.metrics.contentType, 'content-length': Buffer.byteLength(text) });
        ctx.res.end(text);
        return 'handled' as const;
      },
    });
    this.router.add({
      method: 'GET',
      path: '/v1/webrtc',
      auth: 'none',
      openapi: {
        summary: 'What a browser softphone needs: the SIP WebSocket path, the digest realm, and the ICE servers (STUN/TURN) to put in its RTCPeerConnection',
        responses: { '200': '{sip_ws_path, realm, ice_servers}' },
      },
      // Public on purpose: the softphone reads it before it has credentials. TURN credentials
      // listed here are visible to anyone who reaches the HTTP port (use short-lived ones).
      handler: () => ({
        status: 200,
        body: { sip_ws_path: '/sip', realm: gateway.config.sipRealm, ice_servers: gateway.config.iceServers },
      }),
    });
    this.router.add({
      method: 'GET',
      path: '/v1/openapi.json',
      auth: 'none',
      openapi: { summary: 'This OpenAPI 3.1 document', responses: { '200': 'OpenAPI document' } },
      handler: () => ({ status: 200, body: openApiDocument(this.router.routes, API_VERSION) }),
    });
    registerRoutes(this.router, gateway);
    registerConferenceRoutes(this.router, gateway);
  }

  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => resolve());
    });
    const bound = (this.#server.address() as AddressInfo).port;
    this.gateway.transport.wsPort = bound;
    return bound;
  }

  /**
   * The same API and pages over HTTPS on a second port, with SIP over secure WebSocket (wss) at
   * /sip: browsers allow microphones and ws only on secure origins (or localhost).
   */
  async listenTls(port: number, host: string, credentials: { cert: Buffer; key: Buffer }): Promise<number> {
    const server = https.createServer(credentials, (req, res) => void this.#handle(req, res));
    this.#prepare(server, true);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.#tlsServer = server;
    const bound = (server.address() as AddressInfo).port;
    this.gateway.transport.wssPort = bound;
    return bound;
  }

  #prepare(server: http.Server | https.Server, secure: boolean): void {
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head, secure));
    server.headersTimeout = 10_000;
    server.requestTimeout = 60_000;
  }

  /** RFC 7118 §4: a WebSocket on /sip that asks for the `sip` subprotocol carries SIP. */
  #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, secure: boolean): void {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    if (path !== '/sip' || !protocols.includes('sip')) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.gateway.transport.attachWebSocket(ws, req.socket.remoteAddress ?? '', req.socket.remotePort ?? 0, secure);
    });
  }

  close(): Promise<void> {
    for (const ws of this.#wss.clients) ws.terminate();
    this.#wss.close();
    this.metrics.close();
    const servers: (http.Server | https.Server)[] = this.#tlsServer === null ? [this.#server] : [this.#server, this.#tlsServer];
    return Promise.all(
      servers.map((server) => {
        server.closeAllConnections();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      }),
    ).then(() => undefined);
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return this.#send(res, new ApiError('not_found', 'bad URL'));
    }
    try {
      const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
      // The web pages (public/): everything that is not the API, metrics or health.
      if (method === 'GET' && !url.pathname.startsWith('/v1/') && url.pathname !== '/metrics' && url.pathname !== '/healthz') {
        if (serveStatic(req, res, url.pathname)) return;
      }
      const { route, params } = this.router.match(method, url.pathname);
      let account = null;
      if (route.auth !== 'none') {
        const token = tokenOf(req, url);
        if (token === null) throw new ApiError('unauthorized', 'a token is needed: Authorization: Bearer <token>, X-Auth-Token or ?token=');
        const wait = this.#limiter.take(token);
        if (wait > 0) throw new ApiError('rate_limited', 'too many requests', { headers: { 'retry-after': String(wait) } });
        account = accountFor(this.gateway.store, token);
        if (account === null) throw new ApiError('unauthorized', 'unknown token');
        if (route.auth === 'admin' && !account.admin) throw new ApiError('forbidden', 'this route needs the admin token');
      }
      const body = await readBody(req);
      const ctx: RequestContext = { req, res, url, params, body, account };
      const result = await route.handler(ctx);
      if (result === 'handled') return;
      const text = JSON.stringify(result.body);
      res.writeHead(result.status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
        ...result.headers,
      });
      res.end(req.method === 'HEAD' ? undefined : text);
    } catch (err) {
      if (err instanceof ApiError) return this.#send(res, err);
      this.#log({ event: 'api.error', method: req.method, path: url.pathname, error: String((err as Error)?.stack ?? err) });
      this.#send(res, new ApiError('internal_error', 'internal error'));
    }
  }

  #send(res: http.ServerResponse, err: ApiError): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const text = JSON.stringify(err.body());
    res.writeHead(err.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...err.headers });
    res.end(text);
  }
}

/** Reads a JSON body (at most 1 MiB); {} when there is none. */
async function readBody(req: http.IncomingMessage): Promise<unknown> {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'DELETE') {
    req.resume();
    return {};
  }
  const length = Number(req.headers['content-length'] ?? '0');
  if (length > MAX_BODY) throw new ApiError('body_too_large', `the body is ${length} bytes; the limit is ${MAX_BODY}`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > MAX_BODY) throw new ApiError('body_too_large', `the body is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (total === 0) return {};
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/(json|[\w.+-]*\+json)\b/i.test(type) && type !== '') {
    throw new ApiError('unsupported_media_type', `send JSON, not ${type}`);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (err) {
    throw new ApiError('invalid_json', `the body is not JSON: ${(err as Error).message}`);
  }
}
