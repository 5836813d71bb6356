/**
 * SIP message model (RFC 3261 §7). Messages are plain data: the parser builds them from bytes,
 * the serializer writes them back; the transaction and dialog layers read and build them.
 *
 * Header names are kept in their canonical long form ("Via", "Call-ID", "Content-Length");
 * compact forms (RFC 3261 §7.3.3: v, i, m, f, t, l, c, k, s, e, o, u, ...) are expanded by the
 * parser. Values are kept as strings, one entry per header field value: a header line with
 * comma-separated values of a multi-value header (Via, Route, Record-Route, Contact, Allow,
 * Supported, Require, ...) becomes several entries, in order.
 */

export interface SipUri {
  scheme: 'sip' | 'sips' | 'tel';
  /** User part, percent-decoded ('' when absent). */
  user: string;
  password?: string;
  /** Host name, IPv4 address, or IPv6 reference in brackets ("[::1]"). */
  host: string;
  /** Port, or undefined when absent. */
  port?: number;
  /** URI parameters (;transport=tcp;lr), names lower-cased, value null for flags. */
  params: Map<string, string | null>;
  /** URI headers (?subject=x), raw. */
  headers: Map<string, string>;
}

/** A name-addr or addr-spec with header parameters: From, To, Contact, Route, Record-Route. */
export interface NameAddr {
  displayName?: string;
  uri: SipUri;
  /** Header parameters after the URI (;tag=..;expires=..), names lower-cased. */
  params: Map<string, string | null>;
}

/** One Via header value (RFC 3261 §20.42, RFC 3581 rport). */
export interface Via {
  /** "UDP", "TCP", "TLS", "WS", "WSS" (upper-cased). */
  transport: string;
  host: string;
  port?: number;
  branch?: string;
  received?: string;
  /** null: present without value (the client asks for it); number: filled in; undefined: absent. */
  rport?: number | null;
  params: Map<string, string | null>;
}

export interface CSeq {
  seq: number;
  method: string;
}

/** Ordered, case-insensitive multimap of header fields. */
export interface SipHeaderList {
  /** First value of the header, or undefined. */
  get(name: string): string | undefined;
  /** Every value, in order ([] when absent). */
  getAll(name: string): string[];
  has(name: string): boolean;
  /** Replaces every value of the header with one (or several) values. */
  set(name: string, value: string | string[]): void;
  /** Adds a value after the existing ones. */
  append(name: string, value: string): void;
  /** Adds a value before the existing ones (a proxy's or client's own Via). */
  prepend(name: string, value: string): void;
  delete(name: string): void;
  /** Every (canonical name, value) pair in order. */
  entries(): [string, string][];
  clone(): SipHeaderList;
}

export interface SipRequest {
  kind: 'request';
  method: string;
  /** Request-URI as written. */
  uri: string;
  headers: SipHeaderList;
  body: Buffer;
}

export interface SipResponse {
  kind: 'response';
  status: number;
  reason: string;
  headers: SipHeaderList;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

/** Why a message was refused by the parser; `status` is the response to send when possible. */
export interface ParseError {
  code:
    | 'ERR_SIP_START_LINE'
    | 'ERR_SIP_HEADER'
    | 'ERR_SIP_MISSING_HEADER'
    | 'ERR_SIP_CONTENT_LENGTH'
    | 'ERR_SIP_TOO_LARGE'
    | 'ERR_SIP_VERSION'
    | 'ERR_SIP_BODY';
  message: string;
  /** 400 (Bad Request), 413 (Request Entity Too Large), 505 (Version Not Supported), or 0 = drop. */
  status: number;
  /**
   * What could be read before the error, enough to answer a request with its status: the
   * method and the Via, From, To, Call-ID and CSeq values found. Absent when nothing usable.
   */
  partial?: { method: string; headers: SipHeaderList };
}

export type ParseResult = { ok: true; message: SipMessage } | { ok: false; error: ParseError };

/** Limits applied by the parser and the stream framer (defaults in parentheses). */
export interface SipLimits {
  /** Largest message, start line + headers + body, in bytes (65535). */
  maxMessageBytes: number;
  /** Largest header section in bytes (16384). */
  maxHeaderBytes: number;
  /** Most header fields (256). */
  maxHeaders: number;
}
