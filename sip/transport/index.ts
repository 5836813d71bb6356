/** SIP transports: UDP and TCP on one port, TLS optional (RFC 3261 §18, RFC 3581). */
export { SipTransport, stampVia, responseTarget } from './SipTransport.js';
export type {
  Connection,
  Peer,
  IncomingMessage,
  TransportProtocol,
  SipTransportOptions,
  SipTransportEvents,
  SipTransportStats,
  SipWebSocket,
} from './SipTransport.js';
