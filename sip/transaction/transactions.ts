/**
 * The four transaction state machines of RFC 3261 §17 (with RFC 6026's Accepted state for
 * INVITE 2xx) and the layer that matches messages to them (§17.1.3, §17.2.3).
 *
 * All timers live here and run on an injectable TimerApi, so the machines are tested with
 * fake timers. Retransmissions happen only over UDP; over TCP/TLS the wait timers are 0
 * (§17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).
 */
import { SafeEmitter } from '../../common/index.js';
import { parseCSeq, parseNameAddr, parseVia, createResponse, reasonPhrase } from '../message/index.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import type { IncomingMessage, Peer, SipTransport } from '../transport/index.js';
import { DEFAULT_TIMERS, nodeTimers } from './timers.js';
import type { SipTimerValues, TimerApi, TimerHandle } from './timers.js';

const MAGIC_COOKIE = 'z9hG4bK';

export type TransactionState =
  | 'calling'
  | 'trying'
  | 'proceeding'
  | 'accepted'
  | 'completed'
  | 'confirmed'
  | 'terminated';

/** What a transaction needs from its surroundings. */
export interface TransactionContext {
  transport: Pick<SipTransport, 'send' | 'sendResponse'>;
  timers: TimerApi;
  values: SipTimerValues;
}

function reliable(peer: Peer): boolean {
  return peer.protocol !== 'udp';
}

/** Top Via branch and sent-by of a message, or null. */
function topVia(headers: SipRequest['headers']): { branch: string; sentBy: string } | null {
  const v = headers.get('Via');
  const via = v === undefined ? null : parseVia(v);
  if (via === null) return null;
  return { branch: via.branch ?? '', sentBy: `${via.host}:${via.port ?? ''}` };
}

/**
 * §17.2.3 server transaction key. RFC 2543 peers (no magic cookie) are matched by
 * Request-URI, From tag, Call-ID, CSeq number and top Via; the To tag is left out so the ACK of
 * a non-2xx (which carries our tag) and a CANCEL (which does not) still find their INVITE.
 */
export function serverKey(request: SipRequest): string | null {
  const via = topVia(request.headers);
  const cseq = parseCSeq(request.headers.get('CSeq') ?? '');
  if (via === null || cseq === null) return null;
  const method = request.method === 'ACK' ? 'INVITE' : request.method;
  if (via.branch.startsWith(MAGIC_COOKIE)) return `${via.branch}|${via.sentBy}|${method}`;
  const fromTag = parseNameAddr(request.headers.get('From') ?? '')?.params.get('tag') ?? '';
  return `2543|${request.uri}|${fromTag}|${request.headers.get('Call-ID') ?? ''}|${cseq.seq}|${via.branch}|${via.sentBy}|${method}`;
}

/** §17.1.3 client transaction key: top Via branch + CSeq method. */
export function clientKey(message: SipRequest | SipResponse): string | null {
  const via = topVia(message.headers);
  const cseq = parseCSeq(message.headers.get('CSeq') ?? '');
  if (via === null || cseq === null) return null;
  const method = cseq.method === 'ACK' ? 'INVITE' : cseq.method;
  return `${via.branch}|${method}`;
}

// ---------------------------------------------------------------------------------------
// Server transactions

export interface ServerTransactionEvents {
  [key: string]: unknown[];
  /** INVITE server transaction: ACK arrived for our non-2xx final response. */
  ack: [SipRequest];
  /** INVITE server transaction: no ACK for our non-2xx final response (Timer H). */
  ackTimeout: [];
  /** A CANCEL matched this INVITE transaction (the layer already answered the CANCEL 200). */
  cancel: [SipRequest];
  terminated: [];
}

export class ServerTransaction extends SafeEmitter<ServerTransactionEvents> {
  readonly request: SipRequest;
  readonly source: Peer;
  readonly key: string;
  readonly isInvite: boolean;
  state: TransactionState;
  #last: SipResponse | null = null;
  readonly #ctx: TransactionContext;
  #timerG: TimerHandle | null = null;
  #timerEnd: TimerHandle | null = null;
  #intervalG: number;
  readonly #onTerminated: (t: ServerTransaction) => void;

  constructor(request: SipRequest, source: Peer, key: string, ctx: TransactionContext, onTerminated: (t: ServerTransaction) => void) {
    super();
    this.request = request;
    this.source = source;
    this.key = key;
    this.isInvite = request.method === 'INVITE';
    this.state = this.isInvite ? 'proceeding' : 'trying';
    this.#ctx = ctx;
    this.#intervalG = ctx.values.T1;
    this.#onTerminated = onTerminated;
  }

  /** The last response sent (final or provisional). */
  get lastResponse(): SipResponse | null {
    return this.#last;
  }

  /** Whether a final response has been sent. */
  get finalSent(): boolean {
    return this.#last !== null && this.#last.status >= 200;
  }

  /** A response to this request; builds it from the request when given a status. */
  respond(response: SipResponse | number, reason?: string): SipResponse {
    const res = typeof response === 'number' ? createResponse(this.request, response, reason ?? reasonPhrase(response)) : response;
    if (this.state === 'terminated' || this.state === 'completed' || this.state === 'confirmed' || this.state === 'accepted') {
      if (!(this.state === 'accepted' && res.status >= 200 && res.status < 300)) return res; // too late: ignored
    }
    this.#last = res;
    void this.#ctx.transport.sendResponse(res, this.source);
    const { values, timers } = this.#ctx;
    if (res.status < 200) {
      if (this.state === 'trying') this.state = 'proceeding';
      return res;
    }
    if (this.isInvite && res.status < 300) {
      // RFC 6026 §7.1: Accepted. The TU retransmits the 2xx until the ACK; Timer L ends us.
      if (this.state !== 'accepted') {
        this.state = 'accepted';
        this.#timerEnd = timers.set(() => this.#terminate(), 64 * values.T1);
      }
      return res;
    }
    this.state = 'completed';
    if (this.isInvite) {
      // §17.2.1: Timer G retransmits (UDP), Timer H waits for the ACK.
      if (!reliable(this.source)) this.#timerG = timers.set(() => this.#retransmitG(), this.#intervalG);
      this.#timerEnd = timers.set(() => {
        this.emit('ackTimeout');
        this.#terminate();
      }, 64 * values.T1);
    } else {
      // §17.2.2: Timer J absorbs retransmitted requests.
      this.#timerEnd = timers.set(() => this.#terminate(), reliable(this.source) ? 0 : 64 * values.T1);
    }
    return res;
  }

  /** A retransmission of the request, or the ACK of a non-2xx (called by the layer). */
  receive(request: SipRequest): void {
    if (request.method === 'ACK') {
      if (this.isInvite && this.state === 'completed') {
        this.state = 'confirmed';
        this.#ctx.timers.clear(this.#timerG);
        this.#ctx.timers.clear(this.#timerEnd);
        this.emit('ack', request);
        // Timer I absorbs ACK retransmissions.
        this.#timerEnd = this.#ctx.timers.set(() => this.#terminate(), reliable(this.source) ? 0 : this.#ctx.values.T4);
      }
      return;
    }
    // A retransmitted request: resend the last response (none yet in Trying: absorb it).
    // Accepted leaves 2xx retransmission to the TU (RFC 6026 §7.1); Confirmed only absorbs
    // (§17.2.1: the final was ACKed, so a late INVITE copy needs no answer).
    if (this.#last !== null && this.state !== 'accepted' && this.state !== 'confirmed') {
      void this.#ctx.transport.sendResponse(this.#last, this.source);
    }
  }

  /** Stops the transaction's timers (shutdown). */
  terminate(): void {
    this.#terminate();
  }

  #retransmitG(): void {
    if (this.state !== 'completed' || this.#last === null) return;
    void this.#ctx.transport.sendResponse(this.#last, this.source);
    this.#intervalG = Math.min(2 * this.#intervalG, this.#ctx.values.T2);
    this.#timerG = this.#ctx.timers.set(() => this.#retransmitG(), this.#intervalG);
  }

  #terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.#ctx.timers.clear(this.#timerG);
    this.#ctx.timers.clear(this.#timerEnd);
    this.#onTerminated(this);
    this.emit('terminated');
  }
}

// ---------------------------------------------------------------------------------------
// Client transactions

export interface ClientTransactionEvents {
  [key: string]: unknown[];
  /** Every response the TU must see: provisional, the first final, and (INVITE) 2xx retransmissions. */
  response: [SipResponse];
  /** Timer B or F fired: no final response. */
  timeout: [];
  /** The transport could not send the request. */
  transportError: [];
  terminated: [];
}

export class ClientTransaction extends SafeEmitter<ClientTransactionEvents> {
  readonly request: SipRequest;
  readonly destination: Peer;
  readonly key: string;
  readonly isInvite: boolean;
  state: TransactionState;
  readonly #ctx: TransactionContext;
  #timerRetransmit: TimerHandle | null = null;
  #timerTimeout: TimerHandle | null = null;
  #timerEnd: TimerHandle | null = null;
  #interval: number;
  #ack: SipRequest | null = null;
  readonly #onTerminated: (t: ClientTransaction) => void;

  constructor(request: SipRequest, destination: Peer, key: string, ctx: TransactionContext, onTerminated: (t: ClientTransaction) => void) {
    super();
    this.request = request;
    this.destination = destination;
    this.key = key;
    this.isInvite = request.method === 'INVITE';
    this.state = this.isInvite ? 'calling' : 'trying';
    this.#ctx = ctx;
    this.#interval = ctx.values.T1;
    this.#onTerminated = onTerminated;
  }

  /** Sends the request and starts Timer A/E (UDP) and B/F. */
  start(): void {
    void this.#send();
    const { timers, values } = this.#ctx;
    if (!reliable(this.destination)) this.#timerRetransmit = timers.set(() => this.#retransmit(), this.#interval);
    this.#timerTimeout = timers.set(() => {
      if (this.state === 'calling' || this.state === 'trying' || (!this.isInvite && this.state === 'proceeding')) {
        this.emit('timeout');
        this.#terminate();
      }
    }, 64 * values.T1);
  }

  /** A response matched this transaction (called by the layer). */
  receive(response: SipResponse): void {
    const { timers, values } = this.#ctx;
    const status = response.status;
    switch (this.state) {
      case 'calling':
      case 'trying':
      case 'proceeding':
        if (status < 200) {
          if (this.isInvite) {
            // §17.1.1.2: a provisional response stops retransmissions of the INVITE.
            timers.clear(this.#timerRetransmit);
            this.#timerRetransmit = null;
          } else if (this.state === 'trying' && this.#timerRetransmit !== null) {
            // Non-INVITE: keep retransmitting, at T2 from now on (§17.1.2.2).
            this.#interval = values.T2;
          }
          this.state = 'proceeding';
          this.emit('response', response);
          return;
        }
        timers.clear(this.#timerRetransmit);
        timers.clear(this.#timerTimeout);
        if (this.isInvite && status < 300) {
          // RFC 6026 §7.2: Accepted; 2xx retransmissions go to the TU, which sends the ACK.
          this.state = 'accepted';
          this.emit('response', response);
          this.#timerEnd = timers.set(() => this.#terminate(), 64 * values.T1);
          return;
        }
        this.state = 'completed';
        if (this.isInvite) {
          this.#ack = ackForNon2xx(this.request, response);
          void this.#ctx.transport.send(this.#ack, this.destination);
        }
        this.emit('response', response);
        // Timer D (32 s) / K (T4) absorb response retransmissions; 0 over reliable transports.
        this.#timerEnd = timers.set(
          () => this.#terminate(),
          reliable(this.destination) ? 0 : this.isInvite ? Math.max(32000, 64 * values.T1) : values.T4,
        );
        return;
      case 'accepted':
        if (status >= 200 && status < 300) this.emit('response', response);
        return;
      case 'completed':
        // A retransmitted final response: our ACK was lost, send it again.
        if (this.#ack !== null) void this.#ctx.transport.send(this.#ack, this.destination);
        return;
      default:
        return;
    }
  }

  terminate(): void {
    this.#terminate();
  }

  async #send(): Promise<void> {
    const ok = await this.#ctx.transport.send(this.request, this.destination);
    if (!ok && this.state !== 'terminated') {
      this.emit('transportError');
      this.#terminate();
    }
  }

  #retransmit(): void {
    if (this.state !== 'calling' && this.state !== 'trying' && this.state !== 'proceeding') return;
    if (this.isInvite && this.state !== 'calling') return;
    void this.#send();
    this.#interval = this.isInvite ? 2 * this.#interval : Math.min(2 * this.#interval, this.#ctx.values.T2);
    this.#timerRetransmit = this.#ctx.timers.set(() => this.#retransmit(), this.#interval);
  }

  #terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    const { timers } = this.#ctx;
    timers.clear(this.#timerRetransmit);
    timers.clear(this.#timerTimeout);
    timers.clear(this.#timerEnd);
    this.#onTerminated(this);
    this.emit('terminated');
  }
}

/** §17.1.1.3: the ACK a client transaction sends for a non-2xx final response. */
export function ackForNon2xx(invite: SipRequest, response: SipResponse): SipRequest {
  const headers = invite.headers.clone();
  for (const name of headers.entries().map(([n]) => n)) {
    if (!['Via', 'From', 'Call-ID', 'Route', 'Max-Forwards'].includes(name)) headers.delete(name);
  }
  const via = invite.headers.get('Via');
  if (via !== undefined) headers.set('Via', via);
  headers.set('To', response.headers.get('To') ?? invite.headers.get('To') ?? '');
  const cseq = parseCSeq(invite.headers.get('CSeq') ?? '');
  headers.set('CSeq', `${cseq?.seq ?? 1} ACK`);
  if (!headers.has('Max-Forwards')) headers.set('Max-Forwards', '70');
  return { kind: 'request', method: 'ACK', uri: invite.uri, headers, body: Buffer.alloc(0) };
}

// ---------------------------------------------------------------------------------------
// The layer

/** The transaction user (the UA core): what the layer hands up. */
export interface TransactionUser {
  /** A new request (not ACK); its server transaction exists already. */
  onRequest(tx: ServerTransaction): void;
  /** An ACK that matched no transaction: the ACK of a 2xx (a dialog's). */
  onAck(request: SipRequest, source: Peer): void;
  /** A response that matched no client transaction (e.g. a 2xx retransmitted after Timer M). */
  onStrayResponse(response: SipResponse, source: Peer): void;
}

export interface TransactionLayerOptions {
  timers?: TimerApi;
  values?: Partial<SipTimerValues>;
}

export interface TransactionLayerStats {
  serverTransactions: number;
  clientTransactions: number;
  /** Retransmitted requests absorbed by a server transaction. */
  absorbed: number;
  /** Requests without a usable Via/CSeq, dropped. */
  unmatchable: number;
  strayResponses: number;
}

export class TransactionLayer {
  readonly ctx: TransactionContext;
  tu: TransactionUser | null = null;
  readonly #servers = new Map<string, ServerTransaction>();
  readonly #clients = new Map<string, ClientTransaction>();
  absorbed = 0;
  unmatchable = 0;
  strayResponses = 0;

  constructor(transport: Pick<SipTransport, 'send' | 'sendResponse'>, options: TransactionLayerOptions = {}) {
    this.ctx = {
      transport,
      timers: options.timers ?? nodeTimers,
      values: { ...DEFAULT_TIMERS, ...options.values },
    };
  }

  /** Entry point for everything the transport received. */
  receive({ message, source }: IncomingMessage): void {
    if (message.kind === 'response') {
      const key = clientKey(message);
      const tx = key === null ? undefined : this.#clients.get(key);
      if (tx !== undefined) tx.receive(message);
      else {
        this.strayResponses++;
        this.tu?.onStrayResponse(message, source);
      }
      return;
    }
    const key = serverKey(message);
    if (key === null) {
      this.unmatchable++;
      return;
    }
    const tx = this.#servers.get(key);
    if (message.method === 'ACK') {
      if (tx !== undefined && tx.state !== 'accepted') tx.receive(message);
      else this.tu?.onAck(message, source);
      return;
    }
    if (tx !== undefined) {
      this.absorbed++;
      tx.receive(message);
      return;
    }
    const server = new ServerTransaction(message, source, key, this.ctx, (t) => this.#servers.delete(t.key));
    this.#servers.set(key, server);
    if (message.method === 'CANCEL') {
      // §9.2: a CANCEL is answered by the UAS core, but it must find the INVITE it cancels.
      this.tu?.onRequest(server);
      return;
    }
    this.tu?.onRequest(server);
  }

  /** The INVITE server transaction a CANCEL refers to (same branch and sent-by), if any. */
  inviteFor(cancel: SipRequest): ServerTransaction | undefined {
    const key = serverKey(cancel);
    if (key === null) return undefined;
    return this.#servers.get(key.replace(/\|CANCEL$/, '|INVITE'));
  }

  /** Creates and starts a client transaction for a request whose top Via the caller set. */
  request(request: SipRequest, destination: Peer): ClientTransaction {
    const key = clientKey(request);
    if (key === null) throw new TypeError('request needs a Via with a branch and a CSeq');
    const tx = new ClientTransaction(request, destination, key, this.ctx, (t) => this.#clients.delete(t.key));
    this.#clients.set(key, tx);
    tx.start();
    return tx;
  }

  stats(): TransactionLayerStats {
    return {
      serverTransactions: this.#servers.size,
      clientTransactions: this.#clients.size,
      absorbed: this.absorbed,
      unmatchable: this.unmatchable,
      strayResponses: this.strayResponses,
    };
  }

  /** Stops every transaction's timers (shutdown). */
  close(): void {
    for (const t of [...this.#servers.values()]) t.terminate();
    for (const t of [...this.#clients.values()]) t.terminate();
  }
}
