/**
 * SIP messages (RFC 3261 §7, §25): the data model, parser, serializer and builders, header
 * value grammar, TCP/TLS stream framing (§18.3) and HTTP Digest (§22). The only file other
 * folders import from sip/message.
 */
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
} from './types.js';
export { SipHeaders } from './SipHeaders.js';
export { parseMessage, DEFAULT_SIP_LIMITS, resolveLimits, splitList } from './parse.js';
export { serializeMessage, createRequest, createResponse, reasonPhrase } from './serialize.js';
export type { CreateResponseOptions } from './serialize.js';
export {
  parseUri,
  formatUri,
  parseNameAddr,
  formatNameAddr,
  parseVia,
  formatVia,
  parseCSeq,
  parseParams,
  parseAuthParams,
  formatAuthHeader,
  quoteString,
  isToken,
  isValidHost,
  trimLws,
  generateTag,
  generateBranch,
  generateCallId,
  BRANCH_MAGIC_COOKIE,
} from './headerValues.js';
export { StreamFramer } from './StreamFramer.js';
export type { StreamFramerOptions, StreamFramerStats } from './StreamFramer.js';
export {
  createChallenge,
  parseChallenge,
  parseCredentials,
  verifyCredentials,
  computeResponse,
  computeHa1,
  createAuthorization,
  parseDigestAlgorithm,
  NonceManager,
} from './digest.js';
export type {
  DigestAlgorithm,
  DigestQop,
  DigestChallenge,
  ChallengeOptions,
  DigestCredentials,
  ComputeResponseOptions,
  VerifyCredentialsOptions,
  CreateAuthorizationOptions,
  NonceManagerOptions,
  NonceStatus,
} from './digest.js';
