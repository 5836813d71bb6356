/**
 * The user-agent core (RFC 3261 §8, §13-15): sits on the transaction layer, turns new
 * INVITEs into sessions for the application, routes in-dialog requests and ACKs to their
 * session, answers CANCEL (§9.2), OPTIONS (§11) and what we do not support (405/481/501),
 * and sends the INVITEs of the B2BUA's outbound legs.
 */
import {
  createAuthorization,
  createResponse,
  generateBranch,
  parseNameAddr,
  reasonPhrase,
  SipHeaders,
} from '../message/index.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import type { ClientTransaction, ServerTransaction, TransactionLayer, TransactionUser } from '../transaction/index.js';
import type { Peer, SipTransport, TransportProtocol } from '../transport/index.js';
import { dialogId } from './Dialog.js';
import { InviteClientSession, InviteServerSession, newCallId } from './Session.js';
import type { OutgoingInviteOptions, Session } from './Session.js';

export interface UserAgentOptions {
  transport: SipTransport;
  transactions: TransactionLayer;
  /** User part of our Contact; default "recgate". */
  contactUser?: string;
  /** Server / User-Agent header value; default "recgate". */
  product?: string;
}

/** The application above the core (calls/). */
export interface UserAgentDelegate {
  /** A new call. Answer with session.progress/accept/reject. */
  onInvite(session: InviteServerSession): void;
  /** A REGISTER (a registrar is present); the delegate answers the transaction. Absent: 405. */
  onRegister?(tx: ServerTransaction): void;
}

/** Methods we implement (Allow, §20.5). */
export const ALLOW = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'INFO'];
/** Methods we know but do not serve here: 405 rather than 501. */
const KNOWN = ['REGISTER', 'SUBSCRIBE', 'NOTIFY', 'MESSAGE', 'REFER', 'PRACK', 'UPDATE', 'PUBLISH'];

export interface UserAgentStats {
  sessions: number;
  invites: number;
  rejectedRequests: number;
}

export class UserAgent implements TransactionUser {
  readonly transport: SipTransport;
  readonly transactions: TransactionLayer;
  readonly contactUser: string;
  readonly product: string;
  delegate: UserAgentDelegate | null = null;
  readonly #sessions = new Map<string, Session>();
  /** UAS sessions not yet answered, by their INVITE transaction key (for CANCEL). */
  readonly #pending = new Map<string, InviteServerSession>();
  invites = 0;
  rejectedRequests = 0;

  constructor(options: UserAgentOptions) {
    this.transport = options.transport;
    this.transactions = options.transactions;
    this.contactUser = options.contactUser ?? 'recgate';
    this.product = options.product ?? 'recgate';
    this.transactions.tu = this;
  }

  /** Our Contact header value for a transport. */
  contact(protocol: TransportProtocol): string {
    const port = protocol === 'tls' ? this.transport.tlsPort : this.transport.port;
    const host = this.transport.publicAddress.includes(':') ? `[${this.transport.publicAddress}]` : this.transport.publicAddress;
    const param = protocol === 'udp' ? '' : `;transport=${protocol}`;
    return `<sip:${this.contactUser}@${host}:${port}${param}>`;
  }

  /** Adds our Server header to a response. */
  decorate(response: SipResponse): void {
    if (!response.headers.has('Server')) response.headers.set('Server', this.product);
  }

  /** Places an outbound call (the B2BUA's second leg). */
  invite(options: OutgoingInviteOptions): InviteClientSession {
    const session = new InviteClientSession(this, options, newCallId(this.transport.publicAddress));
    session.start();
    return session;
  }

  /** A request built from parts, with our User-Agent header. */
  newRequest(method: string, uri: string, headers: [string, string][], body: Buffer): SipRequest {
    const h = new SipHeaders();
    for (const [n, v] of headers) h.append(n, v);
    if (!h.has('User-Agent')) h.set('User-Agent', this.product);
    return { kind: 'request', method, uri, headers: h, body };
  }

  /** Sends a request in a new client transaction (its Via set here); returns the transaction. */
  sendRequest(request: SipRequest, to: Peer): ClientTransaction {
    request.headers.set('Via', this.transport.via(to.protocol, generateBranch()));
    if (!request.headers.has('User-Agent')) request.headers.set('User-Agent', this.product);
    return this.transactions.request(request, to);
  }

  /** The Authorization value answering a digest challenge, or null when it cannot be answered. */
  authorize(challenge: string, method: string, uri: string, auth: { username: string; password: string }): string | null {
    try {
      return createAuthorization({ challenge, method, uri, username: auth.username, password: auth.password });
    } catch {
      return null;
    }
  }

  /** 200 OK for OPTIONS (§11.2): what we allow and accept. */
  optionsResponse(request: SipRequest): SipResponse {
    const res = createResponse(request, 200, 'OK');
    res.headers.set('Allow', ALLOW.join(', '));
    res.headers.set('Accept', 'application/sdp');
    this.decorate(res);
    return res;
  }

  remember(session: Session): void {
    if (session.dialog !== null) this.#sessions.set(session.dialog.id, session);
  }

  forget(session: Session): void {
    if (session.dialog !== null && this.#sessions.get(session.dialog.id) === session) this.#sessions.delete(session.dialog.id);
    if (session instanceof InviteServerSession) this.#pending.delete(session.transaction.key);
  }

  get sessionCount(): number {
    return this.#sessions.size + this.#pending.size;
  }

  stats(): UserAgentStats {
    return { sessions: this.sessionCount, invites: this.invites, rejectedRequests: this.rejectedRequests };
  }

  // --- TransactionUser

  onRequest(tx: ServerTransaction): void {
    const req = tx.request;
    const toTag = parseNameAddr(req.headers.get('To') ?? '')?.params.get('tag');
    if (req.method === 'CANCEL') {
      this.#onCancel(tx);
      return;
    }
    if (toTag) {
      // In a dialog (§12.2.2): find it by Call-ID and tags.
      const fromTag = parseNameAddr(req.headers.get('From') ?? '')?.params.get('tag') ?? '';
      const session = this.#sessions.get(dialogId(req.headers.get('Call-ID') ?? '', toTag, fromTag));
      if (session === undefined) {
        this.#reject(tx, 481);
        return;
      }
      session.handleRequest(tx);
      return;
    }
    switch (req.method) {
      case 'INVITE': {
        this.invites++;
        // §17.2.1: answer 100 Trying at once so the caller stops retransmitting.
        tx.respond(this.#trying(req));
        const session = new InviteServerSession(this, tx);
        this.#pending.set(tx.key, session);
        session.on('ended', () => this.#pending.delete(tx.key));
        session.on('confirmed', () => this.#pending.delete(tx.key));
        tx.on('terminated', () => {
          if (session.state === 'confirmed' || session.state === 'terminated') this.#pending.delete(tx.key);
        });
        if (this.delegate === null) session.reject(480);
        else {
          try {
            this.delegate.onInvite(session);
          } catch {
            session.reject(500);
          }
        }
        return;
      }
      case 'OPTIONS':
        tx.respond(this.optionsResponse(req));
        return;
      case 'REGISTER':
        if (this.delegate?.onRegister !== undefined) {
          try {
            this.delegate.onRegister(tx);
          } catch {
            this.#reject(tx, 500);
          }
          return;
        }
        this.#reject(tx, 405, [['Allow', ALLOW.join(', ')]]);
        return;
      case 'BYE':
      case 'INFO':
        this.#reject(tx, 481);
        return;
      default:
        if (KNOWN.includes(req.method)) this.#reject(tx, 405, [['Allow', ALLOW.join(', ')]]);
        else this.#reject(tx, 501);
    }
  }

  onAck(request: SipRequest, _source: Peer): void {
    const toTag = parseNameAddr(request.headers.get('To') ?? '')?.params.get('tag') ?? '';
    const fromTag = parseNameAddr(request.headers.get('From') ?? '')?.params.get('tag') ?? '';
    this.#sessions.get(dialogId(request.headers.get('Call-ID') ?? '', toTag, fromTag))?.handleAck(request);
  }

  onStrayResponse(_response: SipResponse, _source: Peer): void {
    // A 2xx retransmitted after our client transaction ended: the session already ACKed the
    // first one; nothing else reaches here that we could act on.
  }

  /** Ends every session with BYE (or 503 for unanswered ones). */
  shutdown(): void {
    for (const s of [...this.#pending.values()]) s.reject(503, 'Service Unavailable', [['Retry-After', '30']]);
    for (const s of [...this.#sessions.values()]) s.bye();
  }

  #onCancel(tx: ServerTransaction): void {
    const invite = this.transactions.inviteFor(tx.request);
    if (invite === undefined) {
      this.#reject(tx, 481);
      return;
    }
    // §9.2: 200 whenever the INVITE transaction exists (a CANCEL after the final response
    // has no effect), with the To tag of our responses to the INVITE.
    const session = this.#pending.get(invite.key);
    const res = createResponse(tx.request, 200, 'OK', { toTag: session?.localTag });
    this.decorate(res);
    tx.respond(res);
    session?.cancelled();
  }

  #trying(req: SipRequest): SipResponse {
    const res = createResponse(req, 100, 'Trying');
    this.decorate(res);
    return res;
  }

  #reject(tx: ServerTransaction, status: number, headers: [string, string][] = []): void {
    this.rejectedRequests++;
    const res = createResponse(tx.request, status, reasonPhrase(status));
    for (const [n, v] of headers) res.headers.set(n, v);
    this.decorate(res);
    tx.respond(res);
  }
}
