/**
 * A call through the gateway: the caller's INVITE session, for `connect` the callee's, their
 * media legs on one mixer, and the recordings taken from it (through the recording service).
 */
import { randomUUID } from 'node:crypto';
import { SafeEmitter } from '../common/index.js';
import { Mixer } from '../mixer/index.js';
import type { MixOutput, MixerInput, MixerRate, OutputSpec } from '../mixer/index.js';
import { DtmfDetector } from '../dsp/index.js';
import { pollNative } from '../rtp/index.js';
import { RecordingOptionError, nowIso } from '../recorder/index.js';
import type { CallRow, DtmfRecord, RecordingRow, RecordingService, RecordingSpec } from '../recorder/index.js';
import { dtmfRelayBody } from './dtmf.js';
import type { InviteClientSession, InviteServerSession, SessionEnd } from '../sip/index.js';
import type { Conference } from './Conference.js';
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
/** In-band digits within this long after a signalled one are the same key press (ms). */
const INBAND_SHADOW_MS = 500;

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
  /** The call's own mixer, or its conference's once it joined one. */
  mixer: Mixer;
  conference: Conference | null = null;
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
  /** Last keys pressed (any party), for PCI pause sequences. */
  #keyed = '';
  /** When the last RFC 4733 / INFO digit arrived (ms since epoch). */
  #signalledAt = -Infinity;
  /** The caller's in-band DTMF detector output, when listening. */
  #inband: MixOutput | null = null;
  #ending: Promise<void> | null = null;

  /** Relay a bridged party's packets to the other as they arrive when the codecs match (see MediaLeg.hear). */
  readonly relayMedia: boolean;

  constructor(caller: InviteServerSession, mixerRate: MixerRate, jitterMs: number, service: RecordingService, relayMedia = true) {
    super();
    this.caller = caller;
    this.service = service;
    this.relayMedia = relayMedia;
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
      const prompt = new Prompt(this.mixer.createInput('prompt'), this.mixer.sampleRate);
      this.#prompt = prompt;
      // Parties hear a playing prompt through the mixer; once it is silent, relayed again. The
      // end is told inside the mixer's tick: the outputs change after it.
      prompt.onBusyChange = (busy) => {
        if (busy) this.#connectSenders();
        else queueMicrotask(() => this.#prompt === prompt && this.status !== 'ended' && this.#connectSenders());
      };
      this.#connectSenders();
    }
    return this.#prompt;
  }

  /**
   * Moves the call's legs onto a conference's mixer. The call's own recordings stop (their
   * inputs leave) and its prompt goes; returns the call's old mixer for the gateway to retire.
   */
  async enterConference(conference: Conference): Promise<Mixer> {
    await this.service.stopAllFor(this.id, 'conference_join').catch(() => undefined);
    const old = this.mixer;
    if (this.#prompt !== null) {
      this.#prompt.stop();
      old.removeInput(this.#prompt.input);
      this.#prompt = null;
    }
    // The in-band detector's output lived on the old mixer, which retires.
    this.#inband = null;
    for (const leg of this.legs) leg.moveTo(conference.mixer);
    this.mixer = conference.mixer;
    this.conference = conference;
    return old;
  }

  /** What a leg hears from the gateway: the other party and the prompt (in a conference: everyone else). */
  hearingOf(leg: MediaLeg): OutputSpec | null {
    if (this.conference !== null) return { kind: 'minus', input: leg.input };
    const others: MixerInput[] = this.legs.filter((l) => l !== leg).map((l) => l.input);
    if (this.#prompt !== null) others.push(this.#prompt.input);
    return others.length === 0 ? null : { kind: 'mono', inputs: others };
  }

  /**
   * (Re)connects what every leg hears (after a leg or the prompt appears, and as the prompt
   * starts and stops playing). In a two-party call with no prompt playing each leg hears just
   * the other, whose packets may then be relayed.
   */
  #connectSenders(): void {
    const bridged = this.relayMedia && this.conference === null && !(this.#prompt?.busy ?? false) && this.legs.length === 2;
    for (const leg of this.legs) {
      const spec = this.hearingOf(leg);
      if (spec !== null) leg.hear(spec, bridged ? this.legs.find((l) => l !== leg)! : null);
    }
  }

  /** Legs were bridged or added: their senders follow. */
  connectMedia(): void {
    this.#connectSenders();
  }

  /** Starts a recording of this call. */
  async record(spec: RecordingSpec): Promise<CallRecordingInfo> {
    if (spec.tracks === true) throw new RecordingOptionError('tracks', 'applies to conference recordings only');
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
    const now = Date.now();
    if (via === 'inband') {
      // A phone that sends RFC 4733 or INFO may leave the tones in its audio too: one key press.
      if (now - this.#signalledAt < INBAND_SHADOW_MS) return;
    } else this.#signalledAt = now;
    const record: DtmfRecord = { leg, digit, via, offset_ms: Math.round(now - this.tmCreate.getTime()) };
    if (this.dtmf.length < MAX_DTMF) this.dtmf.push(record);
    this.#keyed = (this.#keyed + digit).slice(-16);
    this.#pciPause();
    this.emit('dtmf', record);
    const other = leg === 'caller' ? this.callee : this.caller;
    if (via !== 'inband' && other !== null && other.state === 'confirmed') void other.info('application/dtmf-relay', dtmfRelayBody(digit, durationMs));
  }

  /**
   * Listens for DTMF tones inside the caller's audio (phones without RFC 4733 or INFO): the
   * caller's track from the mixer feeds a detector. Idempotent.
   */
  detectInbandDtmf(): void {
    if (this.#inband !== null || this.legs.length === 0) return;
    const leg = this.callerLeg;
    const detector = new DtmfDetector({ sampleRateHz: this.mixer.sampleRate });
    detector.onDigit = (d, _start, ms) => this.digit('caller', d, 'inband', ms);
    this.#inband = this.mixer.addOutput({ kind: 'track', input: leg.input }, { onFrame: (pcm) => detector.push(pcm, 0, pcm.length) });
  }

  /** PCI pause: the keys just pressed pause or resume recordings that asked for it. */
  #pciPause(): void {
    for (const r of this.recordings) {
      const pci = r.spec.pci_pause;
      if (pci === undefined || !this.service.isActive(r.id)) continue;
      try {
        if (this.#keyed.endsWith(pci.pause_digits) && r.row.status === 'recording') {
          this.service.pause(r.id, 'dtmf');
          this.#keyed = '';
        } else if (this.#keyed.endsWith(pci.resume_digits) && r.row.status === 'paused') {
          this.service.resume(r.id, 'dtmf');
          this.#keyed = '';
        }
      } catch {
        // Stopped meanwhile: nothing to pause.
      }
    }
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
    // Pending play() promises (flows waiting on a prompt) resolve: the mixer stops ticking.
    this.#prompt?.stop();
    const conference = this.conference;
    if (conference !== null) {
      // The conference's mixer is shared: this call only takes its legs out (the last one
      // out ends the conference, which closes the mixer).
      await this.service.stopAllFor(this.id, 'hangup').catch(() => undefined);
      for (const leg of this.legs) leg.close();
      await conference.remove(this.id).catch(() => undefined);
      this.emit('ended', this);
      return;
    }
    // What arrived before the hang-up goes in: packets may still wait to be handed over (one
    // wake-up hands over at most 2,048 after a stall, and the BYE can come first).
    pollNative();
    this.mixer.drain();
    // The clock stops with the drain: the files end at the hang-up and the parties get nothing
    // more, however long the files take to close (fsync, hash). The legs close with it: their
    // ports are free at once, and what the parties still send is not read for nothing (under
    // load the files take hundreds of ms to close while 80 calls a second end).
    this.mixer.close();
    for (const leg of this.legs) leg.close();
    await this.service.stopAllFor(this.id, 'hangup').catch(() => undefined);
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
