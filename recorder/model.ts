/**
 * What the recording service keeps: accounts (tenants), calls, recordings, the webhook
 * outbox, call flows and conferences. Plain rows, named like the REST API's JSON (snake_case), so the API returns them
 * with little mapping. Times are ISO 8601 UTC strings with milliseconds ('' when unset).
 */
import type { CheckpointStats } from './store/Checkpointer.js';

/** A recording's states move forward only (see RECORDING_TRANSITIONS). */
export type RecordingStatus = 'initiating' | 'recording' | 'paused' | 'stopping' | 'ended' | 'failed' | 'deleted';

/** Allowed next states of each state. */
export const RECORDING_TRANSITIONS: Readonly<Record<RecordingStatus, readonly RecordingStatus[]>> = {
  initiating: ['recording', 'failed', 'stopping'],
  recording: ['paused', 'stopping', 'failed'],
  paused: ['recording', 'stopping', 'failed'],
  stopping: ['ended', 'failed'],
  ended: ['deleted'],
  failed: ['deleted'],
  deleted: [],
};

export type ReferenceType = 'call' | 'conference';

export interface PauseRow {
  /** Offset in the recording (file time) where the pause began, ms. */
  offset_ms: number;
  /** Call time (ms since the call's media started) of the pause's start and end; end -1 while paused. */
  call_start_ms: number;
  call_end_ms: number;
  tm_start: string;
  tm_end: string;
  /** Who paused: 'api', 'flow', 'dtmf'. */
  by: string;
}

export interface RecordingRow {
  id: string;
  account_id: string;
  reference_type: ReferenceType;
  reference_id: string;
  status: RecordingStatus;
  format: 'wav' | 'mp3' | 'opus';
  channels: 'mono' | 'stereo';
  sample_rate: 8000 | 16000 | 48000;
  /** kbit/s (mp3/opus), or null for the encoder's default / wav. */
  bitrate: number | null;
  participant: 'all' | 'caller' | 'callee';
  label: string;
  duration_ms: number;
  file_size: number;
  checksum_sha256: string;
  pauses: PauseRow[];
  /** Finished from its file at start-up after a crash. */
  recovered: boolean;
  /** Why it failed or was deleted by the service ('disk_full', 'min_length', ...); '' otherwise. */
  reason: string;
  /** File path relative to the data directory ('' once deleted). */
  file_path: string;
  /** Every option it was started with (callback_url, upload_url, time_limit, record_min_sec, ...). */
  options: Record<string, unknown>;
  tm_start: string;
  tm_end: string;
  tm_create: string;
  tm_update: string;
  tm_delete: string;
  /** Per-participant tracks of a conference's mix recording, in join order; [] for call recordings. */
  tracks: TrackRecord[];
}

/** One participant's track beside a conference's mix recording (the manifest in RecordingRow.tracks). */
export interface TrackRecord {
  call_id: string;
  /** The participant as shown to people (their From URI or user). */
  participant: string;
  /** The recording holding this participant's own audio. */
  recording_id: string;
  /** When the participant joined and left, ms from the mix recording's start; leave is -1 while present. */
  join_offset_ms: number;
  leave_offset_ms: number;
}

/** A stored call flow (POST /v1/flows): a validated JSON array of actions (see calls/flows.ts). */
export interface FlowRow {
  id: string;
  account_id: string;
  name: string;
  /** The actions as parseFlow() returned them (defaults filled). */
  actions: unknown[];
  tm_create: string;
}

export type ConferenceStatus = 'active' | 'ended';

/** One call in a conference, kept after it leaves. */
export interface ParticipantRecord {
  call_id: string;
  from: string;
  tm_join: string;
  /** '' while the call is in the conference. */
  tm_leave: string;
  muted: boolean;
}

export interface ConferenceRow {
  id: string;
  account_id: string;
  /** The name calls join by (a route's or flow's template, expanded); unique among active conferences of an account. */
  name: string;
  status: ConferenceStatus;
  max_participants: number;
  /** Recording options every new mix recording starts with (auto-record), or null for none. */
  recording: Record<string, unknown> | null;
  /** Everyone who joined, in join order. */
  participants: ParticipantRecord[];
  /** Why it ended ('empty', 'api', 'shutdown', ...); '' while active. */
  end_reason: string;
  tm_create: string;
  tm_end: string;
}

export type CallStatus = 'ringing' | 'progressing' | 'ended';

export interface CallRow {
  id: string;
  account_id: string;
  sip_call_id: string;
  direction: 'inbound' | 'outbound';
  from: string;
  to: string;
  status: CallStatus;
  /** Why it ended ('remote_bye', 'rtp_timeout', ...); '' while up. */
  end_reason: string;
  tm_create: string;
  tm_answer: string;
  tm_end: string;
  /** DTMF digits received, in order, from either party. */
  dtmf: DtmfRecord[];
}

/** One DTMF digit a party sent during a call. */
export interface DtmfRecord {
  leg: 'caller' | 'callee';
  digit: string;
  /**
   * How it came: RTP telephone-event (RFC 4733), SIP INFO (application/dtmf-relay,
   * application/dtmf), or tones detected in the caller's audio ('inband').
   */
  via: 'rfc4733' | 'info' | 'inband';
  /** When it arrived, ms after the call was created. */
  offset_ms: number;
}

export interface AccountRow {
  id: string;
  name: string;
  /** SHA-256 (hex) of the API token; the token itself is shown once, at creation. */
  token_sha256: string;
  /** Where every recording event of the account is sent ('' for none). */
  webhook_url: string;
  /** HMAC-SHA256 key for the X-Recgate-Signature header. */
  webhook_secret: string;
  admin: boolean;
  tm_create: string;
  tm_update: string;
}

/** A SIP user (a softphone that registers); the password is kept only as digest HA1s. */
export interface UserRow {
  username: string;
  account_id: string;
  realm: string;
  ha1_md5: string;
  ha1_sha256: string;
  tm_create: string;
}

export type OutboxStatus = 'pending' | 'delivered' | 'dead';

/** One webhook delivery to one URL. */
export interface OutboxRow {
  seq: number;
  event_id: string;
  account_id: string;
  /** Deliveries of one recording go out in this order; the next waits for the previous. */
  recording_id: string;
  type: string;
  url: string;
  method: 'GET' | 'POST';
  /** The event as JSON (body for POST; query fields for GET). */
  payload: string;
  status: OutboxStatus;
  attempts: number;
  /** Epoch ms of the next attempt. */
  next_attempt_at: number;
  last_error: string;
  tm_create: string;
  tm_delivered: string;
}

/** Filters of GET /v1/recordings. */
export interface RecordingQuery {
  account_id: string;
  call_id?: string;
  reference_type?: ReferenceType;
  reference_id?: string;
  status?: RecordingStatus;
  label?: string;
  /** tm_create >= since, < until (ISO strings). */
  since?: string;
  until?: string;
  page_size: number;
  /** Opaque token from a previous page. */
  page_token?: string;
}

export interface CallQuery {
  account_id: string;
  status?: CallStatus;
  page_size: number;
  page_token?: string;
}

export interface ConferenceQuery {
  account_id: string;
  status?: ConferenceStatus;
  page_size: number;
  page_token?: string;
}

export interface FlowQuery {
  account_id: string;
  page_size: number;
  page_token?: string;
}

export interface Page<T> {
  result: T[];
  /** '' on the last page. */
  next_page_token: string;
}

/**
 * The store the service runs on. The embedded one is SQLite; a PostgreSQL store implements
 * the same interface. Methods are synchronous (better-sqlite3); a networked store would wrap
 * them in a queue. `listX` pages newest first, stable under inserts.
 */
export interface Store {
  // Accounts
  createAccount(row: AccountRow): void;
  getAccount(id: string): AccountRow | null;
  getAccountByToken(tokenSha256: string): AccountRow | null;
  updateAccount(id: string, patch: Partial<Omit<AccountRow, 'id'>>): AccountRow | null;
  listAccounts(): AccountRow[];
  // SIP users
  createUser(row: UserRow): void;
  getUser(username: string): UserRow | null;
  listUsers(accountId: string): UserRow[];
  deleteUser(username: string): boolean;
  // Calls
  upsertCall(row: CallRow): void;
  getCall(id: string): CallRow | null;
  listCalls(q: CallQuery): Page<CallRow>;
  /** Calls of every account still ringing or progressing (a crash left them up), oldest first. */
  unfinishedCalls(): CallRow[];
  // Recordings
  insertRecording(row: RecordingRow): void;
  updateRecording(id: string, patch: Partial<Omit<RecordingRow, 'id'>>): RecordingRow | null;
  /**
   * Writes the patch over the stored row without reading it back (for a caller that holds the
   * row: one statement instead of a read, a merge and a write); false when there is no such row.
   */
  setRecording(id: string, patch: Partial<Omit<RecordingRow, 'id'>>): boolean;
  getRecording(id: string): RecordingRow | null;
  listRecordings(q: RecordingQuery): Page<RecordingRow>;
  /** Recording ids of a call or conference, oldest first. */
  recordingIdsOf(referenceId: string): string[];
  /** Recordings a crash left in initiating/recording/paused/stopping. */
  unfinishedRecordings(): RecordingRow[];
  // Call flows
  insertFlow(row: FlowRow): void;
  getFlow(id: string): FlowRow | null;
  listFlows(q: FlowQuery): Page<FlowRow>;
  /** False when there was no such flow. */
  deleteFlow(id: string): boolean;
  // Conferences
  /** Inserts or overwrites; an existing conference keeps its account_id and tm_create. */
  upsertConference(row: ConferenceRow): void;
  getConference(id: string): ConferenceRow | null;
  listConferences(q: ConferenceQuery): Page<ConferenceRow>;
  /** Conferences of every account still active (a crash left them so), oldest first. */
  activeConferences(): ConferenceRow[];
  /** The active conference of an account with this name, or null (the newest if a crash left several). */
  activeConferenceByName(accountId: string, name: string): ConferenceRow | null;
  // Webhook outbox
  enqueue(rows: Omit<OutboxRow, 'seq' | 'status' | 'attempts' | 'last_error' | 'tm_delivered'>[]): void;
  /** Pending deliveries due at `now` (epoch ms) that are first in line for their recording and URL. */
  dueDeliveries(now: number, limit: number): OutboxRow[];
  markDelivered(seq: number, tm: string): void;
  markRetry(seq: number, nextAttemptAt: number, error: string): void;
  markDead(seq: number, error: string): void;
  /** Pending deliveries (the webhook queue depth). */
  pendingDeliveries(): number;
  /** A key/value for the service's own settings (the admin token hash). */
  getSetting(key: string): string | null;
  setSetting(key: string, value: string): void;
  /**
   * Runs `fn` as one transaction: its writes all land, or none do when it throws or the process
   * dies inside it. Nested calls join the outer one.
   */
  atomically<T>(fn: () => T): T;
  /** Figures of the thread that checkpoints the store's journal off the event loop; null (or absent) when there is none. */
  checkpointStats?(): CheckpointStats | null;
  close(): void;
}

export function nowIso(): string {
  return new Date().toISOString();
}
