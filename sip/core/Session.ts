/**
 * An INVITE session, either side (RFC 3261 §13, §14, §15): the dialog it created and what
 * happens inside it — BYE, re-INVITE (hold, resume, codec change), INFO, OPTIONS — plus the
 * 2xx retransmission a UAS owes until the ACK (§13.3.1.4) and the ACK a UAC sends for it.
 */
import { InvalidStateError, SafeEmitter } from '../../common/index.js';
import { createResponse, generateBranch, generateTag, reasonPhrase } from '../message/index.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import type { ClientTransaction, ServerTransaction, TimerHandle } from '../transaction/index.js';
import type { Peer } from '../transport/index.js';
import { Dialog, contactUri } from './Dialog.js';
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

/** How a re-INVITE we sent ended (Session.reinvite). */
export interface ReinviteResult {
  /** Final status; 408 when Timer B fired, 503 when the transport could not send or the layer closed. */
  status: number;
  /** The peer's SDP answer in a 2xx ('' otherwise). */
  answer: string;
  /** The final response, or null for a timeout or a transport error. */
  response: SipResponse | null;
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

/** The re-INVITE hook of a session with no application behind it. */
const refuseReinvite = (): ReinviteAnswer => ({ status: 488 });

export abstract class Session extends SafeEmitter<SessionEvents> {
  readonly ua: UserAgent;
  dialog: Dialog | null = null;
  state: SessionState = 'initial';
  /** Called for a re-INVITE with an SDP offer; must return the answer. Default: 488. */
  onReinvite: (offer: string, request: SipRequest) => ReinviteAnswer = refuseReinvite;
  end: SessionEnd | null = null;
  /** The remote party's SDP (latest offer or answer). */
  remoteSdp = '';

  // UAS 2xx retransmission (§13.3.1.4), also used for our 2xx to re-INVITEs. `initial`: the
  // 2xx to the dialog-creating INVITE (no BYE may be sent before its ACK, §15).
  #pending2xx: { response: SipResponse; to: Peer; seq: number; initial: boolean } | null = null;
  #retransmitTimer: TimerHandle | null = null;
  #retransmitInterval = 0;
  #giveUpTimer: TimerHandle | null = null;
  /** A re-INVITE we sent awaits its final response (§14.1: one INVITE transaction at a time). */
  #reinviting = false;
  /** bye() was called before the ACK of our initial 2xx: the BYE goes out when it arrives (§15). */
  #byeOnAck = false;

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

  /**
   * Sends BYE (confirmed dialogs) and ends the session. Idempotent. A UAS whose 2xx is not
   * ACKed yet ends at once for the application, but holds the BYE until the ACK arrives or
   * the 2xx times out (§15: the callee MUST NOT send BYE before either).
   */
  bye(): void {
    if (this.state === 'terminated') return;
    if (this.dialog !== null && this.#pending2xx !== null && this.#pending2xx.initial) {
      this.#byeOnAck = true;
      this.state = 'terminated';
      this.end = { reason: 'local_bye', status: 0 };
      this.emit('ended', this.end);
      this.#letGo();
      return;
    }
    if (this.state === 'confirmed') this.#sendBye();
    this.finish({ reason: 'local_bye', status: 0 });
  }

  /**
   * Sends a re-INVITE with a new SDP offer in the confirmed dialog (§14.1: hold, resume, a
   * codec change). Resolves once the final response arrives, its ACK already sent for a 2xx
   * and `remoteSdp` updated. A 481, 408 or Timer B ends the session (§12.2.1.2). Rejects with
   * InvalidStateError when the dialog is not confirmed or an INVITE transaction of this dialog
   * is still in progress (§14.1: the caller waits and retries).
   */
  async reinvite(sdp: string, headers: [string, string][] = []): Promise<ReinviteResult> {
    const dialog = this.dialog;
    if (this.state !== 'confirmed' || dialog === null) throw new InvalidStateError(`re-INVITE needs a confirmed dialog (state ${this.state})`);
    if (this.#reinviting || this.#pending2xx !== null) {
      throw new InvalidStateError('an INVITE transaction of this dialog is still in progress (RFC 3261 §14.1)');
    }
    const to = dialog.destination();
    if (to === null) throw new InvalidStateError('the dialog has no usable remote target');
    const request = dialog.createRequest('INVITE', { type: 'application/sdp', content: sdp }, headers);
    const seq = dialog.localSeq;
    this.#reinviting = true;
    return new Promise<ReinviteResult>((resolve) => {
      let done = false;
      let ack: SipRequest | null = null;
      const settle = (result: ReinviteResult): void => {
        if (done) return;
        done = true;
        this.#reinviting = false;
        resolve(result);
      };
      const tx = this.ua.sendRequest(request, to);
      tx.on('response', (res) => {
        if (res.status < 200) return;
        if (res.status < 300) {
          if (!done) {
            // §12.2.1.2: a 2xx to a target refresh request replaces the remote target.
            const contact = res.headers.get('Contact');
            const target = contact === undefined ? '' : contactUri(contact);
            if (target !== '') dialog.remoteTarget = target;
          }
          // §13.2.2.4: every 2xx, retransmissions included, gets the ACK (the same one).
          ack ??= dialog.createAck(seq, (branch) => this.ua.transport.via(to.protocol, branch));
          void this.ua.transport.send(ack, dialog.destination() ?? to);
          if (done) return;
          const answer = res.body.toString('utf8');
          this.remoteSdp = answer;
          settle({ status: res.status, answer, response: res });
          return;
        }
        settle({ status: res.status, answer: '', response: res });
        if (res.status === 481) this.finish({ reason: 'failed', status: 481 });
        else if (res.status === 408) this.#timedOut();
      });
      tx.on('timeout', () => {
        settle({ status: 408, answer: '', response: null });
        this.#timedOut();
      });
      tx.on('transportError', () => settle({ status: 503, answer: '', response: null }));
      // Ended without a final response: the transaction layer was closed (shutdown).
      tx.on('terminated', () => settle({ status: 503, answer: '', response: null }));
    });
  }

  /** Called by the UA for a request inside this session's dialog. */
  handleRequest(tx: ServerTransaction): void {
    const req = tx.request;
    if (this.dialog === null) {
      tx.respond(481);
      return;
    }
    if (this.state === 'terminated') {
      // Ended for the application, still waiting for an ACK before our BYE (see bye()).
      if (req.method === 'BYE') {
        tx.respond(200);
        this.#release();
      } else tx.respond(481);
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
    if (this.#pending2xx === null || seq !== this.#pending2xx.seq) return;
    this.#stopRetransmit();
    if (this.#byeOnAck) {
      this.#sendBye();
      this.#release();
      return;
    }
    if (this.state === 'early' || this.state === 'initial') {
      this.state = 'confirmed';
      this.emit('confirmed');
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
    this.#letGo();
  }

  /**
   * After 'ended' the application is told and asked nothing more: its listeners and its
   * re-INVITE hook go. The session's transactions keep it for up to 32 s after the BYE (their
   * timers absorb retransmissions, RFC 3261 §17), and through those callbacks they kept the
   * application's call with its media: about 130 KiB of audio buffers per ended call.
   */
  #letGo(): void {
    this.removeAllListeners();
    this.onReinvite = refuseReinvite;
  }

  /**
   * Sends a 2xx and retransmits it with T1 doubling up to T2 until the ACK (§13.3.1.4). Over
   * TCP too: "independent of whatever transport protocols are used", since a hop between the
   * UAS and the UAC may be UDP.
   */
  protected send2xx(tx: ServerTransaction, response: SipResponse): void {
    const seq = Number.parseInt((tx.request.headers.get('CSeq') ?? '').trim(), 10);
    const initial = this.state !== 'confirmed';
    tx.respond(response);
    this.#stopRetransmit();
    this.#pending2xx = { response, to: tx.source, seq, initial };
    const { timers, values } = this.ua.transactions.ctx;
    this.#retransmitInterval = values.T1;
    this.#retransmitTimer = timers.set(() => this.#retransmit(), this.#retransmitInterval);
    this.#giveUpTimer = timers.set(() => {
      // No ACK within 64*T1: the dialog is dead; §13.3.1.4 says end it with a BYE.
      this.#stopRetransmit();
      this.#sendBye();
      if (this.#byeOnAck) this.#release();
      else this.finish({ reason: 'ack_timeout', status: 0 });
    }, 64 * values.T1);
  }

  /**
   * Sends INFO in the confirmed dialog (RFC 6086; e.g. DTMF relay as application/dtmf-relay).
   * Resolves with the final status: 408 on Timer F, 503 when it could not be sent or the
   * session is not confirmed. A 481 or 408 ends the session (RFC 6086 §4.2.2).
   */
  info(contentType: string, body: string): Promise<number> {
    const dialog = this.dialog;
    const to = dialog?.destination() ?? null;
    if (this.state !== 'confirmed' || dialog === null || to === null) return Promise.resolve(503);
    const tx = this.ua.sendRequest(dialog.createRequest('INFO', { type: contentType, content: body }), to);
    return new Promise<number>((resolve) => {
      let done = false;
      const settle = (status: number): void => {
        if (done) return;
        done = true;
        resolve(status);
        if (status === 481) this.finish({ reason: 'failed', status: 481 });
        else if (status === 408) this.#timedOut();
      };
      tx.on('response', (res) => {
        if (res.status >= 200) settle(res.status);
      });
      tx.on('timeout', () => settle(408));
      tx.on('transportError', () => settle(503));
      tx.on('terminated', () => settle(503));
    });
  }

  /** Sends a BYE in the dialog (no state change). */
  #sendBye(): void {
    if (this.dialog === null) return;
    const to = this.dialog.destination();
    if (to !== null) this.ua.sendRequest(this.dialog.createRequest('BYE'), to);
  }

  /** Timer B or a 408 for a request in the dialog: the dialog is gone (§12.2.1.2). */
  #timedOut(): void {
    if (this.state === 'terminated') return;
    this.#sendBye();
    this.finish({ reason: 'timeout', status: 408 });
  }

  /** Drops what a session that already ended still held (the deferred BYE's wait). */
  #release(): void {
    this.#byeOnAck = false;
    this.#stopRetransmit();
    this.ua.forget(this);
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
      // §14.2: a re-INVITE while our previous 2xx awaits its ACK: 500 with Retry-After 0..10 s.
      const res = createResponse(tx.request, 500, 'Server Internal Error');
      res.headers.set('Retry-After', String(Math.floor(Math.random() * 11)));
      this.ua.decorate(res);
      tx.respond(res);
      return;
    }
    if (this.#reinviting) {
      // §14.2: glare, our own re-INVITE is pending.
      tx.respond(491);
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
      // §12.2.2: a re-INVITE is a target refresh (applied once accepted, as RFC 6141 §3.3 says).
      const contact = tx.request.headers.get('Contact');
      const target = contact === undefined ? '' : contactUri(contact);
      if (target !== '') this.dialog.remoteTarget = target;
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

  /**
   * Hangs up: BYE once answered (held until the ACK, see Session.bye); before any final
   * response the INVITE still needs one, so 480 goes out and the session ends 'local_bye'.
   */
  override bye(): void {
    if (this.state !== 'terminated' && !this.transaction.finalSent) {
      this.transaction.respond(this.#response(480));
      this.finish({ reason: 'local_bye', status: 0 });
      return;
    }
    super.bye();
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
  /** cancel() was called: a later 2xx is ACKed and hung up, not taken as the answer. */
  #cancelRequested = false;
  /** cancel() came before any provisional response: the CANCEL waits for one (§9.1). */
  #cancelPending = false;
  #cancelTimer: TimerHandle | null = null;
  #authTried = false;
  /** A 2xx was taken (as the answer, or ACKed and hung up): later 2xx are retransmissions. */
  #answered = false;
  #ack: SipRequest | null = null;

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
   * Hangs up: BYE once answered; before the answer a CANCEL (§9.1), the session ending
   * 'local_bye' at once (a 2xx that still comes is ACKed and ended with a BYE).
   */
  override bye(): void {
    if (this.state === 'initial' || this.state === 'early') {
      this.cancel();
      this.finish({ reason: 'local_bye', status: 0 });
      return;
    }
    super.bye();
  }

  /**
   * §9.1: CANCEL a call not yet answered (after a provisional response; before one, the CANCEL
   * waits for it). Ends with 'cancelled' when the 487 arrives.
   */
  cancel(): void {
    if (this.state === 'terminated' || this.state === 'confirmed') return;
    this.#cancelRequested = true;
    if (!this.#provisional) {
      this.#cancelPending = true;
      return;
    }
    this.#sendCancel();
  }

  /** Sends the CANCEL (once) and starts the §9.1 wait for the INVITE's final response. */
  #sendCancel(): void {
    if (this.#cancelTimer !== null || this.#answered) return;
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
    // §9.1: with no final response to the INVITE 64*T1 after the CANCEL, consider it
    // cancelled and destroy its transaction (an INVITE in Proceeding has no timer of its own).
    const { timers, values } = this.ua.transactions.ctx;
    this.#cancelTimer = timers.set(() => {
      this.transaction?.terminate();
      this.finish({ reason: 'cancelled', status: 0 });
    }, 64 * values.T1);
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
    tx.on('terminated', () => {
      if (this.transaction === tx) this.ua.transactions.ctx.timers.clear(this.#cancelTimer);
    });
    tx.on('timeout', () => this.#fail('timeout', 408));
    tx.on('transportError', () => this.#fail('transport_error', 503));
  }

  #onResponse(res: SipResponse): void {
    const status = res.status;
    if (status < 200) {
      this.#provisional = true;
      if (status > 100 && this.state !== 'terminated') {
        if (this.state === 'initial') this.state = 'early';
        this.emit('progress', res);
      }
      if (this.#cancelPending) {
        // Sent even when the session already ended (bye() before any 1xx): the INVITE must go.
        this.#cancelPending = false;
        this.#sendCancel();
      }
      return;
    }
    if (status < 300) {
      // 2xx, first or retransmitted: (re)send the ACK (§13.2.2.4), the same one each time.
      const protocol = this.options.destination.protocol;
      const dialog = this.dialog ?? Dialog.asUac(this.request, res, this.ua.contact(protocol), protocol);
      // A WebSocket peer (a browser) is reachable only on its own connection: its Contact host
      // is a made-up .invalid name (RFC 7118 §5). Keep the connection for in-dialog requests.
      const dest = this.options.destination;
      if (dialog.peer === null && (dest.protocol === 'ws' || dest.protocol === 'wss') && dest.connection !== undefined) dialog.peer = dest;
      this.#ack ??= dialog.createAck(this.#cseq, (branch) => this.ua.transport.via(protocol, branch));
      void this.ua.transport.send(this.#ack, dialog.destination() ?? this.options.destination);
      if (this.#answered) return;
      this.#answered = true;
      this.ua.transactions.ctx.timers.clear(this.#cancelTimer);
      if (this.#cancelRequested || this.state === 'terminated') {
        // The callee answered while our CANCEL was pending or in flight (§9.1: a CANCEL has no
        // effect once the final response is sent), or after we gave up: the dialog exists at
        // the callee, so end it with a BYE without handing it to the application.
        this.ua.sendRequest(dialog.createRequest('BYE'), dialog.destination() ?? this.options.destination);
        this.finish({ reason: 'cancelled', status: 0 });
        return;
      }
      this.dialog = dialog;
      this.remoteSdp = res.body.toString('utf8');
      this.ua.remember(this);
      this.state = 'confirmed';
      this.emit('confirmed');
      return;
    }
    this.ua.transactions.ctx.timers.clear(this.#cancelTimer);
    if (this.state === 'terminated') return;
    if ((status === 401 || status === 407) && this.options.auth !== undefined && !this.#authTried && !this.#cancelRequested) {
      this.#authTried = true;
      const header = status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate';
      const challenge = res.headers.get(header);
      if (challenge !== undefined) {
        const authorization = this.ua.authorize(challenge, 'INVITE', this.options.uri, this.options.auth);
        if (authorization !== null) {
          this.#cseq++;
          // A new INVITE transaction: a CANCEL waits for its own provisional response (§9.1).
          this.#provisional = false;
          this.request = this.#build();
          this.request.headers.set(status === 401 ? 'Authorization' : 'Proxy-Authorization', authorization);
          this.#send();
          return;
        }
      }
    }
    if (status === 487 || this.#cancelRequested) this.#fail('cancelled', status);
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
