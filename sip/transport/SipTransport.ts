/**
 * SIP transports (RFC 3261 §18): UDP and TCP on the same port, TLS optionally on its own port.
 *
 * Receiving: datagrams and stream bytes become messages (TCP/TLS through the StreamFramer).
 * Requests get `received`/`rport` on their top Via (§18.2.1, RFC 3581) so responses reach
 * callers behind NAT. A request that cannot be parsed but whose method and dialog headers
 * were read is answered with the parser's status (400, 413, 505); anything else is dropped
 * and counted. Nothing from the network ever throws out of here.
 *
 * Sending: responses follow §18.2.2 — back on the connection the request came in on while it
 * is open, else to `received`:`rport` (or the Via's sent-by). Requests to a TCP/TLS target
 * reuse an open connection to that address and port, or open one.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { IoError, SafeEmitter, errnoCode } from '../../common/index.js';
import {
  StreamFramer,
  createResponse,
  formatVia,
  parseMessage,
  parseVia,
  reasonPhrase,
  serializeMessage,
} from '../message/index.js';
import type { ParseError, SipLimits, SipMessage, SipRequest, SipResponse } from '../message/index.js';

export type TransportProtocol = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

/** A stream connection (TCP, TLS, later WebSocket) a message arrived on or may leave by. */
export interface Connection {
  readonly id: number;
  readonly protocol: TransportProtocol;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly open: boolean;
  /** Writes bytes; false when the connection is closed. */
  write(bytes: Buffer): boolean;
  close(): void;
}

/** Where a message came from, or where it goes. */
export interface Peer {
  protocol: TransportProtocol;
  address: string;
  port: number;
  /** For stream transports: the connection (responses go back on it while it is open). */
  connection?: Connection;
}

export interface IncomingMessage {
  message: SipMessage;
  source: Peer;
}

export interface SipTransportOptions {
  /** Address to bind; default 0.0.0.0. */
  bindAddress?: string;
  /** UDP and TCP port; 0 picks a free one (tests). */
  port: number;
  /** Address written in our Via and Contact; default the bind address (or 127.0.0.1 for 0.0.0.0). */
  publicAddress?: string;
  /** TLS on its own port with a certificate and key (PEM). */
  tls?: { port: number; cert: string | Buffer; key: string | Buffer };
  limits?: Partial<SipLimits>;
  /** Close stream connections idle for this long, in ms; default 15 minutes. */
  idleTimeoutMs?: number;
  /** Most simultaneous stream connections; more are refused; default 4096. */
  maxConnections?: number;
  /** Close a stream connection whose message stays unfinished this long, in ms; default 32 s (64*T1). */
  partialMessageTimeoutMs?: number;
}

export interface SipTransportEvents {
  [key: string]: unknown[];
  message: [IncomingMessage];
  /** A stream connection (TCP, TLS, WebSocket) closed: bindings on it are gone (RFC 5626 spirit). */
  connectionClosed: [Connection];
}

/** The part of a WebSocket (the `ws` package) the transport uses (RFC 7118: one SIP message per frame). */
export interface SipWebSocket {
  readonly readyState: number;
  send(data: string | Buffer, cb?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** SIP over WebSocket (RFC 7118): each frame carries exactly one message; no framing needed. */
class WsConnection implements Connection {
  readonly id = nextConnectionId++;
  readonly protocol: TransportProtocol;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly ws: SipWebSocket;
  lastActivity = Date.now();

  constructor(protocol: TransportProtocol, ws: SipWebSocket, address: string, port: number) {
    this.protocol = protocol;
    this.ws = ws;
    this.remoteAddress = address;
    this.remotePort = port;
  }

  get open(): boolean {
    return this.ws.readyState === 1;
  }

  write(bytes: Buffer): boolean {
    if (!this.open) return false;
    this.lastActivity = Date.now();
    // Text frames: SIP is text, and browsers' SIP stacks (JsSIP, SIP.js) expect text.
    this.ws.send(bytes.toString('utf8'));
    return true;
  }

  close(): void {
    this.ws.close(1000, 'closing');
  }
}

export interface SipTransportStats {
  received: number;
  sent: number;
  /** Messages refused by the parser, by error code. */
  parseErrors: Record<string, number>;
  /** Error responses (400/413/505) sent for unparseable requests. */
  rejected: number;
  dropped: number;
  sendErrors: number;
  connections: number;
  keepAlives: number;
}

let nextConnectionId = 1;

/** A TCP or TLS socket with its framer. */
class StreamConnection implements Connection {
  readonly id = nextConnectionId++;
  readonly protocol: TransportProtocol;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly socket: net.Socket;
  readonly framer: StreamFramer;
  lastActivity = Date.now();
  /** When the framer started holding an unfinished message (0: none), in ms since the epoch. */
  partialSince = 0;

  constructor(protocol: TransportProtocol, socket: net.Socket, framer: (c: StreamConnection) => StreamFramer) {
    this.protocol = protocol;
    this.socket = socket;
    this.remoteAddress = normalizeAddress(socket.remoteAddress ?? '');
    this.remotePort = socket.remotePort ?? 0;
    this.framer = framer(this);
  }

  get open(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }

  write(bytes: Buffer): boolean {
    if (!this.open) return false;
    this.lastActivity = Date.now();
    this.socket.write(bytes);
    return true;
  }

  close(): void {
    this.socket.destroy();
  }
}

export class SipTransport extends SafeEmitter<SipTransportEvents> {
  readonly options: SipTransportOptions;
  readonly publicAddress: string;
  #udp: dgram.Socket | null = null;
  #tcp: net.Server | null = null;
  #tls: net.Server | null = null;
  #port = 0;
  #tlsPort = 0;
  /** Port of the HTTP server carrying SIP over WebSocket (for our Via/Contact on ws). */
  wsPort = 0;
  /** The HTTPS port carrying SIP over secure WebSocket (0 when none). */
  wssPort = 0;
  readonly #connections = new Map<string, StreamConnection>();
  readonly #wsConnections = new Set<WsConnection>();
  /** Largest WebSocket message accepted (same limit as any SIP message). */
  wsMessages = 0;
  readonly #pendingConnects = new Map<string, Promise<StreamConnection>>();
  #idleTimer: NodeJS.Timeout | null = null;
  #closed = false;

  received = 0;
  sent = 0;
  readonly parseErrors: Record<string, number> = {};
  rejected = 0;
  dropped = 0;
  sendErrors = 0;
  keepAlives = 0;

  constructor(options: SipTransportOptions) {
    super();
    this.options = options;
    const bind = options.bindAddress ?? '0.0.0.0';
    this.publicAddress = options.publicAddress ?? (bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind);
  }

  /** The UDP/TCP port (after listen()). */
  get port(): number {
    return this.#port;
  }

  get tlsPort(): number {
    return this.#tlsPort;
  }

  /** Binds UDP and TCP on the same port (and TLS when configured). */
  async listen(): Promise<void> {
    const address = this.options.bindAddress ?? '0.0.0.0';
    const family = address.includes(':') ? 'udp6' : 'udp4';
    // TCP first when the port is 0, so UDP can take the same number.
    const tcp = net.createServer((s) => this.#accept('tcp', s));
    await listenServer(tcp, address, this.options.port);
    this.#tcp = tcp;
    this.#port = (tcp.address() as net.AddressInfo).port;
    const udp = dgram.createSocket({ type: family, reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', (err) => reject(new IoError(`cannot bind SIP UDP ${address}:${this.#port}: ${err.message}`, err)));
      udp.bind({ port: this.#port, address, exclusive: true }, () => resolve());
    });
    udp.removeAllListeners('error');
    udp.on('error', () => this.sendErrors++);
    udp.on('message', (msg, rinfo) => this.#onDatagram(msg, rinfo));
    this.#udp = udp;
    if (this.options.tls) {
      const server = tls.createServer({ cert: this.options.tls.cert, key: this.options.tls.key }, (s) => this.#accept('tls', s));
      await listenServer(server, address, this.options.tls.port);
      this.#tls = server;
      this.#tlsPort = (server.address() as net.AddressInfo).port;
    }
    const idle = this.options.idleTimeoutMs ?? 15 * 60 * 1000;
    const partial = this.options.partialMessageTimeoutMs ?? 32_000;
    this.#idleTimer = setInterval(() => this.#closeIdle(idle), Math.min(idle, partial, 5_000) / 2);
    this.#idleTimer.unref();
  }

  /**
   * Takes a WebSocket whose upgrade asked for the `sip` subprotocol (RFC 7118 §4): its frames
   * are SIP messages, and requests to the registered user behind it go back on it.
   */
  attachWebSocket(ws: SipWebSocket, remoteAddress: string, remotePort: number, secure: boolean): Connection {
    const conn = new WsConnection(secure ? 'wss' : 'ws', ws, normalizeAddress(remoteAddress), remotePort);
    this.#wsConnections.add(conn);
    const source: Peer = { protocol: conn.protocol, address: conn.remoteAddress, port: conn.remotePort, connection: conn };
    ws.on('message', (data) => {
      conn.lastActivity = Date.now();
      this.wsMessages++;
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      // RFC 5626 keep-alive over WebSocket: a bare CRLF (some clients send it).
      if (bytes.length <= 4 && bytes.every((b) => b === 13 || b === 10)) {
        this.keepAlives++;
        return;
      }
      const result = parseMessage(bytes, this.options.limits);
      this.#deliver(result, source);
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      this.#wsConnections.delete(conn);
      this.emit('connectionClosed', conn);
    });
    return conn;
  }

  /** A Via value for a request we send over `protocol` (RFC 3261 §18.1.1, with rport of RFC 3581). */
  via(protocol: TransportProtocol, branch: string): string {
    const port = protocol === 'tls' ? this.#tlsPort : protocol === 'ws' ? this.wsPort : protocol === 'wss' ? this.wssPort : this.#port;
    return formatVia({
      transport: protocol.toUpperCase(),
      host: this.publicAddress,
      port,
      branch,
      rport: null,
      params: new Map(),
    });
  }

  /** Sends a message to a peer; resolves when handed to the kernel. Never throws for network errors (counted). */
  async send(message: SipMessage, to: Peer): Promise<boolean> {
    if (this.#closed) return false;
    const bytes = serializeMessage(message);
    try {
      if (to.protocol === 'udp') {
        const udp = this.#udp;
        if (udp === null) return false;
        await new Promise<void>((resolve, reject) =>
          udp.send(bytes, to.port, to.address, (err) => (err ? reject(err) : resolve())),
        );
      } else {
        if ((to.protocol === 'ws' || to.protocol === 'wss') && (to.connection === undefined || !to.connection.open)) {
          // A WebSocket client is only reachable on the connection it opened.
          throw new Error('WebSocket connection closed');
        }
        const conn = to.connection !== undefined && to.connection.open ? to.connection : await this.#connect(to);
        if (!conn.write(bytes)) throw new Error('connection closed');
      }
      this.sent++;
      return true;
    } catch {
      this.sendErrors++;
      return false;
    }
  }

  /**
   * Sends a response the way §18.2.2 says: on the request's connection while open, else to
   * the top Via's received/rport (RFC 3581) or sent-by.
   */
  sendResponse(response: SipResponse, source: Peer): Promise<boolean> {
    return this.send(response, responseTarget(response, source));
  }

  stats(): SipTransportStats {
    return {
      received: this.received,
      sent: this.sent,
      parseErrors: { ...this.parseErrors },
      rejected: this.rejected,
      dropped: this.dropped,
      sendErrors: this.sendErrors,
      connections: this.#connections.size + this.#wsConnections.size,
      keepAlives: this.keepAlives,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#idleTimer) clearInterval(this.#idleTimer);
    for (const c of this.#connections.values()) c.close();
    this.#connections.clear();
    for (const c of this.#wsConnections) c.close();
    this.#wsConnections.clear();
    this.#udp?.close();
    await Promise.all(
      [this.#tcp, this.#tls].map((s) => (s === null ? undefined : new Promise<void>((r) => s.close(() => r())))),
    );
    this.removeAllListeners();
  }

  #onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const source: Peer = { protocol: 'udp', address: normalizeAddress(rinfo.address), port: rinfo.port };
    // RFC 5626 §3.5.1 keep-alive (CRLF) or empty datagrams: not a message.
    if (msg.length <= 4 && msg.every((b) => b === 13 || b === 10)) {
      this.keepAlives++;
      return;
    }
    this.#deliver(parseMessage(msg, this.options.limits), source);
  }

  #deliver(result: ReturnType<typeof parseMessage>, source: Peer): void {
    if (!result.ok) {
      this.#refuse(result.error, source);
      return;
    }
    const message = result.message;
    if (message.kind === 'request') stampVia(message, source);
    this.received++;
    this.emit('message', { message, source });
  }

  /** Counts a parse error and answers it when the parser read enough of a request. */
  #refuse(error: ParseError, source: Peer): void {
    this.parseErrors[error.code] = (this.parseErrors[error.code] ?? 0) + 1;
    const partial = error.partial;
    if (error.status === 0 || partial === undefined || partial.method === 'ACK' || !partial.headers.has('Via')) {
      this.dropped++;
      return;
    }
    const request: SipRequest = {
      kind: 'request',
      method: partial.method,
      uri: 'sip:invalid',
      headers: partial.headers,
      body: Buffer.alloc(0),
    };
    stampVia(request, source);
    const response = createResponse(request, error.status, reasonPhrase(error.status));
    response.headers.set('Warning', `399 recgate "${error.message.replace(/["\\]/g, "'").slice(0, 200)}"`);
    this.rejected++;
    void this.sendResponse(response, source);
  }

  #accept(protocol: TransportProtocol, socket: net.Socket): void {
    const max = this.options.maxConnections ?? 4096;
    if (this.#connections.size >= max) {
      socket.destroy();
      this.dropped++;
      return;
    }
    this.#register(new StreamConnection(protocol, socket, (c) => this.#framer(c)));
  }

  #framer(conn: StreamConnection): StreamFramer {
    const framer = new StreamFramer(
      (bytes) => {
        const source: Peer = { protocol: conn.protocol, address: conn.remoteAddress, port: conn.remotePort, connection: conn };
        this.#deliver(parseMessage(bytes, this.options.limits), source);
      },
      (error) => {
        // A stream that lost its framing cannot be resynchronised (§18.3): answer if possible, close.
        this.#refuse(error, { protocol: conn.protocol, address: conn.remoteAddress, port: conn.remotePort, connection: conn });
        // end() lets the error response leave before the FIN; destroy() would drop it.
        setImmediate(() => conn.socket.end());
        setTimeout(() => conn.close(), 2000).unref();
      },
      this.options.limits,
    );
    framer.onKeepAlive = () => {
      this.keepAlives++;
      conn.write(CRLF); // RFC 5626 §3.5.1 pong
    };
    return framer;
  }

  #register(conn: StreamConnection): void {
    const key = connectionKey(conn.protocol, conn.remoteAddress, conn.remotePort);
    this.#connections.set(key, conn);
    conn.socket.on('data', (chunk: Buffer) => {
      conn.lastActivity = Date.now();
      conn.framer.push(chunk);
      // Track how long a message stays unfinished: a peer trickling bytes must not hold the connection forever.
      if (conn.framer.stats.bufferedBytes === 0) conn.partialSince = 0;
      else if (conn.partialSince === 0) conn.partialSince = conn.lastActivity;
    });
    conn.socket.on('error', () => undefined);
    conn.socket.on('close', () => {
      if (this.#connections.get(key) === conn) this.#connections.delete(key);
      this.emit('connectionClosed', conn);
    });
  }

  /** An open connection to the peer, reused or new. */
  async #connect(to: Peer): Promise<StreamConnection> {
    const key = connectionKey(to.protocol, to.address, to.port);
    const open = this.#connections.get(key);
    if (open && open.open) return open;
    let pending = this.#pendingConnects.get(key);
    if (!pending) {
      pending = new Promise<StreamConnection>((resolve, reject) => {
        const socket =
          to.protocol === 'tls'
            ? tls.connect({ host: to.address, port: to.port, rejectUnauthorized: false })
            : net.connect({ host: to.address, port: to.port });
        const ready = to.protocol === 'tls' ? 'secureConnect' : 'connect';
        const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), 10_000);
        timer.unref();
        socket.once(ready, () => {
          clearTimeout(timer);
          if (this.#closed) {
            // close() ran while we connected: nothing would ever close this socket.
            socket.destroy();
            reject(new IoError(`cannot connect ${to.protocol} ${to.address}:${to.port}: transport closed`));
            return;
          }
          const conn = new StreamConnection(to.protocol, socket, (c) => this.#framer(c));
          this.#register(conn);
          resolve(conn);
        });
        socket.once('error', (err) => {
          clearTimeout(timer);
          reject(new IoError(`cannot connect ${to.protocol} ${to.address}:${to.port}: ${errnoCode(err) ?? err.message}`, err));
        });
      }).finally(() => this.#pendingConnects.delete(key));
      this.#pendingConnects.set(key, pending);
    }
    return pending;
  }

  #closeIdle(idleMs: number): void {
    const now = Date.now();
    const partialMs = this.options.partialMessageTimeoutMs ?? 32_000;
    for (const c of this.#connections.values()) {
      if (now - c.lastActivity > idleMs || (c.partialSince !== 0 && now - c.partialSince > partialMs)) {
        if (c.partialSince !== 0) this.dropped++;
        c.close();
      }
    }
  }
}

const CRLF = Buffer.from('\r\n');

function connectionKey(protocol: string, address: string, port: number): string {
  return `${protocol}:${address}:${port}`;
}

function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

function listenServer(server: net.Server, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new IoError(`cannot listen on ${address}:${port}: ${err.message}`, err)));
    server.listen({ port, host: address, exclusive: true }, () => resolve());
  });
}

/** §18.2.1 and RFC 3581 §4: record where the request really came from in its top Via. */
export function stampVia(request: SipRequest, source: Peer): void {
  const values = request.headers.getAll('Via');
  const top = values[0];
  if (top === undefined) return;
  const via = parseVia(top);
  if (via === null) return;
  let changed = false;
  if (via.host !== source.address || via.rport === null) {
    via.received = source.address;
    via.params.set('received', source.address);
    changed = true;
  }
  if (via.rport === null) {
    via.rport = source.port;
    via.params.set('rport', String(source.port));
    changed = true;
  }
  if (!changed) return;
  const rest = values.slice(1);
  request.headers.set('Via', [formatVia(via), ...rest]);
}

/** Where a response goes (§18.2.2 with RFC 3581 §4). */
export function responseTarget(response: SipResponse, source: Peer): Peer {
  if (source.connection !== undefined && source.connection.open) return source;
  const top = response.headers.get('Via');
  const via = top === undefined ? null : parseVia(top);
  if (via === null) return source;
  const protocol = via.transport.toLowerCase() as TransportProtocol;
  const address = via.received ?? via.host;
  // RFC 3581 §4: rport is used for unreliable transports only. A closed TCP/TLS connection's
  // source port was ephemeral; §18.2.2 opens a new connection to the sent-by port.
  const port =
    protocol === 'udp' && typeof via.rport === 'number' ? via.rport : (via.port ?? (protocol === 'tls' ? 5061 : 5060));
  return { protocol: protocol === 'udp' || protocol === 'tcp' || protocol === 'tls' ? protocol : source.protocol, address, port };
}
