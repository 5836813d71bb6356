import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RecgateError } from '../common/index.js';
import { SqliteStore } from '../recorder/index.js';
import { MIGRATIONS, migrate } from '../recorder/store/migrations.js';
import { recordingRow } from './helpers/rows.js';

/** The newest schema version this code knows. */
const LATEST = MIGRATIONS[MIGRATIONS.length - 1]!.version;
import type { AccountRow, CallRow, ConferenceRow, FlowRow, OutboxRow, RecordingRow, RecordingQuery } from '../recorder/index.js';

const BASE_MS = Date.parse('2024-05-01T00:00:00.000Z');
/** ISO time `sec` seconds after BASE_MS. */
const tm = (sec: number): string => new Date(BASE_MS + sec * 1000).toISOString();

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-store-'));
}

function account(id: string, patch: Partial<AccountRow> = {}): AccountRow {
  return {
    id,
    name: `account ${id}`,
    token_sha256: `hash-${id}`,
    webhook_url: '',
    webhook_secret: '',
    admin: false,
    tm_create: tm(0),
    tm_update: tm(0),
    ...patch,
  };
}

/** A recording row (tm(0) is the helper's ROW_TIME). */
const recording = recordingRow;

function call(id: string, patch: Partial<CallRow> = {}): CallRow {
  return {
    id,
    account_id: 'A',
    sip_call_id: `${id}@example.com`,
    direction: 'inbound',
    from: 'sip:alice@example.com',
    to: 'sip:bob@example.com',
    status: 'ringing',
    end_reason: '',
    tm_create: tm(0),
    tm_answer: '',
    tm_end: '',
    dtmf: [],
    ...patch,
  };
}

function flow(id: string, patch: Partial<FlowRow> = {}): FlowRow {
  return {
    id,
    account_id: 'A',
    name: `flow ${id}`,
    actions: [{ action: 'answer' }, { action: 'gather', option: { variable: 'digits', max_digits: 1, terminator: '#', timeout_ms: 5000, inter_digit_timeout_ms: 3000 } }],
    tm_create: tm(0),
    ...patch,
  };
}

function conference(id: string, patch: Partial<ConferenceRow> = {}): ConferenceRow {
  return {
    id,
    account_id: 'A',
    name: `room-${id}`,
    status: 'active',
    max_participants: 10,
    recording: null,
    participants: [],
    end_reason: '',
    tm_create: tm(0),
    tm_end: '',
    ...patch,
  };
}

function outbox(event: string, recordingId: string, url: string, patch: Partial<OutboxRow> = {}) {
  return {
    event_id: event,
    account_id: 'A',
    recording_id: recordingId,
    type: 'recording.started',
    url,
    method: 'POST' as const,
    payload: JSON.stringify({ event_id: event }),
    next_attempt_at: 1000,
    tm_create: tm(0),
    ...patch,
  };
}

/** A store with accounts A and B. */
function memoryStore(): SqliteStore {
  const store = SqliteStore.open(':memory:');
  store.createAccount(account('A'));
  store.createAccount(account('B'));
  return store;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.instance(err, RecgateError);
    return (err as RecgateError).code;
  }
  return 'no error';
}

/** Every page of a query, as ids. */
function allIds(store: SqliteStore, q: RecordingQuery): string[] {
  const ids: string[] = [];
  let token = '';
  for (;;) {
    const page = store.listRecordings({ ...q, ...(token === '' ? {} : { page_token: token }) });
    ids.push(...page.result.map((r) => r.id));
    if (page.next_page_token === '') return ids;
    token = page.next_page_token;
  }
}

/** Newest first by (tm_create, id): the order the store promises, computed here independently. */
function newestFirst(rows: RecordingRow[]): string[] {
  return [...rows]
    .sort((a, b) => (a.tm_create === b.tm_create ? (a.id < b.id ? 1 : -1) : a.tm_create < b.tm_create ? 1 : -1))
    .map((r) => r.id);
}

test('migrations: a new database gets every step, in order, recorded in schema_version', () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'recgate.db');
    const store = SqliteStore.open(file);
    assert.is(store.schemaVersion, LATEST);
    store.close();
    const raw = new Database(file, { readonly: true });
    const versions = raw.prepare('SELECT version, description FROM schema_version ORDER BY version').all();
    assert.equal(versions, [
      { version: 1, description: 'accounts, calls, recordings, settings' },
      { version: 2, description: 'webhook outbox' },
      { version: 3, description: 'SIP users (softphones that register)' },
      { version: 4, description: 'DTMF digits received on a call (RFC 4733 and SIP INFO), as a JSON array' },
      { version: 5, description: 'flows, conferences, recording track manifests' },
    ]);
    const tables = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    for (const t of ['accounts', 'calls', 'conferences', 'flows', 'outbox', 'recordings', 'schema_version', 'settings', 'users']) assert.ok(tables.includes(t), t);
    const indexes = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'").pluck().all();
    for (const i of [
      'recordings_account_time',
      'recordings_reference',
      'recordings_status',
      'outbox_due',
      'outbox_line',
      'flows_account_time',
      'conferences_account_time',
      'conferences_name',
      'conferences_status',
    ]) {
      assert.ok(indexes.includes(i), i);
    }
    raw.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('migrations: reopening a file applies nothing twice and keeps the rows; WAL, NORMAL, foreign keys on', () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'recgate.db');
    const first = SqliteStore.open(file);
    assert.is(first.journalMode, 'wal');
    first.createAccount(account('A'));
    first.insertRecording(recording('r1'));
    first.close();
    first.close(); // twice is fine

    const second = SqliteStore.open(file);
    assert.is(second.schemaVersion, LATEST);
    assert.is(second.getRecording('r1')?.id, 'r1');
    assert.is(second.journalMode, 'wal');
    // Foreign keys are enforced: a recording of an unknown account is refused.
    assert.is(codeOf(() => second.insertRecording(recording('r2', { account_id: 'nobody' }))), 'ERR_INVALID_ARGUMENT');
    second.close();

    const raw = new Database(file, { readonly: true });
    assert.is(raw.prepare('SELECT count(*) FROM schema_version').pluck().get(), LATEST);
    assert.is(raw.pragma('journal_mode', { simple: true }), 'wal');
    raw.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('migrations: a version 1 database (written by hand as an older release left it) is upgraded', () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'recgate.db');
    // The schema of release 1, frozen here: no outbox yet.
    const raw = new Database(file);
    raw.exec(`
      CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, tm_applied TEXT NOT NULL) STRICT;
      INSERT INTO schema_version VALUES (1, 'accounts, calls, recordings, settings', '2024-01-01T00:00:00.000Z');
      CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT NOT NULL, token_sha256 TEXT NOT NULL,
        webhook_url TEXT NOT NULL DEFAULT '', webhook_secret TEXT NOT NULL DEFAULT '',
        admin INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)), tm_create TEXT NOT NULL, tm_update TEXT NOT NULL) STRICT;
      CREATE UNIQUE INDEX accounts_token ON accounts(token_sha256) WHERE token_sha256 != '';
      CREATE TABLE calls (id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id), sip_call_id TEXT NOT NULL,
        direction TEXT NOT NULL, "from" TEXT NOT NULL, "to" TEXT NOT NULL, status TEXT NOT NULL,
        end_reason TEXT NOT NULL DEFAULT '', tm_create TEXT NOT NULL, tm_answer TEXT NOT NULL DEFAULT '',
        tm_end TEXT NOT NULL DEFAULT '') STRICT;
      CREATE INDEX calls_account_time ON calls(account_id, tm_create, id);
      CREATE INDEX calls_status ON calls(status);
      CREATE TABLE recordings (id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id),
        reference_type TEXT NOT NULL, reference_id TEXT NOT NULL, status TEXT NOT NULL, format TEXT NOT NULL,
        channels TEXT NOT NULL, sample_rate INTEGER NOT NULL, bitrate INTEGER, participant TEXT NOT NULL,
        label TEXT NOT NULL DEFAULT '', duration_ms INTEGER NOT NULL DEFAULT 0, file_size INTEGER NOT NULL DEFAULT 0,
        checksum_sha256 TEXT NOT NULL DEFAULT '', pauses TEXT NOT NULL DEFAULT '[]', recovered INTEGER NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT '', file_path TEXT NOT NULL DEFAULT '', options TEXT NOT NULL DEFAULT '{}',
        tm_start TEXT NOT NULL DEFAULT '', tm_end TEXT NOT NULL DEFAULT '', tm_create TEXT NOT NULL,
        tm_update TEXT NOT NULL, tm_delete TEXT NOT NULL DEFAULT '') STRICT;
      CREATE INDEX recordings_account_time ON recordings(account_id, tm_create, id);
      CREATE INDEX recordings_reference ON recordings(reference_id, tm_create, id);
      CREATE INDEX recordings_status ON recordings(status);
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
      INSERT INTO accounts VALUES ('A', 'old', 'hash-A', 'http://hooks.example/a', 's3cret', 1, '${tm(0)}', '${tm(0)}');
      INSERT INTO recordings (id, account_id, reference_type, reference_id, status, format, channels, sample_rate,
        participant, pauses, recovered, options, tm_create, tm_update)
        VALUES ('old-1', 'A', 'call', 'c-old', 'ended', 'mp3', 'stereo', 16000, 'all',
        '[{"offset_ms":5,"call_start_ms":5,"call_end_ms":9,"tm_start":"","tm_end":"","by":"api"}]', 1, '{"time_limit":60}',
        '${tm(1)}', '${tm(1)}');
      INSERT INTO settings VALUES ('admin_token_sha256', 'abc');
    `);
    raw.close();

    const store = SqliteStore.open(file);
    assert.is(store.schemaVersion, LATEST);
    const a = store.getAccountByToken('hash-A');
    assert.is(a?.admin, true);
    assert.is(a?.webhook_secret, 's3cret');
    const r = store.getRecording('old-1');
    assert.is(r?.recovered, true);
    assert.equal(r?.options, { time_limit: 60 });
    assert.is(r?.pauses[0]?.call_end_ms, 9);
    assert.is(store.getSetting('admin_token_sha256'), 'abc');
    // The step that was missing works.
    store.enqueue([outbox('e1', 'old-1', 'http://hooks.example/a')]);
    assert.is(store.pendingDeliveries(), 1);
    store.close();

    const check = new Database(file, { readonly: true });
    assert.equal(check.prepare('SELECT version FROM schema_version ORDER BY version').pluck().all(), MIGRATIONS.map((m) => m.version));
    check.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('migrations: a database newer than this code is refused, not guessed at', () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'recgate.db');
    const raw = new Database(file);
    raw.exec(`CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, tm_applied TEXT NOT NULL) STRICT;
      INSERT INTO schema_version VALUES ${Array.from({ length: LATEST + 1 }, (_, i) => `(${i + 1}, 'step ${i + 1}', '')`).join(', ')};`);
    raw.close();
    assert.is(codeOf(() => SqliteStore.open(file)), 'ERR_UNSUPPORTED');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('recordings: a state change sets only the columns it changes (the other indexed columns are not rewritten)', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'recgate.db');
  const store = SqliteStore.open(file);
  const spy = new Database(file);
  try {
    store.createAccount(account('A'));
    store.insertRecording(recording('r1', { status: 'initiating', pauses: [] }));
    // SQLite fires an UPDATE OF trigger when the statement sets one of those columns, changed or not.
    spy.exec(`CREATE TABLE set_columns (name TEXT);
      CREATE TRIGGER set_indexed AFTER UPDATE OF account_id, reference_id, tm_create ON recordings BEGIN INSERT INTO set_columns VALUES ('indexed'); END;
      CREATE TRIGGER set_status AFTER UPDATE OF status ON recordings BEGIN INSERT INTO set_columns VALUES ('status'); END;`);
    const sets = (): string[] => spy.prepare('SELECT name FROM set_columns ORDER BY rowid').pluck().all() as string[];
    // As the recording service makes them (setRecording: no read back), then through updateRecording.
    assert.ok(store.setRecording('r1', { status: 'recording', tm_start: tm(1), tm_update: tm(1) }));
    store.updateRecording('r1', { pauses: [{ offset_ms: 500, call_start_ms: 500, call_end_ms: 900, tm_start: tm(1), tm_end: tm(2), by: 'api' }], tm_update: tm(2) });
    assert.equal(sets(), ['status'], 'the status index only, and once');
    const row = store.getRecording('r1')!;
    assert.is(row.status, 'recording');
    assert.is(row.tm_start, tm(1));
    assert.is(row.pauses.length, 1);
    assert.is(row.account_id, 'A');
    // The trigger does see a patch that sets an indexed column: the check can fail.
    store.updateRecording('r1', { reference_id: 'call-2' });
    assert.equal(sets(), ['status', 'indexed']);
    assert.is(store.getRecording('r1')!.reference_id, 'call-2');
    assert.is(store.updateRecording('missing', { status: 'ended' }), null);
    assert.is(store.setRecording('missing', { status: 'ended' }), false);
    assert.ok(store.setRecording('r1', {}), 'an empty patch of a row that exists');
    assert.is(store.setRecording('missing', {}), false);
  } finally {
    spy.close();
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('accounts: by token hash, never by an empty one; update, list, duplicates refused', () => {
  const store = SqliteStore.open(':memory:');
  store.createAccount(account('A', { admin: true, webhook_url: 'https://a.example/hook', webhook_secret: 'k' }));
  store.createAccount(account('B', { tm_create: tm(5) }));
  // Accounts without a token ('' hash), as the gateway's default account, may be several.
  store.createAccount(account('default', { token_sha256: '', tm_create: tm(9) }));
  store.createAccount(account('other', { token_sha256: '', tm_create: tm(10) }));

  assert.equal(store.getAccountByToken('hash-A'), account('A', { admin: true, webhook_url: 'https://a.example/hook', webhook_secret: 'k' }));
  assert.is(store.getAccountByToken('hash-B')?.id, 'B');
  assert.is(store.getAccountByToken(''), null);
  assert.is(store.getAccountByToken('nope'), null);
  assert.is(store.getAccount('missing'), null);

  const updated = store.updateAccount('B', { admin: true, name: 'Bee', tm_update: tm(7) });
  assert.is(updated?.admin, true);
  assert.is(updated?.name, 'Bee');
  assert.equal(store.getAccount('B'), updated);
  assert.is(store.updateAccount('missing', { name: 'x' }), null);
  assert.equal(store.listAccounts().map((a) => a.id), ['A', 'B', 'default', 'other']);

  assert.is(codeOf(() => store.createAccount(account('A'))), 'ERR_INVALID_ARGUMENT');
  assert.is(codeOf(() => store.createAccount(account('C', { token_sha256: 'hash-A' }))), 'ERR_INVALID_ARGUMENT');
  assert.is(codeOf(() => store.updateAccount('B', { token_sha256: 'hash-A' })), 'ERR_INVALID_ARGUMENT');
  store.close();
});

test('calls: upsert keeps account and creation time, list pages newest first with a status filter', () => {
  const store = memoryStore();
  for (let i = 0; i < 5; i++) store.upsertCall(call(`c${i}`, { tm_create: tm(i), status: i % 2 === 0 ? 'ringing' : 'ended' }));
  store.upsertCall(call('cb', { account_id: 'B', tm_create: tm(3) }));
  const answered = call('c2', {
    status: 'progressing',
    tm_answer: tm(20),
    tm_create: tm(99),
    account_id: 'B',
    dtmf: [{ leg: 'caller', digit: '#', via: 'info', offset_ms: 1200 }],
  });
  store.upsertCall(answered);
  assert.equal(store.getCall('c2'), { ...answered, tm_create: tm(2), account_id: 'A' });
  assert.is(store.getCall('none'), null);

  const first = store.listCalls({ account_id: 'A', page_size: 3 });
  assert.equal(first.result.map((c) => c.id), ['c4', 'c3', 'c2']);
  const second = store.listCalls({ account_id: 'A', page_size: 3, page_token: first.next_page_token });
  assert.equal(second.result.map((c) => c.id), ['c1', 'c0']);
  assert.is(second.next_page_token, '');
  assert.equal(store.listCalls({ account_id: 'A', status: 'ringing', page_size: 10 }).result.map((c) => c.id), ['c4', 'c0']);
  assert.equal(store.listCalls({ account_id: 'B', page_size: 10 }).result.map((c) => c.id), ['cb']);
  assert.equal(store.unfinishedCalls().map((c) => c.id), ['c0', 'c2', 'cb', 'c4']);
  store.close();
});

test('recordings: insert, get and update round trip every field (JSON pauses and options, booleans, null bitrate)', () => {
  const store = memoryStore();
  const pauses = [
    { offset_ms: 1200, call_start_ms: 1500, call_end_ms: 4000, tm_start: tm(1), tm_end: tm(4), by: 'api' },
    { offset_ms: 3700, call_start_ms: 6000, call_end_ms: -1, tm_start: tm(6), tm_end: '', by: 'dtmf' },
  ];
  const options = { callback_url: 'https://x.example/cb?a=1&b=2', time_limit: 3600, nested: { list: [1, 'two', null], ok: true }, label: 'ünïcødé ☎' };
  const row = recording('r1', { pauses, options, recovered: true, bitrate: null, format: 'opus', sample_rate: 48000, channels: 'stereo' });
  store.insertRecording(row);
  assert.equal(store.getRecording('r1'), row);

  const patched = store.updateRecording('r1', {
    status: 'ended',
    bitrate: 32,
    recovered: false,
    pauses: [],
    options: { a: [1, 2] },
    duration_ms: 61_234,
    file_size: 987_654,
    checksum_sha256: 'ab'.repeat(32),
    tm_end: tm(61),
  });
  const expected = { ...row, status: 'ended' as const, bitrate: 32, recovered: false, pauses: [], options: { a: [1, 2] }, duration_ms: 61_234, file_size: 987_654, checksum_sha256: 'ab'.repeat(32), tm_end: tm(61) };
  assert.equal(patched, expected);
  assert.equal(store.getRecording('r1'), expected);
  // setRecording binds every kind of column as updateRecording does (JSON, booleans, null).
  const tracks = [{ call_id: 'c1', participant: 'sip:a@b', recording_id: 'r1t', join_offset_ms: 0, leave_offset_ms: -1 }];
  assert.ok(store.setRecording('r1', { status: 'recording', bitrate: null, recovered: true, pauses, options, tracks, tm_end: '' }));
  assert.equal(store.getRecording('r1'), { ...expected, status: 'recording', bitrate: null, recovered: true, pauses, options, tracks, tm_end: '' });
  assert.is(store.updateRecording('missing', { status: 'ended' }), null);
  assert.is(store.getRecording('missing'), null);
  assert.is(codeOf(() => store.insertRecording(row)), 'ERR_INVALID_ARGUMENT');
  store.close();
});

test('recordings: ids of a reference oldest first; unfinished ones across accounts', () => {
  const store = memoryStore();
  const statuses = ['initiating', 'recording', 'paused', 'stopping', 'ended', 'failed', 'deleted'] as const;
  statuses.forEach((status, i) => store.insertRecording(recording(`r${i}`, { status, tm_create: tm(10 - i), account_id: i % 2 ? 'B' : 'A' })));
  store.insertRecording(recording('conf-1', { reference_type: 'conference', reference_id: 'room', status: 'ended', tm_create: tm(0) }));
  assert.equal(store.recordingIdsOf('call-1'), ['r6', 'r5', 'r4', 'r3', 'r2', 'r1', 'r0']);
  assert.equal(store.recordingIdsOf('room'), ['conf-1']);
  assert.equal(store.recordingIdsOf('nothing'), []);
  assert.equal(store.unfinishedRecordings().map((r) => r.id), ['r3', 'r2', 'r1', 'r0']);
  store.close();
});

test('paging: 230 rows by 100 while rows are inserted between pages: each original once, newest first', () => {
  const store = memoryStore();
  const originals: RecordingRow[] = [];
  for (let i = 0; i < 230; i++) {
    // Three rows per second (ties broken by id), ids not in time order.
    const id = `rec-${((i * 7919) % 1000).toString().padStart(3, '0')}-${i}`;
    const row = recording(id, { tm_create: tm(Math.floor(i / 3)) });
    originals.push(row);
    store.insertRecording(row);
  }
  const expected = newestFirst(originals);
  const seen: string[] = [];
  let token = '';
  let pages = 0;
  let added = 0;
  for (;;) {
    const page = store.listRecordings({ account_id: 'A', page_size: 100, ...(token === '' ? {} : { page_token: token }) });
    pages++;
    seen.push(...page.result.map((r) => r.id));
    // New recordings arrive between page requests (one on the newest second, ties included).
    for (let k = 0; k < 7; k++) store.insertRecording(recording(`new-${added++}`, { tm_create: tm(76 + k) }));
    if (page.next_page_token === '') break;
    assert.match(page.next_page_token, /^[A-Za-z0-9_-]+$/);
    token = page.next_page_token;
  }
  assert.is(pages, 3);
  assert.equal(seen, expected);
  assert.is(new Set(seen).size, 230);
  // A walk from the start now sees the new rows first, then the same originals.
  const again = allIds(store, { account_id: 'A', page_size: 100 });
  assert.is(again.length, 230 + added);
  assert.equal(again.filter((id) => !id.startsWith('new-')), expected);
  store.close();
});

test('paging: any page size over any rows with tied times returns the rows once, in order (property)', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.record({ id: fc.stringMatching(/^[a-z0-9]{1,6}$/), sec: fc.integer({ min: 0, max: 20 }) }), {
        selector: (r) => r.id,
        maxLength: 120,
      }),
      fc.integer({ min: 1, max: 100 }),
      (specs, size) => {
        const store = memoryStore();
        const rows = specs.map((s) => recording(s.id, { tm_create: tm(s.sec) }));
        for (const r of rows) store.insertRecording(r);
        const ids = allIds(store, { account_id: 'A', page_size: size });
        store.close();
        assert.equal(ids, newestFirst(rows));
      },
    ),
    { numRuns: 60 },
  );
});

test('filters: call_id, reference_type, reference_id, status, label, since/until', () => {
  const store = memoryStore();
  const rows: RecordingRow[] = [];
  const refs = [
    ['call', 'c1'],
    ['call', 'c2'],
    ['conference', 'c1'], // same id as a call: call_id must not match it
    ['conference', 'room'],
  ] as const;
  const statuses = ['recording', 'ended', 'failed'] as const;
  for (let i = 0; i < 48; i++) {
    const [reference_type, reference_id] = refs[i % refs.length]!;
    const row = recording(`r${i.toString().padStart(2, '0')}`, {
      reference_type,
      reference_id,
      status: statuses[i % 3]!,
      label: i % 5 === 0 ? 'vip' : '',
      tm_create: tm(i),
    });
    rows.push(row);
    store.insertRecording(row);
  }
  const expect = (q: Omit<RecordingQuery, 'account_id' | 'page_size'>, keep: (r: RecordingRow) => boolean, name: string): void => {
    const ids = allIds(store, { account_id: 'A', page_size: 7, ...q });
    assert.equal(ids, newestFirst(rows.filter(keep)), name);
    assert.ok(ids.length > 0, `${name} matches something`);
  };
  expect({ call_id: 'c1' }, (r) => r.reference_type === 'call' && r.reference_id === 'c1', 'call_id');
  expect({ reference_type: 'conference' }, (r) => r.reference_type === 'conference', 'reference_type');
  expect({ reference_id: 'c1' }, (r) => r.reference_id === 'c1', 'reference_id');
  expect({ reference_type: 'conference', reference_id: 'c1' }, (r) => r.reference_type === 'conference' && r.reference_id === 'c1', 'both');
  expect({ status: 'failed' }, (r) => r.status === 'failed', 'status');
  expect({ label: 'vip' }, (r) => r.label === 'vip', 'label');
  expect({ since: tm(40) }, (r) => r.tm_create >= tm(40), 'since (inclusive)');
  expect({ until: tm(3) }, (r) => r.tm_create < tm(3), 'until (exclusive)');
  expect({ since: tm(10), until: tm(20), status: 'ended' }, (r) => r.tm_create >= tm(10) && r.tm_create < tm(20) && r.status === 'ended', 'combined');
  assert.equal(allIds(store, { account_id: 'A', page_size: 5, call_id: 'room' }), []);
  store.close();
});

test('tenant scoping: account B never sees account A rows, with or without filters or A page tokens', () => {
  const store = memoryStore();
  for (let i = 0; i < 12; i++) store.insertRecording(recording(`a${i}`, { tm_create: tm(i), label: 'x' }));
  store.insertRecording(recording('b0', { account_id: 'B', tm_create: tm(1), label: 'x' }));
  for (let i = 0; i < 5; i++) store.upsertCall(call(`ca${i}`, { tm_create: tm(i) }));

  assert.equal(allIds(store, { account_id: 'B', page_size: 100 }), ['b0']);
  assert.equal(allIds(store, { account_id: 'B', page_size: 100, call_id: 'call-1', label: 'x' }), ['b0']);
  assert.equal(allIds(store, { account_id: 'nobody', page_size: 100 }), []);
  // An A token handed to B positions B's list; it never returns A's rows.
  const aPage = store.listRecordings({ account_id: 'A', page_size: 5 });
  assert.equal(store.listRecordings({ account_id: 'B', page_size: 100, page_token: aPage.next_page_token }).result.map((r) => r.id), ['b0']);
  assert.equal(store.listCalls({ account_id: 'B', page_size: 100 }).result, []);
  store.close();
});

test('paging: bad page tokens and page sizes are ERR_INVALID_ARGUMENT', () => {
  const store = memoryStore();
  store.insertRecording(recording('r1'));
  store.upsertCall(call('c1'));
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');
  const callToken = (() => {
    store.upsertCall(call('c0', { tm_create: tm(-1) }));
    return store.listCalls({ account_id: 'A', page_size: 1 }).next_page_token;
  })();
  assert.is.not(callToken, '');
  const cases: [string, string][] = [
    ['not base64url', 'abc$%^'],
    ['padding is not base64url', `${b64('["r","x","y"]')}=`],
    ['not JSON', b64('hello')],
    ['JSON object', b64('{"tm":"x","id":"y"}')],
    ['array of 2', b64(`["${tm(0)}","r1"]`)],
    ['numbers', b64('["r",1,2]')],
    ['empty id', b64(`["r","${tm(0)}",""]`)],
    ['a calls token', callToken],
    ['too long', 'A'.repeat(5000)],
  ];
  for (const [name, token] of cases) {
    assert.is(codeOf(() => store.listRecordings({ account_id: 'A', page_size: 10, page_token: token })), 'ERR_INVALID_ARGUMENT', name);
  }
  const recToken = b64(`["r","${tm(5)}","zzz"]`);
  assert.is(codeOf(() => store.listCalls({ account_id: 'A', page_size: 10, page_token: recToken })), 'ERR_INVALID_ARGUMENT', 'recordings token for calls');
  for (const size of [0, 101, 1.5, -1, Number.NaN]) {
    assert.is(codeOf(() => store.listRecordings({ account_id: 'A', page_size: size })), 'ERR_INVALID_ARGUMENT', `page_size ${size}`);
    assert.is(codeOf(() => store.listCalls({ account_id: 'A', page_size: size })), 'ERR_INVALID_ARGUMENT', `calls page_size ${size}`);
  }
  // A well-formed token of ours works, and '' means the first page.
  assert.equal(store.listRecordings({ account_id: 'A', page_size: 10, page_token: recToken }).result.map((r) => r.id), ['r1']);
  assert.equal(store.listRecordings({ account_id: 'A', page_size: 1, page_token: '' }).result.map((r) => r.id), ['r1']);
  store.close();
});

test('outbox: first in line per (recording, url), across a reopen; retries, dead rows and duplicates', () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'recgate.db');
    let store = SqliteStore.open(file);
    store.createAccount(account('A'));
    const U1 = 'http://one.example/hook';
    const U2 = 'http://two.example/hook';
    store.enqueue([outbox('a1', 'A-rec', U1), outbox('a1', 'A-rec', U2), outbox('b1', 'B-rec', U1)]);
    store.enqueue([outbox('a2', 'A-rec', U1), outbox('b2', 'B-rec', U1), outbox('a3', 'A-rec', U1)]);
    store.enqueue([outbox('later', 'C-rec', U1, { next_attempt_at: 9000 })]);
    // The same event to the same URL again is a no-op.
    store.enqueue([outbox('a1', 'A-rec', U1, { payload: '{"changed":true}' })]);
    assert.is(store.pendingDeliveries(), 7);

    const due = (now: number): string[] => store.dueDeliveries(now, 50).map((r) => `${r.event_id}@${r.url === U1 ? 1 : 2}`);
    assert.equal(due(1000), ['a1@1', 'a1@2', 'b1@1']);
    assert.equal(store.dueDeliveries(1000, 2).length, 2);
    assert.equal(due(999), []);
    const a1 = store.dueDeliveries(1000, 1)[0]!;
    assert.is(a1.payload, JSON.stringify({ event_id: 'a1' }));
    assert.is(a1.attempts, 0);
    assert.is(a1.status, 'pending');

    // a1@1 fails: a2 stays behind it, the other lines go on.
    store.markRetry(a1.seq, 5000, 'HTTP 500');
    assert.equal(due(1000), ['a1@2', 'b1@1']);
    store.close();

    // After a restart the queue is the same.
    store = SqliteStore.open(file);
    assert.equal(due(1000), ['a1@2', 'b1@1']);
    assert.equal(due(5000), ['a1@2', 'b1@1', 'a1@1']);
    const retried = store.dueDeliveries(5000, 50).find((r) => r.event_id === 'a1' && r.url === U1)!;
    assert.is(retried.attempts, 1);
    assert.is(retried.last_error, 'HTTP 500');
    store.markDelivered(retried.seq, tm(9));
    assert.equal(due(5000), ['a1@2', 'b1@1', 'a2@1']);
    // A dead row lets the next one of its line go.
    const a2 = store.dueDeliveries(5000, 50).find((r) => r.event_id === 'a2')!;
    store.markDead(a2.seq, 'too old');
    assert.equal(due(5000), ['a1@2', 'b1@1', 'a3@1']);
    // Marks touch pending rows only.
    store.markRetry(retried.seq, 1, 'late');
    assert.equal(due(9000), ['a1@2', 'b1@1', 'a3@1', 'later@1']);
    assert.is(store.pendingDeliveries(), 5);
    assert.is(codeOf(() => store.dueDeliveries(0, 0)), 'ERR_INVALID_ARGUMENT');
    store.close();

    const raw = new Database(file, { readonly: true });
    const rows = raw.prepare('SELECT event_id, url, status, attempts, last_error, tm_delivered FROM outbox ORDER BY seq').all();
    assert.equal(rows.slice(0, 1), [{ event_id: 'a1', url: U1, status: 'delivered', attempts: 2, last_error: '', tm_delivered: tm(9) }]);
    assert.equal(rows.filter((r) => (r as { status: string }).status === 'dead'), [
      { event_id: 'a2', url: U1, status: 'dead', attempts: 1, last_error: 'too old', tm_delivered: '' },
    ]);
    raw.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('outbox: a row of an unknown account is refused and nothing of its batch is kept', () => {
  const store = memoryStore();
  assert.is(codeOf(() => store.enqueue([outbox('ok', 'r', 'http://x/'), outbox('bad', 'r', 'http://x/', { account_id: 'nobody' })])), 'ERR_INVALID_ARGUMENT');
  assert.is(store.pendingDeliveries(), 0);
  store.close();
});

test('atomically: every write inside lands, or none when it throws; a nested call joins the outer one', () => {
  const store = memoryStore();
  store.insertRecording(recording('r1'));
  const got = store.atomically(() => {
    store.updateRecording('r1', { status: 'recording' });
    store.atomically(() => store.enqueue([outbox('e1', 'r1', 'http://x/')]));
    return 'done';
  });
  assert.is(got, 'done');
  assert.is(store.getRecording('r1')?.status, 'recording');
  assert.is(store.pendingDeliveries(), 1);
  assert.throws(
    () =>
      store.atomically(() => {
        store.updateRecording('r1', { status: 'paused' });
        store.atomically(() => store.enqueue([outbox('e2', 'r1', 'http://x/')]));
        throw new Error('after both writes');
      }),
    /after both writes/,
  );
  assert.is(store.getRecording('r1')?.status, 'recording', 'the update rolled back');
  assert.is(store.pendingDeliveries(), 1, 'the nested enqueue rolled back with it');
  store.close();
  assert.is(codeOf(() => store.atomically(() => 1)), 'ERR_INVALID_STATE');
});

test('settings: set, overwrite, get; a closed store is ERR_INVALID_STATE', () => {
  const store = SqliteStore.open(':memory:');
  assert.is(store.getSetting('admin_token_sha256'), null);
  store.setSetting('admin_token_sha256', 'one');
  store.setSetting('admin_token_sha256', 'two');
  assert.is(store.getSetting('admin_token_sha256'), 'two');
  store.close();
  assert.is(codeOf(() => store.getSetting('x')), 'ERR_INVALID_STATE');
  assert.is(codeOf(() => store.listRecordings({ account_id: 'A', page_size: 1 })), 'ERR_INVALID_STATE');
  assert.is(codeOf(() => store.createAccount(account('A'))), 'ERR_INVALID_STATE');
});

test('migrations: a version 4 database (made by the first four steps) is upgraded; its recordings read with tracks []', () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'recgate.db');
    const raw = new Database(file);
    assert.is(migrate(raw, MIGRATIONS.slice(0, 4)), 4);
    raw.exec(`
      INSERT INTO accounts VALUES ('A', 'old', 'hash-A', '', '', 0, '${tm(0)}', '${tm(0)}');
      INSERT INTO calls (id, account_id, sip_call_id, direction, "from", "to", status, tm_create, dtmf)
        VALUES ('c-old', 'A', 'x@y', 'inbound', 'sip:a@b', 'sip:c@d', 'ended', '${tm(1)}', '[{"leg":"caller","digit":"5","via":"info","offset_ms":10}]');
      INSERT INTO recordings (id, account_id, reference_type, reference_id, status, format, channels, sample_rate,
        participant, options, tm_create, tm_update)
        VALUES ('old-4', 'A', 'conference', 'conf-old', 'ended', 'wav', 'mono', 8000, 'all', '{"label":"x"}', '${tm(2)}', '${tm(2)}');
    `);
    raw.close();

    const store = SqliteStore.open(file);
    assert.is(store.schemaVersion, LATEST);
    const r = store.getRecording('old-4');
    assert.equal(r?.tracks, []);
    assert.equal(r?.options, { label: 'x' });
    assert.equal(store.getCall('c-old')?.dtmf, [{ leg: 'caller', digit: '5', via: 'info', offset_ms: 10 }]);
    // The new tables work on the upgraded file.
    store.insertFlow(flow('f1'));
    assert.is(store.getFlow('f1')?.name, 'flow f1');
    store.upsertConference(conference('k1'));
    assert.is(store.activeConferences().length, 1);
    assert.equal(store.updateRecording('old-4', { tracks: [{ call_id: 'c-old', participant: 'sip:a@b', recording_id: 'old-4t', join_offset_ms: 0, leave_offset_ms: -1 }] })?.tracks.length, 1);
    store.close();

    const check = new Database(file, { readonly: true });
    assert.equal(check.prepare('SELECT version FROM schema_version ORDER BY version').pluck().all(), [1, 2, 3, 4, 5]);
    check.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('recordings: tracks round trip through insert, update, get and list', () => {
  const store = memoryStore();
  const tracks = [
    { call_id: 'c1', participant: 'sip:alice@example.com', recording_id: 'rt-1', join_offset_ms: 0, leave_offset_ms: 61_000 },
    { call_id: 'c2', participant: 'bob', recording_id: 'rt-2', join_offset_ms: 2_340, leave_offset_ms: -1 },
  ];
  const row = recording('mix', { reference_type: 'conference', reference_id: 'k1', tracks });
  store.insertRecording(row);
  assert.equal(store.getRecording('mix'), row);
  assert.equal(store.listRecordings({ account_id: 'A', page_size: 10 }).result[0]?.tracks, tracks);
  const more = [...tracks, { call_id: 'c3', participant: 'carol', recording_id: 'rt-3', join_offset_ms: 5_000, leave_offset_ms: -1 }];
  assert.equal(store.updateRecording('mix', { tracks: more })?.tracks, more);
  assert.equal(store.getRecording('mix')?.tracks, more);
  // A patch without tracks keeps them.
  assert.equal(store.updateRecording('mix', { status: 'ended' })?.tracks, more);
  // A call recording has none.
  store.insertRecording(recording('plain'));
  assert.equal(store.getRecording('plain')?.tracks, []);
  store.close();
});

test('flows: insert, get, list newest first with stable page tokens, per account; delete', () => {
  const store = memoryStore();
  const nested = flow('f0', {
    actions: [{ action: 'branch', option: { variable: 'digits', cases: { '1': [{ action: 'play', option: { file: 'a.wav' } }] }, default: [] } }],
    name: 'ünïcødé ☎',
  });
  store.insertFlow(nested);
  assert.equal(store.getFlow('f0'), nested);
  assert.is(store.getFlow('missing'), null);
  for (let i = 1; i < 8; i++) store.insertFlow(flow(`f${i}`, { tm_create: tm(Math.floor(i / 2)) }));
  store.insertFlow(flow('fb', { account_id: 'B', tm_create: tm(3) }));

  const ids: string[] = [];
  let token = '';
  for (;;) {
    const page = store.listFlows({ account_id: 'A', page_size: 3, ...(token === '' ? {} : { page_token: token }) });
    ids.push(...page.result.map((f) => f.id));
    // A flow created between pages does not shift the walk.
    store.insertFlow(flow(`new-${ids.length}`, { tm_create: tm(50) }));
    if (page.next_page_token === '') break;
    token = page.next_page_token;
  }
  assert.equal(ids, ['f7', 'f6', 'f5', 'f4', 'f3', 'f2', 'f1', 'f0']);
  assert.equal(store.listFlows({ account_id: 'B', page_size: 10 }).result.map((f) => f.id), ['fb']);
  assert.equal(store.listFlows({ account_id: 'nobody', page_size: 10 }), { result: [], next_page_token: '' });

  assert.is(codeOf(() => store.insertFlow(flow('f1'))), 'ERR_INVALID_ARGUMENT', 'duplicate id');
  assert.is(codeOf(() => store.insertFlow(flow('fx', { account_id: 'nobody' }))), 'ERR_INVALID_ARGUMENT', 'unknown account');
  assert.is(codeOf(() => store.listFlows({ account_id: 'A', page_size: 0 })), 'ERR_INVALID_ARGUMENT');
  // Tokens of other lists are refused, and a flows token by them.
  const callToken = (() => {
    store.upsertCall(call('c0', { tm_create: tm(0) }));
    store.upsertCall(call('c1', { tm_create: tm(1) }));
    return store.listCalls({ account_id: 'A', page_size: 1 }).next_page_token;
  })();
  assert.is(codeOf(() => store.listFlows({ account_id: 'A', page_size: 2, page_token: callToken })), 'ERR_INVALID_ARGUMENT');
  const flowToken = store.listFlows({ account_id: 'A', page_size: 2 }).next_page_token;
  assert.is(codeOf(() => store.listCalls({ account_id: 'A', page_size: 2, page_token: flowToken })), 'ERR_INVALID_ARGUMENT');

  assert.is(store.deleteFlow('f3'), true);
  assert.is(store.deleteFlow('f3'), false);
  assert.is(store.getFlow('f3'), null);
  assert.ok(!store.listFlows({ account_id: 'A', page_size: 100 }).result.some((f) => f.id === 'f3'));
  store.close();
});

test('conferences: upsert keeps account and creation time; participants and recording JSON; status filter, paging, active ones', () => {
  const store = memoryStore();
  const participants = [
    { call_id: 'c1', from: 'sip:alice@example.com', tm_join: tm(1), tm_leave: tm(9), muted: false },
    { call_id: 'c2', from: 'sip:bob@example.com', tm_join: tm(2), tm_leave: '', muted: true },
  ];
  const row = conference('k1', { recording: { format: 'mp3', channels: 'mono', label: 'weekly' }, participants, tm_create: tm(1) });
  store.upsertConference(row);
  assert.equal(store.getConference('k1'), row);
  const ended = { ...row, account_id: 'B', tm_create: tm(99), status: 'ended' as const, end_reason: 'empty', tm_end: tm(30), participants: [] };
  store.upsertConference(ended);
  assert.equal(store.getConference('k1'), { ...ended, account_id: 'A', tm_create: tm(1) });
  assert.is(store.getConference('missing'), null);

  for (let i = 2; i <= 7; i++) store.upsertConference(conference(`k${i}`, { tm_create: tm(i), status: i % 3 === 0 ? 'ended' : 'active' }));
  store.upsertConference(conference('kb', { account_id: 'B', tm_create: tm(4), name: 'room-k4' }));

  const first = store.listConferences({ account_id: 'A', page_size: 4 });
  assert.equal(first.result.map((c) => c.id), ['k7', 'k6', 'k5', 'k4']);
  const second = store.listConferences({ account_id: 'A', page_size: 4, page_token: first.next_page_token });
  assert.equal(second.result.map((c) => c.id), ['k3', 'k2', 'k1']);
  assert.is(second.next_page_token, '');
  assert.equal(store.listConferences({ account_id: 'A', status: 'ended', page_size: 10 }).result.map((c) => c.id), ['k6', 'k3', 'k1']);
  assert.equal(store.listConferences({ account_id: 'A', status: 'active', page_size: 10 }).result.map((c) => c.id), ['k7', 'k5', 'k4', 'k2']);
  assert.equal(store.listConferences({ account_id: 'B', page_size: 10 }).result.map((c) => c.id), ['kb']);
  const recToken = Buffer.from(JSON.stringify(['r', tm(5), 'k5']), 'utf8').toString('base64url');
  assert.is(codeOf(() => store.listConferences({ account_id: 'A', page_size: 2, page_token: recToken })), 'ERR_INVALID_ARGUMENT', 'a recordings token');
  assert.is(codeOf(() => store.listCalls({ account_id: 'A', page_size: 2, page_token: first.next_page_token })), 'ERR_INVALID_ARGUMENT');
  assert.is(codeOf(() => store.listConferences({ account_id: 'A', page_size: 101 })), 'ERR_INVALID_ARGUMENT');

  // Across accounts, oldest first: what start-up cleans.
  assert.equal(store.activeConferences().map((c) => c.id), ['k2', 'k4', 'kb', 'k5', 'k7']);
  assert.is(store.activeConferenceByName('A', 'room-k4')?.id, 'k4');
  assert.is(store.activeConferenceByName('B', 'room-k4')?.id, 'kb');
  assert.is(store.activeConferenceByName('A', 'room-k3'), null, 'ended');
  assert.is(store.activeConferenceByName('A', 'nothing'), null);
  assert.is(codeOf(() => store.upsertConference(conference('bad', { status: 'paused' as never }))), 'ERR_INVALID_ARGUMENT');
  store.close();
});

test('JSON columns: a damaged tracks, actions, participants or recording reads as [] or null, never throws', () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'recgate.db');
    let store = SqliteStore.open(file);
    store.createAccount(account('A'));
    store.insertRecording(recording('r1', { tracks: [{ call_id: 'c', participant: 'p', recording_id: 'x', join_offset_ms: 0, leave_offset_ms: -1 }] }));
    store.insertFlow(flow('f1'));
    store.upsertConference(conference('k1', { recording: { format: 'wav' }, participants: [{ call_id: 'c', from: 'f', tm_join: tm(0), tm_leave: '', muted: false }] }));
    store.upsertConference(conference('k2', { recording: { format: 'wav' } }));
    store.close();

    const raw = new Database(file);
    raw.pragma('ignore_check_constraints = ON');
    raw.exec(`
      UPDATE recordings SET tracks = '[{"call_id":' WHERE id = 'r1';
      UPDATE flows SET actions = '{"not":"an array"}' WHERE id = 'f1';
      UPDATE conferences SET participants = 'garbage', recording = '[1, 2]' WHERE id = 'k1';
      UPDATE conferences SET recording = 'null' WHERE id = 'k2';
    `);
    raw.close();

    store = SqliteStore.open(file);
    assert.equal(store.getRecording('r1')?.tracks, []);
    assert.is(store.getRecording('r1')?.file_path, 'recordings/r1.wav');
    assert.equal(store.getFlow('f1')?.actions, []);
    assert.equal(store.getConference('k1')?.participants, []);
    assert.is(store.getConference('k1')?.recording, null);
    assert.is(store.getConference('k2')?.recording, null);
    assert.equal(store.activeConferences().map((c) => c.id), ['k1', 'k2']);
    store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** Frames in a WAL file now (32-byte header, then each frame a 24-byte header and a page). */
function walFrames(file: string, pageSize = 4096): number {
  try {
    return Math.max(0, (fs.statSync(`${file}-wal`).size - 32) / (pageSize + 24));
  } catch {
    return 0;
  }
}

/** `n` recordings, each its own commit (as the gateway writes them): a few WAL pages each. */
function burst(store: SqliteStore, from: number, n: number): void {
  for (let i = from; i < from + n; i++) store.insertRecording(recording(`burst-${i}`, { options: { note: 'x'.repeat(400) } }));
}

test("checkpoint 'worker': commits leave the WAL to a worker thread, which copies all of it; 'auto' checkpoints inside the commits", async () => {
  const dir = tmpDir();
  try {
    // SQLite's own checkpoint runs in the commit that takes the WAL past 1,000 pages.
    const autoFile = path.join(dir, 'auto.db');
    const auto = SqliteStore.open(autoFile);
    auto.createAccount(account('A'));
    burst(auto, 0, 600);
    const autoFrames = walFrames(autoFile);
    assert.ok(autoFrames < 1200, `'auto' keeps the WAL near 1,000 frames, found ${autoFrames}`);
    assert.is(auto.checkpointStats(), null);
    auto.close();

    // With the worker (its periodic rounds an hour apart here), no commit checkpoints.
    const file = path.join(dir, 'worker.db');
    const store = SqliteStore.open(file, { checkpoint: 'worker', checkpointIntervalMs: 3_600_000 });
    store.createAccount(account('A'));
    burst(store, 0, 600);
    const frames = walFrames(file);
    assert.ok(frames > 1500, `the same writes left ${frames} frames in the WAL: no checkpoint in a commit`);
    const round = await store.checkpointNow();
    assert.ok(round !== null, 'the worker answered');
    assert.is(round.busy, 0);
    assert.ok(round.log >= frames - 1, `the round saw the WAL: ${round.log} of ${frames} frames`);
    assert.is(round.checkpointed, round.log, 'every frame is in the database file now');
    assert.ok(round.threadId > 0, 'on a worker thread, not the event loop');
    const st = store.checkpointStats()!;
    assert.equal([st.running, st.walFrames, st.walFramesCheckpointed, st.threadId], [true, round.log, round.log, round.threadId]);
    // The WAL starts over after a complete checkpoint: the next writes reuse it from the top.
    burst(store, 600, 10);
    assert.ok(walFrames(file) <= frames, 'the WAL file did not grow');
    store.close();
    // The worker's connection closes last, emptying the WAL into the file; every row is there.
    for (let i = 0; i < 100 && fs.existsSync(`${file}-wal`); i++) await new Promise((r) => setTimeout(r, 20));
    assert.not.ok(fs.existsSync(`${file}-wal`), 'the WAL is gone after both connections closed');
    const raw = new Database(file, { readonly: true });
    assert.is(raw.prepare("SELECT count(*) FROM recordings WHERE id LIKE 'burst-%'").pluck().get(), 610);
    raw.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("checkpoint 'worker': when the worker dies, the store's connection checkpoints again (the WAL stays bounded)", async () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'recgate.db');
    const store = SqliteStore.open(file, { checkpoint: 'worker', checkpointIntervalMs: 3_600_000 });
    store.createAccount(account('A'));
    assert.ok((await store.checkpointNow()) !== null, 'the worker runs');
    await store.terminateCheckpointerForTest();
    for (let i = 0; i < 100 && store.checkpointStats()!.running; i++) await new Promise((r) => setTimeout(r, 10));
    assert.is(store.checkpointStats()!.running, false);
    assert.is(await store.checkpointNow(), null, 'no worker to ask');
    burst(store, 0, 600);
    const frames = walFrames(file);
    assert.ok(frames < 1200, `the WAL holds ${frames} frames: SQLite checkpoints in the commits again`);
    assert.is(store.getRecording('burst-599')?.id, 'burst-599');
    store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("checkpoint 'worker' is refused a bad interval; ':memory:' has no worker", () => {
  assert.is(codeOf(() => SqliteStore.open(':memory:', { checkpoint: 'worker', checkpointIntervalMs: 0 })), 'ERR_INVALID_ARGUMENT');
  const mem = SqliteStore.open(':memory:', { checkpoint: 'worker' });
  assert.is(mem.checkpointStats(), null);
  mem.close();
});

test.run();
