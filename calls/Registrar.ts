/**
 * The registrar for softphones (RFC 3261 §10): REGISTER with digest authentication (RFC 8760
 * SHA-256 and MD5 challenges), Expires and Min-Expires, several contacts per user, removal by
 * Expires 0 or `Contact: *`, and — since a browser behind a WebSocket is reachable only on its
 * own connection — bindings that die with their connection. Bindings live in memory: after a
 * restart phones register again (their refresh interval is short).
 */
import {
  NonceManager,
  contactUri,
  createChallenge,
  createResponse,
  parseCredentials,
  parseNameAddr,
  parseUri,
  reasonPhrase,
  verifyCredentials,
} from '../sip/index.js';
import type { Connection, Peer, ServerTransaction, SipRequest } from '../sip/index.js';
import type { Store, UserRow } from '../recorder/index.js';

export interface Binding {
  username: string;
  /** The Contact URI the phone registered. */
  contact: string;
  /** How to reach it: the connection (WebSocket/TCP) or address the REGISTER came from. */
  peer: Peer;
  callId: string;
  cseq: number;
  /** Epoch ms when it expires. */
  expiresAt: number;
}

export interface RegistrarOptions {
  store: Store;
  realm: string;
  /** Longest registration granted, s (default 3600); shortest accepted, s (default 60). */
  maxExpires?: number;
  minExpires?: number;
  now?: () => number;
}

export class Registrar {
  readonly realm: string;
  readonly #store: Store;
  readonly #nonces = new NonceManager();
  readonly #bindings = new Map<string, Binding[]>();
  readonly #maxExpires: number;
  readonly #minExpires: number;
  readonly #now: () => number;
  registrations = 0;
  authFailures = 0;

  constructor(options: RegistrarOptions) {
    this.#store = options.store;
    this.realm = options.realm;
    this.#maxExpires = options.maxExpires ?? 3600;
    this.#minExpires = options.minExpires ?? 60;
    this.#now = options.now ?? Date.now;
  }

  /** The live contacts of a user (expired ones and those on closed connections are dropped). */
  lookup(username: string): Binding[] {
    const list = this.#bindings.get(username);
    if (list === undefined) return [];
    const now = this.#now();
    const live = list.filter((b) => b.expiresAt > now && (b.peer.connection === undefined || b.peer.connection.open));
    if (live.length !== list.length) this.#set(username, live);
    return live;
  }

  /** Every user with at least one live binding. */
  registeredUsers(): string[] {
    return [...this.#bindings.keys()].filter((u) => this.lookup(u).length > 0);
  }

  /** A connection closed: its bindings go (a browser is unreachable without its WebSocket). */
  connectionClosed(conn: Connection): void {
    for (const [user, list] of this.#bindings) {
      const kept = list.filter((b) => b.peer.connection !== conn);
      if (kept.length !== list.length) this.#set(user, kept);
    }
  }

  /** Drops a user's bindings (the user was deleted). */
  forget(username: string): void {
    this.#bindings.delete(username);
  }

  /**
   * Authenticates a request from one of our users other than REGISTER (a softphone's INVITE):
   * the user, or the rejection to send (401 with challenges, or 403).
   */
  authorize(request: SipRequest): { user: UserRow } | { status: 401 | 403; headers: [string, string][] } {
    const header = request.headers.get('Authorization');
    const challenge = (stale: boolean): { status: 401; headers: [string, string][] } => ({
      status: 401,
      headers: [
        ['WWW-Authenticate', createChallenge({ realm: this.realm, algorithm: 'SHA-256', nonce: this.#nonces.issue(), stale })],
        ['WWW-Authenticate', createChallenge({ realm: this.realm, algorithm: 'MD5', nonce: this.#nonces.issue(), stale })],
      ],
    });
    if (header === undefined) return challenge(false);
    const creds = parseCredentials(header);
    const user = creds === null ? null : this.#store.getUser(creds.username);
    if (creds === null || user === null || creds.realm !== this.realm) {
      this.authFailures++;
      return { status: 403, headers: [] };
    }
    const nonce = this.#nonces.check(creds.nonce);
    if (nonce !== 'valid') return challenge(nonce === 'stale');
    const ha1 = creds.algorithm === 'SHA-256' ? user.ha1_sha256 : creds.algorithm === 'MD5' ? user.ha1_md5 : '';
    if (ha1 === '' || !verifyCredentials({ credentials: creds, method: request.method, realm: this.realm, ha1 })) {
      this.authFailures++;
      return { status: 403, headers: [] };
    }
    return { user };
  }

  /** Answers a REGISTER transaction. */
  handle(tx: ServerTransaction): void {
    const req = tx.request;
    const to = parseNameAddr(req.headers.get('To') ?? '');
    const aor = to === null ? null : to.uri;
    if (aor === null || aor.user === '') return this.#reply(tx, 400, [['Warning', '399 recgate "To must name the user"']]);
    const user = this.#store.getUser(aor.user);
    const header = req.headers.get('Authorization');
    const challenge = (stale: boolean): void => {
      this.#reply(tx, 401, [
        ['WWW-Authenticate', createChallenge({ realm: this.realm, algorithm: 'SHA-256', nonce: this.#nonces.issue(), stale })],
        ['WWW-Authenticate', createChallenge({ realm: this.realm, algorithm: 'MD5', nonce: this.#nonces.issue(), stale })],
      ]);
    };
    if (header === undefined) return challenge(false);
    const creds = parseCredentials(header);
    if (creds === null || user === null || creds.username !== aor.user || creds.realm !== this.realm) {
      this.authFailures++;
      return this.#reply(tx, 403);
    }
    const nonce = this.#nonces.check(creds.nonce);
    if (nonce === 'stale') return challenge(true);
    if (nonce !== 'valid') {
      this.authFailures++;
      return challenge(false);
    }
    const ha1 = creds.algorithm === 'SHA-256' ? user.ha1_sha256 : creds.algorithm === 'MD5' ? user.ha1_md5 : '';
    if (ha1 === '' || !verifyCredentials({ credentials: creds, method: 'REGISTER', realm: this.realm, ha1 })) {
      this.authFailures++;
      return this.#reply(tx, 403);
    }
    this.#update(tx, aor.user);
  }

  #update(tx: ServerTransaction, username: string): void {
    const req = tx.request;
    const callId = req.headers.get('Call-ID') ?? '';
    const cseq = Number.parseInt(req.headers.get('CSeq') ?? '0', 10);
    const expiresHeader = req.headers.get('Expires');
    const defaultExpires = expiresHeader === undefined ? this.#maxExpires : Number.parseInt(expiresHeader, 10);
    const contacts = req.headers.getAll('Contact');
    let list = this.lookup(username);
    if (contacts.length === 1 && contacts[0]!.trim() === '*') {
      // §10.3 step 6: "*" only with Expires: 0 removes every binding.
      if (defaultExpires !== 0) return this.#reply(tx, 400, [['Warning', '399 recgate "Contact: * needs Expires: 0"']]);
      this.#set(username, []);
      return this.#ok(tx, username);
    }
    const now = this.#now();
    for (const value of contacts) {
      const na = parseNameAddr(value);
      if (na === null) return this.#reply(tx, 400, [['Warning', '399 recgate "bad Contact"']]);
      const param = na.params.get('expires');
      let expires = param !== undefined && param !== null ? Number.parseInt(param, 10) : defaultExpires;
      if (!Number.isFinite(expires) || expires < 0) expires = this.#maxExpires;
      const uri = contactUri(value);
      if (expires === 0) {
        list = list.filter((b) => b.contact !== uri);
        continue;
      }
      if (expires < this.#minExpires) return this.#reply(tx, 423, [['Min-Expires', String(this.#minExpires)]]);
      expires = Math.min(expires, this.#maxExpires);
      const existing = list.find((b) => b.contact === uri);
      // §10.3 step 7: an older CSeq on the same Call-ID is a stale retransmission.
      if (existing && existing.callId === callId && cseq <= existing.cseq) continue;
      const binding: Binding = { username, contact: uri, peer: tx.source, callId, cseq, expiresAt: now + expires * 1000 };
      list = existing ? list.map((b) => (b === existing ? binding : b)) : [...list, binding];
    }
    this.#set(username, list);
    this.registrations++;
    this.#ok(tx, username);
  }

  #ok(tx: ServerTransaction, username: string): void {
    const now = this.#now();
    const headers: [string, string][] = this.lookup(username).map((b) => ['Contact', `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`]);
    headers.push(['Date', new Date(now).toUTCString()]);
    this.#reply(tx, 200, headers);
  }

  #reply(tx: ServerTransaction, status: number, headers: [string, string][] = []): void {
    const res = createResponse(tx.request, status, reasonPhrase(status), { toTag: status === 100 ? undefined : 'r' + Math.random().toString(36).slice(2, 10) });
    for (const [n, v] of headers) res.headers.append(n, v);
    res.headers.set('Server', 'recgate');
    tx.respond(res);
  }

  #set(username: string, list: Binding[]): void {
    if (list.length === 0) this.#bindings.delete(username);
    else this.#bindings.set(username, list);
  }
}

/** The user part of a `user:{name}` connect target, or null. */
export function userTarget(target: string): string | null {
  const m = /^user:([A-Za-z0-9._~+-]+)$/.exec(target);
  return m ? m[1]! : null;
}

export { parseUri };
