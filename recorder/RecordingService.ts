/**
 * The recording service: every recording's lifecycle, its row in the store and its events.
 *
 * States move forward only (model.ts RECORDING_TRANSITIONS): initiating -> recording <-> paused
 * -> stopping -> ended | failed, then deleted. A recording stops on stop(), when its call ends,
 * at its time limit, at shutdown, or when its file fails. Each transition is written to the
 * store and turned into webhook events in the outbox, in order, before the call returns.
 *
 * Crash recovery (recover(), at start-up): recordings a crash left unfinished are finished from
 * their files (WAV sizes repaired, MP3 cut at the last whole frame, Ogg at the last whole page),
 * marked ended with recovered: true, and their events sent.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { InvalidStateError, NoSpaceError, SafeEmitter } from '../common/index.js';
import { EncoderPool, extensionOf, repairRecording } from '../encoders/index.js';
import type { Mixer, OutputSpec } from '../mixer/index.js';
import { RECORDING_TRANSITIONS, nowIso } from './model.js';
import type { PauseRow, RecordingRow, RecordingStatus, ReferenceType, Store, TrackRecord } from './model.js';
import { channelCount } from './options.js';
import { LocalStorage } from './storage.js';
import type { RecordingStorage } from './storage.js';
import type { RecordingSpec } from './options.js';
import { Recording } from './Recording.js';
import { hashFile } from './fileHash.js';
import type { StopReason } from './Recording.js';

export type RecordingEventType =
  | 'recording.started'
  | 'recording.paused'
  | 'recording.resumed'
  | 'recording.stopped'
  | 'recording.completed'
  | 'recording.failed'
  | 'recording.deleted';

export interface RecordingEvent {
  event_id: string;
  type: RecordingEventType;
  created: string;
  account_id: string;
  recording_id: string;
  /** Flat fields (Vobiz style) so a GET callback carries them as a query string. */
  reference_type: ReferenceType;
  reference_id: string;
  status: RecordingStatus;
  reason: string;
  recording_duration_ms: number;
  recording_start_ms: number;
  recording_end_ms: number;
  record_url: string;
  file_size: number;
  checksum_sha256: string;
  recording: PublicRecording;
}

/** The recording as the API shows it. */
export type PublicRecording = Omit<RecordingRow, 'file_path' | 'options'> & {
  time_limit: number;
  record_min_sec: number;
  pause_behavior: string;
  download_url: string;
};

export interface StartRecordingRequest {
  account_id: string;
  reference_type: ReferenceType;
  reference_id: string;
  mixer: Mixer;
  output: OutputSpec;
  spec: RecordingSpec;
}

export interface RecordingServiceOptions {
  store: Store;
  /** Recordings live in <dataDir>/recordings/ (with the default storage). */
  dataDir: string;
  /** Where files go; default LocalStorage(dataDir). */
  storage?: RecordingStorage;
  /** Told when events were queued, so it delivers at once. */
  dispatcher?: { kick(): void } | null;
  /** Base URL of the HTTP API for download links ('' for none). */
  publicUrl?: string;
  log?: (entry: Record<string, unknown>) => void;
  /** Upload retries for upload_url (default 5) and first delay (ms, default 1000). */
  uploadAttempts?: number;
  uploadDelayMs?: number;
  /**
   * Free bytes the recordings' disk must keep for a new recording to start (default 16 MiB):
   * below it, and after a recording failed with disk_full until space returns, start() refuses
   * with NoSpaceError rather than creating files that fail at once.
   */
  minFreeBytes?: number;
  /** libopus complexity 0..10 of Opus recordings; default the encoder's (5). */
  opusComplexity?: number;
  /** Worker threads for MP3 and Opus encoding (an EncoderPool made at the first such recording); default 0: in-line. */
  encoderThreads?: number;
}

export interface RecordingServiceEvents {
  [key: string]: unknown[];
  event: [RecordingEvent];
}

interface Active {
  row: RecordingRow;
  media: Recording;
  stopping: Promise<RecordingRow> | null;
}

export class RecordingService extends SafeEmitter<RecordingServiceEvents> {
  readonly store: Store;
  readonly dataDir: string;
  readonly recordingsDir: string;
  readonly storage: RecordingStorage;
  publicUrl: string;
  readonly #dispatcher: { kick(): void } | null;
  readonly #log: (entry: Record<string, unknown>) => void;
  readonly #active = new Map<string, Active>();
  readonly #uploads = new Set<Promise<void>>();
  readonly #uploadAttempts: number;
  /** First retry delay of an upload, ms (doubles each attempt). */
  uploadDelayMs: number;
  failures = 0;
  /** See RecordingServiceOptions.minFreeBytes (bytes). */
  minFreeBytes: number;
  /** A recording failed with disk_full: refuse new ones until the disk has space again. */
  #diskFull = false;
  readonly #opusComplexity: number | undefined;
  readonly #encoderThreads: number;
  #encoderPool: EncoderPool | null = null;

  constructor(options: RecordingServiceOptions) {
    super();
    this.store = options.store;
    this.dataDir = options.dataDir;
    this.recordingsDir = path.join(options.dataDir, 'recordings');
    this.storage = options.storage ?? new LocalStorage(options.dataDir);
    this.publicUrl = options.publicUrl ?? '';
    this.#dispatcher = options.dispatcher ?? null;
    this.#log = options.log ?? (() => undefined);
    this.#uploadAttempts = options.uploadAttempts ?? 5;
    this.uploadDelayMs = options.uploadDelayMs ?? 1000;
    this.minFreeBytes = options.minFreeBytes ?? 16 * 1024 * 1024;
    this.#opusComplexity = options.opusComplexity;
    this.#encoderThreads = options.encoderThreads ?? 0;
  }

  /** The encoder workers (null before the first recording, or when encoding in-line). */
  get encoderPool(): EncoderPool | null {
    return this.#encoderPool;
  }

  /** How far behind the encoder workers are, in ms (0 without any: EncoderPool.lagMs). */
  encoderLagMs(): number {
    return this.#encoderPool?.lagMs() ?? 0;
  }

  /**
   * The encoder workers' lag (ms) and the busiest one's utilization since the last call (0-1;
   * EncoderPool.utilization): for the overload guard, the one caller.
   */
  encoderLoad(): { lagMs: number; utilization: number } {
    const pool = this.#encoderPool;
    return pool === null ? { lagMs: 0, utilization: 0 } : { lagMs: pool.lagMs(), utilization: pool.utilization() };
  }

  /** The pool, made on first use (its workers start with the first MP3 or Opus recording; Recording keeps WAV in-line). */
  #pool(): EncoderPool | null {
    if (this.#encoderThreads === 0) return null;
    this.#encoderPool ??= new EncoderPool(this.#encoderThreads);
    return this.#encoderPool;
  }

  /** Free bytes on the recordings' disk (statfs), or Infinity when it cannot be read. */
  freeBytes(): number {
    try {
      const s = fs.statfsSync(this.recordingsDir);
      return s.bavail * s.bsize;
    } catch {
      return Infinity;
    }
  }

  /** Whether a new recording may start: the disk has its reserve (and a disk_full cleared). */
  hasSpace(): boolean {
    const free = this.freeBytes();
    // After a disk_full, want twice the reserve back before writing again (no flapping).
    const ok = free >= (this.#diskFull ? 2 : 1) * this.minFreeBytes;
    if (ok) this.#diskFull = false;
    return ok;
  }

  /** Recordings running now. */
  get activeCount(): number {
    return this.#active.size;
  }

  /** Ids of the active (recording or paused) recordings of a call or conference. */
  activeIdsFor(referenceId: string): string[] {
    const out: string[] = [];
    for (const [id, a] of this.#active) if (a.row.reference_id === referenceId && a.stopping === null) out.push(id);
    return out;
  }

  isActive(id: string): boolean {
    const a = this.#active.get(id);
    return a !== undefined && a.stopping === null;
  }

  /** Local path of a recording's file. */
  fileOf(row: RecordingRow): string {
    return this.storage.localPath(row.file_path);
  }

  /** Starts a recording on a mixer output; resolves with its row (status recording). */
  async start(req: StartRecordingRequest): Promise<RecordingRow> {
    if (!this.hasSpace()) {
      throw new NoSpaceError(`the recordings disk has ${Math.max(0, Math.floor(this.freeBytes() / 1024))} KiB free, below the ${Math.floor(this.minFreeBytes / 1024)} KiB reserve`);
    }
    const id = randomUUID();
    const spec = req.spec;
    const now = nowIso();
    const file = this.storage.allocate(id, extensionOf(spec.format));
    const rel = file.key;
    const row: RecordingRow = {
      id,
      account_id: req.account_id,
      reference_type: req.reference_type,
      reference_id: req.reference_id,
      status: 'initiating',
      format: spec.format,
      channels: spec.channels,
      sample_rate: spec.sample_rate,
      bitrate: spec.bitrate ?? null,
      participant: spec.participant,
      label: spec.label,
      duration_ms: 0,
      file_size: 0,
      checksum_sha256: '',
      pauses: [],
      tracks: [],
      recovered: false,
      reason: '',
      file_path: rel,
      options: { ...spec },
      tm_start: '',
      tm_end: '',
      tm_create: now,
      tm_update: now,
      tm_delete: '',
    };
    this.store.insertRecording(row);
    // The audio starts here (Recording.start takes it while the file is being created), so
    // tm_start says now, not when the open completed.
    const startedAt = nowIso();
    let media: Recording;
    try {
      media = await Recording.start({
        mixer: req.mixer,
        path: file.path,
        format: spec.format,
        sampleRate: spec.sample_rate,
        channels: channelCount(spec),
        ...(spec.bitrate !== undefined ? { bitrateKbps: spec.bitrate } : {}),
        ...(spec.format === 'opus' && this.#opusComplexity !== undefined ? { complexity: this.#opusComplexity } : {}),
        encoderPool: this.#pool(),
        pauseBehavior: spec.pause_behavior,
        timeLimitSec: spec.time_limit,
        output: req.output,
      });
    } catch (err) {
      this.failures++;
      this.#transition(row, 'failed', { reason: errorReason(err), tm_end: nowIso() }, 'recording.failed');
      throw err;
    }
    const active: Active = { row, media, stopping: null };
    this.#active.set(id, active);
    media.on('autostop', (reason) => void this.stop(id, reason).catch(() => undefined));
    this.#transition(row, 'recording', { tm_start: startedAt }, 'recording.started');
    return row;
  }

  /**
   * Replaces a conference mix recording's track manifest (participants' files with their join
   * and leave offsets). Stored at once, so a crash keeps what was known; no event.
   */
  setTracks(id: string, tracks: readonly TrackRecord[]): void {
    const copy = tracks.map((t) => ({ ...t }));
    const a = this.#active.get(id);
    if (a !== undefined) a.row.tracks = copy;
    this.store.setRecording(id, { tracks: copy, tm_update: nowIso() });
  }

  /** Pauses an active recording; idempotent while paused. */
  pause(id: string, by = 'api'): RecordingRow {
    const a = this.#require(id);
    if (a.row.status === 'paused') return a.row;
    a.media.pause();
    const p = a.media.pauses[a.media.pauses.length - 1]!;
    const pause: PauseRow = { offset_ms: p.offsetMs, call_start_ms: p.callStartMs, call_end_ms: -1, tm_start: nowIso(), tm_end: '', by };
    this.#transition(a.row, 'paused', { pauses: [...a.row.pauses, pause] }, 'recording.paused');
    return a.row;
  }

  /** Resumes a paused recording; idempotent while recording. */
  resume(id: string, by = 'api'): RecordingRow {
    const a = this.#require(id);
    if (a.row.status === 'recording') return a.row;
    a.media.resume();
    const pauses = this.#closePause(a, by);
    this.#transition(a.row, 'recording', { pauses }, 'recording.resumed');
    return a.row;
  }

  /**
   * Stops a recording: finalises the file, applies record_min_sec, sends its events.
   * Resolves with the final row. A recording already stopped resolves with its row.
   */
  stop(id: string, reason: StopReason | string = 'stopped'): Promise<RecordingRow> {
    const a = this.#active.get(id);
    if (a === undefined) {
      const row = this.store.getRecording(id);
      if (row === null) return Promise.reject(new InvalidStateError(`no recording ${id}`));
      return Promise.resolve(row);
    }
    a.stopping ??= this.#stop(a, reason);
    return a.stopping;
  }

  /** Stops every active recording of a call or conference (hang-up, conference end). */
  async stopAllFor(referenceId: string, reason = 'hangup'): Promise<RecordingRow[]> {
    const ids = [...this.#active.values()].filter((a) => a.row.reference_id === referenceId).map((a) => a.row.id);
    return Promise.all(ids.map((id) => this.stop(id, reason)));
  }

  /** Stops everything (shutdown) and waits for uploads in flight. */
  async close(): Promise<void> {
    await Promise.all([...this.#active.keys()].map((id) => this.stop(id, 'shutdown').catch(() => undefined)));
    await Promise.all([...this.#uploads]);
    // After the stops: they waited for their encoders' last bytes.
    await this.#encoderPool?.close();
    this.#encoderPool = null;
  }

  /**
   * Deletes a finished recording's file; the row stays with status deleted and tm_delete.
   * @throws InvalidStateError for a recording still running
   */
  delete(id: string, reason = 'api'): RecordingRow {
    const row = this.store.getRecording(id);
    if (row === null) throw new InvalidStateError(`no recording ${id}`);
    if (row.status === 'deleted') return row;
    if (row.status !== 'ended' && row.status !== 'failed') throw new InvalidStateError(`recording ${id} is ${row.status}; stop it first`);
    this.storage.remove(row.file_path);
    return this.#transition(row, 'deleted', { tm_delete: nowIso(), file_path: '', reason: row.reason || reason }, 'recording.deleted');
  }

  /** Crash recovery (see the file comment). Returns the recovered rows. */
  async recover(): Promise<RecordingRow[]> {
    const out: RecordingRow[] = [];
    for (const row of this.store.unfinishedRecordings()) {
      if (this.#active.has(row.id)) continue;
      const file = this.fileOf(row);
      try {
        const fixed = await repairRecording(row.format, file);
        const stat = fs.statSync(file);
        const sha = await hashFile(file, stat.size);
        const pauses = row.pauses.map((p) => (p.call_end_ms < 0 ? { ...p, call_end_ms: p.call_start_ms, tm_end: nowIso() } : p));
        if (row.status !== 'stopping') this.#transition(row, 'stopping', { pauses }, 'recording.stopped');
        out.push(
          this.#transition(
            row,
            'ended',
            { recovered: true, duration_ms: Math.round(fixed.durationMs), file_size: stat.size, checksum_sha256: sha, tm_end: nowIso(), reason: 'recovered' },
            'recording.completed',
          ),
        );
        this.#log({ event: 'recording.recovered', recording_id: row.id, duration_ms: Math.round(fixed.durationMs), repaired: fixed.repaired });
      } catch (err) {
        this.failures++;
        if (row.status !== 'stopping') this.#transition(row, 'stopping', {}, 'recording.stopped');
        out.push(this.#transition(row, 'failed', { recovered: true, reason: `unrecoverable: ${String((err as Error).message).slice(0, 200)}`, tm_end: nowIso() }, 'recording.failed'));
      }
    }
    return out;
  }

  /** The recording as the API and events show it. */
  toPublic(row: RecordingRow): PublicRecording {
    const { file_path: _f, options, ...rest } = row;
    void _f;
    return {
      ...rest,
      time_limit: Number(options.time_limit ?? 3600),
      record_min_sec: Number(options.record_min_sec ?? 0),
      pause_behavior: String(options.pause_behavior ?? 'skip'),
      download_url: this.#downloadUrl(row),
    };
  }

  async #stop(a: Active, reason: string): Promise<RecordingRow> {
    const row = a.row;
    const pauses = row.status === 'paused' ? this.#closePause(a, 'stop') : row.pauses;
    this.#transition(row, 'stopping', { pauses, reason: reason === 'stopped' ? '' : reason }, 'recording.stopped');
    const result = await a.media.stop(reason as StopReason);
    this.#active.delete(row.id);
    const base = { duration_ms: Math.round(result.durationMs), file_size: result.fileSize, checksum_sha256: result.sha256, tm_end: nowIso() };
    if (result.state === 'failed') {
      this.failures++;
      if (result.reason === 'disk_full') this.#diskFull = true;
      return this.#transition(row, 'failed', { ...base, reason: result.reason }, 'recording.failed');
    }
    const minMs = Number(row.options.record_min_sec ?? 0) * 1000;
    if (minMs > 0 && result.durationMs < minMs) {
      // Too short to keep (record_min_sec): the file goes, the row says why.
      this.#transition(row, 'ended', { ...base, reason: 'min_length' }, null);
      this.storage.remove(row.file_path);
      return this.#transition(row, 'deleted', { tm_delete: nowIso(), file_path: '', reason: 'min_length' }, 'recording.deleted');
    }
    const ended = this.#transition(row, 'ended', base, 'recording.completed');
    if (typeof row.options.upload_url === 'string') this.#startUpload(ended);
    return ended;
  }

  #closePause(a: Active, by: string): PauseRow[] {
    const p = a.media.pauses[a.media.pauses.length - 1];
    return a.row.pauses.map((x, i) =>
      i === a.row.pauses.length - 1 && x.call_end_ms < 0 ? { ...x, call_end_ms: p?.callEndMs ?? x.call_start_ms, tm_end: nowIso(), by: x.by || by } : x,
    );
  }

  #require(id: string): Active {
    const a = this.#active.get(id);
    if (a === undefined || a.stopping !== null) throw new InvalidStateError(`recording ${id} is not active`);
    return a;
  }

  /** Moves a row to `status` (checking the transition), stores it, queues its event. */
  #transition(row: RecordingRow, status: RecordingStatus, patch: Partial<RecordingRow>, event: RecordingEventType | null): RecordingRow {
    if (row.status !== status && !RECORDING_TRANSITIONS[row.status].includes(status)) {
      throw new InvalidStateError(`recording ${row.id} cannot go from ${row.status} to ${status}`);
    }
    const next: RecordingRow = { ...row, ...patch, status, tm_update: nowIso() };
    // The new state and its event's deliveries are one transaction: a crash between two
    // commits kept the state and lost the event for good (recovery looks only at unfinished
    // rows, and an ended one is finished).
    const ev = this.store.atomically(() => {
      this.store.setRecording(row.id, { ...patch, status, tm_update: next.tm_update });
      return event === null ? null : this.#queueEvent(next, event);
    });
    Object.assign(row, next);
    if (ev !== null) {
      if (ev.queued) this.#dispatcher?.kick();
      this.emit('event', ev.event);
    }
    return row;
  }

  /** Builds an event and queues its deliveries (the recording's callback and its account's webhook). */
  #queueEvent(row: RecordingRow, type: RecordingEventType): { event: RecordingEvent; queued: boolean } {
    const recording = this.toPublic(row);
    const ev: RecordingEvent = {
      event_id: randomUUID(),
      type,
      created: nowIso(),
      account_id: row.account_id,
      recording_id: row.id,
      reference_type: row.reference_type,
      reference_id: row.reference_id,
      status: row.status,
      reason: row.reason,
      recording_duration_ms: row.duration_ms,
      recording_start_ms: row.tm_start ? Date.parse(row.tm_start) : 0,
      recording_end_ms: row.tm_end ? Date.parse(row.tm_end) : 0,
      record_url: recording.download_url,
      file_size: row.file_size,
      checksum_sha256: row.checksum_sha256,
      recording,
    };
    const targets: { url: string; method: 'GET' | 'POST' }[] = [];
    const cb = row.options.callback_url;
    if (typeof cb === 'string' && cb !== '') targets.push({ url: cb, method: row.options.callback_method === 'GET' ? 'GET' : 'POST' });
    const account = this.store.getAccount(row.account_id);
    if (account !== null && account.webhook_url !== '') targets.push({ url: account.webhook_url, method: 'POST' });
    if (targets.length > 0) {
      const payload = JSON.stringify(ev);
      const now = Date.now();
      this.store.enqueue(
        targets.map((t) => ({
          event_id: ev.event_id,
          account_id: row.account_id,
          recording_id: row.id,
          type,
          url: t.url,
          method: t.method,
          payload,
          next_attempt_at: now,
          tm_create: ev.created,
        })),
      );
    }
    return { event: ev, queued: targets.length > 0 };
  }

  #downloadUrl(row: RecordingRow): string {
    return this.publicUrl === '' ? '' : `${this.publicUrl.replace(/\/$/, '')}/v1/recordings/${row.id}/file`;
  }

  /** Sends the finished file to upload_url, retrying with backoff. */
  #startUpload(row: RecordingRow): void {
    const url = String(row.options.upload_url);
    const method = row.options.upload_method === 'POST' ? 'POST' : 'PUT';
    const file = this.fileOf(row);
    const run = (async () => {
      let delay = this.uploadDelayMs;
      for (let attempt = 1; attempt <= this.#uploadAttempts; attempt++) {
        try {
          const size = fs.statSync(file).size;
          const res = await fetch(url, {
            method,
            headers: {
              'content-type': row.format === 'wav' ? 'audio/wav' : row.format === 'mp3' ? 'audio/mpeg' : 'audio/ogg',
              'content-length': String(size),
              'x-recgate-recording-id': row.id,
              'x-recgate-checksum-sha256': row.checksum_sha256,
            },
            body: Readable.toWeb(fs.createReadStream(file)) as unknown as ReadableStream,
            duplex: 'half',
          } as RequestInit);
          await res.arrayBuffer().catch(() => undefined);
          if (res.ok) {
            this.#log({ event: 'recording.uploaded', recording_id: row.id, url, attempt });
            return;
          }
          throw new Error(`HTTP ${res.status}`);
        } catch (err) {
          this.#log({ event: 'recording.upload_failed', recording_id: row.id, url, attempt, error: String((err as Error).message) });
          if (attempt === this.#uploadAttempts) return;
          await new Promise((r) => setTimeout(r, delay).unref());
          delay *= 2;
        }
      }
    })();
    this.#uploads.add(run);
    void run.finally(() => this.#uploads.delete(run));
  }
}

function errorReason(err: unknown): string {
  const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code;
  if (code === 'ENOSPC') return 'disk_full';
  // Out of file descriptors (process or system): a passing overload, named apart from I/O errors.
  if (code === 'EMFILE' || code === 'ENFILE') return 'no_fd';
  return 'io_error';
}
