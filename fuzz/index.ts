/**
 * Every fuzz target, in the order the long run (`npm run fuzz`, fuzz/run.ts) runs them: the SIP
 * message parsers (fuzz/sip.ts), SDP, RTP, RTCP, RFC 4733, the receiver, the API's option and
 * flow parsers (fuzz/targets.ts), and the HTTP API over HTTP (fuzz/http.ts).
 */
import { httpApiTarget } from './http.js';
import { SIP_TARGETS } from './sip.js';
import { TARGETS } from './targets.js';
import type { AnyTarget } from './targets.js';

export const ALL_TARGETS: readonly AnyTarget[] = [...SIP_TARGETS, ...TARGETS, httpApiTarget];

export { SIP_TARGETS, TARGETS, httpApiTarget };
export { caseAt, runTarget, show, SLOW_CASE_MS } from './targets.js';
export type { AnyTarget, FuzzFailure, FuzzResult, FuzzTarget, RunOptions } from './targets.js';
export { checkReply, httpCase, send } from './http.js';
export { mutate, mutation } from './sip.js';
export type { Mutation } from './sip.js';
export type { HttpCase, Reply } from './http.js';
