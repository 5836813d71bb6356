/** Calls: routes, the gateway (record, connect as a B2BUA, reject), media legs and recordings. */
export { Gateway, CallStateError } from './Gateway.js';
export type { GatewayEvents, GatewayStats, GatewayServices } from './Gateway.js';
export { Call } from './Call.js';
export type { CallStatus, CallRecordingInfo, CallEvents } from './Call.js';
export { MediaLeg, LOCAL_CODECS, payloadFormat } from './MediaLeg.js';
export { loadConfig, helpText, defaultPublicAddress, parseIceServers, SETTINGS } from './config.js';
export type { GatewayConfig } from './config.js';
export { loadRoutes, parseRoutes, defaultRoutes, matchRoute, targetFor, glob } from './routes.js';
export { parseDtmfInfo, dtmfRelayBody } from './dtmf.js';
export type { InfoDigit } from './dtmf.js';
export type { Route, RouteTable, RouteAction, TrunkPolicy, CallFacts } from './routes.js';
export { parseRecordingSpec, RECORDING_DEFAULTS } from '../recorder/index.js';
export type { RecordingSpec, Participant } from '../recorder/index.js';
