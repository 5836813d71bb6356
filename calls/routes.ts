/**
 * Routes: which calls are recorded, bridged or refused. A JSON file (RECGATE_ROUTES); the first
 * route whose match fits the call wins. Without a file every call is answered and recorded.
 *
 * {"routes": [{"match": {"user": "record*"}, "action": "record", "recording": {...}},
 *             {"match": {"user": "+1*"}, "action": "connect", "target": "sip:{user}@192.0.2.10:5060"},
 *             {"match": {"user": "ivr"}, "action": "flow", "flow": [{"action": "answer"}, ...]},
 *             {"match": {"user": "menu"}, "action": "flow", "flow_id": "<id from POST /v1/flows>"},
 *             {"match": {"user": "room-*"}, "action": "conference", "conference": "{user}", "max_participants": 10},
 *             {"match": {"user": "*"}, "action": "reject", "status": 404}],
 *  "trunks": {"allow": ["10.0.0.0/8"], "auth": {"realm": "recgate", "users": {"trunk1": "secret"}}}}
 *
 * A bad file stops start-up with a message naming the route and the field.
 */
import fs from 'node:fs';
import net from 'node:net';
import { InvalidArgumentError } from '../common/index.js';
import { parseRecordingSpec } from '../recorder/index.js';
import type { RecordingSpec } from '../recorder/index.js';
import { FlowError, isConferenceName, isConnectTarget, parseFlow } from './flows.js';
import type { FlowAction } from './flows.js';

export type RouteAction = 'record' | 'connect' | 'reject' | 'flow' | 'conference';

/** Most participants a conference route may allow. */
export const MAX_CONFERENCE_PARTICIPANTS = 100;

export interface Route {
  index: number;
  name: string;
  match: { user: string; from?: string; source?: string[] };
  action: RouteAction;
  /** connect: the target URI, `{user}` replaced by the called user. */
  target?: string;
  /** reject: the status (4xx-6xx) and reason. */
  status?: number;
  reason?: string;
  /** Recording options, or false for none (always false on flow routes: flows start their own). */
  recording: RecordingSpec | false;
  /** flow: the actions, checked when the routes were loaded. */
  flow?: FlowAction[];
  /** flow: a stored flow's id (POST /v1/flows), looked up when a call arrives. */
  flowId?: string;
  /** conference: the name template (`{user}` replaced by the called user); the conference is created on first join. */
  conference?: string;
  /** conference: the participant limit of a conference this route creates (the conference's default when absent). */
  maxParticipants?: number;
  /** Account owning the calls (tenants arrive with the API). */
  account?: string;
  /** connect: seconds to wait for an answer; default 60. */
  ringTimeoutSec: number;
  /** connect: credentials if the target challenges us. */
  targetAuth?: { username: string; password: string };
  /** Demand digest authentication from the caller (needs trunks.auth). */
  requireAuth: boolean;
  readonly userRe: RegExp;
  readonly fromRe: RegExp | null;
  readonly sources: net.BlockList | null;
}

export interface TrunkPolicy {
  /** When set, only these sources may send INVITEs (others: 403). */
  allow: net.BlockList | null;
  /** Digest challenge: realm, users, and the algorithms offered, most preferred first (RFC 8760 §2.4). */
  auth: { realm: string; users: Map<string, string>; algorithms: ('SHA-256' | 'MD5')[] } | null;
}

export interface RouteTable {
  routes: Route[];
  trunks: TrunkPolicy;
}

/** What a call looks like to the router. */
export interface CallFacts {
  /** User part of the Request-URI. */
  user: string;
  /** The From URI (sip:alice@host). */
  from: string;
  /** Source IP of the INVITE. */
  source: string;
}

/** The table used without a routes file: record every call as mono WAV. */
export function defaultRoutes(): RouteTable {
  return parseRoutes({ routes: [{ match: { user: '*' }, action: 'record' }] });
}

export function loadRoutes(file: string): RouteTable {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`cannot read routes file ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`routes file ${file} is not JSON: ${(err as Error).message}`);
  }
  return parseRoutes(json);
}

export function parseRoutes(json: unknown): RouteTable {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InvalidArgumentError('routes file must hold an object with "routes"');
  const top = json as Record<string, unknown>;
  for (const k of Object.keys(top)) if (k !== 'routes' && k !== 'trunks') throw new InvalidArgumentError(`routes file: unknown key "${k}"`);
  if (!Array.isArray(top.routes) || top.routes.length === 0) throw new InvalidArgumentError('routes file: "routes" must be a non-empty array');
  const trunks = parseTrunks(top.trunks);
  const routes = top.routes.map((r, i) => parseRoute(r, i, trunks));
  return { routes, trunks };
}

function parseTrunks(input: unknown): TrunkPolicy {
  if (input === undefined) return { allow: null, auth: null };
  if (typeof input !== 'object' || input === null) throw new InvalidArgumentError('trunks must be an object');
  const t = input as Record<string, unknown>;
  for (const k of Object.keys(t)) if (k !== 'allow' && k !== 'auth') throw new InvalidArgumentError(`trunks.${k} is not a setting`);
  const allow = t.allow === undefined ? null : blockList(t.allow, 'trunks.allow');
  let auth: TrunkPolicy['auth'] = null;
  if (t.auth !== undefined) {
    const a = t.auth as Record<string, unknown>;
    if (typeof a !== 'object' || a === null || typeof a.realm !== 'string' || a.realm === '') {
      throw new InvalidArgumentError('trunks.auth.realm must be a non-empty string');
    }
    if (typeof a.users !== 'object' || a.users === null || Object.keys(a.users).length === 0) {
      throw new InvalidArgumentError('trunks.auth.users must map user names to passwords');
    }
    let algorithms: ('SHA-256' | 'MD5')[] = ['SHA-256', 'MD5'];
    if (a.algorithms !== undefined) {
      if (
        !Array.isArray(a.algorithms) ||
        a.algorithms.length === 0 ||
        !a.algorithms.every((x) => x === 'SHA-256' || x === 'MD5')
      ) {
        throw new InvalidArgumentError('trunks.auth.algorithms must list "SHA-256" and/or "MD5", most preferred first');
      }
      algorithms = a.algorithms as ('SHA-256' | 'MD5')[];
    }
    const users = new Map<string, string>();
    for (const [u, p] of Object.entries(a.users as Record<string, unknown>)) {
      if (typeof p !== 'string' || p === '') throw new InvalidArgumentError(`trunks.auth.users.${u} must be a non-empty password string`);
      users.set(u, p);
    }
    auth = { realm: a.realm, users, algorithms };
  }
  return { allow, auth };
}

const ROUTE_KEYS = new Set([
  'name', 'match', 'action', 'target', 'status', 'reason', 'recording', 'account', 'ring_timeout', 'target_auth', 'auth',
  'flow', 'flow_id', 'conference', 'max_participants',
]);
const ROUTE_ACTIONS: readonly RouteAction[] = ['record', 'connect', 'reject', 'flow', 'conference'];
/** A stored flow's id: what POST /v1/flows gives (a UUID), or any 1-64 of A-Z a-z 0-9 _ -. */
const FLOW_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

function parseRoute(input: unknown, i: number, trunks: TrunkPolicy): Route {
  const where = `routes[${i}]`;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InvalidArgumentError(`${where} must be an object`);
  const r = input as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!ROUTE_KEYS.has(k)) throw new InvalidArgumentError(`${where}.${k} is not a route field`);
  const m = r.match as Record<string, unknown> | undefined;
  if (typeof m !== 'object' || m === null) throw new InvalidArgumentError(`${where}.match must be an object with "user"`);
  for (const k of Object.keys(m)) if (!['user', 'from', 'source'].includes(k)) throw new InvalidArgumentError(`${where}.match.${k} is not a match field`);
  if (typeof m.user !== 'string' || m.user === '') throw new InvalidArgumentError(`${where}.match.user must be a glob string, e.g. "*"`);
  if (m.from !== undefined && typeof m.from !== 'string') throw new InvalidArgumentError(`${where}.match.from must be a glob string`);
  const sources = m.source === undefined ? null : blockList(Array.isArray(m.source) ? m.source : [m.source], `${where}.match.source`);
  const action = r.action as RouteAction;
  if (!ROUTE_ACTIONS.includes(action)) {
    throw new InvalidArgumentError(`${where}.action must be ${ROUTE_ACTIONS.join(', ')}, got ${JSON.stringify(r.action)}`);
  }
  if (action !== 'flow') {
    for (const k of ['flow', 'flow_id'] as const) if (r[k] !== undefined) throw new InvalidArgumentError(`${where}.${k} only applies to flow`);
  }
  if (action !== 'conference') {
    for (const k of ['conference', 'max_participants'] as const) if (r[k] !== undefined) throw new InvalidArgumentError(`${where}.${k} only applies to conference`);
  }
  const route: Route = {
    index: i,
    name: typeof r.name === 'string' ? r.name : `route ${i}`,
    match: {
      user: m.user,
      ...(typeof m.from === 'string' ? { from: m.from } : {}),
      ...(m.source !== undefined ? { source: (Array.isArray(m.source) ? m.source : [m.source]) as string[] } : {}),
    },
    action,
    recording: false,
    ringTimeoutSec: 60,
    requireAuth: r.auth === true,
    userRe: glob(m.user),
    fromRe: typeof m.from === 'string' ? glob(m.from) : null,
    sources,
  };
  if (r.auth !== undefined && typeof r.auth !== 'boolean') throw new InvalidArgumentError(`${where}.auth must be true or false`);
  if (route.requireAuth && trunks.auth === null) throw new InvalidArgumentError(`${where}.auth needs trunks.auth with a realm and users`);
  if (r.account !== undefined) {
    if (typeof r.account !== 'string' || r.account === '') throw new InvalidArgumentError(`${where}.account must be a string`);
    route.account = r.account;
  }
  if (action === 'reject') {
    const status = r.status ?? 403;
    if (!Number.isInteger(status) || (status as number) < 400 || (status as number) > 699) {
      throw new InvalidArgumentError(`${where}.status must be a SIP status 400..699, got ${JSON.stringify(r.status)}`);
    }
    route.status = status as number;
    if (r.reason !== undefined) {
      if (typeof r.reason !== 'string') throw new InvalidArgumentError(`${where}.reason must be a string`);
      route.reason = r.reason;
    }
    if (r.recording !== undefined && r.recording !== false) throw new InvalidArgumentError(`${where}.recording: a rejected call has nothing to record`);
    return route;
  }
  if (r.status !== undefined) throw new InvalidArgumentError(`${where}.status only applies to reject`);
  if (action === 'conference') {
    for (const k of ['target', 'ring_timeout', 'target_auth'] as const) {
      if (r[k] !== undefined) throw new InvalidArgumentError(`${where}.${k} only applies to connect (and flow)`);
    }
    parseConferenceRoute(r, route, where);
    return route;
  }
  if (action === 'flow') parseFlowRoute(r, route, where);
  else route.recording = r.recording === false ? false : parseRecordingSpec(r.recording, `${where}.recording`);
  if (action === 'connect') {
    if (!isConnectTarget(r.target)) {
      throw new InvalidArgumentError(`${where}.target must be a sip: URI, e.g. "sip:{user}@192.0.2.10:5060", or user:{name} for a registered user`);
    }
    route.target = r.target;
  } else if (r.target !== undefined) {
    throw new InvalidArgumentError(`${where}.target only applies to connect`);
  }
  // A flow route's ring_timeout and target_auth serve its connect actions (a ring_timeout_sec there wins).
  if (action === 'connect' || action === 'flow') {
    if (r.ring_timeout !== undefined) {
      if (!Number.isInteger(r.ring_timeout) || (r.ring_timeout as number) < 1 || (r.ring_timeout as number) > 600) {
        throw new InvalidArgumentError(`${where}.ring_timeout must be 1..600 seconds`);
      }
      route.ringTimeoutSec = r.ring_timeout as number;
    }
    if (r.target_auth !== undefined) {
      const a = r.target_auth as Record<string, unknown>;
      if (typeof a !== 'object' || a === null || typeof a.username !== 'string' || typeof a.password !== 'string') {
        throw new InvalidArgumentError(`${where}.target_auth must be {"username": "...", "password": "..."}`);
      }
      route.targetAuth = { username: a.username, password: a.password };
    }
  }
  if (route.recording !== false && route.recording.participant === 'callee' && action === 'record') {
    throw new InvalidArgumentError(`${where}.recording.participant: a record route has no callee`);
  }
  return route;
}

/** A flow route: inline actions ("flow", checked now) or a stored flow ("flow_id", looked up per call); never both. */
function parseFlowRoute(r: Record<string, unknown>, route: Route, where: string): void {
  if (r.recording !== undefined && r.recording !== false) {
    throw new InvalidArgumentError(`${where}.recording: a flow route records with its recording_start actions`);
  }
  if ((r.flow === undefined) === (r.flow_id === undefined)) {
    throw new InvalidArgumentError(`${where}.flow: a flow route needs "flow" (an array of actions) or "flow_id" (a stored flow), not both`);
  }
  if (r.flow_id !== undefined) {
    if (typeof r.flow_id !== 'string' || !FLOW_ID_RE.test(r.flow_id)) {
      throw new InvalidArgumentError(`${where}.flow_id must be the id of a stored flow (1-64 of A-Z a-z 0-9 _ -), got ${JSON.stringify(r.flow_id)}`);
    }
    route.flowId = r.flow_id;
    return;
  }
  try {
    route.flow = parseFlow(r.flow);
  } catch (err) {
    // "routes[2].flow: action 1 (gather): max_digits must be an integer 1..32, got 40"
    if (err instanceof FlowError) throw new InvalidArgumentError(`${where}.flow: ${err.message}`);
    throw err;
  }
}

/** A conference route: every matching call joins the conference named by the template, created on the first join. */
function parseConferenceRoute(r: Record<string, unknown>, route: Route, where: string): void {
  if (!isConferenceName(r.conference)) {
    throw new InvalidArgumentError(
      `${where}.conference must be a conference name template like "{user}" or "room-{user}" (1-128 of A-Z a-z 0-9 . _ ~ + @ -), got ${JSON.stringify(r.conference)}`,
    );
  }
  route.conference = r.conference;
  if (r.max_participants !== undefined) {
    const n = r.max_participants;
    if (!Number.isInteger(n) || (n as number) < 2 || (n as number) > MAX_CONFERENCE_PARTICIPANTS) {
      throw new InvalidArgumentError(`${where}.max_participants must be an integer 2..${MAX_CONFERENCE_PARTICIPANTS}, got ${JSON.stringify(n)}`);
    }
    route.maxParticipants = n as number;
  }
  // Without "recording" a conference is not recorded: a mix is opt-in, unlike a record route.
  if (r.recording !== undefined && r.recording !== false) {
    const spec = parseRecordingSpec(r.recording, `${where}.recording`);
    if (spec.participant !== 'all') throw new InvalidArgumentError(`${where}.recording.participant: a conference records everyone (all)`);
    route.recording = spec;
  }
}

/** First route matching the call, or null. */
export function matchRoute(table: RouteTable, call: CallFacts): Route | null {
  for (const r of table.routes) {
    if (!r.userRe.test(call.user)) continue;
    if (r.fromRe !== null && !r.fromRe.test(call.from)) continue;
    if (r.sources !== null && !blockListHas(r.sources, call.source)) continue;
    return r;
  }
  return null;
}

/** The connect target for a call: `{user}` replaced. */
export function targetFor(route: Route, call: CallFacts): string {
  return (route.target ?? '').replaceAll('{user}', call.user);
}

/** The conference a conference route sends the call to: `{user}` replaced by the called user. */
export function conferenceNameFor(route: Route, call: CallFacts): string {
  return (route.conference ?? '').replaceAll('{user}', call.user);
}

/** Whether the trunk policy lets `source` in. */
export function sourceAllowed(policy: TrunkPolicy, source: string): boolean {
  return policy.allow === null || blockListHas(policy.allow, source);
}

/** "*" matches any run of characters, "?" one; everything else literally. */
export function glob(pattern: string): RegExp {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

function blockList(input: unknown, where: string): net.BlockList {
  const list = new net.BlockList();
  const items = Array.isArray(input) ? input : [input];
  if (items.length === 0) throw new InvalidArgumentError(`${where} must list at least one address or CIDR`);
  for (const item of items) {
    if (typeof item !== 'string') throw new InvalidArgumentError(`${where} entries must be strings like "10.0.0.0/8"`);
    const [addr, bits] = item.split('/');
    const family = net.isIPv4(addr ?? '') ? 'ipv4' : net.isIPv6(addr ?? '') ? 'ipv6' : null;
    if (family === null) throw new InvalidArgumentError(`${where}: "${item}" is not an IP address or CIDR`);
    const max = family === 'ipv4' ? 32 : 128;
    const prefix = bits === undefined ? max : Number(bits);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new InvalidArgumentError(`${where}: "${item}" has a bad prefix length`);
    list.addSubnet(addr!, prefix, family);
  }
  return list;
}

function blockListHas(list: net.BlockList, address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return list.check(a, net.isIPv6(a) ? 'ipv6' : 'ipv4');
}
