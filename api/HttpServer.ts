/**
 * The HTTP side of the gateway. For now: GET /healthz with the gateway's counters (what an
 * operator or a load balancer polls). The REST API joins it here.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Gateway } from '../calls/index.js';

export class HttpServer {
  readonly gateway: Gateway;
  readonly #server: http.Server;

  constructor(gateway: Gateway) {
    this.gateway = gateway;
    this.#server = http.createServer((req, res) => this.#handle(req, res));
  }

  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => resolve());
    });
    return (this.#server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      const body = JSON.stringify({ status: 'ok', ...this.gateway.stats() });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const body = JSON.stringify({ error: { code: 'not_found', message: `no route ${req.method} ${url.pathname}` } });
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}
