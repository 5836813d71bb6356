/**
 * The embedded store: one SQLite file (better-sqlite3, synchronous), WAL journal.
 *
 * Lists page newest first by (tm_create DESC, id DESC) with keyset paging: the page token holds
 * the last row's (tm_create, id) and the next page is `(tm_create, id) < (?, ?)`, so rows
 * inserted between two page requests never shift or repeat a page. Every list is scoped by
 * account_id. Booleans are stored as 0/1; pauses, options, tracks, flow actions and conference
 * participants as JSON text. JSON columns added since release 1 are read defensively: a damaged
 * one reads as its empty value ([] or null) rather than losing the whole row.
 *
 * Constraint violations (an id that exists, an unknown account) throw InvalidArgumentError; a
 * store used after close() throws InvalidStateError.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { InvalidArgumentError, InvalidStateError } from '../../common/index.js';
import { Checkpointer } from './Checkpointer.js';
import type { CheckpointReply, CheckpointStats } from './Checkpointer.js';
import type {
  AccountRow,
  CallQuery,
  CallRow,
  ConferenceQuery,
  ConferenceRow,
  FlowQuery,
  FlowRow,
  OutboxRow,
  Page,
  PauseRow,
  RecordingQuery,
  RecordingRow,
  Store,
  TrackRecord,
  UserRow,
} from '../model.js';
import { migrate } from './migrations.js';

export interface SqliteStoreOptions {
  /** How long a statement waits for another connection's write lock, ms (5000). */
  busyTimeoutMs?: number;
  /**
   * Who moves the WAL into the database file: 'auto', SQLite inside the commit that crosses
   * 1,000 pages (on the caller's thread); 'worker', a worker thread every `checkpointIntervalMs`
   * (Checkpointer.ts: the gateway's event loop must not wait for it). Default 'auto'.
   */
  checkpoint?: 'auto' | 'worker';
  /** How often the worker checkpoints, ms (250). */
  checkpointIntervalMs?: number;
}

/** SQLite's own default, given back to the store's connection when the checkpoint worker fails. */
const AUTO_CHECKPOINT_PAGES = 1000;
/** The WAL file is cut back to this size when it restarts, bytes: a burst must not leave it large. */
const WAL_SIZE_LIMIT = 16 * 1024 * 1024;

/** Largest page a list returns. */
export const MAX_PAGE_SIZE = 100;

type Bind = string | number | null;

interface AccountRecord {
  id: string;
  name: string;
  token_sha256: string;
  webhook_url: string;
  webhook_secret: string;
  admin: number;
  tm_create: string;
  tm_update: string;
}

interface RecordingRecord {
  id: string;
  account_id: string;
  reference_type: RecordingRow['reference_type'];
  reference_id: string;
  status: RecordingRow['status'];
  format: RecordingRow['format'];
  channels: RecordingRow['channels'];
  sample_rate: RecordingRow['sample_rate'];
  bitrate: number | null;
  participant: RecordingRow['participant'];
  label: string;
  duration_ms: number;
  file_size: number;
  checksum_sha256: string;
  pauses: string;
  recovered: number;
  reason: string;
  file_path: string;
  options: string;
  tm_start: string;
  tm_end: string;
  tm_create: string;
  tm_update: string;
  tm_delete: string;
  tracks: string;
}

/** A flows row as SQLite holds it: actions as JSON text. */
type FlowRecord = Omit<FlowRow, 'actions'> & { actions: string };

/** A conferences row as SQLite holds it: recording and participants as JSON text. */
type ConferenceRecord = Omit<ConferenceRow, 'recording' | 'participants'> & { recording: string; participants: string };

type EnqueueRow = Omit<OutboxRow, 'seq' | 'status' | 'attempts' | 'last_error' | 'tm_delivered'>;

const ACCOUNT_COLUMNS = ['id', 'name', 'token_sha256', 'webhook_url', 'webhook_secret', 'admin', 'tm_create', 'tm_update'] as const;
const CALL_COLUMNS = ['id', 'account_id', 'sip_call_id', 'direction', 'from', 'to', 'status', 'end_reason', 'tm_create', 'tm_answer', 'tm_end', 'dtmf'] as const;
const RECORDING_COLUMNS = [
  'id', 'account_id', 'reference_type', 'reference_id', 'status', 'format', 'channels', 'sample_rate', 'bitrate',
  'participant', 'label', 'duration_ms', 'file_size', 'checksum_sha256', 'pauses', 'recovered', 'reason', 'file_path',
  'options', 'tm_start', 'tm_end', 'tm_create', 'tm_update', 'tm_delete', 'tracks',
] as const;
const FLOW_COLUMNS = ['id', 'account_id', 'name', 'actions', 'tm_create'] as const;
const CONFERENCE_COLUMNS = [
  'id', 'account_id', 'name', 'status', 'max_participants', 'recording', 'participants', 'end_reason', 'tm_create', 'tm_end',
] as const;

/** `"a", "b"` and `@a, @b` for an INSERT of these columns (quoted: calls has "from" and "to"). */
function insertSql(table: string, columns: readonly string[]): string {
  return `INSERT INTO ${table} (${columns.map((c) => `"${c}"`).join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`;
}

function updateSql(table: string, columns: readonly string[], key: string): string {
  const set = columns.filter((c) => c !== key).map((c) => `"${c}" = @${c}`).join(', ');
  return `UPDATE ${table} SET ${set} WHERE "${key}" = @${key}`;
}

function accountParams(row: AccountRow): Record<string, Bind> {
  return {
    id: row.id,
    name: row.name,
    token_sha256: row.token_sha256,
    webhook_url: row.webhook_url,
    webhook_secret: row.webhook_secret,
    admin: row.admin ? 1 : 0,
    tm_create: row.tm_create,
    tm_update: row.tm_update,
  };
}

function accountRow(r: AccountRecord): AccountRow {
  return { ...r, admin: r.admin === 1 };
}

/** A calls row as SQLite holds it: dtmf as JSON text. */
type CallRecord = Omit<CallRow, 'dtmf'> & { dtmf: string };

/** The JSON array in `text`, or [] when it is damaged or not an array (the row survives; the list is lost). */
function jsonArray<T>(text: string): T[] {
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed)) return parsed as T[];
  } catch {
    // Fall through: a damaged column loses only its list, never the row.
  }
  return [];
}

/** The JSON object in `text`, or null when it is 'null', damaged or not an object. */
function jsonObjectOrNull(text: string): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // Fall through, as jsonArray does.
  }
  return null;
}

function callRow(r: CallRecord): CallRow {
  return { ...r, dtmf: jsonArray<CallRow['dtmf'][number]>(r.dtmf) };
}

function callParams(row: CallRow): Record<string, Bind> {
  return {
    id: row.id,
    account_id: row.account_id,
    sip_call_id: row.sip_call_id,
    direction: row.direction,
    from: row.from,
    to: row.to,
    status: row.status,
    end_reason: row.end_reason,
    tm_create: row.tm_create,
    tm_answer: row.tm_answer,
    tm_end: row.tm_end,
    dtmf: JSON.stringify(row.dtmf),
  };
}

function recordingParams(row: RecordingRow): Record<string, Bind> {
  // A row built by a caller that predates tracks stores [] rather than failing the insert.
  return recordingPatchParams(row.id, { ...row, tracks: (row.tracks as TrackRecord[] | undefined) ?? [] }).params;
}

/** The bound values of a patch's columns (those set and not undefined): JSON text for the JSON columns, 0/1 for recovered. */
function recordingPatchParams(id: string, patch: Partial<Omit<RecordingRow, 'id'>>): { columns: string[]; params: Record<string, Bind> } {
  const columns: string[] = [];
  const params: Record<string, Bind> = { id };
  const values = patch as Record<string, unknown>;
  for (const c of RECORDING_COLUMNS) {
    const v = values[c];
    if (c === 'id' || v === undefined) continue;
    columns.push(c);
    params[c] = c === 'pauses' || c === 'options' || c === 'tracks' ? JSON.stringify(v) : c === 'recovered' ? (v ? 1 : 0) : (v as Bind);
  }
  return { columns, params };
}

function recordingRow(r: RecordingRecord): RecordingRow {
  return {
    ...r,
    pauses: JSON.parse(r.pauses) as PauseRow[],
    recovered: r.recovered === 1,
    options: JSON.parse(r.options) as Record<string, unknown>,
    tracks: jsonArray<TrackRecord>(r.tracks),
  };
}

function flowParams(row: FlowRow): Record<string, Bind> {
  return { id: row.id, account_id: row.account_id, name: row.name, actions: JSON.stringify(row.actions), tm_create: row.tm_create };
}

function flowRow(r: FlowRecord): FlowRow {
  return { ...r, actions: jsonArray<unknown>(r.actions) };
}

function conferenceParams(row: ConferenceRow): Record<string, Bind> {
  return {
    id: row.id,
    account_id: row.account_id,
    name: row.name,
    status: row.status,
    max_participants: row.max_participants,
    recording: JSON.stringify(row.recording ?? null),
    participants: JSON.stringify(row.participants),
    end_reason: row.end_reason,
    tm_create: row.tm_create,
    tm_end: row.tm_end,
  };
}

function conferenceRow(r: ConferenceRecord): ConferenceRow {
  return {
    ...r,
    recording: jsonObjectOrNull(r.recording),
    participants: jsonArray<ConferenceRow['participants'][number]>(r.participants),
  };
}

/** Copies the defined fields of `patch` onto `base`, except `id`. */
function merge<T extends { id: string }>(base: T, patch: Partial<Omit<T, 'id'>>): T {
  const out: T = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'id' || v === undefined || !(k in base)) continue;
    (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** Page token kinds, so a token of one list (calls, recordings, flows, conferences) is refused by the others. */
type TokenKind = 'c' | 'r' | 'f' | 'k';

const LIST_NAMES: Record<TokenKind, string> = { c: 'calls', r: 'recordings', f: 'flows', k: 'conferences' };

function encodePageToken(kind: TokenKind, tmCreate: string, id: string): string {
  return Buffer.from(JSON.stringify([kind, tmCreate, id]), 'utf8').toString('base64url');
}

/** The (tm_create, id) of a page token; InvalidArgumentError when it is not one of ours. */
function decodePageToken(kind: TokenKind, token: string): [string, string] {
  const bad = (why: string): InvalidArgumentError =>
    new InvalidArgumentError(`invalid page_token: ${why}; pass next_page_token of the previous page unchanged`);
  if (token.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(token)) throw bad('not base64url');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw bad('not a page token');
  }
  if (!Array.isArray(value) || value.length !== 3) throw bad('not a page token');
  const [k, tm, id] = value as unknown[];
  if (k !== kind) throw bad(`it belongs to another list than ${LIST_NAMES[kind]}`);
  if (typeof tm !== 'string' || typeof id !== 'string' || id === '') throw bad('not a page token');
  return [tm, id];
}

function checkPageSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new InvalidArgumentError(`page_size must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${String(size)}`);
  }
}

function isConstraintError(err: unknown): boolean {
  return err instanceof Database.SqliteError && err.code.startsWith('SQLITE_CONSTRAINT');
}

export class SqliteStore implements Store {
  readonly #db: Database.Database;
  #checkpointer: Checkpointer | null = null;
  /** The schema version after migration. */
  readonly schemaVersion: number;
  /** Statements of list queries, one per combination of filters, each prepared once. */
  readonly #listStatements = new Map<string, Database.Statement<Bind[], unknown>>();

  readonly #insertAccount: Database.Statement<[Record<string, Bind>]>;
  readonly #updateAccount: Database.Statement<[Record<string, Bind>]>;
  readonly #getAccount: Database.Statement<[string], AccountRecord>;
  readonly #getAccountByToken: Database.Statement<[string], AccountRecord>;
  readonly #listAccounts: Database.Statement<[], AccountRecord>;

  readonly #upsertCall: Database.Statement<[Record<string, Bind>]>;
  readonly #getCall: Database.Statement<[string], CallRecord>;
  readonly #insertUser: Database.Statement<[UserRow]>;
  readonly #getUser: Database.Statement<[string], UserRow>;
  readonly #listUsers: Database.Statement<[string], UserRow>;
  readonly #deleteUser: Database.Statement<[string]>;
  readonly #unfinishedCalls: Database.Statement<[], CallRecord>;

  readonly #insertRecording: Database.Statement<[Record<string, Bind>]>;
  /** UPDATEs that set only the columns a patch changes, by the patch's column list (bounded). */
  readonly #updateRecordingColumns = new Map<string, Database.Statement<[Record<string, Bind>]>>();
  readonly #getRecording: Database.Statement<[string], RecordingRecord>;
  readonly #recordingIdsOf: Database.Statement<[string], string>;
  readonly #unfinished: Database.Statement<[], RecordingRecord>;

  readonly #insertFlow: Database.Statement<[Record<string, Bind>]>;
  readonly #getFlow: Database.Statement<[string], FlowRecord>;
  readonly #deleteFlow: Database.Statement<[string]>;

  readonly #upsertConference: Database.Statement<[Record<string, Bind>]>;
  readonly #getConference: Database.Statement<[string], ConferenceRecord>;
  readonly #activeConferences: Database.Statement<[], ConferenceRecord>;
  readonly #activeConferenceByName: Database.Statement<[string, string], ConferenceRecord>;

  readonly #enqueue: Database.Statement<[Record<string, Bind>]>;
  readonly #due: Database.Statement<[number, number], OutboxRow>;
  readonly #markDelivered: Database.Statement<[string, number]>;
  readonly #markRetry: Database.Statement<[number, string, number]>;
  readonly #markDead: Database.Statement<[string, number]>;
  readonly #pending: Database.Statement<[], number>;

  readonly #getSetting: Database.Statement<[string], string>;
  readonly #setSetting: Database.Statement<[string, string]>;

  readonly #updateAccountTx: (id: string, patch: Partial<Omit<AccountRow, 'id'>>) => AccountRow | null;
  readonly #updateRecordingTx: (id: string, patch: Partial<Omit<RecordingRow, 'id'>>) => RecordingRow | null;
  readonly #enqueueTx: (rows: EnqueueRow[]) => void;
  readonly #atomically: (fn: () => unknown) => unknown;

  private constructor(db: Database.Database) {
    this.#db = db;
    this.schemaVersion = migrate(db);

    this.#insertAccount = db.prepare(insertSql('accounts', ACCOUNT_COLUMNS));
    this.#updateAccount = db.prepare(updateSql('accounts', ACCOUNT_COLUMNS, 'id'));
    this.#getAccount = db.prepare('SELECT * FROM accounts WHERE id = ?');
    this.#getAccountByToken = db.prepare("SELECT * FROM accounts WHERE token_sha256 = ? AND token_sha256 != ''");
    this.#listAccounts = db.prepare('SELECT * FROM accounts ORDER BY tm_create, id');

    // A call keeps its account and creation time (its place in the list) when upserted again.
    const callUpdates = CALL_COLUMNS.filter((c) => c !== 'id' && c !== 'account_id' && c !== 'tm_create');
    this.#upsertCall = db.prepare(
      `${insertSql('calls', CALL_COLUMNS)} ON CONFLICT(id) DO UPDATE SET ${callUpdates.map((c) => `"${c}" = excluded."${c}"`).join(', ')}`,
    );
    this.#getCall = db.prepare('SELECT * FROM calls WHERE id = ?');
    this.#insertUser = db.prepare(
      'INSERT INTO users (username, account_id, realm, ha1_md5, ha1_sha256, tm_create) VALUES (@username, @account_id, @realm, @ha1_md5, @ha1_sha256, @tm_create)',
    );
    this.#getUser = db.prepare('SELECT * FROM users WHERE username = ?');
    this.#listUsers = db.prepare('SELECT * FROM users WHERE account_id = ? ORDER BY username');
    this.#deleteUser = db.prepare('DELETE FROM users WHERE username = ?');
    this.#unfinishedCalls = db.prepare("SELECT * FROM calls WHERE status IN ('ringing', 'progressing') ORDER BY tm_create, id");

    this.#insertRecording = db.prepare(insertSql('recordings', RECORDING_COLUMNS));
    this.#getRecording = db.prepare('SELECT * FROM recordings WHERE id = ?');
    this.#recordingIdsOf = db
      .prepare<[string], string>('SELECT id FROM recordings WHERE reference_id = ? ORDER BY tm_create, id')
      .pluck();
    this.#unfinished = db.prepare(
      "SELECT * FROM recordings WHERE status IN ('initiating', 'recording', 'paused', 'stopping') ORDER BY tm_create, id",
    );

    this.#insertFlow = db.prepare(insertSql('flows', FLOW_COLUMNS));
    this.#getFlow = db.prepare('SELECT * FROM flows WHERE id = ?');
    this.#deleteFlow = db.prepare('DELETE FROM flows WHERE id = ?');

    // Like a call, a conference keeps its account and creation time when upserted again.
    const conferenceUpdates = CONFERENCE_COLUMNS.filter((c) => c !== 'id' && c !== 'account_id' && c !== 'tm_create');
    this.#upsertConference = db.prepare(
      `${insertSql('conferences', CONFERENCE_COLUMNS)} ON CONFLICT(id) DO UPDATE SET ${conferenceUpdates.map((c) => `"${c}" = excluded."${c}"`).join(', ')}`,
    );
    this.#getConference = db.prepare('SELECT * FROM conferences WHERE id = ?');
    this.#activeConferences = db.prepare("SELECT * FROM conferences WHERE status = 'active' ORDER BY tm_create, id");
    this.#activeConferenceByName = db.prepare(
      "SELECT * FROM conferences WHERE account_id = ? AND name = ? AND status = 'active' ORDER BY tm_create DESC, id DESC LIMIT 1",
    );

    this.#enqueue = db.prepare(
      `INSERT INTO outbox (event_id, account_id, recording_id, type, url, method, payload, next_attempt_at, tm_create)
       VALUES (@event_id, @account_id, @recording_id, @type, @url, @method, @payload, @next_attempt_at, @tm_create)
       ON CONFLICT(event_id, url) DO NOTHING`,
    );
    // First in line: no pending row of the same (recording_id, url) with a smaller seq. A row being
    // sent is still pending, so the rows behind it wait for its outcome; a dead row lets them go.
    this.#due = db.prepare(
      `SELECT * FROM outbox AS o
       WHERE o.status = 'pending' AND o.next_attempt_at <= ?
         AND NOT EXISTS (SELECT 1 FROM outbox AS p
                         WHERE p.recording_id = o.recording_id AND p.url = o.url AND p.seq < o.seq
                           AND p.status = 'pending')
       ORDER BY o.next_attempt_at, o.seq
       LIMIT ?`,
    );
    // Each mark records the outcome of one attempt (attempts + 1) and only touches a pending row.
    this.#markDelivered = db.prepare(
      "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, last_error = '', tm_delivered = ? WHERE seq = ? AND status = 'pending'",
    );
    this.#markRetry = db.prepare(
      "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE seq = ? AND status = 'pending'",
    );
    this.#markDead = db.prepare(
      "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ? WHERE seq = ? AND status = 'pending'",
    );
    this.#pending = db.prepare<[], number>("SELECT count(*) FROM outbox WHERE status = 'pending'").pluck();

    this.#getSetting = db.prepare<[string], string>('SELECT value FROM settings WHERE key = ?').pluck();
    this.#setSetting = db.prepare(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    );

    this.#updateAccountTx = db.transaction((id: string, patch: Partial<Omit<AccountRow, 'id'>>) => {
      const current = this.#getAccount.get(id);
      if (current === undefined) return null;
      const next = merge(accountRow(current), patch);
      this.#updateAccount.run(accountParams(next));
      return next;
    });
    this.#updateRecordingTx = db.transaction((id: string, patch: Partial<Omit<RecordingRow, 'id'>>) => {
      const current = this.#getRecording.get(id);
      if (current === undefined) return null;
      const next = merge(recordingRow(current), patch);
      this.#setRecording(id, patch);
      return next;
    });
    this.#atomically = db.transaction((fn: () => unknown) => fn());
    this.#enqueueTx = db.transaction((rows: EnqueueRow[]) => {
      for (const row of rows) {
        this.#enqueue.run({
          event_id: row.event_id,
          account_id: row.account_id,
          recording_id: row.recording_id,
          type: row.type,
          url: row.url,
          method: row.method,
          payload: row.payload,
          next_attempt_at: row.next_attempt_at,
          tm_create: row.tm_create,
        });
      }
    });
  }

  /** The prepared UPDATE of these recording columns (cached: patches come in a few shapes). */
  #recordingUpdate(columns: readonly string[]): Database.Statement<[Record<string, Bind>]> {
    const key = columns.join(',');
    let stmt = this.#updateRecordingColumns.get(key);
    if (stmt === undefined) {
      stmt = this.#check().prepare(updateSql('recordings', ['id', ...columns], 'id'));
      if (this.#updateRecordingColumns.size < 64) this.#updateRecordingColumns.set(key, stmt);
    }
    return stmt;
  }

  /**
   * Opens (creating if needed) the database at `path` (':memory:' for a private in-memory one)
   * and brings its schema up to date.
   */
  static open(file: string, options: SqliteStoreOptions = {}): SqliteStore {
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new InvalidArgumentError(`busyTimeoutMs must be a non-negative integer, got ${String(busyTimeoutMs)}`);
    }
    const intervalMs = options.checkpointIntervalMs ?? 250;
    if (!Number.isInteger(intervalMs) || intervalMs < 1) {
      throw new InvalidArgumentError(`checkpointIntervalMs must be a positive integer, got ${String(intervalMs)}`);
    }
    const db = new Database(file, { timeout: busyTimeoutMs });
    let store: SqliteStore;
    try {
      db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode: a commit may be lost on power failure, never corrupted.
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      store = new SqliteStore(db);
    } catch (err) {
      db.close();
      throw err;
    }
    if (options.checkpoint === 'worker' && file !== ':memory:' && file !== '') store.#checkpointOnWorker(path.resolve(file), intervalMs);
    return store;
  }

  #checkpointOnWorker(file: string, intervalMs: number): void {
    const db = this.#db;
    const giveBack = (): void => {
      if (db.open) db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    };
    db.pragma('wal_autocheckpoint = 0');
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
    try {
      this.#checkpointer = new Checkpointer(file, intervalMs, giveBack);
    } catch {
      giveBack();
    }
  }

  /** The checkpoint worker's figures, or null when SQLite checkpoints in the commits ('auto'). */
  checkpointStats(): CheckpointStats | null {
    return this.#checkpointer?.stats() ?? null;
  }

  /** Runs a checkpoint round on the worker now; null without one (tests). */
  checkpointNow(): Promise<CheckpointReply | null> {
    return this.#checkpointer?.checkpointNow() ?? Promise.resolve(null);
  }

  /** Tests only: the checkpoint worker dies as in a crash. */
  terminateCheckpointerForTest(): Promise<number> {
    return this.#checkpointer?.terminateForTest() ?? Promise.resolve(0);
  }

  /** The journal mode in effect ('wal' for a file, 'memory' for ':memory:'). */
  get journalMode(): string {
    return String(this.#check().pragma('journal_mode', { simple: true }));
  }

  // Accounts

  createAccount(row: AccountRow): void {
    this.#write(`account ${row.id}`, () => this.#insertAccount.run(accountParams(row)));
  }

  getAccount(id: string): AccountRow | null {
    const r = this.#guard(() => this.#getAccount.get(id));
    return r === undefined ? null : accountRow(r);
  }

  /** The account whose token hashes to `tokenSha256`; never an account without a token (''). */
  getAccountByToken(tokenSha256: string): AccountRow | null {
    const r = this.#guard(() => this.#getAccountByToken.get(tokenSha256));
    return r === undefined ? null : accountRow(r);
  }

  updateAccount(id: string, patch: Partial<Omit<AccountRow, 'id'>>): AccountRow | null {
    return this.#write(`account ${id}`, () => this.#updateAccountTx(id, patch));
  }

  listAccounts(): AccountRow[] {
    return this.#guard(() => this.#listAccounts.all()).map(accountRow);
  }

  // SIP users

  createUser(row: UserRow): void {
    this.#write(`user ${row.username}`, () => this.#insertUser.run(row));
  }

  getUser(username: string): UserRow | null {
    return this.#guard(() => this.#getUser.get(username)) ?? null;
  }

  listUsers(accountId: string): UserRow[] {
    return this.#guard(() => this.#listUsers.all(accountId));
  }

  deleteUser(username: string): boolean {
    return this.#write(`user ${username}`, () => this.#deleteUser.run(username)).changes > 0;
  }

  // Calls

  upsertCall(row: CallRow): void {
    this.#write(`call ${row.id}`, () => this.#upsertCall.run(callParams(row)));
  }

  getCall(id: string): CallRow | null {
    const r = this.#guard(() => this.#getCall.get(id));
    return r === undefined ? null : callRow(r);
  }

  listCalls(q: CallQuery): Page<CallRow> {
    checkPageSize(q.page_size);
    const where = ['account_id = ?'];
    const params: Bind[] = [q.account_id];
    if (q.status !== undefined) {
      where.push('status = ?');
      params.push(q.status);
    }
    const rows = this.#page<CallRecord>('c', 'calls', where, params, q.page_size, q.page_token);
    return this.#toPage('c', rows, q.page_size, callRow);
  }

  /** Calls of every account still ringing or progressing (a crash left them up), oldest first. */
  unfinishedCalls(): CallRow[] {
    return this.#guard(() => this.#unfinishedCalls.all()).map(callRow);
  }

  // Recordings

  insertRecording(row: RecordingRow): void {
    this.#write(`recording ${row.id}`, () => this.#insertRecording.run(recordingParams(row)));
  }

  /** Writes the patch over the stored row (no state-machine check: the Recording service owns it). */
  updateRecording(id: string, patch: Partial<Omit<RecordingRow, 'id'>>): RecordingRow | null {
    return this.#write(`recording ${id}`, () => this.#updateRecordingTx(id, patch));
  }

  setRecording(id: string, patch: Partial<Omit<RecordingRow, 'id'>>): boolean {
    return this.#write(`recording ${id}`, () => this.#setRecording(id, patch));
  }

  /**
   * One UPDATE of the patched columns only: SQLite rewrites an index only when the statement
   * sets one of its columns, and setting all of them rewrote all three of the table's indexes on
   * every state change (a third of a recording's store time, measured alone).
   */
  #setRecording(id: string, patch: Partial<Omit<RecordingRow, 'id'>>): boolean {
    const { columns, params } = recordingPatchParams(id, patch);
    if (columns.length === 0) return this.#getRecording.get(id) !== undefined;
    return this.#recordingUpdate(columns).run(params).changes > 0;
  }

  getRecording(id: string): RecordingRow | null {
    const r = this.#guard(() => this.#getRecording.get(id));
    return r === undefined ? null : recordingRow(r);
  }

  listRecordings(q: RecordingQuery): Page<RecordingRow> {
    checkPageSize(q.page_size);
    const where = ['account_id = ?'];
    const params: Bind[] = [q.account_id];
    if (q.call_id !== undefined) {
      where.push("reference_type = 'call' AND reference_id = ?");
      params.push(q.call_id);
    }
    if (q.reference_type !== undefined) {
      where.push('reference_type = ?');
      params.push(q.reference_type);
    }
    if (q.reference_id !== undefined) {
      where.push('reference_id = ?');
      params.push(q.reference_id);
    }
    if (q.status !== undefined) {
      where.push('status = ?');
      params.push(q.status);
    }
    if (q.label !== undefined) {
      where.push('label = ?');
      params.push(q.label);
    }
    if (q.since !== undefined) {
      where.push('tm_create >= ?');
      params.push(q.since);
    }
    if (q.until !== undefined) {
      where.push('tm_create < ?');
      params.push(q.until);
    }
    const rows = this.#page<RecordingRecord>('r', 'recordings', where, params, q.page_size, q.page_token);
    return this.#toPage('r', rows, q.page_size, recordingRow);
  }

  recordingIdsOf(referenceId: string): string[] {
    return this.#guard(() => this.#recordingIdsOf.all(referenceId));
  }

  unfinishedRecordings(): RecordingRow[] {
    return this.#guard(() => this.#unfinished.all()).map(recordingRow);
  }

  // Call flows

  insertFlow(row: FlowRow): void {
    this.#write(`flow ${row.id}`, () => this.#insertFlow.run(flowParams(row)));
  }

  getFlow(id: string): FlowRow | null {
    const r = this.#guard(() => this.#getFlow.get(id));
    return r === undefined ? null : flowRow(r);
  }

  listFlows(q: FlowQuery): Page<FlowRow> {
    checkPageSize(q.page_size);
    const rows = this.#page<FlowRecord>('f', 'flows', ['account_id = ?'], [q.account_id], q.page_size, q.page_token);
    return this.#toPage('f', rows, q.page_size, flowRow);
  }

  deleteFlow(id: string): boolean {
    return this.#write(`flow ${id}`, () => this.#deleteFlow.run(id)).changes > 0;
  }

  // Conferences

  upsertConference(row: ConferenceRow): void {
    this.#write(`conference ${row.id}`, () => this.#upsertConference.run(conferenceParams(row)));
  }

  getConference(id: string): ConferenceRow | null {
    const r = this.#guard(() => this.#getConference.get(id));
    return r === undefined ? null : conferenceRow(r);
  }

  listConferences(q: ConferenceQuery): Page<ConferenceRow> {
    checkPageSize(q.page_size);
    const where = ['account_id = ?'];
    const params: Bind[] = [q.account_id];
    if (q.status !== undefined) {
      where.push('status = ?');
      params.push(q.status);
    }
    const rows = this.#page<ConferenceRecord>('k', 'conferences', where, params, q.page_size, q.page_token);
    return this.#toPage('k', rows, q.page_size, conferenceRow);
  }

  activeConferences(): ConferenceRow[] {
    return this.#guard(() => this.#activeConferences.all()).map(conferenceRow);
  }

  activeConferenceByName(accountId: string, name: string): ConferenceRow | null {
    const r = this.#guard(() => this.#activeConferenceByName.get(accountId, name));
    return r === undefined ? null : conferenceRow(r);
  }

  // Webhook outbox

  /** Adds deliveries in one transaction; a row whose (event_id, url) is already queued is skipped. */
  enqueue(rows: EnqueueRow[]): void {
    this.#write('outbox row', () => this.#enqueueTx(rows));
  }

  dueDeliveries(now: number, limit: number): OutboxRow[] {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new InvalidArgumentError(`limit must be a positive integer, got ${String(limit)}`);
    }
    return this.#guard(() => this.#due.all(now, limit));
  }

  markDelivered(seq: number, tm: string): void {
    this.#guard(() => this.#markDelivered.run(tm, seq));
  }

  markRetry(seq: number, nextAttemptAt: number, error: string): void {
    this.#guard(() => this.#markRetry.run(nextAttemptAt, error, seq));
  }

  markDead(seq: number, error: string): void {
    this.#guard(() => this.#markDead.run(error, seq));
  }

  pendingDeliveries(): number {
    return this.#guard(() => this.#pending.get()) ?? 0;
  }

  // Settings

  getSetting(key: string): string | null {
    return this.#guard(() => this.#getSetting.get(key)) ?? null;
  }

  setSetting(key: string, value: string): void {
    this.#guard(() => this.#setSetting.run(key, value));
  }

  atomically<T>(fn: () => T): T {
    // better-sqlite3 makes a nested transaction a savepoint of the outer one. One transaction
    // function for all: making one per call cost more than the statements of a state change.
    this.#check();
    return this.#atomically(fn) as T;
  }

  /**
   * Closes the database; safe to call twice. The checkpoint worker runs a last round and closes
   * its connection after this one (the last connection to close empties the WAL).
   */
  close(): void {
    void this.#checkpointer?.close();
    if (this.#db.open) this.#db.close();
  }

  #check(): Database.Database {
    if (!this.#db.open) throw new InvalidStateError('the store is closed');
    return this.#db;
  }

  #guard<T>(fn: () => T): T {
    this.#check();
    return fn();
  }

  /** Runs a write, turning a constraint violation into InvalidArgumentError naming `what`. */
  #write<T>(what: string, fn: () => T): T {
    this.#check();
    try {
      return fn();
    } catch (err) {
      if (isConstraintError(err)) {
        throw new InvalidArgumentError(`${what}: ${(err as Error).message}`);
      }
      throw err;
    }
  }

  /**
   * One page plus one row (to know whether another page follows), newest first, after the
   * token's (tm_create, id) when there is one.
   */
  #page<R>(kind: TokenKind, table: string, where: string[], params: Bind[], size: number, token: string | undefined): R[] {
    this.#check();
    const conditions = [...where];
    const binds = [...params];
    if (token !== undefined && token !== '') {
      const [tm, id] = decodePageToken(kind, token);
      conditions.push('(tm_create, id) < (?, ?)');
      binds.push(tm, id);
    }
    binds.push(size + 1);
    const sql = `SELECT * FROM ${table} WHERE ${conditions.join(' AND ')} ORDER BY tm_create DESC, id DESC LIMIT ?`;
    let stmt = this.#listStatements.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare<Bind[], unknown>(sql);
      this.#listStatements.set(sql, stmt);
    }
    return stmt.all(...binds) as R[];
  }

  #toPage<R extends { tm_create: string; id: string }, T>(kind: TokenKind, rows: R[], size: number, map: (r: R) => T): Page<T> {
    const more = rows.length > size;
    const result = (more ? rows.slice(0, size) : rows).map(map);
    const last = more ? rows[size - 1] : undefined;
    return { result, next_page_token: last === undefined ? '' : encodePageToken(kind, last.tm_create, last.id) };
  }
}
