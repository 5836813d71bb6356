/**
 * The gateway's conferences: created by the API or on demand by a route or flow (by name, per
 * account), ticked by the gateway's frame scheduler, stored on every change, and ended when
 * the last participant leaves or on DELETE (after every participant got BYE).
 */
import { InvalidArgumentError, InvalidStateError } from '../common/index.js';
import type { FrameScheduler, MixerRate } from '../mixer/index.js';
import type { RecordingService, Store } from '../recorder/index.js';
import type { Call } from './Call.js';
import { Conference, ConferenceFullError } from './Conference.js';
import type { ConferenceRecordingSpec } from './Conference.js';

export interface ConferenceManagerOptions {
  scheduler: FrameScheduler;
  store: Store;
  recordings: RecordingService;
  jitterMs: number;
  log: (entry: Record<string, unknown>) => void;
  /** Hangs a call up with BYE (kick, DELETE of the conference). */
  hangup: (callId: string, reason: string) => boolean;
  /** Persists a call after it moved. */
  saveCall: (call: Call) => void;
}

export interface CreateConference {
  account: string;
  name: string;
  maxParticipants?: number;
  recording?: ConferenceRecordingSpec | null;
}

/** Mixer rate of conferences: wideband, so Opus participants keep 8 kHz of audio and G.711 ones lose nothing. */
const CONFERENCE_RATE: MixerRate = 16000;
export const DEFAULT_MAX_PARTICIPANTS = 50;
export const MAX_PARTICIPANTS_LIMIT = 500;

export class ConferenceManager {
  readonly #o: ConferenceManagerOptions;
  readonly #live = new Map<string, Conference>();

  constructor(options: ConferenceManagerOptions) {
    this.#o = options;
  }

  /** Conferences a crash left active are ended (their participants' calls are gone too). */
  recover(): void {
    for (const row of this.#o.store.activeConferences()) {
      this.#o.store.upsertConference({ ...row, status: 'ended', end_reason: 'recovered', tm_end: new Date().toISOString() });
    }
  }

  get(id: string): Conference | undefined {
    return this.#live.get(id);
  }

  get live(): IterableIterator<Conference> {
    return this.#live.values();
  }

  /** The active conference of an account with this id or name. */
  find(account: string, idOrName: string): Conference | undefined {
    const byId = this.#live.get(idOrName);
    if (byId !== undefined && byId.account === account) return byId;
    for (const c of this.#live.values()) if (c.account === account && c.name === idOrName) return c;
    return undefined;
  }

  create(req: CreateConference): Conference {
    const max = req.maxParticipants ?? DEFAULT_MAX_PARTICIPANTS;
    if (!Number.isInteger(max) || max < 1 || max > MAX_PARTICIPANTS_LIMIT) {
      throw new InvalidArgumentError(`max_participants must be an integer 1..${MAX_PARTICIPANTS_LIMIT}`);
    }
    if (req.name === '' || req.name.length > 128) throw new InvalidArgumentError('name must be 1..128 characters');
    if (this.find(req.account, req.name) !== undefined) throw new InvalidArgumentError(`an active conference named "${req.name}" exists`);
    const conference = new Conference({
      account: req.account,
      name: req.name,
      maxParticipants: max,
      recording: req.recording ?? null,
      mixerRate: CONFERENCE_RATE,
      jitterMs: this.#o.jitterMs,
      service: this.#o.recordings,
    });
    this.#live.set(conference.id, conference);
    this.#o.scheduler.add(conference.mixer);
    const save = (): void => this.#o.store.upsertConference(conference.toRow());
    save();
    conference.on('changed', save);
    conference.once('ended', () => {
      this.#o.scheduler.remove(conference.mixer);
      this.#live.delete(conference.id);
      save();
      this.#o.log({ event: 'conference.end', conference_id: conference.id, name: conference.name, reason: conference.endReason, participants: conference.history.length });
    });
    this.#o.log({ event: 'conference.start', conference_id: conference.id, name: conference.name, account_id: conference.account });
    return conference;
  }

  /** The account's active conference of that name, created (with route or flow settings) when there is none. */
  findOrCreate(req: CreateConference): Conference {
    return this.find(req.account, req.name) ?? this.create(req);
  }

  /**
   * Moves an answered call into a conference: its legs go to the conference mixer (its own
   * mixer retires), it hears everyone else. Throws ConferenceFullError before touching it.
   */
  async join(call: Call, conference: Conference): Promise<void> {
    if (!conference.active) throw new InvalidStateError(`conference ${conference.id} has ended`);
    if (conference.full) throw new ConferenceFullError(conference.maxParticipants);
    if (call.conference === conference) return;
    if (call.conference !== null) throw new InvalidArgumentError('the call is in another conference');
    const old = await call.enterConference(conference);
    this.#o.scheduler.remove(old);
    old.close();
    await conference.add(call);
    this.#o.saveCall(call);
    this.#o.log({ event: 'conference.join', conference_id: conference.id, call_id: call.id });
  }

  /** Hangs up a participant (BYE); its leaving is handled when the call ends. */
  kick(conference: Conference, callId: string): boolean {
    if (!conference.participants.has(callId)) return false;
    return this.#o.hangup(callId, 'kicked');
  }

  /** DELETE: every participant gets BYE; the conference ends once they are out (or now, when empty). */
  async end(conference: Conference, reason = 'api'): Promise<void> {
    conference.endReason ||= reason;
    const ids = [...conference.participants.keys()];
    for (const id of ids) this.#o.hangup(id, 'conference_ended');
    if (ids.length === 0) await conference.end(reason);
    else await new Promise<void>((resolve) => (conference.active ? conference.once('ended', () => resolve()) : resolve()));
  }

  /** Shutdown: the calls were hung up by the gateway; whatever is left ends. */
  async close(): Promise<void> {
    await Promise.all([...this.#live.values()].map((c) => c.end('shutdown')));
  }
}
