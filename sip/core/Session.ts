/**
 * An INVITE session, either side (RFC 3261 §13, §14, §15): the dialog it created and what
 * happens inside it — BYE, re-INVITE (hold, resume, codec change), INFO, OPTIONS — plus the
 * 2xx retransmission a UAS owes until the ACK (§13.3.1.4) and the ACK a UAC sends for it.
 */
import { SafeEmitter } from '../../common/index.js';
import { createResponse, generateBranch, generateTag, reasonPhrase } from '../message/index.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import type { ClientTransaction, ServerTransaction, TimerHandle } from '../transaction/index.js';
import type { Peer } from '../transport/index.js';
import { Dialog } from './Dialog.js';
import type { UserAgent } from './UserAgent.js';

export type SessionState = 'initial' | 'early' | 'confirmed' | 'terminated';

/** Why a session ended. */
export type EndReason =
  | 'local_bye'
  | 'remote_bye'
  | 'cancelled'
  | 'rejected'
  | 'failed'
  | 'timeout'
  | 'ack_timeout'
  | 'transport_error'
  | 'shutdown';

export interface SessionEnd {
  reason: EndReason;
  /** Final status for failed/rejected calls (e.g. 486), 0 otherwise. */
  status: number;
}

/** What the application answers to a re-INVITE's offer. */
export interface ReinviteAnswer {
  status: number;
  /** SDP answer for a 2xx. */
  body?: string;
}

export interface SessionEvents {
  [key: string]: unknown[];
  /** UAS: the ACK for our 2xx arrived; UAC: the 2xx arrived (ACK sent). */
  confirmed: [];
  /** A provisional response (UAC). */
  progress: [SipResponse];
  /** INFO in the dialog (e.g. application/dtmf-relay); already answered 200. */
  info: [SipRequest];
  /** A re-INVITE was answered (its offer and our answer), for the application to apply. */
  reinvited: [{ offer: string; answer: string; status: number }];
  ended: [SessionEnd];
}

export abstract class Session extends SafeEmitter<SessionEvents> {
  readonly ua: UserAgent;
  dialog: Dialog | null = null;
  state: SessionState = 'initial';
  /** Called for a re-INVITE with an SDP offer; must return the answer. Default: 488. */
  onReinvite: (offer: string, request: SipRequest) => ReinviteAnswer = () => ({ status: 488 });
  end: SessionEnd | null = null;
  /** The remote party's SDP (latest offer or answer). */
  remoteSdp = '';

  // UAS 2xx retransmission (§13.3.1.4), also used for our 2xx to re-INVITEs.
  #pending2xx: { response: SipResponse; to: Peer; seq: number } | null = null;
  #retransmitTimer: TimerHandle | null = null;
  #retransmitInterval = 0;
  #giveUpTimer: TimerHandle | null = null;

  constructor(ua: UserAgent) {
    super();
    this.ua = ua;
  }

  get callId(): string {
    return this.dialog?.callId ?? '';
  }

  /** Whether the session has ended (a getter, so callers re-read it after an await). */
  get terminated(): boolean {
    return this.state === 'terminated';
  }

  /** Sends BYE (confirmed dialogs) and ends the session. Idempotent. */
  bye(): void {
    if (this.state === 'terminated') return;
    if (this.dialog !== null && (this.state === 'confirmed' || this.#pending2xx !== null)) {
      const req = this.dialog.createRequest('BYE');
      const to = this.dialog.destination();
      if (to !== null) this.ua.sendRequest(req, to);
    }
    this.finish({ reason: 'local_bye', status: 0 });
  }

  /** Called by the UA for a request inside this session's dialog. */
  handleRequest(tx: ServerTransaction): void {
    const req = tx.request;
    if (this.dialog === null) {
      tx.respond(481);
      return;
    }
    if (!this.dialog.acceptRemoteSeq(req)) {
      tx.respond(500, 'CSeq Out of Order');
      return;
    }
    switch (req.method) {
      case 'BYE':
        tx.respond(200);
        this.finish({ reason: 'remote_bye', status: 0 });
        return;
      case 'INVITE':
        this.#onReinvite(tx);
        return;
      case 'INFO':
        tx.respond(200);
        this.emit('info', req);
        return;
      case 'OPTIONS':
        tx.respond(this.ua.optionsResponse(req));
        return;
      case 'UPDATE':
        // We do not offer UPDATE in Allow; a peer that sends it without SDP is just refreshing.
        tx.respond(req.body.length === 0 ? 200 : 488);
        return;
      default:
        tx.respond(405, reasonPhrase(405));
    }
  }

  /** Called by the UA for an ACK in this dialog (for our 2xx). */
  handleAck(request: SipRequest): void {
    const seq = Number.parseInt((request.headers.get('CSeq') ?? '').trim(), 10);
    if (this.#pending2xx !== null && seq === this.#pending2xx.seq) {
      this.#stopRetransmit();
      if (this.state === 'early' || this.state === 'initial') {
        this.state = 'confirmed';
        this.emit('confirmed');
      }
    }
  }

  /** Ends the session once (no message sent). */
  finish(end: SessionEnd): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.end = end;
    this.#stopRetransmit();
    this.ua.forget(this);
    this.emit('ended', end);
  }

  /** Sends a 2xx and retransmits it with T1 doubling up to T2 until the ACK (§13.3.1.4). */
  protected send2xx(tx: ServerTransaction, response: SipResponse): void {
    const seq = Number.parseInt((tx.request.headers.get('CSeq') ?? '').trim(), 10);
    tx.respond(response);
    this.#stopRetransmit();
    this.#pending2xx = { response, to: tx.source, seq };
    const { timers, values } = this.ua.transactions.ctx;
    if (tx.source.protocol === 'udp') {
      this.#retransmitInterval = values.T1;
      this.#retransmitTimer = timers.set(() => this.#retransmit(), this.#retransmitInterval);
    }
    this.#giveUpTimer = timers.set(() => {
      // No ACK within 64*T1: the dialog is dead; §13.3.1.4 says end it with a BYE.
      this.#pending2xx = null;
      if (this.dialog !== null) {
        const to = this.dialog.destination();
        if (to !== null) this.ua.sendRequest(this.dialog.createRequest('BYE'), to);
      }
      this.finish({ reason: 'ack_timeout', status: 0 });
    }, 64 * values.T1);
  }

  #retransmit(): void {
    const p = this.#pending2xx;
    if (p === null) return;
    void this.ua.transport.sendResponse(p.response, p.to);
    const { timers, values } = this.ua.transactions.ctx;
    this.#retransmitInterval = Math.min(2 * this.#retransmitInterval, values.T2);
    this.#retransmitTimer = timers.set(() => this.#retransmit(), this.#retransmitInterval);
  }

  #stopRetransmit(): void {
    const timers = this.ua.transactions.ctx.timers;
    timers.clear(this.#retransmitTimer);
    timers.clear(this.#giveUpTimer);
    this.#retransmitTimer = null;
    this.#giveUpTimer = null;
    this.#pending2xx = null;
  }

  #onReinvite(tx: ServerTransaction): void {
    const offer = tx.request.body.toString('utf8');
    if (this.#pending2xx !== null) {
      // §14.2: a re-INVITE while our previous 2xx awaits its ACK.
      tx.respond(500, 'Server Internal Error');
      return;
    }
    let answer: ReinviteAnswer;
    try {
      answer = this.onReinvite(offer, tx.request);
    } catch {
      answer = { status: 500 };
    }
    if (answer.status >= 200 && answer.status < 300 && answer.body !== undefined && this.dialog !== null) {
      const res = createResponse(tx.request, answer.status);
      res.headers.set('Contact', this.dialog.localContact);
      res.headers.set('Content-Type', 'application/sdp');
      res.body = Buffer.from(answer.body);
      this.ua.decorate(res);
      this.remoteSdp = offer;
      this.send2xx(tx, res);
      this.emit('reinvited', { offer, answer: answer.body, status: answer.status });
    } else {
      tx.respond(answer.status >= 300 ? answer.status : 488);
    }
  }
}

/** The UAS side: an INVITE we received. */
export class InviteServerSession extends Session {
  readonly request: SipRequest;
  readonly transaction: ServerTransaction;
  readonly source: Peer;
  readonly localTag = generateTag();

  constructor(ua: UserAgent, tx: ServerTransaction) {
    super(ua);
    this.request = tx.request;
    this.transaction = tx;
    this.source = tx.source;
    this.remoteSdp = tx.request.body.toString('utf8');
  }

  /** The INVITE's From, To, Request-URI and Call-ID as received. */
  get from(): string {
    return this.request.headers.get('From') ?? '';
  }
  get to(): string {
    return this.request.headers.get('To') ?? '';
  }
  get requestUri(): string {
    return this.request.uri;
  }
  get sipCallId(): string {
    return this.request.headers.get('Call-ID') ?? '';
  }

  /** A provisional response (180 Ringing, 183 with early media SDP). */
  progress(status = 180, sdp?: string): void {
    if (this.state === 'terminated' || this.transaction.finalSent) return;
    const res = this.#response(status);
    if (sdp !== undefined) {
      res.headers.set('Content-Type', 'application/sdp');
      res.body = Buffer.from(sdp);
    }
    this.transaction.respond(res);
    if (status > 100) this.state = 'early';
  }

  /** Answers with 200 and our SDP; the session is confirmed when the ACK arrives. */
  accept(sdp: string): void {
    if (this.state === 'terminated' || this.transaction.finalSent) return;
    const res = this.#response(200);
    res.headers.set('Content-Type', 'application/sdp');
    res.body = Buffer.from(sdp);
    this.dialog = Dialog.asUas(this.request, res, this.ua.contact(this.source.protocol), this.source);
    this.ua.remember(this);
    this.state = 'early';
    this.send2xx(this.transaction, res);
  }

  /** A final error response (4xx-6xx); ends the session. */
  reject(status: number, reason?: string, headers: [string, string][] = []): void {
    if (this.state === 'terminated' || this.transaction.finalSent) return;
    const res = this.#response(status, reason);
    for (const [n, v] of headers) res.headers.append(n, v);
    this.transaction.respond(res);
    this.finish({ reason: 'rejected', status });
  }

  /** The CANCEL path (§9.2): the UA answered the CANCEL; we answer the INVITE 487. */
  cancelled(): void {
    if (this.transaction.finalSent) return;
    this.transaction.respond(this.#response(487));
    this.finish({ reason: 'cancelled', status: 487 });
  }

  #response(status: number, reason?: string): SipResponse {
    const res = createResponse(this.request, status, reason ?? reasonPhrase(status), { toTag: status > 100 ? this.localTag : undefined });
    if (status > 100 && status < 300) res.headers.set('Contact', this.ua.contact(this.source.protocol));
    if (status >= 200 && status < 300) {
      const rr = this.request.headers.getAll('Record-Route');
      if (rr.length > 0) res.headers.set('Record-Route', rr);
    }
    this.ua.decorate(res);
    return res;
  }
}

export interface OutgoingInviteOptions {
  /** Request-URI. */
  uri: string;
  /** From and To header values (name-addr; a From tag is added). */
  from: string;
  to: string;
  sdp: string;
  /** Where to send it (the target's address; the Request-URI may name another host). */
  destination: Peer;
  headers?: [string, string][];
  /** Credentials for a 401/407 challenge from the callee (one retry). */
  auth?: { username: string; password: string };
}

/** The UAC side: an INVITE we send (the B2BUA's outbound leg). */
export class InviteClientSession extends Session {
  readonly options: OutgoingInviteOptions;
  readonly callIdValue: string;
  readonly localTag = generateTag();
  request: SipRequest;
  transaction: ClientTransaction | null = null;
  #cseq = 1;
  #provisional = false;
  #cancelPending = false;
  #authTried = false;

  constructor(ua: UserAgent, options: OutgoingInviteOptions, callId: string) {
    super(ua);
    this.options = options;
    this.callIdValue = callId;
    this.request = this.#build();
  }

  /** Sends the INVITE. */
  start(): void {
    this.#send();
  }

  /**
   * §9.1: CANCEL a call not yet answered (after a provisional response; before one, the CANCEL
   * waits for it). Ends with 'cancelled' when the 487 arrives.
   */
  cancel(): void {
    if (this.state === 'terminated' || this.state === 'confirmed') return;
    if (!this.#provisional) {
      this.#cancelPending = true;
      return;
    }
    const cancel: SipRequest = {
      kind: 'request',
      method: 'CANCEL',
      uri: this.request.uri,
      headers: this.request.headers.clone(),
      body: Buffer.alloc(0),
    };
    for (const [n] of cancel.headers.entries()) {
      if (!['Via', 'From', 'To', 'Call-ID', 'Route', 'Max-Forwards'].includes(n)) cancel.headers.delete(n);
    }
    cancel.headers.set('Via', this.request.headers.get('Via') ?? '');
    cancel.headers.set('CSeq', `${this.#cseq} CANCEL`);
    this.ua.transactions.request(cancel, this.options.destination);
  }

  #build(): SipRequest {
    const headers: [string, string][] = [
      ['Via', this.ua.transport.via(this.options.destination.protocol, generateBranch())],
      ['Max-Forwards', '70'],
      ['From', `${this.options.from};tag=${this.localTag}`],
      ['To', this.options.to],
      ['Call-ID', this.callIdValue],
      ['CSeq', `${this.#cseq} INVITE`],
      ['Contact', this.ua.contact(this.options.destination.protocol)],
      ['Content-Type', 'application/sdp'],
      ...(this.options.headers ?? []),
    ];
    const req = this.ua.newRequest('INVITE', this.options.uri, headers, Buffer.from(this.options.sdp));
    return req;
  }

  #send(): void {
    const tx = this.ua.transactions.request(this.request, this.options.destination);
    this.transaction = tx;
    tx.on('response', (res) => this.#onResponse(res));
    tx.on('timeout', () => this.#fail('timeout', 408));
    tx.on('transportError', () => this.#fail('transport_error', 503));
  }

  #onResponse(res: SipResponse): void {
    const status = res.status;
    if (status < 200) {
      if (status > 100) {
        this.#provisional = true;
        if (this.state === 'initial') this.state = 'early';
        this.emit('progress', res);
      } else this.#provisional = true;
      if (this.#cancelPending) {
        this.#cancelPending = false;
        this.cancel();
      }
      return;
    }
    if (status < 300) {
      // 2xx, first or retransmitted: (re)send the ACK (§13.2.2.4).
      if (this.dialog === null) {
        this.dialog = Dialog.asUac(this.request, res, this.ua.contact(this.options.destination.protocol), this.options.destination.protocol);
        this.remoteSdp = res.body.toString('utf8');
        this.ua.remember(this);
      }
      const ack = this.dialog.createAck(this.#cseq, (branch) => this.ua.transport.via(this.options.destination.protocol, branch));
      const to = this.dialog.destination() ?? this.options.destination;
      void this.ua.transport.send(ack, to);
      if (this.state !== 'confirmed' && this.state !== 'terminated') {
        if (this.#cancelPending) {
          // Answered while our CANCEL waited: the call is up; hang it up.
          this.state = 'confirmed';
          this.bye();
          return;
        }
        this.state = 'confirmed';
        this.emit('confirmed');
      }
      return;
    }
    if ((status === 401 || status === 407) && this.options.auth !== undefined && !this.#authTried) {
      this.#authTried = true;
      const header = status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate';
      const challenge = res.headers.get(header);
      if (challenge !== undefined) {
        const authorization = this.ua.authorize(challenge, 'INVITE', this.options.uri, this.options.auth);
        if (authorization !== null) {
          this.#cseq++;
          this.request = this.#build();
          this.request.headers.set(status === 401 ? 'Authorization' : 'Proxy-Authorization', authorization);
          this.#send();
          return;
        }
      }
    }
    if (status === 487) this.#fail('cancelled', 487);
    else this.#fail('failed', status);
  }

  #fail(reason: EndReason, status: number): void {
    this.finish({ reason, status });
  }
}

/** A unique Call-ID for a new outbound call. */
export function newCallId(host: string): string {
  return `${generateTag()}${generateTag()}@${host}`;
}
