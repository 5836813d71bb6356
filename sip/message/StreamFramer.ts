/**
 * Cuts a TCP/TLS byte stream into SIP messages (RFC 3261 §18.3): the header section ends at
 * the first empty line, and Content-Length — mandatory on streams — gives the body length.
 *
 * Between messages, CRLFs are skipped (§7.5); a double CRLF is the RFC 5626 §3.5.1 keep-alive
 * ping, reported through onKeepAlive so the transport can answer with a single CRLF pong.
 *
 * A stream that breaks the framing (no Content-Length, a bad one, a header section or message
 * over the limits) cannot be resynchronised: onError is called once and every later byte is
 * ignored until reset(); the transport answers if it can and closes the connection.
 *
 * Bytes are appended to one growing buffer; the search for the end of the headers resumes
 * where it stopped, so a message arriving one byte at a time costs O(n), not O(n²).
 */
import { readRequestPartial, resolveLimits } from './parse.js';
import type { ParseError, SipLimits } from './types.js';

export interface StreamFramerOptions extends Partial<SipLimits> {
  /** Called for each RFC 5626 double-CRLF ping between messages. */
  onKeepAlive?: () => void;
}

export interface StreamFramerStats {
  messages: number;
  keepAlives: number;
  errors: number;
  /** Exceptions thrown by onMessage / onError / onKeepAlive, caught so framing goes on. */
  listenerErrors: number;
  /** Bytes held waiting for the rest of a message. */
  bufferedBytes: number;
}

const CR = 0x0d;
const LF = 0x0a;
const INITIAL_CAPACITY = 4096;

type State = 'idle' | 'headers' | 'body' | 'failed';

export class StreamFramer {
  /** Keep-alive listener; may be set after construction. */
  onKeepAlive: (() => void) | undefined;

  readonly #onMessage: (bytes: Buffer) => void;
  readonly #onError: (e: ParseError) => void;
  readonly #limits: SipLimits;

  #buf = Buffer.allocUnsafe(INITIAL_CAPACITY);
  /** Live bytes are #buf[#start, #end). */
  #start = 0;
  #end = 0;
  #state: State = 'idle';
  /** Where the end-of-headers search resumes (absolute index into #buf). */
  #scan = 0;
  /** LFs seen between messages since the last keep-alive (two make a ping). */
  #idleLfs = 0;
  /** Total length of the current message once its headers are read. */
  #messageLength = 0;

  #messages = 0;
  #keepAlives = 0;
  #errors = 0;
  #listenerErrors = 0;

  constructor(onMessage: (bytes: Buffer) => void, onError: (e: ParseError) => void, options?: StreamFramerOptions) {
    this.#onMessage = onMessage;
    this.#onError = onError;
    this.#limits = resolveLimits(options);
    this.onKeepAlive = options?.onKeepAlive;
  }

  /** Feeds bytes from the socket. Never throws; after an error further bytes are ignored. */
  push(chunk: Uint8Array): void {
    if (this.#state === 'failed' || chunk.length === 0) return;
    let from = 0;
    if (this.#state === 'idle') {
      from = this.#skipIdle(chunk, 0);
      if (from === chunk.length) return;
    }
    this.#append(chunk, from);
    this.#drain();
  }

  /** Forgets buffered bytes and any error: the framer is as new (for a reused connection object). */
  reset(): void {
    this.#buf = Buffer.allocUnsafe(INITIAL_CAPACITY);
    this.#start = 0;
    this.#end = 0;
    this.#state = 'idle';
    this.#scan = 0;
    this.#idleLfs = 0;
    this.#messageLength = 0;
  }

  get stats(): StreamFramerStats {
    return {
      messages: this.#messages,
      keepAlives: this.#keepAlives,
      errors: this.#errors,
      listenerErrors: this.#listenerErrors,
      bufferedBytes: this.#end - this.#start,
    };
  }

  /** Whether the framer stopped after an error (until reset()). */
  get failed(): boolean {
    return this.#state === 'failed';
  }

  /** Skips CR/LF between messages, counting pings; returns the index of the first other byte. */
  #skipIdle(bytes: Uint8Array, i: number): number {
    while (i < bytes.length) {
      const b = bytes[i];
      if (b === LF) {
        if (++this.#idleLfs === 2) {
          this.#idleLfs = 0;
          this.#keepAlives++;
          this.#call(() => this.onKeepAlive?.());
        }
      } else if (b !== CR) {
        this.#idleLfs = 0;
        return i;
      }
      i++;
    }
    return i;
  }

  #append(chunk: Uint8Array, from: number): void {
    const need = chunk.length - from;
    if (this.#end + need > this.#buf.length) {
      const live = this.#end - this.#start;
      if (live + need <= this.#buf.length && this.#start >= live) {
        // Enough room once the consumed prefix is dropped (and the copy cannot overlap badly).
        this.#buf.copy(this.#buf, 0, this.#start, this.#end);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, live + need));
        this.#buf.copy(grown, 0, this.#start, this.#end);
        this.#buf = grown;
      }
      this.#scan -= this.#start;
      this.#start = 0;
      this.#end = live;
    }
    this.#buf.set(chunk.subarray(from), this.#end);
    this.#end += need;
  }

  /** Delivers every complete message in the buffer. */
  #drain(): void {
    for (;;) {
      if (this.#state === 'idle') {
        const first = this.#skipIdle(this.#buf.subarray(0, this.#end), this.#start);
        this.#start = first;
        if (first === this.#end) {
          this.#start = 0;
          this.#end = 0;
          return;
        }
        this.#state = 'headers';
        this.#scan = first;
      }
      if (this.#state === 'headers' && !this.#readHeaders()) return;
      if (this.#state === 'body') {
        if (this.#end - this.#start < this.#messageLength) return;
        // A copy: the caller may keep the message while this buffer is reused.
        const message = Buffer.from(this.#buf.subarray(this.#start, this.#start + this.#messageLength));
        this.#start += this.#messageLength;
        this.#state = 'idle';
        this.#idleLfs = 0;
        this.#messages++;
        this.#call(() => this.#onMessage(message));
        continue;
      }
      return;
    }
  }

  /**
   * Looks for the empty line ending the headers (CRLFCRLF, or LFLF from sloppy peers) from
   * where the last search stopped. Returns true when the state moved on (body or failed).
   */
  #readHeaders(): boolean {
    const buf = this.#buf;
    const start = this.#start;
    const lim = this.#limits;
    // Resume one byte early so an LF ending the last chunk pairs with the next one.
    let i = Math.max(start, this.#scan - 1);
    let headerEnd = -1;
    for (;;) {
      const lf = buf.indexOf(LF, i);
      if (lf === -1 || lf >= this.#end) break;
      // An empty line: LF LF or LF CR LF.
      const next = lf + 1;
      if (next < this.#end && buf[next] === LF) {
        headerEnd = next + 1;
        break;
      }
      if (next + 1 < this.#end && buf[next] === CR && buf[next + 1] === LF) {
        headerEnd = next + 2;
        break;
      }
      if (next >= this.#end || (next + 1 >= this.#end && buf[next] === CR)) {
        // Cannot tell yet: resume at this LF when more bytes come.
        i = lf;
        break;
      }
      i = next;
    }
    if (headerEnd === -1) {
      this.#scan = Math.max(i, this.#end - 2);
      if (this.#end - start > lim.maxHeaderBytes) {
        this.#fail('ERR_SIP_TOO_LARGE', `header section over ${lim.maxHeaderBytes} bytes`, 413, start + lim.maxHeaderBytes);
        return true;
      }
      return false;
    }
    const headerLength = headerEnd - start;
    if (headerLength > lim.maxHeaderBytes) {
      this.#fail('ERR_SIP_TOO_LARGE', `header section over ${lim.maxHeaderBytes} bytes`, 413, start + lim.maxHeaderBytes);
      return true;
    }
    const cl = contentLength(buf, start, headerEnd);
    if (typeof cl === 'string') {
      this.#fail('ERR_SIP_CONTENT_LENGTH', cl, 400, headerEnd);
      return true;
    }
    if (headerLength + cl > lim.maxMessageBytes) {
      this.#fail('ERR_SIP_TOO_LARGE', `message of ${headerLength + cl} bytes over ${lim.maxMessageBytes}`, 413, headerEnd);
      return true;
    }
    this.#messageLength = headerLength + cl;
    this.#state = 'body';
    return true;
  }

  #fail(code: ParseError['code'], message: string, status: number, partialEnd: number): void {
    const head = this.#buf.subarray(this.#start, Math.min(partialEnd, this.#end));
    const isResponse = head.length >= 4 && head.toString('latin1', 0, 4).toUpperCase() === 'SIP/';
    const error: ParseError = { code, message, status: isResponse ? 0 : status };
    if (!isResponse) {
      const partial = readRequestPartial(head, { maxHeaderBytes: Math.max(head.length, 1), maxMessageBytes: Math.max(head.length, 1) });
      if (partial !== undefined) error.partial = partial;
    }
    this.#state = 'failed';
    this.#errors++;
    this.#buf = Buffer.allocUnsafe(0);
    this.#start = 0;
    this.#end = 0;
    this.#call(() => this.#onError(error));
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch {
      this.#listenerErrors++;
    }
  }
}

/**
 * The Content-Length of a header section [s, e) (long or compact `l` name, any case, LWS
 * before the colon, folded value), or a message saying why there is none usable (§18.3: on a
 * stream it is mandatory).
 */
function contentLength(buf: Buffer, s: number, e: number): number | string {
  const values: string[] = [];
  /** Index in `values` of the field that continuation lines extend, -1 for other fields. */
  let current = -1;
  let i = buf.indexOf(LF, s) + 1; // skip the start line
  while (i > 0 && i < e) {
    let lf = buf.indexOf(LF, i);
    if (lf === -1 || lf >= e) lf = e;
    let le = lf;
    if (le > i && buf[le - 1] === CR) le--;
    if (le === i) break; // the empty line
    const first = buf[i];
    if (first === 0x20 || first === 0x09) {
      if (current !== -1) values[current] += ' ' + buf.toString('latin1', i, le);
    } else {
      current = -1;
      const line = buf.toString('latin1', i, le);
      const colon = line.indexOf(':');
      const name = colon === -1 ? '' : line.slice(0, colon).trim().toLowerCase();
      if (name === 'content-length' || name === 'l') {
        values.push(line.slice(colon + 1));
        current = values.length - 1;
      }
    }
    i = lf + 1;
  }
  const first = values[0]?.trim();
  if (first === undefined) return 'no Content-Length on a stream transport';
  if (values.some((v) => v.trim() !== first)) return 'conflicting Content-Length values';
  if (!/^[0-9]{1,10}$/.test(first)) return 'bad Content-Length';
  return Number(first);
}
