/** Calls: routes, the gateway (record, connect as a B2BUA, reject), media legs and recordings. */
export { Gateway, CallStateError } from './Gateway.js';
export type { GatewayEvents, GatewayStats, GatewayServices } from './Gateway.js';
export { Call } from './Call.js';
export { Admission } from './Admission.js';
export type { AdmissionOptions, AdmissionStats, Refusal } from './Admission.js';
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
export { Conference, ConferenceFullError } from './Conference.js';
export type { ConferenceRecordingSpec, Participant as ConferenceParticipant } from './Conference.js';
export { ConferenceManager } from './Conferences.js';
export { FlowRunner } from './FlowRunner.js';
export type { FlowHost } from './FlowRunner.js';
export { Prompt } from './Prompt.js';
export { loadAudioFile, synthesize, resolveMediaPath, AudioSourceError, MAX_TTS_CHARS } from './audioSource.js';
export type { AudioSourceErrorCode, LoadAudioOptions, SynthesizeOptions } from './audioSource.js';
export { conferenceNameFor, MAX_CONFERENCE_PARTICIPANTS } from './routes.js';
export {
  parseFlow,
  parseFlowRecording,
  FlowError,
  isConnectTarget,
  isConferenceName,
  isMediaName,
  FLOW_ACTION_NAMES,
  FLOW_DEFAULTS,
  FLOW_RECORDING_EXTRA_KEYS,
  MAX_FLOW_ACTIONS,
  MAX_FLOW_DEPTH,
} from './flows.js';
export type { FlowAction, FlowActionName, FlowRecording } from './flows.js';
