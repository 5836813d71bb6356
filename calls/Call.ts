/**
 * A call through the gateway: the caller's INVITE session, for `connect` the callee's, their
 * media legs on one mixer, and the recordings taken from it (through the recording service).
 */
import { randomUUID } from 'node:crypto';
import { SafeEmitter } from '../common/index.js';
import { Mixer } from '../mixer/index.js';
import type { MixerInput, MixerRate, OutputSpec } from '../mixer/index.js';
import { nowIso } from '../recorder/index.js';
import type { CallRow, DtmfRecord, RecordingRow, RecordingService, RecordingSpec } from '../recorder/index.js';
import { dtmfRelayBody } from './dtmf.js';
import type { InviteClientSession, InviteServerSession, SessionEnd } from '../sip/index.js';
import type { MediaLeg } from './MediaLeg.js';
import { Prompt } from './Prompt.js';

/** API status: ringing until answered, progressing while up, then ended. */
export type CallStatus = 'ringing' | 'progressing' | 'ended';

export interface CallEvents {
  [key: string]: unknown[];
  /** A party sent a DTMF digit (RFC 4733 or SIP INFO). */
  dtmf: [DtmfRecord];
  ended: [Call];
}

/** Digits kept per call (a stuck sender must not grow memory without bound). */
const MAX_DTMF = 1000;

/** A recording of this call; `row` is kept current by the recording service. */
export interface CallRecordingInfo {
  id: string;
  spec: RecordingSpec;
  row: RecordingRow;
  /** Convenience view of the row once it finished (null while running). */
  readonly result: { path: string; durationMs: number; state: string; channels: 1 | 2; format: string; sampleRate: number } | null;
}

export class Call extends SafeEmitter<CallEvents> {
  readonly id = randomUUID();
  readonly caller: InviteServerSession;
  callee: InviteClientSession | null = null;
  /** Cancels every outbound branch still ringing (a connect before anyone answered). */
  cancelBranches: (() => void) | null = null;
  readonly mixer: Mixer;
  readonly legs: MediaLeg[] = [];
  readonly recordings: CallRecordingInfo[] = [];
  readonly service: RecordingService;
  status: CallStatus = 'ringing';
  readonly tmCreate = new Date();
  tmAnswer: Date | null = null;
  tmEnd: Date | null = null;
  endReason = '';
  codec = '';
  /** Route that handled the call. */
  routeName = '';
  account = 'default';
  /** DTMF digits received from either party, in order (at most MAX_DTMF). */
  readonly dtmf: DtmfRecord[] = [];
  #prompt: Prompt | null = null;
  #ending: Promise<void> | null = null;

  constructor(caller: InviteServerSession, mixerRate: MixerRate, jitterMs: number, service: RecordingService) {
    super();
    this.caller = caller;
    this.service = service;
    this.mixer = new Mixer({ sampleRate: mixerRate, delayMs: jitterMs });
  }

  get sipCallId(): string {
    return this.caller.sipCallId;
  }

  get callerLeg(): MediaLeg {
    return this.legs[0]!;
  }

  get calleeLeg(): MediaLeg | undefined {
    return this.legs[1];
  }

  get answered(): boolean {
    return this.status === 'progressing';
  }

  /** The gateway's own audio into the call (created on first use). */
  get prompt(): Prompt {
    if (this.#prompt === null) {
      this.#prompt = new Prompt(this.mixer.createInput('prompt'), this.mixer.sampleRate);
      this.#connectSenders();
    }
    return this.#prompt;
  }

  /** What a leg hears from the gateway: the other party and the prompt. */
  hearingOf(leg: MediaLeg): OutputSpec | null {
    const others: MixerInput[] = this.legs.filter((l) => l !== leg).map((l) => l.input);
    if (this.#prompt !== null) others.push(this.#prompt.input);
    return others.length === 0 ? null : { kind: 'mono', inputs: others };
  }

  /** (Re)connects what every leg hears (after a leg or the prompt appears). */
  #connectSenders(): void {
    for (const leg of this.legs) {
      const spec = this.hearingOf(leg);
      if (spec !== null) leg.hear(spec);
    }
  }

  /** Legs were bridged or added: their senders follow. */
  connectMedia(): void {
    this.#connectSenders();
  }

  /** Starts a recording of this call. */
  async record(spec: RecordingSpec): Promise<CallRecordingInfo> {
    const caller = this.callerLeg.input;
    const callee = this.calleeLeg?.input;
    const parties = callee ? [caller, callee] : [caller];
    let output: OutputSpec;
    if (spec.channels === 'stereo') output = { kind: 'stereo', left: [caller], right: callee ? [callee] : [] };
    else if (spec.participant === 'caller') output = { kind: 'track', input: caller };
    else if (spec.participant === 'callee') output = callee ? { kind: 'track', input: callee } : { kind: 'mono', inputs: [] };
    else output = { kind: 'mono', inputs: parties };
    const row = await this.service.start({
      account_id: this.account,
      reference_type: 'call',
      reference_id: this.id,
      mixer: this.mixer,
      output,
      spec,
    });
    const service = this.service;
    const info: CallRecordingInfo = {
      id: row.id,
      spec,
      row,
      get result() {
        const r = this.row;
        if (r.status !== 'ended' && r.status !== 'failed' && r.status !== 'deleted') return null;
        return {
          path: r.file_path === '' ? '' : service.fileOf(r),
          durationMs: r.duration_ms,
          state: r.status,
          channels: (r.channels === 'stereo' ? 2 : 1) as 1 | 2,
          format: r.format,
          sampleRate: r.sample_rate,
        };
      },
    };
    this.recordings.push(info);
    if (spec.beep) this.prompt.tone(1000, 300);
    return info;
  }

  /**
   * A party sent a digit: kept on the call, emitted, and relayed to the other party of a
   * bridged call as SIP INFO (application/dtmf-relay), which trunks and JsSIP/SIP.js accept
   * whatever the media. Digits the bridge relays are not also played in-band.
   */
  digit(leg: 'caller' | 'callee', digit: string, via: DtmfRecord['via'], durationMs: number): void {
    if (digit === '' || this.status === 'ended') return;
    const record: DtmfRecord = { leg, digit, via, offset_ms: Math.round(Date.now() - this.tmCreate.getTime()) };
    if (this.dtmf.length < MAX_DTMF) this.dtmf.push(record);
    this.emit('dtmf', record);
    const other = leg === 'caller' ? this.callee : this.caller;
    if (other !== null && other.state === 'confirmed') void other.info('application/dtmf-relay', dtmfRelayBody(digit, durationMs));
  }

  /** Ids of this call's recordings running now (recording or paused). */
  activeRecordingIds(): string[] {
    return this.service.activeIdsFor(this.id);
  }

  /**
   * Ends the call once: plays out buffered audio, finalises recordings, closes media.
   * The SIP side (BYE, CANCEL, rejection) is the caller's business.
   */
  end(reason: string): Promise<void> {
    this.#ending ??= this.#end(reason);
    return this.#ending;
  }

  async #end(reason: string): Promise<void> {
    this.endReason ||= reason;
    this.status = 'ended';
    this.tmEnd = new Date();
    this.mixer.drain();
    // Pending play() promises (flows waiting on a prompt) resolve: the mixer stops ticking.
    this.#prompt?.stop();
    await this.service.stopAllFor(this.id, 'hangup').catch(() => undefined);
    this.mixer.close();
    for (const leg of this.legs) leg.close();
    this.emit('ended', this);
  }

  /** Packets lost (concealed) on every leg. */
  packetsLost(): number {
    return this.legs.reduce((n, l) => n + (l.receiver?.stats().lost ?? 0), 0);
  }

  durationMs(): number {
    if (this.tmAnswer === null) return 0;
    return (this.tmEnd ?? new Date()).getTime() - this.tmAnswer.getTime();
  }

  /** The call as the store and the API keep it. */
  toRow(): CallRow {
    return {
      id: this.id,
      account_id: this.account,
      sip_call_id: this.sipCallId,
      direction: 'inbound',
      from: this.caller.from,
      to: this.caller.to,
      status: this.status,
      end_reason: this.status === 'ended' ? this.endReason : '',
      tm_create: this.tmCreate.toISOString(),
      tm_answer: this.tmAnswer?.toISOString() ?? '',
      tm_end: this.tmEnd?.toISOString() ?? '',
      dtmf: this.dtmf.slice(),
    };
  }

  /** Describes why a SIP session ended, for the log. */
  static describe(end: SessionEnd | null): string {
    if (end === null) return 'unknown';
    return end.status > 0 ? `${end.reason}:${end.status}` : end.reason;
  }
}

export { nowIso };
