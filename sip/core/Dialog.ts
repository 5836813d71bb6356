/**
 * A dialog (RFC 3261 §12): the peer-to-peer relationship a 2xx to an INVITE creates, and what
 * every in-dialog request is built from (§12.2.1.1) and checked against (§12.2.2).
 */
import { formatNameAddr, generateBranch, parseNameAddr, parseUri, SipHeaders } from '../message/index.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import type { Peer, TransportProtocol } from '../transport/index.js';

export interface DialogState {
  callId: string;
  localTag: string;
  remoteTag: string;
  /** From/To header values for requests we send (name-addr with our tag / their tag). */
  localUri: string;
  remoteUri: string;
  /** The peer's Contact URI: the Request-URI of our in-dialog requests. */
  remoteTarget: string;
  /** Route set, in the order our requests carry it (§12.1.1 UAS: Record-Route as is; §12.1.2 UAC: reversed). */
  routeSet: string[];
  localSeq: number;
  /** -1 until the peer sends a request in the dialog. */
  remoteSeq: number;
  /** Our Contact header value. */
  localContact: string;
  /** Transport used for in-dialog requests. */
  protocol: TransportProtocol;
}

export class Dialog implements DialogState {
  callId: string;
  localTag: string;
  remoteTag: string;
  localUri: string;
  remoteUri: string;
  remoteTarget: string;
  routeSet: string[];
  localSeq: number;
  remoteSeq: number;
  localContact: string;
  protocol: TransportProtocol;
  /** Where in-dialog requests go when the peer is reached the way it reached us (symmetric). */
  peer: Peer | null = null;

  constructor(state: DialogState) {
    this.callId = state.callId;
    this.localTag = state.localTag;
    this.remoteTag = state.remoteTag;
    this.localUri = state.localUri;
    this.remoteUri = state.remoteUri;
    this.remoteTarget = state.remoteTarget;
    this.routeSet = state.routeSet;
    this.localSeq = state.localSeq;
    this.remoteSeq = state.remoteSeq;
    this.localContact = state.localContact;
    this.protocol = state.protocol;
  }

  get id(): string {
    return dialogId(this.callId, this.localTag, this.remoteTag);
  }

  /** §12.1.1: the dialog a UAS creates when it answers `invite` with `response` (which carries our To tag). */
  static asUas(invite: SipRequest, response: SipResponse, localContact: string, source: Peer): Dialog {
    const from = parseNameAddr(invite.headers.get('From') ?? '');
    const to = response.headers.get('To') ?? '';
    const toNa = parseNameAddr(to);
    const contact = parseNameAddr(invite.headers.get('Contact') ?? '');
    const cseq = Number.parseInt((invite.headers.get('CSeq') ?? '0').trim(), 10);
    const d = new Dialog({
      callId: invite.headers.get('Call-ID') ?? '',
      localTag: toNa?.params.get('tag') ?? '',
      remoteTag: from?.params.get('tag') ?? '',
      localUri: to,
      remoteUri: invite.headers.get('From') ?? '',
      remoteTarget: contact !== null ? contactUri(invite.headers.get('Contact') ?? '') : invite.uri,
      routeSet: invite.headers.getAll('Record-Route'),
      localSeq: Math.floor(Math.random() * 10000) + 1,
      remoteSeq: Number.isFinite(cseq) ? cseq : 0,
      localContact,
      protocol: source.protocol,
    });
    d.peer = source;
    return d;
  }

  /** §12.1.2: the dialog a UAC gets from a 2xx (or 1xx with a To tag) to its `invite`. */
  static asUac(invite: SipRequest, response: SipResponse, localContact: string, protocol: TransportProtocol): Dialog {
    const to = parseNameAddr(response.headers.get('To') ?? '');
    const from = parseNameAddr(invite.headers.get('From') ?? '');
    const cseq = Number.parseInt((invite.headers.get('CSeq') ?? '1').trim(), 10);
    return new Dialog({
      callId: invite.headers.get('Call-ID') ?? '',
      localTag: from?.params.get('tag') ?? '',
      remoteTag: to?.params.get('tag') ?? '',
      localUri: invite.headers.get('From') ?? '',
      remoteUri: response.headers.get('To') ?? '',
      remoteTarget: contactUri(response.headers.get('Contact') ?? '') || invite.uri,
      routeSet: response.headers.getAll('Record-Route').reverse(),
      localSeq: Number.isFinite(cseq) ? cseq : 1,
      remoteSeq: -1,
      localContact,
      protocol,
    });
  }

  /** §12.2.1.1: a new in-dialog request (BYE, re-INVITE, INFO, ...), CSeq incremented; Via set by the caller. */
  createRequest(method: string, body?: { type: string; content: Buffer | string }, extra: [string, string][] = []): SipRequest {
    if (method !== 'ACK' && method !== 'CANCEL') this.localSeq++;
    return this.#request(method, this.localSeq, body, extra);
  }

  /** §13.2.2.4: the ACK for a 2xx, with the INVITE's CSeq number and a new branch. */
  createAck(inviteSeq: number, viaFor: (branch: string) => string): SipRequest {
    const ack = this.#request('ACK', inviteSeq);
    ack.headers.set('Via', viaFor(generateBranch()));
    return ack;
  }

  /**
   * §12.2.2: checks the CSeq of a request the peer sent in this dialog. Returns false for a
   * lower CSeq (answer 500); a request with the same CSeq is a retransmission handled below us.
   */
  acceptRemoteSeq(request: SipRequest): boolean {
    const seq = Number.parseInt((request.headers.get('CSeq') ?? '').trim(), 10);
    if (!Number.isFinite(seq)) return false;
    if (request.method === 'ACK' || request.method === 'CANCEL') return true;
    if (this.remoteSeq >= 0 && seq < this.remoteSeq) return false;
    this.remoteSeq = seq;
    return true;
  }

  /** Where an in-dialog request goes: the first route, else the remote target (§12.2.1.1, §8.1.2). */
  destination(): Peer | null {
    if (this.peer !== null && this.routeSet.length === 0) {
      // Symmetric: a UAS reaches the UAC where its requests came from (NAT-friendly, like RFC 3581).
      if (this.peer.connection === undefined || this.peer.connection.open) return this.peer;
      // The stream closed: its source port was the UAC's ephemeral one, which nothing listens
      // on; open a new connection to the remote target (the UAC's Contact) instead.
      return peerForUri(this.remoteTarget, this.protocol);
    }
    const first = this.routeSet[0];
    const target = first !== undefined ? contactUri(first) : this.remoteTarget;
    return peerForUri(target, this.protocol);
  }

  #request(method: string, seq: number, body?: { type: string; content: Buffer | string }, extra: [string, string][] = []): SipRequest {
    const headers = new SipHeaders();
    let uri = this.remoteTarget;
    const routes = [...this.routeSet];
    // §12.2.1.1: a strict router (no ;lr) gets the Request-URI; the remote target goes last.
    const first = routes[0];
    if (first !== undefined && !parseNameAddr(first)?.uri.params.has('lr')) {
      uri = contactUri(first);
      routes.shift();
      routes.push(`<${this.remoteTarget}>`);
    }
    headers.set('Via', '');
    headers.set('Max-Forwards', '70');
    headers.set('From', this.localUri);
    headers.set('To', this.remoteUri);
    headers.set('Call-ID', this.callId);
    headers.set('CSeq', `${seq} ${method}`);
    if (routes.length > 0) headers.set('Route', routes);
    if (method !== 'ACK') headers.set('Contact', this.localContact);
    for (const [n, v] of extra) headers.append(n, v);
    let content: Buffer = Buffer.alloc(0);
    if (body !== undefined) {
      headers.set('Content-Type', body.type);
      content = typeof body.content === 'string' ? Buffer.from(body.content) : body.content;
    }
    return { kind: 'request', method, uri, headers, body: content };
  }
}

export function dialogId(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}

/** The URI inside a Contact/Route value ("<sip:a@b>;expires=1" -> "sip:a@b"). */
export function contactUri(value: string): string {
  const na = parseNameAddr(value);
  if (na === null) return '';
  return formatNameAddr({ uri: na.uri, params: new Map() }).replace(/^<|>$/g, '');
}

/** Where a SIP URI points: transport from ;transport=, port default 5060 (5061 for sips). */
export function peerForUri(uri: string, fallback: TransportProtocol = 'udp'): Peer | null {
  const u = parseUri(uri);
  if (u === null) return null;
  const t = u.params.get('transport');
  const protocol: TransportProtocol =
    u.scheme === 'sips' ? 'tls' : t === 'tcp' ? 'tcp' : t === 'tls' ? 'tls' : t === 'udp' ? 'udp' : fallback;
  const host = u.host.startsWith('[') ? u.host.slice(1, -1) : u.host;
  return { protocol, address: host, port: u.port ?? (protocol === 'tls' ? 5061 : 5060) };
}
