/**
 * A call through the gateway: the caller's INVITE session, for `connect` the callee's, their
 * media legs on one mixer, and the recordings taken from it.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { SafeEmitter } from '../common/index.js';
import { extensionOf } from '../encoders/index.js';
import { Mixer } from '../mixer/index.js';
import type { MixerRate, OutputSpec } from '../mixer/index.js';
import { Recording } from '../recorder/index.js';
import type { RecordingResult } from '../recorder/index.js';
import type { InviteClientSession, InviteServerSession, SessionEnd } from '../sip/index.js';
import { MediaLeg } from './MediaLeg.js';
import { channelCount } from './recordingOptions.js';
import type { RecordingSpec } from './recordingOptions.js';

export type CallStatus = 'ringing' | 'progressing' | 'answered' | 'ended';

export interface CallEvents {
  [key: string]: unknown[];
  ended: [Call];
}

export interface CallRecordingInfo {
  id: string;
  spec: RecordingSpec;
  recording: Recording;
  result: RecordingResult | null;
}

export class Call extends SafeEmitter<CallEvents> {
  readonly id = randomUUID();
  readonly caller: InviteServerSession;
  callee: InviteClientSession | null = null;
  readonly mixer: Mixer;
  readonly legs: MediaLeg[] = [];
  readonly recordings: CallRecordingInfo[] = [];
  status: CallStatus = 'ringing';
  readonly tmCreate = new Date();
  tmAnswer: Date | null = null;
  tmEnd: Date | null = null;
  endReason = '';
  codec = '';
  /** Route that handled the call. */
  routeName = '';
  account = 'default';
  #ending: Promise<void> | null = null;

  constructor(caller: InviteServerSession, mixerRate: MixerRate, jitterMs: number) {
    super();
    this.caller = caller;
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

  /** Starts a recording of this call into `dir`. */
  async record(spec: RecordingSpec, dir: string): Promise<CallRecordingInfo> {
    const id = randomUUID();
    const caller = this.callerLeg.input;
    const callee = this.calleeLeg?.input;
    let output: OutputSpec;
    if (spec.channels === 'stereo') output = { kind: 'stereo', left: [caller], right: callee ? [callee] : [] };
    else if (spec.participant === 'caller') output = { kind: 'track', input: caller };
    else if (spec.participant === 'callee' && callee) output = { kind: 'track', input: callee };
    else output = { kind: 'mono' };
    const recording = await Recording.start({
      mixer: this.mixer,
      path: path.join(dir, `${id}.${extensionOf(spec.format)}`),
      format: spec.format,
      sampleRate: spec.sample_rate,
      channels: channelCount(spec),
      ...(spec.bitrate !== undefined ? { bitrateKbps: spec.bitrate } : {}),
      pauseBehavior: spec.pause_behavior,
      timeLimitSec: spec.time_limit,
      output,
    });
    const info: CallRecordingInfo = { id, spec, recording, result: null };
    this.recordings.push(info);
    return info;
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
    this.endReason = reason;
    this.status = 'ended';
    this.tmEnd = new Date();
    this.mixer.drain();
    for (const r of this.recordings) {
      try {
        r.result = await r.recording.stop('hangup');
      } catch {
        r.result = null;
      }
    }
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

  /** Describes why a SIP session ended, for the log. */
  static describe(end: SessionEnd | null): string {
    if (end === null) return 'unknown';
    return end.status > 0 ? `${end.reason}:${end.status}` : end.reason;
  }
}
