/**
 * A conference: one mixer shared by its participants' legs. Each participant hears everyone
 * but itself (the mixer's N-1 'minus' output, encoded in the leg's own codec); recordings take
 * the whole mix, and with `tracks` one file per participant beside it, listed in the mix
 * recording's manifest with join and leave offsets so the tracks can be laid back on the mix.
 *
 * The conference only binds media and recordings; SIP (answering, BYE) stays with the gateway,
 * which moves a call's legs here (Gateway.joinConference) and drives the lifecycle.
 */
import { randomUUID } from 'node:crypto';
import { InvalidStateError, SafeEmitter } from '../common/index.js';
import { Mixer } from '../mixer/index.js';
import type { MixerRate } from '../mixer/index.js';
import { nowIso } from '../recorder/index.js';
import { pollNative } from '../rtp/index.js';
import type { ConferenceRow, ParticipantRecord, RecordingRow, RecordingService, RecordingSpec, TrackRecord } from '../recorder/index.js';
import type { Call } from './Call.js';

export interface ConferenceOptions {
  account: string;
  name: string;
  maxParticipants: number;
  /** Started when the first participant joins (auto-record), or null. */
  recording: ConferenceRecordingSpec | null;
  mixerRate: MixerRate;
  jitterMs: number;
  service: RecordingService;
}

/** Recording options of a conference: a call's, plus one file per participant. */
export type ConferenceRecordingSpec = RecordingSpec & { tracks?: boolean };

export interface Participant {
  call: Call;
  record: ParticipantRecord;
}

interface ConferenceRecording {
  id: string;
  spec: ConferenceRecordingSpec;
  /** Mixer position when the mix recording started (samples), the origin of track offsets. */
  startPosition: number;
  /** call id → its open track (recording id and index in the manifest). */
  open: Map<string, { recordingId: string; index: number }>;
  manifest: TrackRecord[];
}

export interface ConferenceEvents {
  [key: string]: unknown[];
  /** A participant joined, left, or was muted or unmuted: the row changed. */
  changed: [Conference];
  ended: [Conference];
}

export class ConferenceFullError extends InvalidStateError {
  constructor(max: number) {
    super(`the conference is full (max_participants ${max})`);
  }
}

export class Conference extends SafeEmitter<ConferenceEvents> {
  readonly id = randomUUID();
  readonly account: string;
  readonly name: string;
  readonly maxParticipants: number;
  readonly mixer: Mixer;
  readonly service: RecordingService;
  readonly autoRecording: ConferenceRecordingSpec | null;
  readonly tmCreate = new Date();
  status: 'active' | 'ended' = 'active';
  tmEnd: Date | null = null;
  endReason = '';
  /** Participants now in the conference, by call id. */
  readonly participants = new Map<string, Participant>();
  /** Everyone who ever joined, in order (the row's participants). */
  readonly history: ParticipantRecord[] = [];
  readonly #recordings: ConferenceRecording[] = [];
  /**
   * The auto-recording is starting or started. Set before record() awaits the file: callers that
   * join while it is being created (two trunk calls at once) must not start a second one.
   */
  #autoStarted = false;
  #ending: Promise<void> | null = null;

  constructor(options: ConferenceOptions) {
    super();
    this.account = options.account;
    this.name = options.name;
    this.maxParticipants = options.maxParticipants;
    this.autoRecording = options.recording;
    this.service = options.service;
    this.mixer = new Mixer({ sampleRate: options.mixerRate, delayMs: options.jitterMs });
  }

  get active(): boolean {
    return this.status === 'active';
  }

  /** Whether one more participant fits. */
  get full(): boolean {
    return this.participants.size >= this.maxParticipants;
  }

  /**
   * Adds a call whose legs already moved to this conference's mixer: it hears everyone but
   * itself, and open recordings with tracks gain its track. Auto-record starts with the first.
   */
  async add(call: Call): Promise<void> {
    if (!this.active) throw new InvalidStateError(`conference ${this.id} has ended`);
    if (this.full) throw new ConferenceFullError(this.maxParticipants);
    const record: ParticipantRecord = { call_id: call.id, from: call.caller.from, tm_join: nowIso(), tm_leave: '', muted: false };
    this.participants.set(call.id, { call, record });
    this.history.push(record);
    for (const leg of call.legs) leg.hear({ kind: 'minus', input: leg.input });
    for (const r of this.#recordings) if (r.spec.tracks === true && this.service.isActive(r.id)) await this.#openTrack(r, call);
    if (this.autoRecording !== null && !this.#autoStarted) {
      this.#autoStarted = true;
      try {
        await this.record(this.autoRecording);
      } catch (err) {
        this.#autoStarted = false; // the next participant tries again
        throw err;
      }
    }
    this.emit('changed', this);
  }

  /** A participant left (hung up, kicked, moved): its tracks close; the last one out ends the conference. */
  async remove(callId: string): Promise<void> {
    const p = this.participants.get(callId);
    if (p === undefined) return;
    this.participants.delete(callId);
    p.record.tm_leave = nowIso();
    for (const r of this.#recordings) await this.#closeTrack(r, callId);
    for (const leg of p.call.legs) this.mixer.removeInput(leg.input);
    this.emit('changed', this);
    if (this.participants.size === 0) await this.end('last_participant_left');
  }

  /** Mutes (others stop hearing it, the mix and its track hold silence) or unmutes a participant. */
  mute(callId: string, muted: boolean): boolean {
    const p = this.participants.get(callId);
    if (p === undefined) return false;
    for (const leg of p.call.legs) leg.input.muted = muted;
    p.record.muted = muted;
    this.emit('changed', this);
    return true;
  }

  /** Starts a recording of the mix (mono or stereo of everyone), with a track per participant when asked. */
  async record(spec: ConferenceRecordingSpec): Promise<RecordingRow> {
    if (!this.active) throw new InvalidStateError(`conference ${this.id} has ended`);
    // The mix: every input, present and future (late joiners included, in time).
    const startPosition = this.mixer.position;
    const row = await this.service.start({
      account_id: this.account,
      reference_type: 'conference',
      reference_id: this.id,
      mixer: this.mixer,
      output: { kind: 'mono' },
      spec: { ...spec, channels: 'mono' },
    });
    const r: ConferenceRecording = { id: row.id, spec, startPosition, open: new Map(), manifest: [] };
    this.#recordings.push(r);
    if (spec.tracks === true) {
      for (const p of this.participants.values()) await this.#openTrack(r, p.call);
    }
    return row;
  }

  /** Ids of the mix recordings running now (tracks are not listed: they follow their mix). */
  activeRecordingIds(): string[] {
    return this.#recordings.filter((r) => this.service.isActive(r.id)).map((r) => r.id);
  }

  /** Every recording of the conference, mixes first then tracks, for stop/pause/resume. */
  #withTracks(ids: string[]): string[] {
    const out: string[] = [];
    for (const r of this.#recordings) {
      if (!ids.includes(r.id)) continue;
      out.push(r.id);
      for (const t of r.open.values()) out.push(t.recordingId);
    }
    return out;
  }

  /** Stops mix recordings (all active ones when `id` is omitted) with their tracks. */
  async stopRecordings(id?: string, reason = 'stopped'): Promise<RecordingRow[]> {
    const ids = id === undefined ? this.activeRecordingIds() : [id];
    const rows: RecordingRow[] = [];
    for (const r of this.#recordings) {
      if (!ids.includes(r.id)) continue;
      for (const callId of [...r.open.keys()]) await this.#closeTrack(r, callId, reason);
      rows.push(await this.service.stop(r.id, reason));
    }
    return rows;
  }

  pauseRecordings(id: string | undefined, by: string): RecordingRow[] {
    const ids = this.#withTracks(id === undefined ? this.activeRecordingIds() : [id]);
    return ids.filter((x) => this.service.isActive(x)).map((x) => this.service.pause(x, by));
  }

  resumeRecordings(id: string | undefined, by: string): RecordingRow[] {
    const ids = this.#withTracks(id === undefined ? this.activeRecordingIds() : [id]);
    return ids.filter((x) => this.service.isActive(x)).map((x) => this.service.resume(x, by));
  }

  /** Whether `id` is a mix recording of this conference. */
  owns(id: string): boolean {
    return this.#recordings.some((r) => r.id === id);
  }

  /**
   * Ends once: recordings are stopped (mixes and tracks finalised), the mixer closes. The
   * gateway hangs up whoever is still in it before calling this (DELETE) or after (last left).
   */
  end(reason: string): Promise<void> {
    this.#ending ??= this.#end(reason);
    return this.#ending;
  }

  async #end(reason: string): Promise<void> {
    this.status = 'ended';
    this.endReason ||= reason;
    this.tmEnd = new Date();
    pollNative(); // what arrived before the end goes in (see Call)
    this.mixer.drain();
    this.mixer.close(); // the clock stops with the drain (see Call): every track ends here
    for (const r of this.#recordings) {
      for (const callId of [...r.open.keys()]) await this.#closeTrack(r, callId, 'conference_ended').catch(() => undefined);
    }
    await this.service.stopAllFor(this.id, 'conference_ended').catch(() => undefined);
    this.emit('ended', this);
  }

  toRow(): ConferenceRow {
    return {
      id: this.id,
      account_id: this.account,
      name: this.name,
      status: this.status,
      max_participants: this.maxParticipants,
      recording: this.autoRecording === null ? null : { ...this.autoRecording },
      participants: this.history.map((p) => ({ ...p })),
      end_reason: this.status === 'ended' ? this.endReason : '',
      tm_create: this.tmCreate.toISOString(),
      tm_end: this.tmEnd?.toISOString() ?? '',
    };
  }

  /** Offset of the mixer's current position from a mix recording's start, ms. */
  #offsetMs(r: ConferenceRecording): number {
    return Math.max(0, Math.round(this.mixer.positionToMs(this.mixer.position - r.startPosition)));
  }

  async #openTrack(r: ConferenceRecording, call: Call): Promise<void> {
    if (r.open.has(call.id)) return;
    const leg = call.legs[0];
    if (leg === undefined) return;
    const row = await this.service.start({
      account_id: this.account,
      reference_type: 'conference',
      reference_id: this.id,
      mixer: this.mixer,
      output: { kind: 'track', input: leg.input },
      spec: { ...r.spec, channels: 'mono', label: `track:${call.id}`, tracks: false } as ConferenceRecordingSpec,
    });
    const index = r.manifest.length;
    r.manifest.push({ call_id: call.id, participant: call.caller.from, recording_id: row.id, join_offset_ms: this.#offsetMs(r), leave_offset_ms: -1 });
    r.open.set(call.id, { recordingId: row.id, index });
    this.service.setTracks(r.id, r.manifest);
  }

  async #closeTrack(r: ConferenceRecording, callId: string, reason = 'participant_left'): Promise<void> {
    const t = r.open.get(callId);
    if (t === undefined) return;
    r.open.delete(callId);
    r.manifest[t.index]!.leave_offset_ms = this.#offsetMs(r);
    this.service.setTracks(r.id, r.manifest);
    await this.service.stop(t.recordingId, reason).catch(() => undefined);
  }
}
