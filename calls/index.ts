/** Calls: routes, the gateway (record, connect as a B2BUA, reject), media legs and recordings. */
export { Gateway } from './Gateway.js';
export type { GatewayEvents, GatewayStats } from './Gateway.js';
export { Call } from './Call.js';
export type { CallStatus, CallRecordingInfo, CallEvents } from './Call.js';
export { MediaLeg, LOCAL_CODECS, payloadFormat } from './MediaLeg.js';
export { loadConfig, helpText, defaultPublicAddress, SETTINGS } from './config.js';
export type { GatewayConfig } from './config.js';
export { loadRoutes, parseRoutes, defaultRoutes, matchRoute, targetFor, glob } from './routes.js';
export type { Route, RouteTable, RouteAction, TrunkPolicy, CallFacts } from './routes.js';
export { parseRecordingSpec, RECORDING_DEFAULTS } from './recordingOptions.js';
export type { RecordingSpec, Participant } from './recordingOptions.js';
