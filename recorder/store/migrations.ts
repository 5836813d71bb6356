/**
 * The SQLite schema as an ordered list of steps. A database records the steps it has in
 * `schema_version`; opening it applies the missing ones, in order, inside one transaction, so a
 * crash mid-upgrade leaves the previous version intact. A step never changes once released:
 * a change to the schema is a new step at the end.
 */
import type Database from 'better-sqlite3';
import { UnsupportedError } from '../../common/index.js';

export interface Migration {
  /** 1, 2, 3, ... in order, no gaps. */
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'accounts, calls, recordings, settings',
    sql: `
      CREATE TABLE accounts (
        id             TEXT PRIMARY KEY,
        name           TEXT NOT NULL,
        token_sha256   TEXT NOT NULL,
        webhook_url    TEXT NOT NULL DEFAULT '',
        webhook_secret TEXT NOT NULL DEFAULT '',
        admin          INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
        tm_create      TEXT NOT NULL,
        tm_update      TEXT NOT NULL
      ) STRICT;
      -- getAccountByToken. '' is an account without a token (the gateway's 'default'); several may exist.
      CREATE UNIQUE INDEX accounts_token ON accounts(token_sha256) WHERE token_sha256 != '';

      CREATE TABLE calls (
        id          TEXT PRIMARY KEY,
        account_id  TEXT NOT NULL REFERENCES accounts(id),
        sip_call_id TEXT NOT NULL,
        direction   TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
        "from"      TEXT NOT NULL,
        "to"        TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('ringing', 'progressing', 'ended')),
        end_reason  TEXT NOT NULL DEFAULT '',
        tm_create   TEXT NOT NULL,
        tm_answer   TEXT NOT NULL DEFAULT '',
        tm_end      TEXT NOT NULL DEFAULT ''
      ) STRICT;
      -- listCalls: one account, newest first, keyset paging on (tm_create, id).
      CREATE INDEX calls_account_time ON calls(account_id, tm_create, id);
      -- unfinishedCalls at start-up.
      CREATE INDEX calls_status ON calls(status);

      CREATE TABLE recordings (
        id              TEXT PRIMARY KEY,
        account_id      TEXT NOT NULL REFERENCES accounts(id),
        reference_type  TEXT NOT NULL CHECK (reference_type IN ('call', 'conference')),
        reference_id    TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN
                          ('initiating', 'recording', 'paused', 'stopping', 'ended', 'failed', 'deleted')),
        format          TEXT NOT NULL CHECK (format IN ('wav', 'mp3', 'opus')),
        channels        TEXT NOT NULL CHECK (channels IN ('mono', 'stereo')),
        sample_rate     INTEGER NOT NULL CHECK (sample_rate IN (8000, 16000, 48000)),
        bitrate         INTEGER,
        participant     TEXT NOT NULL CHECK (participant IN ('all', 'caller', 'callee')),
        label           TEXT NOT NULL DEFAULT '',
        duration_ms     INTEGER NOT NULL DEFAULT 0,
        file_size       INTEGER NOT NULL DEFAULT 0,
        checksum_sha256 TEXT NOT NULL DEFAULT '',
        pauses          TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(pauses)),
        recovered       INTEGER NOT NULL DEFAULT 0 CHECK (recovered IN (0, 1)),
        reason          TEXT NOT NULL DEFAULT '',
        file_path       TEXT NOT NULL DEFAULT '',
        options         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(options)),
        tm_start        TEXT NOT NULL DEFAULT '',
        tm_end          TEXT NOT NULL DEFAULT '',
        tm_create       TEXT NOT NULL,
        tm_update       TEXT NOT NULL,
        tm_delete       TEXT NOT NULL DEFAULT ''
      ) STRICT;
      -- listRecordings: one account, newest first, keyset paging on (tm_create, id).
      CREATE INDEX recordings_account_time ON recordings(account_id, tm_create, id);
      -- recordingIdsOf and the call_id / reference_id filters.
      CREATE INDEX recordings_reference ON recordings(reference_id, tm_create, id);
      -- unfinishedRecordings at start-up and the status filter.
      CREATE INDEX recordings_status ON recordings(status);

      CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    description: 'webhook outbox',
    sql: `
      CREATE TABLE outbox (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id        TEXT NOT NULL,
        account_id      TEXT NOT NULL REFERENCES accounts(id),
        recording_id    TEXT NOT NULL,
        type            TEXT NOT NULL,
        url             TEXT NOT NULL,
        method          TEXT NOT NULL CHECK (method IN ('GET', 'POST')),
        payload         TEXT NOT NULL,
        status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT NOT NULL DEFAULT '',
        tm_create       TEXT NOT NULL,
        tm_delivered    TEXT NOT NULL DEFAULT '',
        -- One event goes once to each URL; enqueueing it again is a no-op.
        UNIQUE (event_id, url)
      ) STRICT;
      -- dueDeliveries: pending rows by due time.
      CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
      -- dueDeliveries: is there an earlier row in line for this recording and URL?
      CREATE INDEX outbox_line ON outbox(recording_id, url, seq);
    `,
  },
  {
    version: 3,
    description: 'SIP users (softphones that register)',
    sql: `
      CREATE TABLE users (
        username    TEXT PRIMARY KEY,
        account_id  TEXT NOT NULL REFERENCES accounts(id),
        realm       TEXT NOT NULL,
        -- H(username:realm:password) for MD5 and SHA-256 digests (RFC 8760); the password is not kept.
        ha1_md5     TEXT NOT NULL,
        ha1_sha256  TEXT NOT NULL,
        tm_create   TEXT NOT NULL
      ) STRICT;
      CREATE INDEX users_account ON users(account_id, username);
    `,
  },
  {
    version: 4,
    description: 'DTMF digits received on a call (RFC 4733 and SIP INFO), as a JSON array',
    sql: `ALTER TABLE calls ADD COLUMN dtmf TEXT NOT NULL DEFAULT '[]';`,
  },
  {
    version: 5,
    description: 'flows, conferences, recording track manifests',
    sql: `
      CREATE TABLE flows (
        id          TEXT PRIMARY KEY,
        account_id  TEXT NOT NULL REFERENCES accounts(id),
        name        TEXT NOT NULL,
        -- The validated actions, a JSON array.
        actions     TEXT NOT NULL CHECK (json_valid(actions)),
        tm_create   TEXT NOT NULL
      ) STRICT;
      -- listFlows: one account, newest first, keyset paging on (tm_create, id).
      CREATE INDEX flows_account_time ON flows(account_id, tm_create, id);

      CREATE TABLE conferences (
        id               TEXT PRIMARY KEY,
        account_id       TEXT NOT NULL,
        name             TEXT NOT NULL,
        status           TEXT NOT NULL CHECK (status IN ('active', 'ended')),
        max_participants INTEGER NOT NULL,
        -- Auto-record options (a JSON object), or 'null' for none.
        recording        TEXT NOT NULL CHECK (json_valid(recording)),
        participants     TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(participants)),
        end_reason       TEXT NOT NULL DEFAULT '',
        tm_create        TEXT NOT NULL,
        tm_end           TEXT NOT NULL DEFAULT ''
      ) STRICT;
      -- listConferences: one account, newest first, keyset paging on (tm_create, id).
      CREATE INDEX conferences_account_time ON conferences(account_id, tm_create, id);
      -- A call joining by name finds the account's active conference of that name.
      CREATE INDEX conferences_name ON conferences(account_id, name, status);
      -- activeConferences at start-up.
      CREATE INDEX conferences_status ON conferences(status);

      -- Per-participant tracks of a conference mix recording (JSON array of TrackRecord).
      ALTER TABLE recordings ADD COLUMN tracks TEXT NOT NULL DEFAULT '[]';
    `,
  },
];

/** The highest step recorded in the database, 0 for a new one. */
export function schemaVersion(db: Database.Database): number {
  const table = db
    .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
    .get();
  if (table === undefined) return 0;
  const row = db.prepare<[], { v: number | null }>('SELECT max(version) AS v FROM schema_version').get();
  return row?.v ?? 0;
}

/**
 * Brings the database up to the last step of `migrations` and returns that version.
 * BEGIN IMMEDIATE: a second process opening the same file waits (busy_timeout), then finds the
 * steps already applied. A database newer than this code is refused rather than guessed at.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new TypeError(`migration ${i} has version ${m.version}, expected ${i + 1}`);
  });
  const latest = migrations.length;
  const run = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_version (
      version    INTEGER PRIMARY KEY,
      description TEXT NOT NULL,
      tm_applied TEXT NOT NULL
    ) STRICT`);
    const current = schemaVersion(db);
    if (current > latest) {
      throw new UnsupportedError(`database schema version ${current} is newer than this recgate knows (${latest})`);
    }
    const record = db.prepare<[number, string, string]>(
      'INSERT INTO schema_version (version, description, tm_applied) VALUES (?, ?, ?)',
    );
    for (const m of migrations.slice(current)) {
      db.exec(m.sql);
      record.run(m.version, m.description, new Date().toISOString());
    }
    return latest;
  });
  return run.immediate();
}
