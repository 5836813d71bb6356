/**
 * recgate's RFC 3261 SIP stack, layered like SIP.js's core: messages (parse, serialize,
 * digest), transports (UDP/TCP/TLS), transactions (all timers), the user-agent core (dialogs,
 * INVITE sessions) and SDP offer/answer. Knows nothing of media: it hands SDP to calls/.
 * Other folders import only this file.
 */
export {
  SipHeaders,
  parseMessage,
  serializeMessage,
  createRequest,
  createResponse,
  reasonPhrase,
  parseUri,
  formatUri,
  parseNameAddr,
  formatNameAddr,
  parseVia,
  formatVia,
  parseCSeq,
  generateTag,
  generateBranch,
  generateCallId,
  StreamFramer,
  createChallenge,
  parseChallenge,
  parseCredentials,
  verifyCredentials,
  computeResponse,
  computeHa1,
  createAuthorization,
  NonceManager,
  DEFAULT_SIP_LIMITS,
} from './message/index.js';
export type {
  SipUri,
  NameAddr,
  Via,
  CSeq,
  SipHeaderList,
  SipRequest,
  SipResponse,
  SipMessage,
  ParseError,
  ParseResult,
  SipLimits,
} from './message/index.js';
export { SipTransport, stampVia, responseTarget } from './transport/index.js';
export type { Connection, Peer, IncomingMessage, TransportProtocol, SipTransportOptions, SipTransportStats, SipWebSocket } from './transport/index.js';
export { TransactionLayer, ServerTransaction, ClientTransaction, FakeTimers, nodeTimers, DEFAULT_TIMERS, T1, T2, T4 } from './transaction/index.js';
export type {
  TransactionUser,
  TimerApi,
  SipTimerValues,
  TransactionState,
  TransactionLayerStats,
  TransactionLayerOptions,
} from './transaction/index.js';
export { UserAgent, Session, InviteServerSession, InviteClientSession, Dialog, peerForUri, contactUri, ALLOW } from './core/index.js';
export type {
  UserAgentDelegate,
  UserAgentOptions,
  SessionEnd,
  EndReason,
  ReinviteAnswer,
  ReinviteResult,
  SessionState,
  OutgoingInviteOptions,
} from './core/index.js';
export { parseSdp, negotiateAnswer, createOffer, negotiateAnswerReceived, nextVersion, isHoldOffer } from './sdp/index.js';
export type {
  Direction,
  Codec,
  SessionDescription,
  MediaDescription,
  LocalCapabilities,
  LocalCodec,
  NegotiatedMedia,
  LocalOffer,
  AnswerResult,
} from './sdp/index.js';
