/** Recordings: a mixer output encoded to a crash-safe file through a bounded write queue. */
export { Recording } from './Recording.js';
export { hashFile, fileHashStats, warmFileHash } from './fileHash.js';
export type {
  RecordingOptions,
  RecordingStartOptions,
  RecordingResult,
  RecordingState,
  RecordingEvents,
  PauseBehavior,
  PauseInterval,
  StopReason,
} from './Recording.js';
export { FileSink } from './FileSink.js';
export { batchWriteStats, useBatchedWrites } from './batchWrite.js';
export type { FileSinkOptions } from './FileSink.js';
export { parseRecordingSpec, channelCount, RECORDING_DEFAULTS, RECORDING_OPTION_KEYS, RecordingOptionError } from './options.js';
export type { RecordingSpec, Participant } from './options.js';
export type {
  RecordingStatus,
  ReferenceType,
  PauseRow,
  RecordingRow,
  CallStatus as CallRowStatus,
  CallRow,
  DtmfRecord,
  AccountRow,
  OutboxRow,
  OutboxStatus,
  RecordingQuery,
  CallQuery,
  Page,
  Store,
  UserRow,
  TrackRecord,
  FlowRow,
  FlowQuery,
  ConferenceRow,
  ConferenceStatus,
  ConferenceQuery,
  ParticipantRecord,
} from './model.js';
export { RECORDING_TRANSITIONS, nowIso } from './model.js';
export { RecordingService } from './RecordingService.js';
export type {
  RecordingEvent,
  RecordingEventType,
  PublicRecording,
  StartRecordingRequest,
  RecordingServiceOptions,
  RecordingServiceEvents,
} from './RecordingService.js';
export { SqliteStore, MAX_PAGE_SIZE } from './store/SqliteStore.js';
export type { SqliteStoreOptions } from './store/SqliteStore.js';
export type { CheckpointReply, CheckpointStats } from './store/Checkpointer.js';
export { WebhookDispatcher, signWebhook, verifyWebhookSignature, webhookRetryDelayMs, WEBHOOK_SIGNATURE_HEADER } from './webhooks.js';
export type { WebhookDispatcherOptions } from './webhooks.js';
export { LocalStorage } from './storage.js';
export type { RecordingStorage } from './storage.js';
